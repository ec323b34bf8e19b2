#include "infra/pg_event_log.hpp"

#include <algorithm>
#include <atomic>
#include <charconv>
#include <chrono>
#include <cstdint>
#include <condition_variable>
#include <exception>
#include <cstdio>
#include <mutex>
#include <optional>
#include <pqxx/pqxx>
#include <thread>
#include <stdexcept>
#include <string_view>
#include <utility>
#include <vector>

#include "infra/pg_array.hpp"
#include "infra/thread_name.hpp"

namespace coachd {
namespace {

// Arbitrary constant key for the advisory lock that serializes schema creation between
// processes opening the same database at once ("coachd" in ASCII).
constexpr std::int64_t schema_lock_key = 0x636f61636864;

// Runs `body`, turning libpqxx's failures into log_error (with libpq's message) so that callers
// see the port's exceptions only. Our own log_error/fenced_error pass through untouched.
template <class Body>
auto guarded(std::string_view what, Body&& body) -> decltype(body()) {
  try {
    return body();
  } catch (const pqxx::in_doubt_error& e) {
    throw log_error("postgres event log: " + std::string(what) +
                    ": connection lost during COMMIT, outcome unknown: " + e.what());
  } catch (const pqxx::failure& e) {
    throw log_error("postgres event log: " + std::string(what) + ": " + e.what());
  }
}

// A new connection with the settings every log connection needs. Settings made through
// set_variable are restored by libpqxx if it reconnects.
std::unique_ptr<pqxx::connection> connect(const std::string& conninfo, std::string_view role) {
  return guarded(std::string("cannot connect (") + std::string(role) + ")", [&] {
    auto conn = std::make_unique<pqxx::connection>(conninfo);
    // An acknowledged append must survive a server crash, whatever the server's default.
    conn->set_variable("synchronous_commit", "on");
    return conn;
  });
}

// PostgreSQL text cannot hold NUL, and libpq would cut the parameter there.
void check_no_nul(const event_envelope& e) {
  for (const auto* field : {&e.id, &e.source, &e.type, &e.specversion, &e.time, &e.subject,
                            &e.command_id, &e.correlation_id, &e.causation_id, &e.actor, &e.data}) {
    if (field->find('\0') != std::string::npos) {
      throw std::invalid_argument("postgres event log: event " + e.id +
                                  " has a NUL byte in its envelope; PostgreSQL cannot store it");
    }
  }
}

// Every envelope column, in the order of event_envelope's members.
constexpr const char* envelope_columns =
    "id, source, type, specversion, time, subject, stream_version, command_id, correlation_id, "
    "causation_id, actor, schema_version, data";

const std::string create_schema_sql[] = {
    "CREATE SCHEMA IF NOT EXISTS coachd_log",
    "CREATE TABLE IF NOT EXISTS coachd_log.meta ("
    " key text PRIMARY KEY,"
    " value text NOT NULL)",
    "CREATE TABLE IF NOT EXISTS coachd_log.partitions ("
    " partition integer PRIMARY KEY CHECK (partition >= 0),"
    " epoch bigint NOT NULL,"
    " next_offset bigint NOT NULL)",
    // time and data are text: their exact bytes are part of the envelope.
    "CREATE TABLE IF NOT EXISTS coachd_log.events ("
    " partition integer NOT NULL,"
    " log_offset bigint NOT NULL,"
    " id uuid NOT NULL UNIQUE,"
    " source text NOT NULL,"
    " type text NOT NULL,"
    " specversion text NOT NULL,"
    " time text NOT NULL,"
    " subject text NOT NULL,"
    " stream_version bigint NOT NULL,"
    " command_id text NOT NULL,"
    " correlation_id text NOT NULL,"
    " causation_id text NOT NULL,"
    " actor text NOT NULL,"
    " schema_version integer NOT NULL,"
    " data text NOT NULL,"
    " PRIMARY KEY (partition, log_offset))",
};

// ---------------------------------------------------------------------------------------------

}  // namespace

/// Sends the NOTIFY that wakes tailing readers, on a connection and thread of its own, so that
/// an append returns as soon as its COMMIT is durable. A NOTIFY inside the append would be
/// worse still: it takes a database-wide lock until its commit ends, serializing every
/// partition's commits behind each other's WAL flush. Announcements that pile up while one is
/// being sent go out together in the next statement. One lost to a crash or a dropped
/// connection costs readers at most their max_wait (they poll as well).
///
/// NOTIFYs are spaced at least `spacing` apart. A NOTIFY is dear: PostgreSQL signals every
/// backend of the database that listens on any channel (the session cache's, the key store's,
/// the mail outbox's and the log readers' connections), and each wakes to read the queue. One
/// per append statement cost about a tenth of the machine at 1,000 bookings/s. The readers of
/// this process do not wait for it (the command processor's appends reach them through the
/// shared tail); a reader in another process sees appends up to `spacing` later.
class pg_event_log::notifier {
 public:
  /// Measured with BookSession paced at 3,000/s (held bench, warmed up): PostgreSQL's CPU per
  /// booking 298 → 224 µs, the machine's 570 → 511 µs, against one NOTIFY per statement.
  static constexpr std::chrono::milliseconds spacing{5};

  explicit notifier(std::string conninfo) : conninfo_(std::move(conninfo)), thread_([this] { run(); }) {}
  ~notifier() {
    {
      std::lock_guard lock(mutex_);
      stopping_ = true;
    }
    wake_.notify_one();
    thread_.join();
  }
  notifier(const notifier&) = delete;
  notifier& operator=(const notifier&) = delete;

  /// Each partition that grew, with its new end (the offset after its last event).
  void announce(const std::vector<std::pair<int, std::int64_t>>& grown) {
    {
      std::lock_guard lock(mutex_);
      for (const auto& [partition, end] : grown) {
        auto it = std::find_if(pending_.begin(), pending_.end(), [&](const auto& g) { return g.first == partition; });
        if (it == pending_.end()) {
          pending_.emplace_back(partition, end);
        } else {
          it->second = std::max(it->second, end);
        }
      }
    }
    wake_.notify_one();
  }

 private:
  void run() {
    name_this_thread("log-notify");
    std::unique_ptr<pqxx::connection> conn;
    for (;;) {
      std::vector<std::pair<int, std::int64_t>> grown;
      {
        std::unique_lock lock(mutex_);
        wake_.wait(lock, [&] { return stopping_ || !pending_.empty(); });
        if (pending_.empty()) return;  // stopping, nothing left to send
        grown.swap(pending_);
      }
      // Payloads "partition:end" (see wake_receiver).
      pg_array_literal list;
      for (const auto& [partition, end] : grown) list.add_text(std::to_string(partition) + ":" + std::to_string(end));
      try {
        if (!conn) {
          conn = connect(conninfo_, "notifier");
          conn->prepare("coachd_log_notify",
                        "SELECT set_config('synchronous_commit', 'off', true), pg_notify('" +
                            std::string(pg_event_log_channel) + "', p) FROM unnest($1::text[]) AS p");
        }
        pqxx::nontransaction tx(*conn, "coachd_log_notify");
        tx.exec_prepared("coachd_log_notify", list.str());
      } catch (const std::exception& e) {
        conn.reset();  // reconnect for the next announcement; readers poll meanwhile
        std::fprintf(stderr, "coachd: event log notifier: %s\n", e.what());
      }
      // Spaced: what is announced meanwhile goes out together in the next one.
      std::unique_lock lock(mutex_);
      wake_.wait_for(lock, spacing, [&] { return stopping_; });
    }
  }

  const std::string conninfo_;
  std::mutex mutex_;
  std::condition_variable wake_;
  std::vector<std::pair<int, std::int64_t>> pending_;  // partition, new end
  bool stopping_ = false;
  std::thread thread_;  // last: started once the members above exist
};

/// Commits the appends of every partition writer of the log together: a caller hands its
/// batches over (one per partition) and the first caller waiting leads: it takes every batch
/// waiting and appends them all in one statement on the appender's connection, so one commit and
/// one WAL flush serve all of them (group commit across partitions, on top of each partition's
/// batching of commands), then answers them and hands the lead on. Batches that arrive while a
/// statement runs go together in the next one. Each partition keeps its own epoch check: a
/// fenced partition's batch is left out and only its caller hears of it.
class pg_event_log::appender {
 public:
  /// How long a leader may wait for more callers' batches (see lead()).
  static constexpr std::chrono::microseconds linger{1000};

  /// One statement in flight at a time. Two in flight (a second connection taking the batches
  /// that arrive while the first waits for its WAL flush) measured no better: BookSession at 64
  /// connections, three alternating runs, 8,367/7,490/6,657 against 7,575/7,107/7,176 per s,
  /// and more CPU. The statement runs on the leading caller's thread: with the command
  /// processor's one thread appending every partition's batches together, that saves two
  /// thread hand-offs per group commit against a thread of the appender's own. (With a thread
  /// per partition, leading and handing the lead on measured about the same as a thread of the
  /// appender's own: 8,293/7,168/6,546 against 7,245/6,445/4,849 bookings per s.)
  appender(std::string conninfo, std::shared_ptr<notifier> notify)
      : conninfo_(std::move(conninfo)), notify_(std::move(notify)), conn_(connect_and_prepare()) {}
  // (Connected at once, so that opening a writer fails when the server cannot be reached.)
  appender(const appender&) = delete;
  appender& operator=(const appender&) = delete;

  /// One partition's batch. `first` (the offset of its first event, once durable) or `error`
  /// (fenced_error, log_error) holds once the appender answered it.
  struct request {
    int partition;
    std::int64_t epoch;
    std::span<const event_envelope> batch;
    std::int64_t first = -1;
    std::exception_ptr error;
    bool done = false;
    bool leads = false;  // the first request of its caller's call (see lead())
  };

  /// Hands over the requests (one per partition) and returns once every one is answered,
  /// leading statements (its own requests' and any others waiting) while no one else does.
  void append_all(std::span<request> requests) {
    if (requests.empty()) return;
    std::unique_lock lock(mutex_);
    requests[0].leads = true;
    for (auto& r : requests) pending_.push_back(&r);
    arrived_.notify_one();  // a leader lingering for more callers
    const auto answered = [&] {
      return std::all_of(requests.begin(), requests.end(), [](const request& r) { return r.done; });
    };
    while (!answered()) {
      if (leading_) {
        answered_.wait(lock);
        continue;
      }
      leading_ = true;
      try {
        lead(lock);
      } catch (...) {  // (commit() throws nothing; this is bad_alloc and the like)
        if (!lock.owns_lock()) lock.lock();
        leading_ = false;
        answered_.notify_all();
        throw;
      }
      leading_ = false;
      answered_.notify_all();  // answered callers return; one of the others leads next
    }
  }

 private:
  // One statement for the batches waiting. Called and returns with the mutex held (by `lock`),
  // which it releases while the statement runs.
  void lead(std::unique_lock<std::mutex>& lock) {
    // While several callers keep appending (the last statement carried the batches of two or
    // more append() / append_all() calls and ended a moment ago), wait up to `linger` until as
    // many calls are waiting as the last statement carried: the callers it answered are
    // deciding their next batches right now, and one statement and one WAL flush then serve
    // them all. Without this, under moderate load each statement carried about 1.5 batches and
    // a booking cost about twice the CPU it costs at full load, which kept both cores saturated
    // at half of peak. A lone caller (one thread appending every partition's batches together)
    // and the first append after a quiet spell never wait.
    if (last_callers_ >= 2 && std::chrono::steady_clock::now() - last_end_ < 2 * linger) {
      arrived_.wait_until(lock, std::chrono::steady_clock::now() + linger, [&] {
        return static_cast<std::size_t>(std::count_if(pending_.begin(), pending_.end(),
                                                       [](const request* r) { return r->leads; })) >=
               last_callers_;
      });
    }
    // One batch per partition per statement (a second writer of a partition, which fences or
    // was fenced by the first, waits for the next one).
    std::vector<request*> taken, later;
    for (auto* r : pending_) {
      const bool seen =
          std::any_of(taken.begin(), taken.end(), [&](const request* t) { return t->partition == r->partition; });
      (seen ? later : taken).push_back(r);
    }
    pending_.swap(later);
    lock.unlock();
    commit(conn_, taken);  // (fills each request's first or error; throws nothing)
    last_end_ = std::chrono::steady_clock::now();
    last_callers_ = static_cast<std::size_t>(
        std::count_if(taken.begin(), taken.end(), [](const request* r) { return r->leads; }));
    std::vector<std::pair<int, std::int64_t>> grown;
    for (const auto* r : taken) {
      if (!r->error) grown.emplace_back(r->partition, r->first + static_cast<std::int64_t>(r->batch.size()));
    }
    if (!grown.empty()) notify_->announce(grown);
    lock.lock();
    // The requests live on their callers' stacks: not one is touched once marked done.
    for (auto* r : taken) r->done = true;
  }

  // Appends the requests' batches in one statement, and when PostgreSQL refuses it (an event
  // that cannot be stored: nothing of the statement is committed), each batch alone, so that
  // only the batch at fault fails.
  void commit(std::unique_ptr<pqxx::connection>& conn, const std::vector<request*>& taken) {
    try {
      run_statement(conn, taken);
      return;
    } catch (const pqxx::broken_connection& e) {
      conn.reset();
      for (auto* r : taken) {
        r->error = std::make_exception_ptr(
            log_error("postgres event log: append to partition " + std::to_string(r->partition) +
                      ": connection lost, outcome unknown: " + e.what()));
      }
      return;
    } catch (const pqxx::failure& e) {
      if (taken.size() == 1) {
        taken[0]->error = std::make_exception_ptr(log_error(
            "postgres event log: append to partition " + std::to_string(taken[0]->partition) + ": " + e.what()));
        return;
      }
    } catch (const std::exception&) {
      for (auto* r : taken) r->error = std::current_exception();
      return;
    }
    for (auto* r : taken) commit(conn, {r});
  }

  std::unique_ptr<pqxx::connection> connect_and_prepare() {
    auto conn = connect(conninfo_, "appender");
    guarded("prepare the append", [&] {
      // The whole append is this one statement, run as its own transaction (autocommit): lock
      // the requests' partition rows (in partition order, so that two logs' statements cannot
      // deadlock); for each partition whose epoch is still the writer's, insert its batch on the
      // offsets from next_offset on and advance next_offset; return the rows as locked. A
      // fenced partition's rows select nothing in both writes, so it leaves nothing behind. The
      // row locks are held until the statement's COMMIT, which orders appends: the next one
      // reads next_offset only once this one is committed and visible.
      conn->prepare(
          "coachd_log_append",
          std::string("WITH owner AS MATERIALIZED ("
                      "  SELECT p.partition, p.epoch, p.next_offset, r.epoch AS expected, r.count"
                      "  FROM coachd_log.partitions p"
                      "  JOIN unnest($1::integer[], $2::bigint[], $3::bigint[]) AS r(partition, epoch, count)"
                      "   ON r.partition = p.partition"
                      "  ORDER BY p.partition FOR UPDATE OF p),"
                      " inserted AS ("
                      "  INSERT INTO coachd_log.events (partition, log_offset, ") +
              envelope_columns +
              ")"
              "  SELECT e.partition, owner.next_offset + e.ord - 1, " +
              envelope_columns +
              "  FROM unnest($4::integer[], $5::bigint[], $6::uuid[], $7::text[], $8::text[],"
              "   $9::text[], $10::text[], $11::text[], $12::bigint[], $13::text[], $14::text[],"
              "   $15::text[], $16::text[], $17::integer[], $18::text[]) AS e(partition, ord, " +
              envelope_columns +
              ")"
              "  JOIN owner ON owner.partition = e.partition AND owner.epoch = owner.expected),"
              " advanced AS ("
              "  UPDATE coachd_log.partitions p SET next_offset = owner.next_offset + owner.count"
              "  FROM owner WHERE p.partition = owner.partition AND owner.epoch = owner.expected)"
              " SELECT partition, epoch, next_offset FROM owner");
    });
    return conn;
  }

  void run_statement(std::unique_ptr<pqxx::connection>& conn, const std::vector<request*>& taken) {
    pg_array_literal partitions, epochs, counts, event_partitions, ords, ids, sources, types,
        specversions, times, subjects, stream_versions, command_ids, correlation_ids,
        causation_ids, actors, schema_versions, datas;
    for (const auto* r : taken) {
      partitions.add_integer(r->partition);
      epochs.add_integer(r->epoch);
      counts.add_integer(static_cast<std::int64_t>(r->batch.size()));
      std::int64_t ord = 0;
      for (const auto& e : r->batch) {
        event_partitions.add_integer(r->partition);
        ords.add_integer(++ord);
        ids.add_text(e.id);
        sources.add_text(e.source);
        types.add_text(e.type);
        specversions.add_text(e.specversion);
        times.add_text(e.time);
        subjects.add_text(e.subject);
        stream_versions.add_integer(e.stream_version);
        command_ids.add_text(e.command_id);
        correlation_ids.add_text(e.correlation_id);
        causation_ids.add_text(e.causation_id);
        actors.add_text(e.actor);
        schema_versions.add_integer(e.schema_version);
        datas.add_text(e.data);
      }
    }
    if (!conn) conn = connect_and_prepare();
    pqxx::nontransaction tx(*conn, "coachd_log_append");
    const auto rows = tx.exec_prepared(
        "coachd_log_append", partitions.str(), epochs.str(), counts.str(), event_partitions.str(),
        ords.str(), ids.str(), sources.str(), types.str(), specversions.str(), times.str(),
        subjects.str(), stream_versions.str(), command_ids.str(), correlation_ids.str(),
        causation_ids.str(), actors.str(), schema_versions.str(), datas.str());
    for (auto* r : taken) {
      const auto row = std::find_if(rows.begin(), rows.end(), [&](const auto& row) {
        return row[0].template as<int>() == r->partition;
      });
      if (row == rows.end()) {
        r->error = std::make_exception_ptr(log_error("postgres event log: partition " + std::to_string(r->partition) +
                                                     " has no row in coachd_log.partitions"));
        continue;
      }
      const auto current_epoch = (*row)[1].as<std::int64_t>();
      if (current_epoch != r->epoch) {
        r->error = std::make_exception_ptr(fenced_error(
            "postgres event log: writer of partition " + std::to_string(r->partition) + " (epoch " +
            std::to_string(r->epoch) + ") was fenced by a newer writer (epoch " +
            std::to_string(current_epoch) + "); nothing was appended"));
        continue;
      }
      r->first = (*row)[2].as<std::int64_t>();
    }
  }

  const std::string conninfo_;
  const std::shared_ptr<notifier> notify_;
  std::mutex mutex_;
  std::condition_variable arrived_;   // a lingering leader: more batches waiting
  std::condition_variable answered_;  // the callers: requests answered, or the lead free
  std::vector<request*> pending_;
  bool leading_ = false;  // a caller is running a statement
  // Used by the leader only. The last statement: when it ended and how many callers' batches
  // it carried.
  std::unique_ptr<pqxx::connection> conn_;
  std::chrono::steady_clock::time_point last_end_{};
  std::size_t last_callers_ = 0;
};

namespace {

void append_jointly(std::span<joint_append> appends);

class pg_partition_writer final : public partition_writer {
 public:
  pg_partition_writer(const std::string& conninfo, int partition, std::shared_ptr<pg_event_log::appender> appender)
      : partition_(partition), appender_(std::move(appender)) {
    // Taking the partition: bumping the epoch fences every earlier writer. It waits for an
    // append in flight (which holds the row lock), so that append lands before ours.
    const auto conn = connect(conninfo, "writer");
    guarded("open writer", [&] {
      pqxx::nontransaction tx(*conn, "coachd_log_open_writer");
      const auto rows = tx.exec_params(
          "UPDATE coachd_log.partitions SET epoch = epoch + 1 WHERE partition = $1::integer"
          " RETURNING epoch",
          partition_);
      if (rows.empty()) {
        throw log_error("postgres event log: partition " + std::to_string(partition_) +
                        " has no row in coachd_log.partitions");
      }
      epoch_ = rows[0][0].as<std::int64_t>();
    });
  }

  int partition() const override { return partition_; }
  std::int64_t epoch() const { return epoch_; }
  pg_event_log::appender& appender() const { return *appender_; }

  append_result append(std::span<const event_envelope> batch) override {
    joint_append alone{this, batch, {}, nullptr};
    append_jointly({&alone, 1});
    if (alone.error) std::rethrow_exception(alone.error);
    return std::move(alone.result);
  }

 private:
  int partition_;
  std::int64_t epoch_ = 0;
  std::shared_ptr<pg_event_log::appender> appender_;
};

// Every batch through one appender call (see pg_event_log::append_together); the writers are
// pg_partition_writers of one log.
void append_jointly(std::span<joint_append> appends) {
  std::vector<pg_event_log::appender::request> requests;
  std::vector<joint_append*> of;  // the joint append each request carries
  requests.reserve(appends.size());
  of.reserve(appends.size());
  pg_event_log::appender* shared = nullptr;
  for (auto& a : appends) {
    auto* writer = dynamic_cast<pg_partition_writer*>(a.writer);
    if (writer == nullptr) throw std::invalid_argument("postgres event log: append_together with a writer of another log");
    a.result = append_result{writer->partition(), {}};
    a.error = nullptr;
    if (a.batch.empty()) continue;
    try {
      for (const auto& e : a.batch) check_no_nul(e);
    } catch (...) {
      a.error = std::current_exception();
      continue;
    }
    requests.push_back(pg_event_log::appender::request{writer->partition(), writer->epoch(), a.batch, -1, nullptr, false, false});
    of.push_back(&a);
    shared = &writer->appender();  // one log, one appender
  }
  if (shared != nullptr) shared->append_all(requests);
  for (std::size_t i = 0; i < requests.size(); ++i) {
    auto& a = *of[i];
    if (requests[i].error) {
      a.error = requests[i].error;
      continue;
    }
    a.result.offsets.reserve(a.batch.size());
    for (std::size_t k = 0; k < a.batch.size(); ++k) a.result.offsets.push_back(requests[i].first + static_cast<std::int64_t>(k));
  }
}


// ---------------------------------------------------------------------------------------------

class pg_log_reader final : public log_reader {
 public:
  /// With `types`, events of other types come with their partition, offset and type only.
  pg_log_reader(const std::string& conninfo, int partitions, std::vector<partition_start> from,
                std::optional<std::vector<std::string>> types = std::nullopt)
      : conn_(connect(conninfo, "reader")), positions_(std::move(from)),
        known_(static_cast<std::size_t>(partitions)) {
    if (types) {
      pg_array_literal wanted;
      for (const auto& t : *types) wanted.add_text(t);
      types_ = wanted.str();
    }
    guarded("open reader", [&] {
      // One round trip for all partitions: each partition's next rows come from the primary
      // key index; partitions are taken in the order of $1 (rotated by every poll so that a
      // busy partition cannot starve the others) and the whole result is capped at $3.
      // ORDER BY names only s.ord, which the function scan already yields in order: the nested
      // loop then emits each partition's rows as its index scan reads them, by log_offset, and
      // stops at $3. Naming e.log_offset too made PostgreSQL sort every partition's rows again
      // (an incremental sort of up to $3 wide rows per poll, about 40% of the read's time);
      // fetch() checks the order it relies on.
      // Opened for some types, rows of other types leave every column but their place and type
      // NULL (none is NULL in the table): PostgreSQL then neither formats nor sends them (at 1M
      // events, a third of the bench's log is bookings that a rebuild of intakes skips).
      const bool some_types = !types_.empty();
      std::string select = "SELECT e.partition, e.log_offset";
      for (const std::string_view column :
           {"e.id::text", "e.source", "e.type", "e.specversion", "e.time", "e.subject",
            "e.stream_version", "e.command_id", "e.correlation_id", "e.causation_id", "e.actor",
            "e.schema_version", "e.data"}) {  // the order fetch() reads them in
        select += ", ";
        if (some_types && column != "e.type") {
          select += "CASE WHEN e.wanted THEN " + std::string(column) + " END";
        } else {
          select += column;
        }
      }
      conn_->prepare(read_statement,
                     select +
                         " FROM unnest($1::integer[], $2::bigint[]) WITH ORDINALITY"
                         "  AS s(partition, position, ord)"
                         " CROSS JOIN LATERAL ("
                         "  SELECT *" +
                         std::string(some_types ? ", ev.type = ANY($4::text[]) AS wanted" : "") +
                         "  FROM coachd_log.events ev"
                         "  WHERE ev.partition = s.partition AND ev.log_offset >= s.position"
                         "  ORDER BY ev.log_offset LIMIT $3::bigint) e"
                         " ORDER BY s.ord LIMIT $3::bigint");
      wake_ = std::make_unique<wake_receiver>(*conn_, partitions);  // LISTEN
      for (const auto& p : positions_) wake_->watch(p.partition);
    });
  }

  std::vector<stored_event> poll(std::chrono::milliseconds max_wait,
                                 std::size_t max_events) override {
    if (max_events == 0 || positions_.empty()) return {};
    using clock = std::chrono::steady_clock;
    const auto deadline = clock::now() + max_wait;
    return guarded("poll", [&] {
      for (;;) {
        skip_known();
        // A reader told what its caller has (known_up_to: the shared tail's, whose caller keeps
        // the events of its own writers) reads the log only when it was announced more than
        // that, or its last read may have left some, or its last wait ran out (the polling
        // fallback for lost announcements). Other readers read at every poll, as the contract's
        // "waiting only when none is available" asks.
        if (!hinted_.load(std::memory_order_acquire) || must_read_) {
          // Notifications that arrive from here on may announce rows this fetch misses.
          wake_->reset();
          auto events = fetch(max_events);
          must_read_ = events.size() >= max_events;
          if (!events.empty()) return events;
        } else {
          conn_->get_notifs();  // those that arrived since the last poll
        }
        auto now = clock::now();
        if (now >= deadline) return std::vector<stored_event>{};
        // Sleep until one of our partitions is announced past what we have or know of; the
        // deadline itself is the polling fallback for notifications that never come (one more
        // read: at once, or for a hinted reader at its next poll, which its caller makes at once).
        bool news = false;
        while (now < deadline) {
          if (announced_news()) {
            news = true;
            break;
          }
          if (wake_->any()) {
            // Announced, but only what this reader read already or its caller has. (No
            // notification is taken between the check and the reset.)
            wake_->reset();
            if (hinted_.load(std::memory_order_acquire)) {
              // The caller may look there now rather than at the deadline.
              skip_known();
              return std::vector<stored_event>{};
            }
          }
          const auto left = std::chrono::ceil<std::chrono::microseconds>(deadline - now).count();
          conn_->await_notification(static_cast<long>(left / 1'000'000),
                                    static_cast<long>(left % 1'000'000));
          now = clock::now();
        }
        must_read_ = true;
        if (!news && hinted_.load(std::memory_order_acquire)) return std::vector<stored_event>{};
      }
    });
  }

  std::int64_t position(int partition) const override {
    for (const auto& p : positions_) {
      if (p.partition == partition) return p.offset;
    }
    throw std::out_of_range("postgres event log: reader does not read partition " +
                            std::to_string(partition));
  }

  void known_up_to(int partition, std::int64_t offset) override {
    if (partition < 0 || partition >= static_cast<int>(known_.size())) return;
    auto& known = known_[static_cast<std::size_t>(partition)];
    std::int64_t was = known.load(std::memory_order_relaxed);
    while (was < offset && !known.compare_exchange_weak(was, offset, std::memory_order_release)) {
    }
    hinted_.store(true, std::memory_order_release);
  }

 private:
  // Records how far each partition was announced on the channel since the last reset.
  class wake_receiver final : public pqxx::notification_receiver {
   public:
    static constexpr std::int64_t unknown_end = INT64_MAX;

    wake_receiver(pqxx::connection& conn, int partitions)
        : pqxx::notification_receiver(conn, pg_event_log_channel), announced_(partitions, -1) {}
    // "partition:end", or "partition" alone (an end not given: anything may be new there).
    void operator()(const std::string& payload, int) override {
      const char* const last = payload.data() + payload.size();
      int partition = -1;
      auto [at, ec] = std::from_chars(payload.data(), last, partition);
      std::int64_t end = unknown_end;
      if (ec == std::errc() && at != last && *at == ':') {
        const auto parsed = std::from_chars(at + 1, last, end);
        at = parsed.ec == std::errc() ? parsed.ptr : payload.data();
      }
      if (ec == std::errc() && at == last && partition >= 0 && partition < static_cast<int>(announced_.size())) {
        announced_[static_cast<std::size_t>(partition)] = std::max(announced_[static_cast<std::size_t>(partition)], end);
      } else {
        unknown_ = true;  // not ours to interpret: look anyway
      }
    }
    void watch(int partition) { watched_.push_back(partition); }
    /// Whether something was announced past `have(partition)` in a watched partition.
    template <typename Have>
    bool relevant(const Have& have) const {
      return unknown_ || std::any_of(watched_.begin(), watched_.end(), [&](int p) {
               return announced_[static_cast<std::size_t>(p)] > have(p);
             });
    }
    /// Whether anything was announced in a watched partition.
    bool any() const {
      return unknown_ || std::any_of(watched_.begin(), watched_.end(),
                                     [&](int p) { return announced_[static_cast<std::size_t>(p)] >= 0; });
    }
    void reset() {
      std::fill(announced_.begin(), announced_.end(), -1);
      unknown_ = false;
    }

   private:
    std::vector<std::int64_t> announced_;  // -1: nothing announced
    std::vector<int> watched_;
    bool unknown_ = false;
  };

  std::int64_t known(int partition) const {
    return known_[static_cast<std::size_t>(partition)].load(std::memory_order_acquire);
  }

  // Moves the positions past what the caller told us it has (known_up_to).
  void skip_known() {
    for (auto& p : positions_) p.offset = std::max(p.offset, known(p.partition));
  }

  bool announced_news() const {
    return wake_->relevant([&](int p) { return std::max(position(p), known(p)); });
  }

  std::vector<stored_event> fetch(std::size_t max_events) {
    pg_array_literal partitions, offsets;
    const std::size_t n = positions_.size();
    for (std::size_t i = 0; i < n; ++i) {
      const auto& p = positions_[(rotation_ + i) % n];
      partitions.add_integer(p.partition);
      offsets.add_integer(p.offset);
    }
    rotation_ = (rotation_ + 1) % n;

    pqxx::result rows;
    {
      pqxx::nontransaction tx(*conn_, read_statement);
      rows = types_.empty() ? tx.exec_prepared(read_statement, partitions.str(), offsets.str(),
                                               static_cast<std::int64_t>(max_events))
                            : tx.exec_prepared(read_statement, partitions.str(), offsets.str(),
                                               static_cast<std::int64_t>(max_events), types_);
    }
    std::vector<stored_event> events;
    events.reserve(rows.size());
    for (const auto& row : rows) {
      stored_event e;
      e.partition = row[0].as<int>();
      e.offset = row[1].as<std::int64_t>();
      auto& env = e.envelope;
      if (row[2].is_null()) {  // a type the reader was not opened for: its place and type only
        env.type = row[4].as<std::string>();
        advance(e);
        events.push_back(std::move(e));
        continue;
      }
      env.id = row[2].as<std::string>();
      env.source = row[3].as<std::string>();
      env.type = row[4].as<std::string>();
      env.specversion = row[5].as<std::string>();
      env.time = row[6].as<std::string>();
      env.subject = row[7].as<std::string>();
      env.stream_version = row[8].as<std::int64_t>();
      env.command_id = row[9].as<std::string>();
      env.correlation_id = row[10].as<std::string>();
      env.causation_id = row[11].as<std::string>();
      env.actor = row[12].as<std::string>();
      env.schema_version = row[13].as<int>();
      env.data = row[14].as<std::string>();
      advance(e);
      events.push_back(std::move(e));
    }
    return events;
  }

  // Moves e's partition's position past it.
  void advance(const stored_event& e) {
    for (auto& p : positions_) {
      if (p.partition != e.partition) continue;
      if (e.offset < p.offset) {
        // Rows out of order would move the position past events never read.
        throw log_error("postgres event log: partition " + std::to_string(e.partition) +
                        " returned offset " + std::to_string(e.offset) + " after " +
                        std::to_string(p.offset - 1));
      }
      p.offset = e.offset + 1;
    }
  }

  static constexpr const char* read_statement = "coachd_log_read";

  std::unique_ptr<pqxx::connection> conn_;
  std::unique_ptr<wake_receiver> wake_;     // declared after conn_: it UNLISTENs through it
  std::vector<partition_start> positions_;  // partition → next offset to read
  std::vector<std::atomic<std::int64_t>> known_;  // by partition: see known_up_to (0: nothing)
  std::atomic<bool> hinted_{false};                // known_up_to was called
  bool must_read_ = true;  // poll reads the log at once (see poll)
  std::size_t rotation_ = 0;
  std::string types_;  // array literal of the types read whole; empty: every type
};

}  // namespace

// ---------------------------------------------------------------------------------------------

struct pg_event_log::control_connection {
  std::unique_ptr<pqxx::connection> conn;
};

pg_event_log::pg_event_log(std::string conninfo, int partitions)
    : conninfo_(std::move(conninfo)), partitions_(partitions) {
  if (partitions_ < 1) {
    throw std::invalid_argument("postgres event log: partition count must be at least 1, not " +
                                std::to_string(partitions_));
  }
  control_ = std::make_unique<control_connection>(control_connection{connect(conninfo_, "log")});
  auto& conn = *control_->conn;
  guarded("create tables", [&] {
    pqxx::work tx(conn, "coachd_log_setup");
    // CREATE ... IF NOT EXISTS is not safe against a concurrent identical CREATE.
    tx.exec_params("SELECT pg_advisory_xact_lock($1::bigint)", schema_lock_key);
    for (const auto& sql : create_schema_sql) tx.exec0(sql);
    tx.exec_params0(
        "INSERT INTO coachd_log.meta (key, value) VALUES ('partitions', $1::text)"
        " ON CONFLICT (key) DO NOTHING",
        std::to_string(partitions_));
    const auto stored =
        tx.exec1("SELECT value FROM coachd_log.meta WHERE key = 'partitions'")[0].as<std::string>();
    if (stored != std::to_string(partitions_)) {
      throw log_error("postgres event log: the log in this database has " + stored +
                      " partitions; refusing to open it with " + std::to_string(partitions_) +
                      " (events are routed by key modulo the partition count)");
    }
    tx.exec_params0(
        "INSERT INTO coachd_log.partitions (partition, epoch, next_offset)"
        " SELECT p, 0, 0 FROM generate_series(0, $1::integer - 1) AS p"
        " ON CONFLICT (partition) DO NOTHING",
        partitions_);
    tx.commit();
    conn.prepare("coachd_log_end_offset",
                 "SELECT next_offset FROM coachd_log.partitions"
                 " WHERE partition = $1::integer");
  });
}

pg_event_log::~pg_event_log() = default;

void pg_event_log::check_partition(int partition) const {
  if (partition < 0 || partition >= partitions_) {
    throw std::invalid_argument("postgres event log: no partition " + std::to_string(partition) +
                                " (the log has " + std::to_string(partitions_) + ")");
  }
}

std::unique_ptr<partition_writer> pg_event_log::open_writer(int partition) {
  check_partition(partition);
  std::shared_ptr<appender> shared;
  {
    std::lock_guard lock(appender_mutex_);
    if (!appender_) appender_ = std::make_shared<appender>(conninfo_, std::make_shared<notifier>(conninfo_));
    shared = appender_;
  }
  return std::make_unique<pg_partition_writer>(conninfo_, partition, std::move(shared));
}

void pg_event_log::append_together(std::span<joint_append> appends) { append_jointly(appends); }

void pg_event_log::check_starts(const std::vector<partition_start>& from) const {
  for (std::size_t i = 0; i < from.size(); ++i) {
    check_partition(from[i].partition);
    for (std::size_t j = 0; j < i; ++j) {
      if (from[j].partition == from[i].partition) {
        throw std::invalid_argument("postgres event log: partition " +
                                    std::to_string(from[i].partition) +
                                    " given twice to open_reader");
      }
    }
  }
}

std::unique_ptr<log_reader> pg_event_log::open_reader(std::vector<partition_start> from) {
  check_starts(from);
  return std::make_unique<pg_log_reader>(conninfo_, partitions_, std::move(from));
}

std::unique_ptr<log_reader> pg_event_log::open_reader_for(std::vector<partition_start> from,
                                                          const std::vector<std::string>& types) {
  check_starts(from);
  return std::make_unique<pg_log_reader>(conninfo_, partitions_, std::move(from), types);
}

std::int64_t pg_event_log::end_offset(int partition) {
  check_partition(partition);
  std::lock_guard lock(control_mutex_);
  return guarded("end_offset", [&] {
    pqxx::nontransaction tx(*control_->conn, "coachd_log_end_offset");
    return tx.exec_prepared1("coachd_log_end_offset", partition)[0].as<std::int64_t>();
  });
}

}  // namespace coachd
