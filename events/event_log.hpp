#pragma once
/// The event log port: a partitioned, append-only, totally ordered (per partition) log.
/// Two adapters implement it (infra/pg_event_log, infra/kafka_event_log) and both pass
/// tests/infra/event_log_conformance.

#include <chrono>
#include <cstdint>
#include <exception>
#include <functional>
#include <memory>
#include <span>
#include <stdexcept>
#include <string>
#include <vector>

#include "events/envelope.hpp"

namespace coachd {

/// Infrastructure failure of the log (connection lost, broker error). Retry or stop.
class log_error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// This writer lost ownership of its partition: another writer opened it since. The writer
/// must be discarded; nothing of the failed append was written.
class fenced_error : public log_error {
 public:
  using log_error::log_error;
};

/// Where an atomic append landed: one offset per event, in order. Offsets strictly increase
/// but need not be dense (Kafka's transaction markers take offsets too).
struct append_result {
  int partition = 0;
  std::vector<std::int64_t> offsets;
};

/// The single writer of one partition. Opening a new writer for the partition fences this one.
class partition_writer {
 public:
  virtual ~partition_writer() = default;
  virtual int partition() const = 0;
  /// Appends all events atomically (all or none) and returns once they are durable.
  /// Throws fenced_error if another writer took the partition, log_error on other failures.
  virtual append_result append(std::span<const event_envelope> batch) = 0;
};

/// One writer's share of a joint append (event_log::append_together): its batch in, then either
/// where the batch landed or what its append() would have thrown.
struct joint_append {
  partition_writer* writer = nullptr;
  std::span<const event_envelope> batch;
  append_result result;
  std::exception_ptr error;  // fenced_error or log_error; null when `result` holds
};

/// A reader over some partitions, each from its own start offset.
class log_reader {
 public:
  virtual ~log_reader() = default;
  /// Returns up to `max_events` committed events (in order within each partition), waiting up
  /// to `max_wait` when none is available. An empty result means nothing new yet.
  virtual std::vector<stored_event> poll(std::chrono::milliseconds max_wait,
                                         std::size_t max_events) = 0;
  /// The next offset this reader will return for `partition` (the consumer position): what a
  /// checkpoint stores. Never computed as last offset + 1 by callers.
  virtual std::int64_t position(int partition) const = 0;
  /// A hint, safe from any thread (while poll runs on another): whoever reads through this
  /// reader already has `partition`'s events before `offset` from elsewhere (the shared tail,
  /// from its own writers), so the reader may move its position there instead of reading them,
  /// and need not wake for an announcement of them. Ignoring it is correct too (the default):
  /// the events are then read again.
  virtual void known_up_to(int partition, std::int64_t offset) {
    (void)partition;
    (void)offset;
  }
};

/// A start position for one partition.
struct partition_start {
  int partition = 0;
  std::int64_t offset = 0;
};

/// The log itself: partition count, writers, readers, end offsets.
class event_log {
 public:
  virtual ~event_log() = default;
  virtual int partitions() const = 0;
  /// Takes ownership of a partition for writing, fencing any earlier writer.
  virtual std::unique_ptr<partition_writer> open_writer(int partition) = 0;
  virtual std::unique_ptr<log_reader> open_reader(std::vector<partition_start> from) = 0;
  /// A reader for a caller that looks only at the partition, offset and type of events whose
  /// type is not in `types` (a projector catching up): a log may then leave the rest of their
  /// envelope empty instead of reading it out (the PostgreSQL log does). Positions advance past
  /// every event alike. By default, the plain reader.
  virtual std::unique_ptr<log_reader> open_reader_for(std::vector<partition_start> from,
                                                      const std::vector<std::string>& types) {
    (void)types;
    return open_reader(std::move(from));
  }
  /// Told that a reader moved its position in `partition` from `from` to `to` past events it
  /// does not want, without handing them out. Called on whichever thread moved it (the reader's
  /// own, or another reader's fetching for both), with the log's locks held: it must be quick
  /// and must not call back into the log.
  using skip_listener = std::function<void(int partition, std::int64_t from, std::int64_t to)>;
  /// A reader for a caller that wants events of `types` only (a projector following the tail):
  /// it hands out those events whole and moves its positions past the others without handing
  /// them out, telling `skipped` where it moved when it moved without handing anything out of
  /// that partition. A log may then let the reader sleep through events it does not want (the
  /// shared tail does). By default, open_reader_for: the others come out as their place and
  /// type, and `skipped` is never called; a caller handles both.
  virtual std::unique_ptr<log_reader> open_reader_wanting(std::vector<partition_start> from,
                                                          const std::vector<std::string>& types,
                                                          skip_listener skipped) {
    (void)skipped;
    return open_reader_for(std::move(from), types);
  }
  /// Appends each writer's batch as its append() would: each atomically and durably, each
  /// succeeding or failing on its own (its `error`). The writers are this log's, one per
  /// partition. A log that makes them durable together (one round trip and one flush for all)
  /// says so with appends_together(); by default they go one after another, and a caller with
  /// several partitions does better appending from one thread per partition.
  virtual void append_together(std::span<joint_append> appends) {
    for (auto& a : appends) {
      try {
        a.result = a.writer->append(a.batch);
      } catch (...) {
        a.error = std::current_exception();
      }
    }
  }
  virtual bool appends_together() const { return false; }
  /// The offset the next appended event would get at or after (the high watermark):
  /// a reader whose position reached it has seen everything committed so far.
  virtual std::int64_t end_offset(int partition) = 0;
  /// Adapter name for logs and metrics: "postgres" or "kafka".
  virtual std::string name() const = 0;
};

}  // namespace coachd
