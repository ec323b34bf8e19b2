#include "projections/runner.hpp"

#include <algorithm>
#include <condition_variable>
#include <deque>
#include <exception>
#include <stdexcept>
#include <cstdio>
#include <pqxx/pqxx>
#include <thread>
#include <utility>

#include "infra/pg_array.hpp"
#include "infra/thread_name.hpp"
#include "projections/copy_connection.hpp"

namespace coachd {

projection_runner::projection_runner(event_log& log, const event_codec& codec, std::string conninfo,
                                     projector& target, runner_options options)
    : log_(log),
      codec_(codec),
      conninfo_(std::move(conninfo)),
      target_(target),
      options_(options),
      positions_(new std::atomic<std::int64_t>[static_cast<std::size_t>(log.partitions())]) {
  for (int p = 0; p < log_.partitions(); ++p) positions_[p] = 0;
}

projection_runner::~projection_runner() { stop(); }

void projection_runner::load_checkpoints() {
  pqxx::connection connection(conninfo_);
  pqxx::work tx(connection);
  auto rows = tx.exec_params("SELECT partition, position FROM projection_checkpoints WHERE projector = $1",
                             target_.name());
  for (const auto& row : rows) {
    const int p = row[0].as<int>();
    if (p >= 0 && p < log_.partitions()) positions_[p] = row[1].as<std::int64_t>();
  }
}

projection_runner::fetched_batch projection_runner::fetch(log_reader& reader) {
  fetched_batch batch;
  batch.events = reader.poll(options_.poll_wait, options_.max_batch);
  for (int p = 0; p < log_.partitions(); ++p) batch.positions.push_back(reader.position(p));
  return batch;
}

std::unique_ptr<log_reader> projection_runner::open_reader(std::vector<partition_start> from, bool live) {
  // Only the events the projector applies are read whole.
  std::vector<std::string> wanted;
  bool every_type = true;
  for (const auto type : all_event_types()) {
    if (target_.handles(type)) {
      wanted.emplace_back(type);
    } else {
      every_type = false;
    }
  }
  if (every_type) return log_.open_reader(std::move(from));
  if (!live) return log_.open_reader_for(std::move(from), wanted);
  return log_.open_reader_wanting(std::move(from), wanted,
                                  [this](int partition, std::int64_t moved_from, std::int64_t to) {
                                    on_skipped(partition, moved_from, to);
                                  });
}

void projection_runner::on_skipped(int partition, std::int64_t from, std::int64_t to) {
  {
    std::lock_guard lock(mutex_);
    auto& position = positions_[partition];
    // Equal only when no event of the partition before `from` waits to be applied: a held
    // batch's events lie between the published position and `from`.
    if (position.load() != from) return;
    position = to;
  }
  advanced_.notify_all();
}

std::size_t projection_runner::process_batch(log_reader& reader, pqxx::connection_base& connection) {
  auto batch = fetch(reader);
  // Events that keep coming (the last batch was applied a moment ago) linger for more; the
  // first event after a quiet spell does not wait. (A projector that skips them lingers too:
  // it then wakes once for several of the tail's fetches.)
  if (options_.linger.count() > 0 && !batch.events.empty() && batch.events.size() < options_.max_batch &&
      std::chrono::steady_clock::now() - applied_at_ < 2 * options_.linger) {
    std::this_thread::sleep_for(options_.linger);
    // A short wait, not none: a reader answers a zero wait from what it has already fetched,
    // and what arrived during the linger is still in the log.
    auto more = reader.poll(std::chrono::milliseconds(1), options_.max_batch - batch.events.size());
    batch.events.insert(batch.events.end(), std::make_move_iterator(more.begin()), std::make_move_iterator(more.end()));
    // Even without events: the reader may have moved past some it does not read.
    for (int p = 0; p < log_.partitions(); ++p) batch.positions[static_cast<std::size_t>(p)] = reader.position(p);
  }
  const auto applied = apply_batch(batch, connection);
  if (applied > 0) applied_at_ = std::chrono::steady_clock::now();
  return applied;
}

void projection_runner::decode_ahead(fetched_batch& batch) const {
  batch.decoded.clear();
  batch.decoded.reserve(batch.events.size());
  for (const auto& stored : batch.events) {
    if (target_.handles(stored.envelope.type)) {
      batch.decoded.emplace_back(codec_.decode(stored.envelope));
    } else {
      batch.decoded.emplace_back(std::nullopt);
    }
  }
}

std::size_t projection_runner::apply_batch(const fetched_batch& batch, pqxx::connection_base& connection) {
  const auto& events = batch.events;
  // Every partition whose position moved: past events applied, or past events the projector
  // does not read (handed out as their place and type, or left out by the reader).
  bool moved = false;
  for (std::size_t p = 0; p < batch.positions.size(); ++p) {
    if (batch.positions[p] == read_positions_[p]) continue;
    moved = true;
    if (std::find(unsaved_.begin(), unsaved_.end(), static_cast<int>(p)) == unsaved_.end()) {
      unsaved_.push_back(static_cast<int>(p));
    }
  }
  read_positions_ = batch.positions;
  if (events.empty()) {
    if (moved) publish_positions();
    if (!unsaved_.empty() && std::chrono::steady_clock::now() - saved_at_ >= options_.checkpoint_interval) {
      save_checkpoints(connection);
    }
    return 0;
  }
  const bool applies = std::any_of(events.begin(), events.end(),
                                   [&](const stored_event& e) { return target_.handles(e.envelope.type); });
  if (applies || std::chrono::steady_clock::now() - saved_at_ >= options_.checkpoint_interval) {
    pqxx::work tx(connection);
    target_.begin_batch();
    const bool ahead = batch.decoded.size() == events.size();
    std::optional<result<domain_event>> here;
    for (std::size_t i = 0; i < events.size(); ++i) {
      const auto& stored = events[i];
      if (!target_.handles(stored.envelope.type)) continue;
      const result<domain_event>* decoded = nullptr;
      if (ahead && batch.decoded[i]) {
        decoded = &*batch.decoded[i];
      } else {
        here.emplace(codec_.decode(stored.envelope));
        decoded = &*here;
      }
      if (!*decoded) {
        throw std::runtime_error("cannot decode partition " + std::to_string(stored.partition) + " offset " +
                                 std::to_string(stored.offset) + ": " + decoded->err().detail);
      }
      target_.apply(tx, stored, decoded->value());
    }
    target_.end_batch(tx);
    write_checkpoints(tx);
    tx.commit();
    saved_at_ = std::chrono::steady_clock::now();
  }
  // Events it does not read count as processed at once (nothing of them is in the read
  // model); their checkpoint is written with the next batch it applies, or within
  // checkpoint_interval.
  {
    std::lock_guard lock(mutex_);
    last_error_.clear();
  }
  publish_positions();
  applied_.fetch_add(events.size(), std::memory_order_relaxed);
  return events.size();
}

void projection_runner::publish_positions() {
  {
    std::lock_guard lock(mutex_);
    for (std::size_t p = 0; p < read_positions_.size(); ++p) {
      // Never back: on_skipped may have moved it past events left out since.
      if (positions_[p].load() < read_positions_[p]) positions_[p] = read_positions_[p];
    }
  }
  advanced_.notify_all();
}

void projection_runner::write_checkpoints(pqxx::work& tx) {
  if (unsaved_.empty()) return;
  // Every partition that moved in one statement (one round trip per batch, not one per
  // partition).
  pg_array_literal partitions, offsets;
  for (const int p : unsaved_) {
    partitions.add_integer(p);
    offsets.add_integer(read_positions_[static_cast<std::size_t>(p)]);
  }
  tx.exec_prepared("coachd_checkpoint", target_.name(), partitions.str(), offsets.str());
  unsaved_.clear();
}

void projection_runner::save_checkpoints(pqxx::connection_base& connection) {
  if (unsaved_.empty()) return;
  pqxx::work tx(connection);
  write_checkpoints(tx);
  tx.commit();
  saved_at_ = std::chrono::steady_clock::now();
}

namespace {

/// One runner per projector at a time, across processes: a session advisory lock keyed by the
/// projector's name, held on the runner's connection for as long as it applies events. It is
/// given back before the connection closes: a closed connection's backend lets go of its locks
/// only once it has exited, so whoever runs the projector next (coachd started right after
/// `coachctl projections rebuild`) could otherwise find it still held.
class projector_lock {
 public:
  /// Tries to take it; held() says whether it was free.
  projector_lock(pqxx::connection_base& connection, std::string name)
      : connection_(connection), name_(std::move(name)) {
    pqxx::nontransaction tx(connection_);
    // The two-key form takes two int4 keys: the class key must fit in 32 bits.
    held_ = tx.exec_params("SELECT pg_try_advisory_lock(740615002, hashtext($1))", name_)[0][0].as<bool>();
  }
  ~projector_lock() {
    if (!held_) return;
    try {
      if (!connection_.is_open()) return;
      pqxx::nontransaction tx(connection_);
      tx.exec_params("SELECT pg_advisory_unlock(740615002, hashtext($1))", name_);
    } catch (...) {
      // The connection broke: its backend ends and the lock goes with it.
    }
  }
  projector_lock(const projector_lock&) = delete;
  projector_lock& operator=(const projector_lock&) = delete;

  bool held() const { return held_; }
  /// For coachctl's rebuild and catch-up: refuses while another process runs the projector.
  void or_refuse() const {
    if (!held_) {
      throw std::runtime_error("projector " + name_ +
                               " is running in another process (coachd); stop it before rebuilding");
    }
  }

 private:
  pqxx::connection_base& connection_;
  std::string name_;
  bool held_ = false;
};

void prepare_checkpoint(pqxx::connection_base& connection) {
  connection.prepare("coachd_checkpoint",
                     "INSERT INTO projection_checkpoints (projector, partition, position, updated_at) "
                     "SELECT $1::text, c.partition, c.position, now() FROM unnest($2::integer[], $3::bigint[]) "
                     "AS c(partition, position) ON CONFLICT (projector, partition) DO UPDATE "
                     "SET position = EXCLUDED.position, updated_at = now()");
}

}  // namespace

namespace {

// Dropped in the transaction that empties the tables, each definition kept in
// projection_deferred_indexes: PostgreSQL then builds the index once, sorting the loaded rows,
// instead of inserting every row into it (800,000 intakes: COPY into the table with both
// query indexes 15.7 s; without them, and building them after, 10.9 s).
void defer_query_indexes(pqxx::work& tx, const projector& target) {
  for (const auto& index : target.query_only_indexes()) {
    const auto found = tx.exec_params(
        "SELECT pg_get_indexdef(i.indexrelid), i.indisunique FROM pg_index i WHERE i.indexrelid = to_regclass($1)",
        index);
    if (found.empty()) {
      // Gone because a rebuild that did not finish deferred it: its definition is still recorded.
      if (!tx.exec_params("SELECT 1 FROM projection_deferred_indexes WHERE projector = $1 AND index_name = $2",
                          target.name(), index)
               .empty()) {
        continue;
      }
      throw std::logic_error("projector " + target.name() + " lists the index " + index +
                             " as query-only, but no such index exists");
    }
    if (found[0][1].as<bool>()) {
      throw std::logic_error("projector " + target.name() + " lists the unique index " + index +
                             " as query-only; unique indexes are never dropped");
    }
    tx.exec_params(
        "INSERT INTO projection_deferred_indexes (projector, index_name, definition) VALUES ($1, $2, $3) "
        "ON CONFLICT (projector, index_name) DO NOTHING",
        target.name(), index, found[0][0].as<std::string>());
    tx.exec("DROP INDEX " + tx.quote_name(index));
  }
}

// Builds what a rebuild deferred (its own, at its end, or one that died half-way) and refreshes
// the planner's statistics of tables a rebuild filled.
void build_deferred_indexes(pqxx::connection_base& connection, const projector& target) {
  pqxx::work tx(connection);
  const auto deferred = tx.exec_params(
      "DELETE FROM projection_deferred_indexes WHERE projector = $1 RETURNING index_name, definition", target.name());
  if (deferred.empty()) return;
  for (const auto& row : deferred) {
    if (tx.exec_params("SELECT to_regclass($1) IS NULL", row[0].as<std::string>())[0][0].as<bool>()) {
      tx.exec(row[1].as<std::string>());
    }
  }
  for (const auto& table : target.tables()) tx.exec("ANALYZE " + tx.quote_name(table));
  tx.commit();
}

void empty_read_model(pqxx::connection_base& connection, projector& target, int partitions, bool defer_indexes) {
  pqxx::work tx(connection);
  // TRUNCATE, not DELETE: the replay then fills tables and indexes without dead rows.
  std::string tables;
  for (const auto& table : target.tables()) tables += (tables.empty() ? "" : ", ") + tx.quote_name(table);
  if (!tables.empty()) tx.exec("TRUNCATE " + tables);
  if (defer_indexes) defer_query_indexes(tx, target);
  tx.exec_params("DELETE FROM projection_checkpoints WHERE projector = $1", target.name());
  for (int p = 0; p < partitions; ++p) {
    tx.exec_params("INSERT INTO projection_checkpoints (projector, partition, position) VALUES ($1, $2, 0)",
                   target.name(), p);
  }
  tx.commit();
}

}  // namespace

void projection_runner::prepare_connection(pqxx::connection_base& connection) {
  unsaved_.clear();
  read_positions_.clear();
  for (int p = 0; p < log_.partitions(); ++p) read_positions_.push_back(positions_[p]);
  saved_at_ = std::chrono::steady_clock::now();
  prepare_checkpoint(connection);
  target_.prepare(connection);
  if (!target_.durable_commits()) {
    // A batch and its checkpoint commit together, so a commit lost in a PostgreSQL crash is
    // applied again from the log: read models need not wait for the disk.
    pqxx::nontransaction tx(connection);
    tx.exec("SET synchronous_commit = off");
  }
}

std::uint64_t projection_runner::rebuild(const std::function<void(std::uint64_t, std::uint64_t)>& progress) {
  copy_connection connection(conninfo_);  // bulk rows go in with binary COPY
  const projector_lock lock(connection, target_.name());
  lock.or_refuse();
  // Emptied under the lock: a rebuild refused because coachd runs the projector touches nothing.
  empty_read_model(connection, target_, log_.partitions(), /*defer_indexes=*/true);
  for (int p = 0; p < log_.partitions(); ++p) positions_[p] = 0;
  // Into empty tables, under the projector's lock, each batch's rows committing with its
  // checkpoint: no row is written twice, so bulk rows may be COPYed.
  struct loading_scope {
    projector& target;
    explicit loading_scope(projector& t) : target(t) { target.set_loading(true); }
    ~loading_scope() { target.set_loading(false); }
    loading_scope(const loading_scope&) = delete;
    loading_scope& operator=(const loading_scope&) = delete;
  } loading(target_);
  const auto applied = catch_up_locked(connection, progress);
  build_deferred_indexes(connection, target_);
  return applied;
}

std::uint64_t projection_runner::catch_up(const std::function<void(std::uint64_t, std::uint64_t)>& progress) {
  pqxx::connection connection(conninfo_);
  const projector_lock lock(connection, target_.name());
  lock.or_refuse();
  build_deferred_indexes(connection, target_);
  return catch_up_locked(connection, progress);
}

std::uint64_t projection_runner::catch_up_locked(pqxx::connection_base& connection,
                                                 const std::function<void(std::uint64_t, std::uint64_t)>& progress) {
  load_checkpoints();
  std::vector<partition_start> from;
  std::uint64_t total = 0;
  std::vector<std::int64_t> ends;
  for (int p = 0; p < log_.partitions(); ++p) {
    from.push_back({p, positions_[p]});
    ends.push_back(log_.end_offset(p));
    if (ends.back() > positions_[p]) total += static_cast<std::uint64_t>(ends.back() - positions_[p]);
  }
  auto reader = open_reader(std::move(from), /*live=*/false);
  prepare_connection(connection);
  // Three stages, each up to two batches ahead of the next: a fetching thread reads the log, a
  // decoding thread decodes (and opens sealed fields), and this thread applies. With binary
  // COPY the applying stage got cheaper than reading and decoding together, and one thread
  // doing both left a core idle while it waited for PostgreSQL's answer (300,000 intakes, ten
  // alternating pairs: median 5.03 -> 4.54 s, the same CPU; a third stage measured no gain
  // before, when COPY's text parsing made applying the slowest stage).
  constexpr std::size_t depth = 2;
  std::mutex m;
  std::condition_variable cv;
  std::deque<fetched_batch> fetched, ready;
  bool fetching_done = false, finished = false, abandoned = false;
  std::exception_ptr read_failure;
  const auto fail = [&](std::exception_ptr e) {
    std::lock_guard lock(m);
    if (!read_failure) read_failure = e;
    abandoned = true;  // the other reading stage stops too
    cv.notify_all();
  };
  // Puts a batch on the next stage's queue once it has room; false when abandoned.
  const auto hand_on = [&](std::deque<fetched_batch>& queue, fetched_batch&& batch) {
    std::unique_lock lock(m);
    cv.wait(lock, [&] { return queue.size() < depth || abandoned; });
    if (abandoned) return false;
    queue.push_back(std::move(batch));
    cv.notify_all();
    return true;
  };
  const auto stage_done = [&](bool& done) {
    std::lock_guard lock(m);
    done = true;
    cv.notify_all();
  };
  std::thread fetching([&] {
    name_this_thread("replay-fetch");
    try {
      for (;;) {
        bool at_end = true;
        for (int p = 0; p < log_.partitions(); ++p) {
          if (reader->position(p) < ends[static_cast<std::size_t>(p)]) at_end = false;
        }
        if (at_end) break;
        auto batch = fetch(*reader);
        if (batch.events.empty()) continue;
        if (!hand_on(fetched, std::move(batch))) break;
      }
    } catch (...) {
      fail(std::current_exception());
    }
    stage_done(fetching_done);
  });
  std::thread decoding([&] {
    name_this_thread("replay-decode");
    try {
      for (;;) {
        fetched_batch batch;
        {
          std::unique_lock lock(m);
          cv.wait(lock, [&] { return !fetched.empty() || fetching_done || abandoned; });
          if (abandoned || fetched.empty()) break;
          batch = std::move(fetched.front());
          fetched.pop_front();
          cv.notify_all();
        }
        decode_ahead(batch);
        if (!hand_on(ready, std::move(batch))) break;
      }
    } catch (...) {
      fail(std::current_exception());
    }
    stage_done(finished);
  });
  const auto join_readers = [&] {
    fetching.join();
    decoding.join();
  };
  std::uint64_t done = 0;
  try {
    for (;;) {
      fetched_batch batch;
      {
        std::unique_lock lock(m);
        cv.wait(lock, [&] { return !ready.empty() || finished; });
        if (ready.empty()) break;
        batch = std::move(ready.front());
        ready.pop_front();
        cv.notify_all();
      }
      done += apply_batch(batch, connection);
      if (progress) progress(std::min(done, total), total);
    }
  } catch (...) {
    {
      std::lock_guard lock(m);
      abandoned = true;
      cv.notify_all();
    }
    join_readers();
    throw;
  }
  join_readers();
  if (read_failure) std::rethrow_exception(read_failure);
  save_checkpoints(connection);
  return done;
}

void projection_runner::start() {
  load_checkpoints();
  stopping_ = false;
  thread_ = std::thread([this] { run(); });
}

void projection_runner::stop() {
  stopping_ = true;
  if (thread_.joinable()) thread_.join();
}

void projection_runner::run() {
  name_this_thread("proj-" + target_.name());
  while (!stopping_) {
    try {
      std::vector<partition_start> from;
      for (int p = 0; p < log_.partitions(); ++p) from.push_back({p, positions_[p]});
      pqxx::connection connection(conninfo_);
      const projector_lock lock(connection, target_.name());
      if (!lock.held()) throw std::runtime_error("another process runs this projector; waiting for it to stop");
      build_deferred_indexes(connection, target_);
      // Positions may have moved while another process held the projector.
      load_checkpoints();
      from.clear();
      for (int p = 0; p < log_.partitions(); ++p) from.push_back({p, positions_[p]});
      auto reader = open_reader(from, /*live=*/true);
      prepare_connection(connection);
      while (!stopping_) process_batch(*reader, connection);
      save_checkpoints(connection);
    } catch (const std::exception& e) {
      // The batch rolled back; its checkpoint did not move. Report, wait, and retry from the
      // committed positions with a fresh reader and connection.
      {
        std::lock_guard lock(mutex_);
        last_error_ = e.what();
      }
      std::fprintf(stderr, "coachd: projector %s: %s (retrying)\n", target_.name().c_str(), e.what());
      const auto until = std::chrono::steady_clock::now() + options_.retry_backoff;
      while (!stopping_ && std::chrono::steady_clock::now() < until) {
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
      }
    }
  }
}

std::int64_t projection_runner::position(int partition) const {
  return positions_[static_cast<std::size_t>(partition)].load();
}

bool projection_runner::wait_past(int partition, std::int64_t offset,
                                  std::chrono::steady_clock::time_point deadline) {
  if (partition < 0 || partition >= log_.partitions()) return false;
  std::unique_lock lock(mutex_);
  return advanced_.wait_until(lock, deadline, [&] { return positions_[partition].load() > offset; });
}

std::string projection_runner::last_error() const {
  std::lock_guard lock(mutex_);
  return last_error_;
}

void projection_runner::reset(const std::string& conninfo, projector& target, int partitions) {
  pqxx::connection connection(conninfo);
  const projector_lock lock(connection, target.name());
  lock.or_refuse();
  empty_read_model(connection, target, partitions, /*defer_indexes=*/false);
}

}  // namespace coachd
