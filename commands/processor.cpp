#include "commands/processor.hpp"

#include <algorithm>
#include <condition_variable>
#include <cstdio>
#include <deque>
#include <mutex>
#include <thread>
#include <unordered_map>

#include "commands/handler.hpp"
#include "commands/snapshot.hpp"
#include "events/partitioning.hpp"
#include "infra/crypto.hpp"
#include "infra/thread_name.hpp"

namespace coachd {

std::string command_outcome::consistency_token() const {
  return std::to_string(partition) + ":" + std::to_string(offset);
}

namespace {

using stream_record = stream_snapshot;

/// Events read per poll while rebuilding a partition.
constexpr std::size_t rebuild_batch_events = 1024;

struct pending_command {
  command cmd;
  command_callback done;
};

/// How one command of a round went so far.
struct staged {
  std::optional<result<command_outcome>> answer;
  std::size_t last_event = 0;  // index into envelopes of the command's last event
  bool has_events = false;
  std::size_t same_as = SIZE_MAX;  // index of an earlier command in this batch with this id
};

/// One partition's share of a decider's round: the commands taken, how each went, and the
/// events to append.
struct round {
  std::vector<pending_command> batch;
  std::vector<staged> staging;
  std::vector<event_envelope> envelopes;

  void clear() {
    batch.clear();
    staging.clear();
    envelopes.clear();
  }
};

}  // namespace

/// One partition: its writer, its streams' state and its queue (guarded by its decider's mutex).
struct command_processor::worker {
  command_processor& owner;
  int partition;
  std::unique_ptr<partition_writer> writer;
  partition_state held;  // streams and remembered derived command ids
  std::unordered_map<std::string, stream_record>& streams = held.streams;
  remembered_commands& remembered = held.remembered;
  std::uint64_t events_since_snapshot = 0;
  bool lost = false;
  bool stale = false;  // the state may hold effects of a failed append: reload before going on
  const stream_record empty_stream{};
  decider* home = nullptr;            // the thread that decides this partition's commands
  std::deque<pending_command> queue;  // under home's mutex
  // A snapshot being taken on a thread of its own (see decider::start_snapshot); meanwhile the
  // decider leaves this partition alone (its commands wait), the others go on. Under home's mutex.
  bool snapshotting = false;
  std::thread snapshot_thread;
  std::atomic<bool> running{false};   // set under the decider's mutex
  std::atomic<std::size_t> stream_count{0};

  worker(command_processor& o, int p) : owner(o), partition(p) {
    held.remembered.set_limits(owner.options_.remembering);
  }

  /// Replaces the state with the partition's snapshot when there is a usable one; returns the
  /// log position to read on from (0 without one).
  std::int64_t load_snapshot(std::int64_t end) {
    auto* store = owner.options_.snapshots;
    if (store == nullptr || owner.options_.keys == nullptr || !snapshots_supported()) return 0;
    partition_state_decoder decoder(owner.options_.remembering);
    const auto position =
        store->load(partition, [&](std::string_view chunk) { return decoder.add(chunk); });
    if (!position) return 0;
    auto decoded = decoder.finish();
    if (!decoded || decoder.position() != *position || *position > end) {
      std::fprintf(stderr,
                   "coachd: partition %d: snapshot unusable (other state shapes, or damaged); "
                   "rebuilding from the log\n",
                   partition);
      return 0;
    }
    held = std::move(*decoded);
    return *position;
  }

  /// Takes the partition and folds every event in it into memory, starting from its snapshot
  /// when there is a usable one.
  void rebuild() {
    writer = owner.log_.open_writer(partition);  // fences any earlier owner first
    const std::int64_t end = owner.log_.end_offset(partition);
    const std::int64_t start = load_snapshot(end);
    try {
      fold(start, end);
    } catch (const snapshot_damaged& e) {
      if (start == 0) throw;
      std::fprintf(stderr,
                   "coachd: partition %d: snapshot unusable (%s); rebuilding from the log\n",
                   partition, e.what());
      held = partition_state{};
      held.remembered.set_limits(owner.options_.remembering);
      events_since_snapshot = 0;
      fold(0, end);
    }
  }

  /// Folds the events from `start` to `end` into the held state.
  void fold(std::int64_t start, std::int64_t end) {
    auto reader = owner.log_.open_reader({{partition, start}});
    while (reader->position(partition) < end) {
      // Modest batches: every partition rebuilds at once, and what a batch holds (rows, then
      // envelopes) is all transient memory that would otherwise set the process's peak.
      auto batch = reader->poll(std::chrono::milliseconds(200), rebuild_batch_events);
      for (const auto& stored : batch) {
        auto event = owner.codec_.decode(stored.envelope);
        if (!event) {
          throw log_error("partition " + std::to_string(partition) + " offset " +
                          std::to_string(stored.offset) + ": " + event.err().detail);
        }
        auto& record = streams[stored.envelope.subject];
        open_personal(record, stored.envelope.subject, owner.codec_.keys());  // opened before use
        evolve_state(record.state, *event);
        record.version = stored.envelope.stream_version;
        if (is_derived_command_id(stored.envelope.command_id)) {
          const auto [key, fingerprint] = split_command_id(stored.envelope.command_id);
          // The event's time is its command's issued_at (see process()).
          remembered.remember(
              std::string(key),
              remembered_command{stored.envelope.subject, record.version, stored.offset,
                                 std::string(fingerprint),
                                 parse_rfc3339(stored.envelope.time).value_or(timestamp{})});
        }
        ++events_since_snapshot;
        owner.stats_.rebuilt_events.fetch_add(1, std::memory_order_relaxed);
      }
    }
    stream_count = streams.size();
  }

  /// After a failed append: drops the state and folds the partition again (the log decides
  /// whether the failed batch was written). False, after a pause, while the log is unreachable.
  bool reload() {
    try {
      held = partition_state{};
      held.remembered.set_limits(owner.options_.remembering);
      events_since_snapshot = 0;
      rebuild();
      stale = false;
      return true;
    } catch (const fenced_error& e) {
      std::fprintf(stderr, "coachd: partition %d fenced while reloading: %s\n", partition, e.what());
      lost = true;
      return false;
    } catch (const std::exception& e) {
      std::fprintf(stderr, "coachd: partition %d: reload after a failed append failed: %s\n", partition, e.what());
      std::this_thread::sleep_for(std::chrono::milliseconds(200));
      return false;
    }
  }

  /// Stores the partition's state as of `position` (the next offset to read after it).
  /// A failure is reported and costs only a longer rebuild next time.
  void take_snapshot(std::int64_t position) {
    auto* store = owner.options_.snapshots;
    if (store == nullptr || owner.options_.keys == nullptr || !snapshots_supported()) return;
    // Encoded chunks are held until saved: partitions snapshotting together (at a stop, after a
    // long rebuild) take turns, so at most two partitions' chunks are in memory at once.
    owner.snapshot_slots_.acquire();
    struct release_slot {
      std::counting_semaphore<>& slots;
      ~release_slot() { slots.release(); }
    } slot{owner.snapshot_slots_};
    try {
      store->save(partition_snapshot{partition, position,
                                     encode_partition_state(held, position, *owner.options_.keys)});
      events_since_snapshot = 0;
      owner.stats_.snapshots.fetch_add(1, std::memory_order_relaxed);
    } catch (const std::exception& e) {
      std::fprintf(stderr, "coachd: partition %d: snapshot failed: %s\n", partition, e.what());
    }
  }

  /// Decides the round's commands against the live state, which then holds their effects
  /// (tentatively, until finish() hears how the append went), and encodes their events.
  void decide(round& r) {
    auto& batch = r.batch;
    r.staging.assign(batch.size(), staged{});
    auto& staging = r.staging;
    auto& envelopes = r.envelopes;
    std::unordered_map<std::string, std::size_t> ids_in_batch;
    key_provider& keys = owner.codec_.keys();

    for (std::size_t i = 0; i < batch.size(); ++i) {
      const command& cmd = batch[i].cmd;
      if (is_derived_command_id(cmd.id)) {
        const auto [key, fingerprint] = split_command_id(cmd.id);
        const auto reused = [&, fp = fingerprint](std::string_view first) {
          return !fp.empty() && !first.empty() && fp != first;
        };
        if (const auto* first = remembered.find(std::string(key))) {
          if (reused(first->fingerprint)) {
            staging[i].answer = make_error(errc::invalid, "this Idempotency-Key was already used for a different request",
                                           {"Idempotency-Key"}, "idempotency-key-reused");
          } else {
            staging[i].answer = command_outcome{first->stream, first->stream_version, partition,
                                                first->offset, true};
          }
          continue;
        }
        if (auto [it, fresh] = ids_in_batch.emplace(std::string(key), i); !fresh) {
          if (reused(split_command_id(batch[it->second].cmd.id).second)) {
            staging[i].answer = make_error(errc::invalid, "this Idempotency-Key was already used for a different request",
                                           {"Idempotency-Key"}, "idempotency-key-reused");
          } else {
            staging[i].same_as = it->second;
          }
          continue;
        }
      }
      // Decided against the live state, which already holds the effects of the commands before
      // it in this batch. A failed append reloads the partition (see finish()), so nothing
      // tentative survives it, and no state is copied per command.
      auto live = streams.find(cmd.stream);
      const stream_record& record = live == streams.end() ? empty_stream : live->second;
      if (cmd.expected_version && *cmd.expected_version != record.version) {
        staging[i].answer = make_error(
            errc::version_conflict,
            "stream " + cmd.stream + " is at version " + std::to_string(record.version) +
                ", not " + std::to_string(*cmd.expected_version),
            {}, "version-" + std::to_string(record.version));
        continue;
      }
      if (live != streams.end() && !live->second.sealed_personal.empty()) {
        try {
          open_personal(live->second, cmd.stream, keys);
        } catch (const std::exception& e) {
          std::fprintf(stderr, "coachd: partition %d: %s\n", partition, e.what());
          staging[i].answer = make_error(errc::unavailable, "the state of stream " + cmd.stream +
                                                                " cannot be read: " + e.what());
          continue;
        }
      }
      auto decided = handle(cmd.body, record.state);
      if (!decided) {
        staging[i].answer = decided.err();
        continue;
      }
      const std::size_t first = envelopes.size();
      try {
        std::int64_t version = record.version;
        for (const auto& event : decided.value()) {
          event_envelope env;
          env.id = new_uuid();
          auto encoded = owner.codec_.encode(event, env.id);
          env.source = encoded.source;
          env.type = encoded.type;
          env.time = format_rfc3339(cmd.issued_at);
          env.subject = cmd.stream;
          env.stream_version = ++version;
          env.command_id = cmd.id;
          env.correlation_id = cmd.correlation_id;
          env.causation_id = cmd.causation_id;
          env.actor = cmd.actor;
          env.schema_version = encoded.schema_version;
          env.data = std::move(encoded.data);
          envelopes.push_back(std::move(env));
        }
      } catch (const std::exception& e) {
        envelopes.resize(first);
        staging[i].answer = make_error(errc::unavailable, std::string("could not encode events: ") + e.what());
        continue;
      }
      if (envelopes.size() == first) {
        staging[i].answer = command_outcome{cmd.stream, record.version, partition, -1, false};
        continue;
      }
      stream_record& target = live == streams.end() ? streams[cmd.stream] : live->second;
      for (const auto& event : decided.value()) evolve_state(target.state, event);
      target.version = envelopes.back().stream_version;
      staging[i].has_events = true;
      staging[i].last_event = envelopes.size() - 1;
    }
  }

  /// Answers the round's commands once their events' append went one way or the other:
  /// `appended` is the partition's share of the joint append (null when the round had no
  /// events), `failure` a failure before the append (the keys could not be made durable).
  /// Sets `lost` when the partition was fenced.
  void finish(round& r, const joint_append* appended, const std::optional<error>& failure,
              std::chrono::duration<double> took) {
    auto& batch = r.batch;
    auto& staging = r.staging;
    if (appended != nullptr || failure) {
      std::optional<error> failed = failure;
      if (!failed && appended != nullptr && appended->error) {
        try {
          std::rethrow_exception(appended->error);
        } catch (const fenced_error& e) {
          failed = make_error(errc::unavailable, std::string("partition owner changed: ") + e.what());
          lost = true;
          std::fprintf(stderr, "coachd: partition %d fenced: %s\n", partition, e.what());
        } catch (const std::exception& e) {
          failed = make_error(errc::unavailable, std::string("event log append failed: ") + e.what());
          std::fprintf(stderr, "coachd: partition %d append failed: %s\n", partition, e.what());
        }
      }
      if (failed) {
        // Answer every command that had events with the failure. The live state holds their
        // effects; it is reloaded from the log (which has them only if the append committed
        // after all) before the next batch.
        for (auto& st : staging) {
          if (st.has_events) st.answer = *failed;
        }
        stale = true;
      } else {
        stream_count = streams.size();
        std::size_t commands_in_append = 0;
        for (std::size_t i = 0; i < batch.size(); ++i) {
          if (!staging[i].has_events) continue;
          ++commands_in_append;
          const auto& env = r.envelopes[staging[i].last_event];
          command_outcome outcome{env.subject, env.stream_version, partition,
                                  appended->result.offsets[staging[i].last_event], false};
          if (is_derived_command_id(batch[i].cmd.id)) {
            const auto [key, fingerprint] = split_command_id(batch[i].cmd.id);
            remembered.remember(
                std::string(key),
                remembered_command{outcome.stream, outcome.stream_version, outcome.offset,
                                   std::string(fingerprint), batch[i].cmd.issued_at});
          }
          staging[i].answer = outcome;
        }
        events_since_snapshot += r.envelopes.size();
        owner.stats_.appends.fetch_add(1, std::memory_order_relaxed);
        owner.stats_.appended_events.fetch_add(r.envelopes.size(), std::memory_order_relaxed);
        if (owner.append_observer_) owner.append_observer_(commands_in_append, r.envelopes.size(), took);
      }
    }
    // (Commands without events, all refused or no-ops, changed nothing durable.)

    for (std::size_t i = 0; i < batch.size(); ++i) {
      if (staging[i].same_as != SIZE_MAX) {
        auto earlier = *staging[staging[i].same_as].answer;
        if (earlier) earlier.value().replayed = true;
        staging[i].answer = std::move(earlier);
      }
      auto& answer = *staging[i].answer;
      if (answer.ok()) {
        (answer.value().replayed ? owner.stats_.commands_replayed : owner.stats_.commands_accepted)
            .fetch_add(1, std::memory_order_relaxed);
      } else {
        owner.stats_.commands_rejected.fetch_add(1, std::memory_order_relaxed);
      }
      batch[i].done(std::move(answer));
    }
  }
};

/// One thread deciding the commands of some partitions: it takes what is queued for all of
/// them, decides each partition's share, appends every partition's events in one joint append
/// (event_log::append_together) and answers. Commands that arrive meanwhile wait for the next
/// round, which takes them all at once: the batching that group commit rests on.
struct command_processor::decider {
  command_processor& owner;
  int index;
  std::vector<worker*> parts;
  std::mutex mutex;
  std::condition_variable wake;
  bool stopping = false;
  std::thread thread;

  decider(command_processor& o, int i) : owner(o), index(i) {}

  // Caller holds the mutex. Commands the decider can take now.
  bool has_work() const {
    return std::any_of(parts.begin(), parts.end(),
                       [](const worker* w) { return !w->snapshotting && !w->queue.empty(); });
  }
  // Caller holds the mutex. Nothing queued and no snapshot running.
  bool idle() const {
    return std::all_of(parts.begin(), parts.end(),
                       [](const worker* w) { return !w->snapshotting && w->queue.empty(); });
  }

  /// Snapshots a partition on a thread of its own: encoding and saving a big partition takes
  /// long enough (a second or more) that the partitions sharing this decider should not wait
  /// for it. The partition's own commands wait (its state must hold still while it is encoded).
  void start_snapshot(worker& w) {
    if (w.snapshot_thread.joinable()) w.snapshot_thread.join();  // the last one ended
    {
      std::lock_guard lock(mutex);
      w.snapshotting = true;
    }
    w.snapshot_thread = std::thread([this, &w] {
      name_this_thread("snapshot-" + std::to_string(w.partition));
      try {
        w.take_snapshot(owner.log_.end_offset(w.partition));  // the only writer: all of it is ours
      } catch (const std::exception& e) {
        std::fprintf(stderr, "coachd: partition %d: snapshot failed: %s\n", w.partition, e.what());
      }
      {
        std::lock_guard lock(mutex);
        w.snapshotting = false;
      }
      wake.notify_one();
    });
  }

  /// Takes a partition out of service (fenced, or at the stop): commands queued for it, and any
  /// submitted later, are refused.
  void retire(worker& w, const std::string& why) {
    std::deque<pending_command> left;
    {
      std::lock_guard lock(mutex);
      w.running = false;
      left.swap(w.queue);
    }
    for (auto& p : left) p.done(make_error(errc::unavailable, why));
  }

  void run() {
    // A long rebuild is snapshotted here rather than before the partition is ready: commands
    // that arrive meanwhile wait for it, the start does not.
    for (auto* w : parts) {
      if (w->events_since_snapshot >= owner.options_.snapshot_every) start_snapshot(*w);
    }
    key_provider& keys = owner.codec_.keys();
    std::vector<round> rounds(parts.size());
    std::vector<joint_append> joints;
    std::vector<std::size_t> joint_of(parts.size());
    for (;;) {
      {
        std::unique_lock lock(mutex);
        wake.wait(lock, [&] { return has_work() || (stopping && idle()); });
        if (!has_work()) break;  // stopping, drained, and no snapshot running
        for (std::size_t i = 0; i < parts.size(); ++i) {
          auto& queue = parts[i]->queue;
          rounds[i].clear();
          if (parts[i]->snapshotting) continue;
          const std::size_t n = std::min(queue.size(), owner.options_.max_batch);
          rounds[i].batch.reserve(n);
          for (std::size_t k = 0; k < n; ++k) {
            rounds[i].batch.push_back(std::move(queue.front()));
            queue.pop_front();
          }
        }
      }
      const std::uint64_t sealing = keys.begin_sealing();
      joints.clear();
      for (std::size_t i = 0; i < parts.size(); ++i) {
        joint_of[i] = SIZE_MAX;
        auto& r = rounds[i];
        auto& w = *parts[i];
        if (r.batch.empty()) continue;
        if (w.stale && !w.reload()) {
          for (auto& p : r.batch) {
            p.done(make_error(errc::unavailable, "partition " + std::to_string(w.partition) +
                                                     " is recovering from an event log failure; retry"));
          }
          r.clear();
          if (w.lost) retire(w, "partition " + std::to_string(w.partition) + " is not available");
          continue;
        }
        w.decide(r);
        if (!r.envelopes.empty()) {
          joint_of[i] = joints.size();
          joints.push_back(joint_append{w.writer.get(), r.envelopes, {}, nullptr});
        }
      }
      std::optional<error> failure;
      const auto append_started = std::chrono::steady_clock::now();
      if (!joints.empty()) {
        try {
          // Keys created for this round reach the disk no later than its appends do.
          const std::uint64_t keys_ticket = keys.make_durable(sealing);
          owner.log_.append_together(joints);
          if (std::any_of(joints.begin(), joints.end(), [](const joint_append& j) { return !j.error; }))
            keys.written_durably(keys_ticket);
        } catch (const std::exception& e) {
          failure = make_error(errc::unavailable, std::string("event log append failed: ") + e.what());
          std::fprintf(stderr, "coachd: append failed: %s\n", e.what());
        }
      }
      const auto took = std::chrono::steady_clock::now() - append_started;
      for (std::size_t i = 0; i < parts.size(); ++i) {
        auto& r = rounds[i];
        auto& w = *parts[i];
        if (r.batch.empty()) continue;
        const bool appended = joint_of[i] != SIZE_MAX;
        w.finish(r, appended ? &joints[joint_of[i]] : nullptr, appended ? failure : std::nullopt, took);
        r.clear();
        if (w.lost) {
          retire(w, "partition " + std::to_string(w.partition) + " is not available");
        } else if (w.events_since_snapshot >= owner.options_.snapshot_every) {
          start_snapshot(w);
        }
      }
    }
    for (auto* w : parts) {
      if (w->snapshot_thread.joinable()) w->snapshot_thread.join();
    }
    // A graceful stop leaves a snapshot, so the next start reads only what came after it.
    for (auto* w : parts) {
      if (!w->lost && w->events_since_snapshot > 0) {
        try {
          w->take_snapshot(owner.log_.end_offset(w->partition));
        } catch (const std::exception& e) {
          std::fprintf(stderr, "coachd: partition %d: no snapshot at stop: %s\n", w->partition, e.what());
        }
      }
      retire(*w, "partition " + std::to_string(w->partition) + " is not available");
    }
  }
};

command_processor::command_processor(event_log& log, const event_codec& codec,
                                     processor_options options)
    : log_(log), codec_(codec), options_(options) {}

command_processor::~command_processor() { stop(); }

void command_processor::on_append(append_observer observer) {
  append_observer_ = std::move(observer);
}

void command_processor::start() {
  const int partitions = log_.partitions();
  for (int p = 0; p < partitions; ++p) workers_.push_back(std::make_unique<worker>(*this, p));
  // Partitions rebuild side by side; the first failure stops the start.
  std::vector<std::thread> rebuilders;
  std::mutex failure_mutex;
  std::string failure;
  for (auto& w : workers_) {
    rebuilders.emplace_back([&, w = w.get()] {
      name_this_thread("rebuild-" + std::to_string(w->partition));
      try {
        w->rebuild();
      } catch (const std::exception& e) {
        std::lock_guard lock(failure_mutex);
        if (failure.empty()) failure = e.what();
      }
    });
  }
  for (auto& t : rebuilders) t.join();
  if (!failure.empty()) {
    workers_.clear();
    throw log_error("command processor could not start: " + failure);
  }
  std::size_t count = options_.deciders != 0 ? options_.deciders
                      : log_.appends_together() ? 1
                                                : workers_.size();
  count = std::clamp<std::size_t>(count, 1, std::max<std::size_t>(workers_.size(), 1));
  for (std::size_t i = 0; i < count; ++i) deciders_.push_back(std::make_unique<decider>(*this, static_cast<int>(i)));
  for (std::size_t p = 0; p < workers_.size(); ++p) {
    auto& d = *deciders_[p % count];
    d.parts.push_back(workers_[p].get());
    workers_[p]->home = &d;
    workers_[p]->running = true;
  }
  for (auto& d : deciders_) {
    d->thread = std::thread([d = d.get()] {
      name_this_thread("commands-" + std::to_string(d->index));
      d->run();
    });
  }
  started_ = true;
}

void command_processor::stop() {
  for (auto& d : deciders_) {
    {
      std::lock_guard lock(d->mutex);
      d->stopping = true;
    }
    d->wake.notify_one();
  }
  for (auto& d : deciders_) {
    if (d->thread.joinable()) d->thread.join();
  }
  started_ = false;
}

void command_processor::submit(command cmd, command_callback done) {
  if (!started_ || workers_.empty()) {
    done(make_error(errc::unavailable, "command processor is not running"));
    return;
  }
  auto& w = *workers_[partition_for(cmd.stream, static_cast<int>(workers_.size()))];
  auto& d = *w.home;
  {
    std::unique_lock lock(d.mutex);
    if (d.stopping || !w.running) {
      lock.unlock();
      done(make_error(errc::unavailable, "partition " + std::to_string(w.partition) + " is not available"));
      return;
    }
    w.queue.push_back(pending_command{std::move(cmd), std::move(done)});
  }
  d.wake.notify_one();
}

bool command_processor::ready() const {
  if (!started_ || workers_.empty()) return false;
  for (const auto& w : workers_) {
    if (!w->running) return false;
  }
  return true;
}

std::size_t command_processor::stream_count() const {
  std::size_t n = 0;
  for (const auto& w : workers_) n += w->stream_count;
  return n;
}

}  // namespace coachd
