#pragma once
/// The command processor: owns the log's partitions and holds the state of their aggregates in
/// memory; decider threads (each serving some partitions) decide commands, append their events
/// (many commands per append, every partition of a decider together: group commit) and answer
/// only once the events are durable.

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <semaphore>
#include <string>
#include <vector>

#include "commands/command.hpp"
#include "commands/remembered_commands.hpp"
#include "events/codec.hpp"
#include "events/errors.hpp"
#include "events/event_log.hpp"

namespace coachd {

/// How a command went: where its stream stands now and where its last event sits in the log.
struct command_outcome {
  std::string stream;
  std::int64_t stream_version = 0;  // after the command
  int partition = 0;
  std::int64_t offset = -1;  // of the command's last event; -1 when it produced none
  bool replayed = false;     // answered from the record of an earlier identical command

  /// The consistency token "partition:offset" a query can wait for (read-your-writes).
  std::string consistency_token() const;
};

using command_callback = std::function<void(result<command_outcome>)>;

/// Tuning of the processor.
class snapshot_store;
class key_provider;

struct processor_options {
  std::size_t max_batch = 512;  // commands per partition per group commit
  /// Threads that decide commands and append their events, each serving every n-th partition.
  /// 0: one for all partitions when the log makes several partitions' appends durable together
  /// (event_log::appends_together(): then one thread wakes once per group commit instead of one
  /// per partition), else one per partition (each waits for its own appends).
  std::size_t deciders = 0;
  /// Where partition snapshots go (none: always rebuild from offset 0), and the keys that seal
  /// the personal data inside them.
  snapshot_store* snapshots = nullptr;
  key_provider* keys = nullptr;
  /// A partition is snapshotted after this many events since its last snapshot (checked
  /// between batches and after a rebuild), and at a graceful stop.
  std::uint64_t snapshot_every = 100000;
  /// How long and how many derived command ids (Idempotency-Key, process managers) each
  /// partition remembers (commands/remembered_commands.hpp): a retry within them is answered
  /// with the first outcome; one after them is decided again.
  remembering_limits remembering{};
};

/// Counters the processor keeps (read by /metrics).
struct processor_stats {
  std::atomic<std::uint64_t> commands_accepted{0};
  std::atomic<std::uint64_t> commands_rejected{0};
  std::atomic<std::uint64_t> commands_replayed{0};
  std::atomic<std::uint64_t> appends{0};
  std::atomic<std::uint64_t> appended_events{0};
  std::atomic<std::uint64_t> rebuilt_events{0};  // events read at start (after any snapshot)
  std::atomic<std::uint64_t> snapshots{0};
};

class command_processor {
 public:
  command_processor(event_log& log, const event_codec& codec, processor_options options = {});
  ~command_processor();
  command_processor(const command_processor&) = delete;
  command_processor& operator=(const command_processor&) = delete;

  /// Takes every partition (fencing earlier owners), rebuilds its state from the log and
  /// starts its worker. Blocks until all partitions are ready; throws log_error on failure.
  void start();

  /// Stops accepting, lets queued commands finish, then stops the workers.
  void stop();

  /// Queues a command; `done` is called exactly once, on a decider thread, with the outcome
  /// (after the events are durable) or the reason it was refused.
  void submit(command cmd, command_callback done);

  /// Whether every partition is running (false before start, after stop, or after a partition
  /// was fenced by another owner).
  bool ready() const;

  /// Number of streams held in memory.
  std::size_t stream_count() const;

  const processor_stats& stats() const { return stats_; }
  /// Histogram feed (for /metrics), once per append that succeeded: its commands and events,
  /// and how long the log took to make them durable (from handing the batch over to its
  /// acknowledgement, the new PII keys' statement included).
  using append_observer = std::function<void(std::size_t commands, std::size_t events, std::chrono::duration<double> took)>;
  void on_append(append_observer observer);

 private:
  struct worker;   // one partition: its state, writer and queue
  struct decider;  // one thread serving some partitions
  event_log& log_;
  const event_codec& codec_;
  processor_options options_;
  processor_stats stats_;
  append_observer append_observer_;
  std::vector<std::unique_ptr<worker>> workers_;  // by partition
  std::vector<std::unique_ptr<decider>> deciders_;
  std::counting_semaphore<> snapshot_slots_{2};  // partitions encoding a snapshot at once
  std::atomic<bool> started_{false};
};

}  // namespace coachd
