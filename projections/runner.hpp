#pragma once
/// Runs one projector: reads the log from its checkpoint and commits each batch of read-model
/// changes together with the new checkpoint in one transaction (exactly-once effects, safe to
/// kill at any moment).

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "events/codec.hpp"
#include "events/event_log.hpp"
#include "projections/projector.hpp"

namespace coachd {

struct runner_options {
  std::size_t max_batch = 2000;
  std::chrono::milliseconds poll_wait{250};
  std::chrono::milliseconds retry_backoff{500};
  /// How long the checkpoint may lag behind events the projector does not read.
  std::chrono::milliseconds checkpoint_interval{1000};
  /// Under a steady stream of events, how long a batch waits for more before it is applied, so
  /// that one transaction (and, for a durable projector, one WAL flush) serves several commands.
  /// Events after a quiet spell are applied at once. Zero: never wait.
  std::chrono::milliseconds linger{4};
};

class projection_runner {
 public:
  projection_runner(event_log& log, const event_codec& codec, std::string conninfo,
                    projector& target, runner_options options = {});
  ~projection_runner();
  projection_runner(const projection_runner&) = delete;
  projection_runner& operator=(const projection_runner&) = delete;

  /// Starts the background thread (loads checkpoints first; throws if PostgreSQL is unreachable).
  void start();
  /// Stops after the batch in progress (which commits or rolls back whole).
  void stop();

  /// Processes what is in the log now, up to its end offsets, on the calling thread; returns
  /// the number of events applied. Used by `coachctl projections rebuild` and by tests.
  /// `progress` is called after each batch with (events applied so far, events in total).
  std::uint64_t catch_up(const std::function<void(std::uint64_t, std::uint64_t)>& progress = {});

  /// Empties the read model and replays the log from offset 0 into it, all under the
  /// projector's lock: refused (nothing touched) while another process runs the projector.
  std::uint64_t rebuild(const std::function<void(std::uint64_t, std::uint64_t)>& progress = {});

  /// The committed position (next offset) of a partition.
  std::int64_t position(int partition) const;
  /// Waits until the committed position of `partition` is past `offset`, or the deadline.
  bool wait_past(int partition, std::int64_t offset, std::chrono::steady_clock::time_point deadline);

  const projector& target() const { return target_; }
  std::uint64_t applied_events() const { return applied_.load(std::memory_order_relaxed); }
  /// The last error that stopped a batch (empty when healthy).
  std::string last_error() const;

  /// Empties the projector's tables and resets its checkpoints to offset 0, in one transaction;
  /// refused while another process runs the projector.
  static void reset(const std::string& conninfo, projector& target, int partitions);

 private:
  void run();
  void load_checkpoints();
  std::uint64_t catch_up_locked(pqxx::connection_base& connection,
                                const std::function<void(std::uint64_t, std::uint64_t)>& progress);
  /// One poll of the log, with the reader's positions right after it.
  struct fetched_batch {
    std::vector<stored_event> events;
    std::vector<std::int64_t> positions;  // by partition
    /// Filled by decode_ahead (else empty): per event, its decoding when the projector handles
    /// its type, nullopt when not.
    std::vector<std::optional<result<domain_event>>> decoded;
  };
  fetched_batch fetch(log_reader& reader);
  /// A reader from `from` that reads whole only the events the projector applies.
  /// Following the tail (`live`), a projector that reads some types only gets those: the log
  /// may let it sleep through the others and tell on_skipped where it moved. Catching up, the
  /// others come as their place and type (every batch then carries its positions).
  std::unique_ptr<log_reader> open_reader(std::vector<partition_start> from, bool live);
  /// From the reader, on any thread: publishes a position moved past events the projector does
  /// not read, when everything before it is applied (no batch of the partition is held).
  void on_skipped(int partition, std::int64_t from, std::int64_t to);
  /// Decodes the batch's events the projector handles, so that a catch-up's read-ahead thread
  /// does it while the previous batch is being written.
  void decode_ahead(fetched_batch& batch) const;
  std::size_t process_batch(log_reader& reader, pqxx::connection_base& connection);
  std::size_t apply_batch(const fetched_batch& batch, pqxx::connection_base& connection);
  void prepare_connection(pqxx::connection_base& connection);
  void write_checkpoints(pqxx::work& tx);
  void save_checkpoints(pqxx::connection_base& connection);
  /// Makes the reader's positions after the last batch (read_positions_) the runner's, for
  /// wait_past and position(); wakes the waiters.
  void publish_positions();

  event_log& log_;
  const event_codec& codec_;
  std::string conninfo_;
  projector& target_;
  runner_options options_;
  std::unique_ptr<std::atomic<std::int64_t>[]> positions_;
  std::atomic<std::uint64_t> applied_{0};
  std::atomic<bool> stopping_{false};
  mutable std::mutex mutex_;
  std::condition_variable advanced_;
  std::string last_error_;
  std::thread thread_;
  // Partitions whose position moved since the checkpoint was last written (runner thread).
  std::vector<int> unsaved_;
  std::vector<std::int64_t> read_positions_;  // the reader's positions after the last applied batch
  std::chrono::steady_clock::time_point saved_at_;
  std::chrono::steady_clock::time_point applied_at_;  // when the last live batch with events was applied
};

}  // namespace coachd
