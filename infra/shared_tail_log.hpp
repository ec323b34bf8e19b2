#pragma once
/// An event_log decorator for readers of one process that follow the log's tail together (the
/// projection runners): one of them fetches new events from the log, and every reader takes
/// them from a shared in-memory window, instead of each asking the database for the same rows.
/// A reader behind the window (catching up after a start or a rebuild) reads the log on its own
/// until it reaches the window, then joins it. Writers are the inner log's, and what they append
/// also goes into the window once durable (the command processor writes through this log, so its
/// events reach the projectors without being read back). End offsets and the partition count are
/// the inner log's.
///
/// Each partition's window holds the most recent events the tail has fetched, at most
/// `window_events` of them; it covers every offset from `covered_from` (just past the last
/// event dropped from it) on. A reader whose position in every partition it reads is covered is
/// served from the window; it waits for the next fetch when it has taken all of it.

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "events/event_log.hpp"

namespace coachd {

struct shared_tail_options {
  /// Events kept per partition.
  std::size_t window_events = 4096;
  /// Events one fetch takes from the log at most.
  std::size_t fetch_events = 4096;
};

class shared_tail_log final : public event_log {
 public:
  /// Decorates `inner`, which must outlive this log and every reader it opens.
  explicit shared_tail_log(event_log& inner, shared_tail_options options = {});
  /// Decorates a log it owns.
  explicit shared_tail_log(std::unique_ptr<event_log> inner, shared_tail_options options = {});
  ~shared_tail_log() override;

  int partitions() const override { return inner_.partitions(); }
  /// The inner log's writer, whose appends (once durable) also go into the window: readers
  /// following the tail get them without the log being read back, and the tail reader is told
  /// it need not read them (log_reader::known_up_to).
  std::unique_ptr<partition_writer> open_writer(int partition) override;
  std::unique_ptr<log_reader> open_reader(std::vector<partition_start> from) override;
  /// Served from the same window; events of other types come out as their place and type only,
  /// and a reader behind the window reads through the inner log's open_reader_for.
  std::unique_ptr<log_reader> open_reader_for(std::vector<partition_start> from,
                                              const std::vector<std::string>& types) override;
  /// Served from the same window, events of other types left out: a reader waiting for the
  /// next fetch is woken only when it brings events of its types, and otherwise moved past
  /// them by the reader that fetched (which calls `skipped`). Behind the window, the reader
  /// reads through the inner log's open_reader_for (the others then come as place and type).
  std::unique_ptr<log_reader> open_reader_wanting(std::vector<partition_start> from,
                                                  const std::vector<std::string>& types,
                                                  skip_listener skipped) override;
  /// The inner log's joint append, its writers' batches then going into the window together.
  void append_together(std::span<joint_append> appends) override;
  bool appends_together() const override { return inner_.appends_together(); }
  std::int64_t end_offset(int partition) override { return inner_.end_offset(partition); }
  std::string name() const override { return inner_.name(); }

  struct statistics {
    std::uint64_t tail_fetches = 0;   // polls of the shared tail reader
    std::uint64_t served_events = 0;  // events handed to readers from the window
    std::uint64_t own_polls = 0;      // polls readers made on their own (behind the window)
    std::uint64_t written_events = 0;  // events this log's writers added to the window
  };
  statistics stats() const;

  struct state;  // the window, shared with the readers (implementation detail)

 private:
  void check_starts(const std::vector<partition_start>& from) const;

  std::unique_ptr<event_log> owned_;
  event_log& inner_;
  std::shared_ptr<state> state_;
};

}  // namespace coachd
