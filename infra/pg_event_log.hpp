#pragma once
/// The PostgreSQL adapter of the event log (the embedded default): events live in a table keyed
/// by (partition, offset) in schema `coachd_log`, writers are fenced by a per-partition epoch,
/// and readers tail by LISTEN/NOTIFY with polling as the fallback.
///
/// Tables (created if missing):
///   coachd_log.meta        (key, value): 'partitions' = the partition count, fixed at creation.
///   coachd_log.partitions  (partition, epoch, next_offset): one row per partition; `epoch` is
///                          bumped by every open_writer, `next_offset` is the end offset.
///   coachd_log.events      (partition, log_offset, every envelope attribute): `data` and `time`
///                          are text so their bytes round-trip exactly; `id` is a uuid (read
///                          back in PostgreSQL's lowercase canonical form).
///
/// Appending: the writers of one pg_event_log hand their batches to its appender thread, which
/// appends every batch waiting (one per partition) in one statement, its own transaction
/// (synchronous_commit on): one commit and one WAL flush for all of them. The statement locks the
/// partition rows (SELECT ... FOR UPDATE, in partition order) and, for each partition whose
/// writer's epoch is still current, inserts its batch on offsets taken from `next_offset` and
/// advances it; a fenced partition's batch writes nothing and its writer throws fenced_error. A
/// statement PostgreSQL refuses commits nothing and its batches are retried one by one, so only
/// the batch at fault fails. The row locks are held until COMMIT, so the next append of a
/// partition reads `next_offset` only once this one is committed and visible: offsets are dense
/// per partition and committed in order, and a reader never sees offset N+1 while N is still to
/// come. After COMMIT a thread of the log sends NOTIFY on pg_event_log_channel.

#include <memory>
#include <mutex>
#include <string>

#include "events/event_log.hpp"

namespace coachd {

/// The NOTIFY channel appends announce themselves on (payload: the partition number).
inline constexpr const char* pg_event_log_channel = "coachd_log";

/// An event log stored in PostgreSQL. Thread-safe: every reader holds its own connection, the
/// writers share the appender's (use each writer/reader from one thread at a time); the log's own
/// calls share one connection under a mutex.
class pg_event_log final : public event_log {
 public:
  /// Connects with libpq connection string `conninfo`, creates the tables if missing and checks
  /// that the stored partition count equals `partitions`. Throws log_error when the database is
  /// unreachable or was created with another partition count.
  pg_event_log(std::string conninfo, int partitions);
  ~pg_event_log() override;

  int partitions() const override { return partitions_; }
  std::unique_ptr<partition_writer> open_writer(int partition) override;
  std::unique_ptr<log_reader> open_reader(std::vector<partition_start> from) override;
  std::unique_ptr<log_reader> open_reader_for(std::vector<partition_start> from,
                                              const std::vector<std::string>& types) override;
  /// One statement and one commit for all the batches (see appender).
  void append_together(std::span<joint_append> appends) override;
  bool appends_together() const override { return true; }
  std::int64_t end_offset(int partition) override;
  std::string name() const override { return "postgres"; }

  /// Wakes tailing readers after appends, off the writers' critical path (implementation detail
  /// shared by the log's writers).
  class notifier;
  /// Appends the batches of all the log's writers together, one statement and one commit for
  /// however many partitions have a batch waiting (implementation detail shared by the writers).
  class appender;

 private:
  void check_partition(int partition) const;
  void check_starts(const std::vector<partition_start>& from) const;

  std::string conninfo_;
  int partitions_;
  struct control_connection;  // the log's own libpq connection (end offsets)
  std::mutex control_mutex_;  // guards control_
  std::unique_ptr<control_connection> control_;
  std::mutex appender_mutex_;  // guards appender_
  std::shared_ptr<appender> appender_;  // made by the first open_writer; writers share it
};

}  // namespace coachd
