#include "infra/shared_tail_log.hpp"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <exception>
#include <span>
#include <stdexcept>
#include <string>

namespace coachd {

class shared_tail_reader_base;

struct shared_tail_log::state {
  state(event_log& log, shared_tail_options opts) : inner(log), options(opts) {}

  struct window {
    std::deque<stored_event> events;  // ascending offsets
    std::int64_t covered_from = 0;    // every event at or after this offset is here or not yet fetched
    std::int64_t end = 0;             // the tail reader's position: what the next fetch starts from
  };

  /// A reader waiting in poll for the next fetch. The fetch wakes it only when there is
  /// something for it (see shared_tail_reader::wants_news); a reader that wants events of some
  /// types only sleeps through the others, moved past them by the fetch.
  struct sleeper {
    explicit sleeper(shared_tail_reader_base* r) : reader(r) {}
    shared_tail_reader_base* reader;
    std::condition_variable wake;
    bool woken = false;
  };

  event_log& inner;
  const shared_tail_options options;
  std::mutex mutex;
  std::vector<sleeper*> sleepers;  // each on its reader's stack while it waits
  std::vector<window> windows;  // by partition; empty until the first poll
  bool fetching = false;        // a reader is polling `tail` (only that reader touches it)
  std::unique_ptr<log_reader> tail;
  std::atomic<std::uint64_t> tail_fetches{0}, served_events{0}, own_polls{0}, written_events{0};

  // Caller holds the mutex: drops the oldest events beyond window_events.
  void trim(window& w) const {
    while (w.events.size() > options.window_events) {
      w.covered_from = w.events.front().offset + 1;
      w.events.pop_front();
    }
  }

  // Caller holds the mutex: wakes each sleeper that has something to take (all of them after a
  // failed fetch, so that one fetches again); one of them, or the caller, fetches next.
  void wake_sleepers(bool all);

  // Adds what a writer of this log appended to its partition's window (see open_writer).
  // (Each joint_append that succeeded; the writers are not looked at.)
  void add_written(std::span<const joint_append> appended);

  // Caller holds the mutex.
  void start() {
    if (!windows.empty()) return;
    std::vector<window> fresh(static_cast<std::size_t>(inner.partitions()));
    for (int p = 0; p < inner.partitions(); ++p) {
      auto& w = fresh[static_cast<std::size_t>(p)];
      w.covered_from = w.end = inner.end_offset(p);
    }
    windows = std::move(fresh);
  }
};

/// What the fetch asks of a sleeping reader, under the state's mutex.
class shared_tail_reader_base : public log_reader {
 public:
  /// Whether the events the last fetch added hold something this reader hands out (or it fell
  /// behind the window): it is then woken. A reader that wants none of them is moved past them
  /// here instead, and sleeps on.
  virtual bool wants_news() = 0;
};

namespace {

using clock = std::chrono::steady_clock;

std::chrono::milliseconds left_until(clock::time_point deadline) {
  return std::max(std::chrono::milliseconds(0),
                  std::chrono::duration_cast<std::chrono::milliseconds>(deadline - clock::now()));
}

class shared_tail_reader final : public shared_tail_reader_base {
 public:
  /// How a reader hands out events of types it was not opened for.
  enum class others {
    whole,       // open_reader: every event whole
    as_place,    // open_reader_for: as their place and type only
    left_out,    // open_reader_wanting: not at all (the positions move past them)
  };

  /// `types`: with as_place or left_out, the types handed out whole; the window itself keeps
  /// every event whole.
  shared_tail_reader(std::shared_ptr<shared_tail_log::state> st, std::vector<partition_start> from,
                     std::vector<std::string> types, others mode, event_log::skip_listener skipped = {})
      : st_(std::move(st)), positions_(std::move(from)), types_(std::move(types)), mode_(mode),
        skipped_(std::move(skipped)) {}

  std::vector<stored_event> poll(std::chrono::milliseconds max_wait, std::size_t max_events) override {
    if (max_events == 0 || positions_.empty()) return {};
    const auto deadline = clock::now() + max_wait;
    std::unique_lock lock(st_->mutex);
    st_->start();
    for (;;) {
      if (!covered()) {
        lock.unlock();
        return poll_own(deadline, max_events);
      }
      if (own_) {  // caught up with the window: leave the log to the tail
        lock.unlock();
        own_.reset();
        lock.lock();
        continue;
      }
      auto events = take(max_events);
      if (!events.empty()) {
        st_->served_events.fetch_add(events.size(), std::memory_order_relaxed);
        return events;
      }
      if (clock::now() >= deadline) return {};
      if (!st_->fetching) {
        fetch(lock, deadline);
        continue;
      }
      shared_tail_log::state::sleeper me(this);
      st_->sleepers.push_back(&me);
      me.wake.wait_until(lock, deadline, [&] { return me.woken; });
      std::erase(st_->sleepers, &me);
    }
  }

  std::int64_t position(int partition) const override {
    for (const auto& p : positions_) {
      if (p.partition == partition) return p.offset;
    }
    throw std::out_of_range("shared tail log: reader does not read partition " + std::to_string(partition));
  }

  bool wants_news() override {
    if (!covered()) return true;
    bool any = false;
    for (const auto& pos : positions_) {
      const auto& w = st_->windows[static_cast<std::size_t>(pos.partition)];
      if (pos.offset >= w.end) continue;
      if (mode_ != others::left_out) return true;
      any = true;
      for (auto it = first_at(w, pos.offset); it != w.events.end(); ++it) {
        if (wanted(it->envelope.type)) return true;
      }
    }
    if (!any) return false;
    // Nothing it wants: past all of it, without waking.
    for (auto& pos : positions_) {
      const auto& w = st_->windows[static_cast<std::size_t>(pos.partition)];
      if (pos.offset < w.end) move_past(pos, w.end);
    }
    return false;
  }

 private:
  // Caller holds the mutex.
  bool covered() const {
    return std::all_of(positions_.begin(), positions_.end(), [&](const partition_start& p) {
      return p.offset >= st_->windows[static_cast<std::size_t>(p.partition)].covered_from;
    });
  }

  static std::deque<stored_event>::const_iterator first_at(const shared_tail_log::state::window& w,
                                                           std::int64_t offset) {
    return std::lower_bound(w.events.begin(), w.events.end(), offset,
                            [](const stored_event& e, std::int64_t o) { return e.offset < o; });
  }

  // Moves a position past events it does not hand out, and says so.
  void move_past(partition_start& pos, std::int64_t to) {
    const std::int64_t from = pos.offset;
    pos.offset = to;
    if (skipped_) skipped_(pos.partition, from, to);
  }

  // Copies what the window holds past this reader's positions, partitions in turn (starting
  // with a different one each time, so a busy partition cannot starve the others). Caller holds
  // the mutex.
  std::vector<stored_event> take(std::size_t max_events) {
    std::vector<stored_event> out;
    const std::size_t n = positions_.size();
    for (std::size_t i = 0; i < n && out.size() < max_events; ++i) {
      auto& pos = positions_[(rotation_ + i) % n];
      const auto& w = st_->windows[static_cast<std::size_t>(pos.partition)];
      if (pos.offset >= w.end) continue;  // nothing past it fetched yet
      const std::size_t before = out.size();
      auto it = first_at(w, pos.offset);
      for (; it != w.events.end() && out.size() < max_events; ++it) {
        if (wanted(it->envelope.type)) {
          out.push_back(*it);
        } else if (mode_ == others::as_place) {
          // Its place and type only: a projector that skips the type copies none of its text.
          stored_event& place = out.emplace_back();
          place.partition = it->partition;
          place.offset = it->offset;
          place.envelope.type = it->envelope.type;
        }
      }
      // All of the window taken: the position is the tail's (it may skip offsets that hold no
      // event, such as Kafka's transaction markers); otherwise the first event not taken.
      const std::int64_t to = it == w.events.end() ? w.end : it->offset;
      if (out.size() == before) {
        move_past(pos, to);  // only events it leaves out
      } else {
        pos.offset = to;
      }
    }
    rotation_ = (rotation_ + 1) % n;
    return out;
  }

  // Polls the log for everyone; called with the lock held and returns with it held.
  void fetch(std::unique_lock<std::mutex>& lock, clock::time_point deadline) {
    auto& st = *st_;
    st.fetching = true;
    std::vector<partition_start> from;
    for (std::size_t p = 0; p < st.windows.size(); ++p) from.push_back({static_cast<int>(p), st.windows[p].end});
    // Only the fetching reader sets or drops the tail, under the mutex (writers hint it there).
    log_reader* tail = st.tail.get();
    lock.unlock();
    std::unique_ptr<log_reader> opened;
    std::vector<stored_event> batch;
    std::vector<std::int64_t> ends;
    std::exception_ptr failure;
    try {
      if (tail == nullptr) {
        opened = st.inner.open_reader(from);
        tail = opened.get();
      }
      batch = tail->poll(left_until(deadline), st.options.fetch_events);
      for (const auto& f : from) ends.push_back(tail->position(f.partition));
    } catch (...) {
      failure = std::current_exception();
    }
    lock.lock();
    st.fetching = false;
    if (failure) {
      st.tail.reset();  // reopened at the window's ends by the next fetch
    } else {
      if (opened) st.tail = std::move(opened);
      for (auto& e : batch) {
        auto& w = st.windows[static_cast<std::size_t>(e.partition)];
        if (e.offset < w.end) continue;  // in already: a writer of this log added it (add_written)
        w.events.push_back(std::move(e));
      }
      for (std::size_t p = 0; p < st.windows.size(); ++p) {
        auto& w = st.windows[p];
        w.end = std::max(w.end, ends[p]);
        st.trim(w);
        st.tail->known_up_to(static_cast<int>(p), w.end);
      }
      st.tail_fetches.fetch_add(1, std::memory_order_relaxed);
    }
    st.wake_sleepers(failure != nullptr);
    if (failure) std::rethrow_exception(failure);
  }

  bool wanted(const std::string& type) const {
    return mode_ == others::whole || std::find(types_.begin(), types_.end(), type) != types_.end();
  }

  // Behind the window: reads the log itself (events of other types as their place and type,
  // whatever the mode: a caller of open_reader_wanting handles both).
  std::vector<stored_event> poll_own(clock::time_point deadline, std::size_t max_events) {
    if (!own_) {
      own_ = mode_ == others::whole ? st_->inner.open_reader(positions_) : st_->inner.open_reader_for(positions_, types_);
    }
    auto events = own_->poll(left_until(deadline), max_events);
    for (auto& p : positions_) p.offset = own_->position(p.partition);
    st_->own_polls.fetch_add(1, std::memory_order_relaxed);
    return events;
  }

  std::shared_ptr<shared_tail_log::state> st_;
  std::vector<partition_start> positions_;
  const std::vector<std::string> types_;
  const others mode_;
  const event_log::skip_listener skipped_;
  std::unique_ptr<log_reader> own_;
  std::size_t rotation_ = 0;
};

/// A writer of the shared tail's log: what it appends goes into the window at once, so that
/// readers following the tail have it without the log being read back (see add_written).
class shared_tail_writer final : public partition_writer {
 public:
  shared_tail_writer(std::shared_ptr<shared_tail_log::state> st, std::unique_ptr<partition_writer> inner)
      : st_(std::move(st)), inner_(std::move(inner)) {}
  int partition() const override { return inner_->partition(); }
  append_result append(std::span<const event_envelope> batch) override {
    joint_append appended;
    appended.batch = batch;
    appended.result = inner_->append(batch);  // durable from here on
    st_->add_written({&appended, 1});
    return std::move(appended.result);
  }
  partition_writer& inner() { return *inner_; }

 private:
  std::shared_ptr<shared_tail_log::state> st_;
  std::unique_ptr<partition_writer> inner_;
};

}  // namespace

void shared_tail_log::state::wake_sleepers(bool all) {
  for (auto* s : sleepers) {
    if (s->woken || !(all || s->reader->wants_news())) continue;
    s->woken = true;
    s->wake.notify_one();
  }
}

void shared_tail_log::state::add_written(std::span<const joint_append> appended) {
  std::lock_guard lock(mutex);
  if (windows.empty()) return;  // not started: the first poll starts the window at the log's end
  bool added = false;
  for (const auto& a : appended) {
    const auto& batch = a.batch;
    if (a.error || a.result.offsets.size() != batch.size() || batch.empty()) continue;
    auto& w = windows[static_cast<std::size_t>(a.result.partition)];
    // Only what continues the window goes in. Before it (a fetch already brought it) it is
    // there; past a gap (events this process did not write, or offsets a log leaves between
    // appends, as Kafka's transaction markers) the next fetch brings it, in order.
    const auto& offsets = a.result.offsets;
    std::size_t i = 0;
    while (i < batch.size() && offsets[i] < w.end) ++i;
    if (i == batch.size() || offsets[i] != w.end) continue;
    for (; i < batch.size(); ++i) {
      stored_event& e = w.events.emplace_back();
      e.partition = a.result.partition;
      e.offset = offsets[i];
      e.envelope = batch[i];
    }
    w.end = offsets.back() + 1;
    trim(w);
    written_events.fetch_add(batch.size(), std::memory_order_relaxed);
    // The tail need not read them back (nor wake for their announcement).
    if (tail) tail->known_up_to(a.result.partition, w.end);
    added = true;
  }
  if (added) wake_sleepers(false);
}

shared_tail_log::shared_tail_log(event_log& inner, shared_tail_options options)
    : inner_(inner), state_(std::make_shared<state>(inner, options)) {}

shared_tail_log::shared_tail_log(std::unique_ptr<event_log> inner, shared_tail_options options)
    : owned_(std::move(inner)), inner_(*owned_), state_(std::make_shared<state>(inner_, options)) {}

shared_tail_log::~shared_tail_log() {
  // Readers are gone by now (as with any log); the tail reader goes before the inner log.
  std::lock_guard lock(state_->mutex);
  state_->tail.reset();
}

std::unique_ptr<partition_writer> shared_tail_log::open_writer(int partition) {
  return std::make_unique<shared_tail_writer>(state_, inner_.open_writer(partition));
}

void shared_tail_log::append_together(std::span<joint_append> appends) {
  std::vector<joint_append> inner(appends.size());
  for (std::size_t i = 0; i < appends.size(); ++i) {
    auto* writer = dynamic_cast<shared_tail_writer*>(appends[i].writer);
    if (writer == nullptr) throw std::invalid_argument("shared tail: append_together with a writer of another log");
    inner[i].writer = &writer->inner();
    inner[i].batch = appends[i].batch;
  }
  inner_.append_together(inner);  // durable from here on, those that succeeded
  state_->add_written(inner);
  for (std::size_t i = 0; i < appends.size(); ++i) {
    appends[i].result = std::move(inner[i].result);
    appends[i].error = inner[i].error;
  }
}

std::unique_ptr<log_reader> shared_tail_log::open_reader(std::vector<partition_start> from) {
  check_starts(from);
  return std::make_unique<shared_tail_reader>(state_, std::move(from), std::vector<std::string>{},
                                              shared_tail_reader::others::whole);
}

std::unique_ptr<log_reader> shared_tail_log::open_reader_for(std::vector<partition_start> from,
                                                            const std::vector<std::string>& types) {
  check_starts(from);
  return std::make_unique<shared_tail_reader>(state_, std::move(from), types, shared_tail_reader::others::as_place);
}

std::unique_ptr<log_reader> shared_tail_log::open_reader_wanting(std::vector<partition_start> from,
                                                                const std::vector<std::string>& types,
                                                                skip_listener skipped) {
  check_starts(from);
  return std::make_unique<shared_tail_reader>(state_, std::move(from), types, shared_tail_reader::others::left_out,
                                              std::move(skipped));
}

void shared_tail_log::check_starts(const std::vector<partition_start>& from) const {
  for (std::size_t i = 0; i < from.size(); ++i) {
    if (from[i].partition < 0 || from[i].partition >= inner_.partitions()) {
      throw std::invalid_argument("shared tail log: no partition " + std::to_string(from[i].partition));
    }
    for (std::size_t j = 0; j < i; ++j) {
      if (from[j].partition == from[i].partition) {
        throw std::invalid_argument("shared tail log: partition " + std::to_string(from[i].partition) +
                                    " given twice to open_reader");
      }
    }
  }
}

shared_tail_log::statistics shared_tail_log::stats() const {
  return {state_->tail_fetches.load(), state_->served_events.load(), state_->own_polls.load(),
          state_->written_events.load()};
}

}  // namespace coachd
