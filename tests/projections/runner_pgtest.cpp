// The projection runner (projections/runner.hpp) on the PostgreSQL event log: every event applied
// exactly once with its checkpoint in the same transaction, also when the process running it is
// killed at random moments; reset, progress, live tailing, one runner per projector; and the
// intakes read model end to end.

// The test module's entry point. When <boost/test/unit_test.hpp> already came in through the
// precompiled header, a BOOST_TEST_MODULE defined here is too late to generate main().
#ifdef BOOST_TEST_UNIT_TEST_HPP_071894GER
#include <boost/test/unit_test.hpp>
bool init_unit_test() {
  boost::unit_test::framework::master_test_suite().p_name.value = "runner";
  return true;
}
int main(int argc, char* argv[]) {
  return boost::unit_test::unit_test_main(&init_unit_test, argc, argv);
}
#else
#define BOOST_TEST_MODULE runner
#include <boost/test/unit_test.hpp>
#endif

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <map>
#include <memory>
#include <optional>
#include <pqxx/pqxx>
#include <random>
#include <span>
#include <stdexcept>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "events/codec.hpp"
#include "events/partitioning.hpp"
#include "infra/crypto.hpp"
#include "infra/pg_event_log.hpp"
#include "infra/pg_key_store.hpp"
#include "infra/shared_tail_log.hpp"
#include "projections/intakes_projector.hpp"
#include "projections/migrations.hpp"
#include "projections/runner.hpp"
#include "tests/support/pg_test_db.hpp"

using namespace coachd;
using namespace std::chrono_literals;

namespace {

constexpr int partitions = 4;
// Liveness bound for waits; never a performance assertion.
constexpr auto liveness_bound = 120s;

const timestamp submitted_at = *parse_rfc3339("2026-11-21T09:00:00Z");

// Stream ids as the aggregates name them (aggregates/ is not linked into projection tests).
std::string intake_stream_id(const std::string& intake_id) { return "intake-" + intake_id; }
std::string account_stream_id(const std::string& email_hash) { return "account-" + email_hash; }

/// A projector that inserts one row per event into a table keyed by (partition, offset), so a
/// second application of any event fails the batch loudly; it also counts what it applied.
class row_projector final : public projector {
 public:
  explicit row_projector(std::chrono::microseconds pause_per_event = {})
      : pause_(pause_per_event) {}

  static void create_table(const std::string& conninfo) {
    pqxx::connection c(conninfo);
    pqxx::work tx(c);
    tx.exec(
        "CREATE TABLE IF NOT EXISTS test_rows (partition integer NOT NULL, log_offset bigint NOT "
        "NULL,"
        " event_id uuid NOT NULL, type text NOT NULL, name text NOT NULL,"
        " PRIMARY KEY (partition, log_offset))");
    tx.commit();
  }

  std::string name() const override { return "test_rows"; }
  std::vector<std::string> tables() const override { return {"test_rows"}; }
  void prepare(pqxx::connection_base& connection) override {
    connection.prepare("test_rows_insert",
                       "INSERT INTO test_rows (partition, log_offset, event_id, type, name)"
                       " VALUES ($1, $2, $3, $4, $5)");
  }
  void apply(pqxx::work& tx, const stored_event& stored, const domain_event& event) override {
    if (pause_.count() > 0) std::this_thread::sleep_for(pause_);
    std::string name;
    if (const auto* e = std::get_if<intake_submitted>(&event)) name = e->name.value;
    tx.exec_prepared("test_rows_insert", stored.partition, stored.offset, stored.envelope.id,
                     std::string(event_type_name(event)), name);
    applied_.fetch_add(1, std::memory_order_relaxed);
  }
  std::uint64_t applied() const { return applied_.load(); }

 private:
  std::chrono::microseconds pause_;
  std::atomic<std::uint64_t> applied_{0};
};

/// A fresh database with the read-model migrations, a 4-partition log and PostgreSQL keys.
struct runner_fixture {
  test::test_database db;
  std::vector<std::string> migrations_applied = migrate(db.conninfo());
  pg_event_log log{db.conninfo(), partitions};
  pg_key_store keys{db.conninfo()};
  event_codec codec{keys};

  runner_fixture() { row_projector::create_table(db.conninfo()); }

  static std::vector<std::string> migrate(const std::string& conninfo) {
    pqxx::connection c(conninfo);
    return apply_migrations(c);
  }

  /// Appends events, each to its stream's partition, encoded as the processor would.
  void append(const std::vector<std::pair<std::string, domain_event>>& events) {
    std::map<int, std::vector<event_envelope>> by_partition;
    std::map<std::string, std::int64_t> versions;
    for (const auto& [stream, event] : events) {
      event_envelope env;
      env.id = new_uuid();
      auto encoded = codec.encode(event, env.id);
      env.source = encoded.source;
      env.type = encoded.type;
      env.time = format_rfc3339(submitted_at);
      env.subject = stream;
      env.stream_version = ++versions[stream];
      env.command_id = new_uuid();
      env.correlation_id = env.command_id;
      env.causation_id = env.command_id;
      env.actor = "anonymous";
      env.schema_version = encoded.schema_version;
      env.data = std::move(encoded.data);
      by_partition[partition_for(stream, partitions)].push_back(std::move(env));
    }
    for (auto& [p, envelopes] : by_partition) {
      auto writer = log.open_writer(p);
      for (std::size_t i = 0; i < envelopes.size(); i += 250) {
        const std::size_t n = std::min<std::size_t>(250, envelopes.size() - i);
        writer->append(std::span<const event_envelope>(envelopes.data() + i, n));
      }
    }
  }

  /// Appends `n` IntakeSubmitted events on distinct streams.
  void append_submitted(int n, const std::string& label = "Applicant") {
    std::vector<std::pair<std::string, domain_event>> events;
    const std::string coach = new_uuid();
    for (int i = 0; i < n; ++i) {
      const std::string intake_id = new_uuid();
      events.emplace_back(
          intake_stream_id(intake_id),
          intake_submitted{intake_id, coach, personal{label + " " + std::to_string(i)},
                           personal{"applicant" + std::to_string(i) + "@example.org"}, std::nullopt,
                           personal{"goals"}, personal{"message"}, submitted_at});
    }
    append(events);
  }

  std::vector<std::int64_t> end_offsets() {
    std::vector<std::int64_t> ends;
    for (int p = 0; p < partitions; ++p) ends.push_back(log.end_offset(p));
    return ends;
  }

  std::int64_t total_events() {
    std::int64_t total = 0;
    for (auto e : end_offsets()) total += e;
    return total;
  }

  /// The committed checkpoints of a projector, by partition (missing partitions absent).
  std::map<int, std::int64_t> checkpoints(const std::string& projector_name) {
    pqxx::connection c(db.conninfo());
    pqxx::work tx(c);
    std::map<int, std::int64_t> out;
    for (const auto& row : tx.exec_params(
             "SELECT partition, position FROM projection_checkpoints WHERE projector = $1",
             projector_name)) {
      out[row[0].as<int>()] = row[1].as<std::int64_t>();
    }
    return out;
  }

  std::int64_t count(const std::string& sql) {
    pqxx::connection c(db.conninfo());
    pqxx::work tx(c);
    return tx.exec(sql)[0][0].as<std::int64_t>();
  }

  /// Rows and checkpoints of test_rows agree: for every partition, the rows are exactly the
  /// offsets below the checkpoint (offsets of the PostgreSQL log are dense from 0).
  void check_rows_match_checkpoints() {
    pqxx::connection c(db.conninfo());
    pqxx::work tx(c);
    // One transaction, so rows and checkpoints are read from the same snapshot.
    std::map<int, std::int64_t> positions;
    for (const auto& row : tx.exec("SELECT partition, position FROM projection_checkpoints WHERE "
                                   "projector = 'test_rows'")) {
      positions[row[0].as<int>()] = row[1].as<std::int64_t>();
    }
    std::map<int, std::pair<std::int64_t, std::int64_t>> rows;  // count, max offset
    for (const auto& row :
         tx.exec("SELECT partition, count(*), max(log_offset) FROM test_rows GROUP BY partition")) {
      rows[row[0].as<int>()] = {row[1].as<std::int64_t>(), row[2].as<std::int64_t>()};
    }
    for (int p = 0; p < partitions; ++p) {
      const std::int64_t position = positions.count(p) ? positions[p] : 0;
      const auto [n, max_offset] =
          rows.count(p) ? rows[p] : std::pair<std::int64_t, std::int64_t>{0, -1};
      BOOST_TEST(n == position, "partition " << p << ": " << n << " rows, checkpoint " << position);
      BOOST_TEST(max_offset == position - 1, "partition " << p);
    }
  }

  /// Waits (bounded) until no session holds an advisory lock in this database: the backends
  /// of a killed process are gone.
  void wait_for_advisory_locks_released() {
    const auto deadline = std::chrono::steady_clock::now() + liveness_bound;
    for (;;) {
      const auto held = count(
          "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND database = "
          "(SELECT oid FROM pg_database WHERE datname = current_database())");
      if (held == 0) return;
      BOOST_REQUIRE_MESSAGE(std::chrono::steady_clock::now() < deadline,
                            "advisory lock never released");
      std::this_thread::sleep_for(10ms);
    }
  }
};

/// The child of the crash test: runs the projector in the background until killed. Everything
/// it uses (connections included) is opened here, after fork().
[[noreturn]] void run_projector_until_killed(const std::string& conninfo) {
  try {
    pg_event_log log(conninfo, partitions);
    pg_key_store keys(conninfo);
    event_codec codec(keys);
    row_projector slow(300us);
    runner_options options;
    options.max_batch = 40;
    options.poll_wait = 50ms;
    options.retry_backoff = 20ms;
    projection_runner runner(log, codec, conninfo, slow, options);
    runner.start();
    for (;;) std::this_thread::sleep_for(1s);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "crash-test child: %s\n", e.what());
    ::_exit(2);
  } catch (...) {
    ::_exit(3);
  }
}

/// A forked child that is killed and reaped on every path out of the test.
class child_process {
 public:
  explicit child_process(pid_t pid) : pid_(pid) {}
  ~child_process() {
    if (pid_ > 0) kill_and_reap();
  }
  child_process(const child_process&) = delete;
  child_process& operator=(const child_process&) = delete;

  /// SIGKILLs the child and returns its wait status.
  int kill_and_reap() {
    ::kill(pid_, SIGKILL);
    int status = 0;
    while (::waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
    }
    pid_ = -1;
    return status;
  }

 private:
  pid_t pid_;
};

}  // namespace

BOOST_FIXTURE_TEST_SUITE(runner, runner_fixture)

BOOST_AUTO_TEST_CASE(migrations_apply_once) {
  BOOST_TEST(!migrations_applied.empty());
  BOOST_TEST(migrations_applied.front() == "001_read_models.sql");
  pqxx::connection c(db.conninfo());
  BOOST_TEST(apply_migrations(c).empty());
  BOOST_TEST(count("SELECT count(*) FROM schema_migrations") ==
             static_cast<std::int64_t>(migrations_applied.size()));
}

BOOST_AUTO_TEST_CASE(catch_up_applies_every_event_once_and_commits_the_checkpoints) {
  constexpr int n = 3000;
  append_submitted(n);
  BOOST_REQUIRE(total_events() == n);

  row_projector rows;
  runner_options options;
  options.max_batch = 500;
  projection_runner runner(log, codec, db.conninfo(), rows, options);
  std::vector<std::pair<std::uint64_t, std::uint64_t>> reports;
  const auto applied = runner.catch_up(
      [&](std::uint64_t done, std::uint64_t total) { reports.emplace_back(done, total); });
  BOOST_TEST(applied == static_cast<std::uint64_t>(n));
  BOOST_TEST(rows.applied() == static_cast<std::uint64_t>(n));
  BOOST_TEST(runner.applied_events() == static_cast<std::uint64_t>(n));

  // Progress: reported per batch, never backwards, ending at (n, n).
  BOOST_REQUIRE(reports.size() >= static_cast<std::size_t>(n / 500));
  for (std::size_t i = 0; i < reports.size(); ++i) {
    BOOST_TEST(reports[i].second == static_cast<std::uint64_t>(n));
    BOOST_TEST(reports[i].first <= reports[i].second);
    if (i > 0) BOOST_TEST(reports[i].first >= reports[i - 1].first);
  }
  BOOST_TEST(reports.back().first == static_cast<std::uint64_t>(n));

  BOOST_TEST(count("SELECT count(*) FROM test_rows") == n);
  BOOST_TEST(count("SELECT count(DISTINCT event_id) FROM test_rows") == n);
  BOOST_TEST(count("SELECT count(*) FROM test_rows WHERE name NOT LIKE 'Applicant %'") == 0);
  const auto ends = end_offsets();
  const auto committed = checkpoints("test_rows");
  for (int p = 0; p < partitions; ++p) {
    BOOST_TEST(committed.at(p) == ends[static_cast<std::size_t>(p)], "partition " << p);
    BOOST_TEST(runner.position(p) == ends[static_cast<std::size_t>(p)]);
  }
  check_rows_match_checkpoints();

  // Nothing new: a second catch-up applies nothing.
  row_projector again;
  projection_runner second(log, codec, db.conninfo(), again);
  BOOST_TEST(second.catch_up() == 0u);
  BOOST_TEST(again.applied() == 0u);
  BOOST_TEST(count("SELECT count(*) FROM test_rows") == n);
}

BOOST_AUTO_TEST_CASE(killing_the_runner_at_random_moments_loses_and_repeats_nothing) {
  constexpr int n = 3000;
  append_submitted(n);
  BOOST_REQUIRE(total_events() == n);

  std::random_device seed_source;
  const auto seed = seed_source();
  BOOST_TEST_MESSAGE("crash test seed " << seed);
  std::mt19937 rng(seed);

  int kills = 0, kills_mid_way = 0;
  std::int64_t previous = 0;
  // At least five kills; more (bounded) until some landed after the child made progress.
  for (int round = 0; round < 40; ++round) {
    const pid_t pid = ::fork();
    BOOST_REQUIRE_MESSAGE(pid >= 0, "fork failed");
    if (pid == 0) run_projector_until_killed(db.conninfo());
    child_process child(pid);
    // 50–300 ms; on a machine so busy that the child has not started applying by then, the
    // window widens with every fruitless round.
    const int widen = std::min(1700, 100 * (kills - kills_mid_way));
    std::uniform_int_distribution<int> pause_ms(50, 300 + widen);
    std::this_thread::sleep_for(std::chrono::milliseconds(pause_ms(rng)));
    const int status = child.kill_and_reap();
    BOOST_REQUIRE_MESSAGE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL,
                          "the child ended by itself (status " << status << ")");
    ++kills;
    wait_for_advisory_locks_released();
    check_rows_match_checkpoints();
    const auto rows_now = count("SELECT count(*) FROM test_rows");
    BOOST_TEST_MESSAGE("kill " << kills << ": " << rows_now << " rows");
    if (rows_now > previous && rows_now < n) ++kills_mid_way;
    previous = rows_now;
    if (rows_now == n) break;
    if (kills >= 5 && kills_mid_way >= 3) break;
  }
  BOOST_TEST(kills_mid_way >= 1);

  // A runner in this process finishes the job from the committed checkpoints.
  row_projector rows;
  projection_runner runner(log, codec, db.conninfo(), rows);
  const auto applied = runner.catch_up();
  BOOST_TEST(applied == static_cast<std::uint64_t>(n - previous));
  BOOST_TEST(count("SELECT count(*) FROM test_rows") == n);
  BOOST_TEST(
      count("SELECT count(*) FROM (SELECT DISTINCT partition, log_offset FROM test_rows) d") == n);
  const auto ends = end_offsets();
  for (int p = 0; p < partitions; ++p) {
    BOOST_TEST(count("SELECT count(*) FROM test_rows WHERE partition = " + std::to_string(p)) ==
               ends[static_cast<std::size_t>(p)]);
    BOOST_TEST(checkpoints("test_rows").at(p) == ends[static_cast<std::size_t>(p)],
               "partition " << p);
  }
  check_rows_match_checkpoints();
}

BOOST_AUTO_TEST_CASE(reset_empties_the_tables_and_checkpoints_for_a_rebuild) {
  constexpr int n = 200;
  append_submitted(n);
  row_projector rows;
  projection_runner runner(log, codec, db.conninfo(), rows);
  BOOST_REQUIRE(runner.catch_up() == static_cast<std::uint64_t>(n));
  BOOST_REQUIRE(count("SELECT count(*) FROM test_rows") == n);

  projection_runner::reset(db.conninfo(), rows, partitions);
  BOOST_TEST(count("SELECT count(*) FROM test_rows") == 0);
  const auto committed = checkpoints("test_rows");
  BOOST_TEST(committed.size() == static_cast<std::size_t>(partitions));
  for (const auto& [p, position] : committed) BOOST_TEST(position == 0, "partition " << p);

  // The same runner rebuilds from offset 0.
  BOOST_TEST(runner.catch_up() == static_cast<std::uint64_t>(n));
  BOOST_TEST(count("SELECT count(*) FROM test_rows") == n);
  check_rows_match_checkpoints();
}

BOOST_AUTO_TEST_CASE(a_running_runner_follows_new_events_and_excludes_a_second_runner) {
  constexpr int n = 300;
  append_submitted(n);
  row_projector rows;
  runner_options options;
  options.poll_wait = 50ms;
  projection_runner running(log, codec, db.conninfo(), rows, options);
  running.start();
  const auto deadline = std::chrono::steady_clock::now() + liveness_bound;
  auto ends = end_offsets();
  for (int p = 0; p < partitions; ++p) {
    if (ends[static_cast<std::size_t>(p)] == 0) continue;
    BOOST_REQUIRE_MESSAGE(running.wait_past(p, ends[static_cast<std::size_t>(p)] - 1, deadline),
                          "partition " << p << ": " << running.last_error());
  }
  BOOST_TEST(count("SELECT count(*) FROM test_rows") == n);
  BOOST_TEST(running.last_error().empty());

  // While it runs, another runner of the same projector (here or in another process) refuses.
  row_projector other_rows;
  projection_runner other(log, codec, db.conninfo(), other_rows);
  BOOST_CHECK_EXCEPTION(other.catch_up(), std::runtime_error, [](const std::runtime_error& e) {
    BOOST_TEST_MESSAGE("refused: " << e.what());
    return std::string(e.what()).find("running in another process") != std::string::npos;
  });
  BOOST_TEST(other_rows.applied() == 0u);

  // New events reach the running one.
  append_submitted(40, "Late");
  ends = end_offsets();
  for (int p = 0; p < partitions; ++p) {
    if (ends[static_cast<std::size_t>(p)] == 0) continue;
    BOOST_REQUIRE(running.wait_past(p, ends[static_cast<std::size_t>(p)] - 1, deadline));
  }
  BOOST_TEST(count("SELECT count(*) FROM test_rows") == n + 40);
  BOOST_TEST(count("SELECT count(*) FROM test_rows WHERE name LIKE 'Late %'") == 40);
  BOOST_TEST(!running.wait_past(0, ends[0], std::chrono::steady_clock::now() + 10ms));

  // Once it stops, the other may run; there is nothing left for it.
  running.stop();
  BOOST_TEST(other.catch_up() == 0u);
  check_rows_match_checkpoints();
}

namespace {

/// A row_projector that reads only IntakeDeclined events, and counts whether the runner ever
/// handed it another type.
class declined_only_projector final : public projector {
 public:
  std::string name() const override { return rows_.name(); }
  std::vector<std::string> tables() const override { return rows_.tables(); }
  void prepare(pqxx::connection_base& connection) override { rows_.prepare(connection); }
  bool handles(std::string_view type) const override { return is_one_of<intake_declined>(type); }
  void apply(pqxx::work& tx, const stored_event& stored, const domain_event& event) override {
    if (!std::holds_alternative<intake_declined>(event)) other_types_.fetch_add(1);
    rows_.apply(tx, stored, event);
  }
  std::uint64_t applied() const { return rows_.applied(); }
  std::uint64_t other_types() const { return other_types_.load(); }

 private:
  row_projector rows_;
  std::atomic<std::uint64_t> other_types_{0};
};

}  // namespace

BOOST_AUTO_TEST_CASE(events_a_projector_does_not_read_move_its_checkpoint_without_being_applied) {
  append_submitted(200);
  std::vector<std::pair<std::string, domain_event>> declined;
  for (int i = 0; i < 7; ++i) {
    const std::string intake_id = new_uuid();
    declined.emplace_back(intake_stream_id(intake_id),
                          intake_declined{intake_id, new_uuid(), personal{"not now"}, submitted_at});
  }
  append(declined);

  // Catch-up: only the declined events are applied; every checkpoint reaches the end.
  {
    declined_only_projector selective;
    projection_runner runner(log, codec, db.conninfo(), selective);
    BOOST_TEST(runner.catch_up() == 207u);
    BOOST_TEST(selective.applied() == 7u);
    BOOST_TEST(selective.other_types() == 0u);
    BOOST_TEST(count("SELECT count(*) FROM test_rows") == 7);
    BOOST_TEST(count("SELECT count(*) FROM test_rows WHERE type <> 'IntakeDeclined'") == 0);
    const auto ends = end_offsets();
    const auto committed = checkpoints("test_rows");
    for (int p = 0; p < partitions; ++p) BOOST_TEST(committed.at(p) == ends[static_cast<std::size_t>(p)]);
  }

  // Running: events it does not read count as done at once (read-your-writes waits pass), and
  // the checkpoint follows within checkpoint_interval although nothing is applied.
  declined_only_projector selective;
  runner_options options;
  options.poll_wait = 20ms;
  options.checkpoint_interval = 100ms;
  projection_runner running(log, codec, db.conninfo(), selective, options);
  running.start();
  append_submitted(50, "Late");
  const auto ends = end_offsets();
  const auto deadline = std::chrono::steady_clock::now() + liveness_bound;
  for (int p = 0; p < partitions; ++p) {
    BOOST_REQUIRE(running.wait_past(p, ends[static_cast<std::size_t>(p)] - 1, deadline));
  }
  // Whether test_rows' checkpoints reach `at` in every partition before `until`.
  const auto checkpoints_reach = [&](const std::vector<std::int64_t>& at, std::chrono::steady_clock::time_point until) {
    for (;;) {
      const auto committed = checkpoints("test_rows");
      bool all = true;
      for (int p = 0; p < partitions; ++p) all = all && committed.at(p) == at[static_cast<std::size_t>(p)];
      if (all) return true;
      if (std::chrono::steady_clock::now() >= until) return false;
      std::this_thread::sleep_for(20ms);
    }
  };
  BOOST_TEST(checkpoints_reach(ends, deadline));
  BOOST_TEST(selective.applied() == 0u);
  running.stop();
  BOOST_TEST(count("SELECT count(*) FROM test_rows") == 7);

  // The same over the shared tail, as coachd runs it: there the projector is not even handed
  // the events it does not read. The log moves its reader past them (while it sleeps, when
  // another reader fetched them), and the positions, waits and checkpoints follow as above;
  // an event it reads still gets through.
  shared_tail_log tail(log);
  declined_only_projector over_tail;
  projection_runner tailing(tail, codec, db.conninfo(), over_tail, options);
  intakes_projector intakes;  // reads the submissions: woken for them, and fetches for both at times
  projection_runner plain(tail, codec, db.conninfo(), intakes, options);
  tailing.start();
  plain.start();
  for (int round = 0; round < 3; ++round) {
    append_submitted(40, "Tail" + std::to_string(round));
    const auto now_ends = end_offsets();
    const auto until = std::chrono::steady_clock::now() + liveness_bound;
    for (int p = 0; p < partitions; ++p) {
      BOOST_REQUIRE(tailing.wait_past(p, now_ends[static_cast<std::size_t>(p)] - 1, until));
      BOOST_REQUIRE(plain.wait_past(p, now_ends[static_cast<std::size_t>(p)] - 1, until));
    }
  }
  BOOST_TEST(over_tail.applied() == 0u);
  BOOST_TEST(over_tail.other_types() == 0u);
  const std::string late_id = new_uuid();
  append({{intake_stream_id(late_id), intake_declined{late_id, new_uuid(), personal{"later"}, submitted_at}}});
  const auto final_ends = end_offsets();
  const auto until = std::chrono::steady_clock::now() + liveness_bound;
  for (int p = 0; p < partitions; ++p) {
    BOOST_REQUIRE(tailing.wait_past(p, final_ends[static_cast<std::size_t>(p)] - 1, until));
  }
  BOOST_TEST(over_tail.applied() == 1u);
  BOOST_TEST(checkpoints_reach(final_ends, until));
  tailing.stop();
  plain.stop();
  BOOST_TEST(count("SELECT count(*) FROM test_rows") == 8);
}

namespace {

/// A projector (Inner, every call forwarded) that throws on one event while `failing` is set,
/// after the rows of the events before it in the batch were written.
template <typename Inner>
class failing_on final : public projector {
 public:
  std::atomic<bool> failing{true};
  std::int64_t fail_partition = 0;
  std::int64_t fail_offset = 0;

  /// Fails at offset 25 of the partition that holds the most events: in its third batch of 10.
  void fail_in_third_batch_of_fullest(const std::vector<std::int64_t>& ends) {
    fail_partition = static_cast<int>(std::max_element(ends.begin(), ends.end()) - ends.begin());
    fail_offset = 25;
  }

  std::string name() const override { return inner_.name(); }
  std::vector<std::string> tables() const override { return inner_.tables(); }
  std::vector<std::string> query_only_indexes() const override { return inner_.query_only_indexes(); }
  void prepare(pqxx::connection_base& connection) override { inner_.prepare(connection); }
  bool handles(std::string_view type) const override { return inner_.handles(type); }
  void begin_batch() override { inner_.begin_batch(); }
  void set_loading(bool loading) override { inner_.set_loading(loading); }
  void end_batch(pqxx::work& tx) override { inner_.end_batch(tx); }
  void apply(pqxx::work& tx, const stored_event& stored, const domain_event& event) override {
    if (failing && stored.partition == fail_partition && stored.offset == fail_offset) {
      throw std::runtime_error("projector refuses offset " + std::to_string(fail_offset));
    }
    inner_.apply(tx, stored, event);
  }

 private:
  Inner inner_;
};

using failing_projector = failing_on<row_projector>;

/// Batches of 10 and quick retries, for the tests that fail a batch on purpose.
runner_options batches_of_ten() {
  runner_options options;
  options.max_batch = 10;
  options.poll_wait = 50ms;
  options.retry_backoff = 20ms;
  return options;
}

}  // namespace

BOOST_AUTO_TEST_CASE(a_failing_batch_commits_nothing_and_is_retried) {
  constexpr int n = 400;
  append_submitted(n);
  const auto ends = end_offsets();
  failing_projector flaky;
  flaky.fail_in_third_batch_of_fullest(ends);
  const runner_options options = batches_of_ten();

  // catch_up stops at the failure; what was committed before it is consistent.
  {
    projection_runner runner(log, codec, db.conninfo(), flaky, options);
    BOOST_CHECK_THROW(runner.catch_up(), std::runtime_error);
    check_rows_match_checkpoints();
    BOOST_TEST(count("SELECT count(*) FROM test_rows WHERE partition = " +
                     std::to_string(flaky.fail_partition) + " AND log_offset >= 20") == 0);
  }

  // The background runner reports the failure, retries, and once the projector recovers it
  // finishes with every event applied exactly once.
  projection_runner runner(log, codec, db.conninfo(), flaky, options);
  runner.start();
  const auto deadline = std::chrono::steady_clock::now() + liveness_bound;
  while (runner.last_error().find("refuses offset 25") == std::string::npos) {
    BOOST_REQUIRE_MESSAGE(std::chrono::steady_clock::now() < deadline,
                          "the failure was never reported");
    std::this_thread::sleep_for(5ms);
  }
  BOOST_TEST(runner.position(static_cast<int>(flaky.fail_partition)) <= 25);
  flaky.failing = false;
  for (int p = 0; p < partitions; ++p) {
    if (ends[static_cast<std::size_t>(p)] == 0) continue;
    BOOST_REQUIRE(runner.wait_past(p, ends[static_cast<std::size_t>(p)] - 1, deadline));
  }
  runner.stop();
  BOOST_TEST(runner.last_error().empty());
  BOOST_TEST(count("SELECT count(*) FROM test_rows") == n);
  check_rows_match_checkpoints();
}

BOOST_AUTO_TEST_CASE(intakes_projector_keeps_the_inbox) {
  const std::string coach = new_uuid();
  const std::string pending_id = new_uuid(), accepted_id = new_uuid(), declined_id = new_uuid();
  const std::string client_id = new_uuid(), account_id = new_uuid();
  const timestamp decided_at = *parse_rfc3339("2026-11-22T10:00:00Z");
  auto submitted = [&](const std::string& id, std::optional<personal> phone) {
    return intake_submitted{id,
                            coach,
                            personal{"Name " + id},
                            personal{id + "@example.org"},
                            phone,
                            personal{"Goals"},
                            personal{"Msg \"quoted\" {a,b} \\ NULL ü\n"},
                            submitted_at};
  };
  append({
      {intake_stream_id(pending_id), submitted(pending_id, personal{"+1 555 0100"})},
      {intake_stream_id(accepted_id), submitted(accepted_id, std::nullopt)},
      {intake_stream_id(declined_id), submitted(declined_id, std::nullopt)},
      {intake_stream_id(accepted_id),
       intake_accepted{accepted_id, coach, client_id, personal{"Name " + accepted_id},
                       personal{accepted_id + "@example.org"}, std::nullopt, personal{"Goals"},
                       personal{"See you Monday"}, decided_at}},
      {intake_stream_id(declined_id),
       intake_declined{declined_id, coach, personal{"Fully booked"}, decided_at}},
      // Not an intake event: ignored by this projector.
      {account_stream_id("some-hash"),
       account_registered{account_id, "client", personal{"x@example.org"}, personal{"X"},
                          std::nullopt, submitted_at}},
  });

  intakes_projector intakes;
  projection_runner runner(log, codec, db.conninfo(), intakes);
  BOOST_TEST(runner.catch_up() == 6u);

  pqxx::connection c(db.conninfo());
  pqxx::work tx(c);
  const auto row = [&](const std::string& id) {
    auto r = tx.exec_params(
        "SELECT status, name, email, phone, goals, message, notes, client_id::text,"
        " to_char(submitted_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS'),"
        " to_char(decided_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS'), coach_id::text"
        " FROM intakes WHERE intake_id = $1",
        id);
    BOOST_REQUIRE_MESSAGE(r.size() == 1u, "no row for intake " << id);
    return r[0];
  };
  BOOST_TEST(tx.exec("SELECT count(*) FROM intakes")[0][0].as<int>() == 3);

  const auto pending = row(pending_id);
  BOOST_TEST(pending[0].as<std::string>() == "pending");
  BOOST_TEST(pending[1].as<std::string>() == "Name " + pending_id);
  BOOST_TEST(pending[2].as<std::string>() == pending_id + "@example.org");
  BOOST_TEST(pending[3].as<std::string>() == "+1 555 0100");
  BOOST_TEST(pending[4].as<std::string>() == "Goals");
  BOOST_TEST(pending[5].as<std::string>() == "Msg \"quoted\" {a,b} \\ NULL ü\n");
  BOOST_TEST(pending[6].is_null());
  BOOST_TEST(pending[7].is_null());
  BOOST_TEST(pending[8].as<std::string>() == "2026-11-21T09:00:00");
  BOOST_TEST(pending[9].is_null());
  BOOST_TEST(pending[10].as<std::string>() == coach);

  const auto accepted = row(accepted_id);
  BOOST_TEST(accepted[0].as<std::string>() == "accepted");
  BOOST_TEST(accepted[3].is_null());
  BOOST_TEST(accepted[6].as<std::string>() == "See you Monday");
  BOOST_TEST(accepted[7].as<std::string>() == client_id);
  BOOST_TEST(accepted[9].as<std::string>() == "2026-11-22T10:00:00");

  const auto declined = row(declined_id);
  BOOST_TEST(declined[0].as<std::string>() == "declined");
  BOOST_TEST(declined[6].as<std::string>() == "Fully booked");
  BOOST_TEST(declined[7].is_null());
  BOOST_TEST(declined[9].as<std::string>() == "2026-11-22T10:00:00");

  const auto committed = checkpoints("intakes");
  const auto ends = end_offsets();
  for (int p = 0; p < partitions; ++p) {
    if (ends[static_cast<std::size_t>(p)] > 0)
      BOOST_TEST(committed.at(p) == ends[static_cast<std::size_t>(p)]);
  }
  tx.commit();

  // Rebuilding the read model gives the same rows.
  projection_runner::reset(db.conninfo(), intakes, partitions);
  BOOST_TEST(count("SELECT count(*) FROM intakes") == 0);
  BOOST_TEST(runner.catch_up() == 6u);
  BOOST_TEST(count("SELECT count(*) FROM intakes WHERE status = 'accepted'") == 1);
  BOOST_TEST(count("SELECT count(*) FROM intakes WHERE status = 'declined'") == 1);
  BOOST_TEST(count("SELECT count(*) FROM intakes WHERE status = 'pending'") == 1);
}

BOOST_AUTO_TEST_CASE(a_rebuild_copies_exactly_the_rows_the_live_inserts_wrote) {
  // Live batches INSERT … ON CONFLICT from arrays; rebuild() COPYs into the emptied table. Both
  // must store the same bytes, whatever the text holds.
  const std::string coach = new_uuid();
  const std::vector<std::string> texts = {
      "tab\there", "line\nbreak", "carriage\rreturn", "back\\slash", "\\N", "NULL", "",
      "\"quoted\" {a,b}", "ü 山田太郎 👩‍💻", " leading and trailing ", "\\.", "end\\"};
  std::vector<std::pair<std::string, domain_event>> events;
  std::vector<std::string> ids;
  for (std::size_t i = 0; i < texts.size(); ++i) {
    const std::string id = new_uuid();
    ids.push_back(id);
    const auto& t = texts[i];
    events.emplace_back(intake_stream_id(id),
                        intake_submitted{id, coach, personal{"Name " + t}, personal{t + "@example.org"},
                                         i % 2 == 0 ? std::optional<personal>{personal{t}} : std::nullopt,
                                         personal{t}, personal{t + t}, submitted_at});
  }
  // Decided in the same batch as submitted: the update follows the bulk rows.
  events.emplace_back(intake_stream_id(ids[0]),
                      intake_declined{ids[0], coach, personal{texts[1]}, submitted_at});
  append(events);

  const auto table = [&] {
    pqxx::connection c(db.conninfo());
    pqxx::work tx(c);
    std::vector<std::string> rows;
    for (const auto& r : tx.exec("SELECT i::text FROM intakes i ORDER BY intake_id")) rows.push_back(r[0].c_str());
    return rows;
  };
  intakes_projector intakes;
  projection_runner runner(log, codec, db.conninfo(), intakes);
  BOOST_REQUIRE(runner.catch_up() == events.size());
  const auto inserted = table();
  BOOST_REQUIRE(inserted.size() == texts.size());
  BOOST_TEST(count("SELECT count(*) FROM intakes WHERE status = 'declined' AND notes = E'line\\nbreak'") == 1);
  BOOST_TEST(count("SELECT count(*) FROM intakes WHERE goals = E'\\\\N' AND phone = E'\\\\N'") == 1);
  BOOST_TEST(count("SELECT count(*) FROM intakes WHERE phone IS NULL") == static_cast<int>(texts.size() / 2));

  BOOST_TEST(runner.rebuild() == events.size());
  BOOST_TEST(table() == inserted, boost::test_tools::per_element());
  const auto committed = checkpoints("intakes");
  const auto ends = end_offsets();
  for (int p = 0; p < partitions; ++p) {
    if (ends[static_cast<std::size_t>(p)] > 0) BOOST_TEST(committed.at(p) == ends[static_cast<std::size_t>(p)]);
  }

  // After the rebuild, live batches insert again: a row that exists is skipped, not an error
  // (COPY would refuse it).
  append({{intake_stream_id(ids[1]),
           intake_submitted{ids[1], coach, personal{"again"}, personal{"again@example.org"}, std::nullopt,
                            personal{"g"}, personal{"m"}, submitted_at}}});
  BOOST_TEST(runner.catch_up() == 1u);
  BOOST_TEST(table() == inserted, boost::test_tools::per_element());
}

/// The intakes projector, refusing one event while `failing` is set: a rebuild that dies half-way.
using failing_intakes = failing_on<intakes_projector>;

BOOST_AUTO_TEST_CASE(
    a_rebuild_builds_the_query_indexes_at_its_end_and_a_failed_one_leaves_them_to_the_next_start) {
  constexpr int n = 200;
  append_submitted(n);
  const auto ends = end_offsets();
  const auto indexes = [&] {
    pqxx::connection c(db.conninfo());
    pqxx::work tx(c);
    std::vector<std::string> rows;
    for (const auto& r :
         tx.exec("SELECT indexname || ': ' || indexdef FROM pg_indexes WHERE tablename = 'intakes' "
                 "ORDER BY indexname")) {
      rows.push_back(r[0].c_str());
    }
    return rows;
  };
  const auto before = indexes();
  BOOST_REQUIRE(before.size() == 3u);  // the primary key and the two query indexes
  const auto deferred = [&] { return count("SELECT count(*) FROM projection_deferred_indexes"); };

  failing_intakes flaky;
  flaky.fail_in_third_batch_of_fullest(ends);
  const runner_options options = batches_of_ten();

  const auto rebuild_that_fails = [&] {
    wait_for_advisory_locks_released();  // the last runner's backend may still be ending
    projection_runner runner(log, codec, db.conninfo(), flaky, options);
    BOOST_CHECK_THROW(runner.rebuild(), std::runtime_error);
  };
  const auto check_whole = [&] {
    BOOST_TEST(indexes() == before, boost::test_tools::per_element());
    BOOST_TEST(deferred() == 0);
    BOOST_TEST(count("SELECT count(*) FROM intakes") == n);
  };

  // A successful rebuild ends with the same indexes, built from the loaded rows, and nothing left
  // deferred.
  {
    flaky.failing = false;
    wait_for_advisory_locks_released();  // the last runner's backend may still be ending
    projection_runner runner(log, codec, db.conninfo(), flaky, options);
    BOOST_TEST(runner.rebuild() == static_cast<std::uint64_t>(n));
    check_whole();
    // The planner reads the rebuilt table through them.
    BOOST_TEST(count("SELECT count(*) FROM pg_stat_user_tables WHERE relname = 'intakes' AND "
                     "last_analyze IS NOT NULL") == 1);
  }

  // A rebuild that dies half-way: its rows so far are committed with their checkpoints, the query
  // indexes are gone and recorded.
  flaky.failing = true;
  rebuild_that_fails();
  BOOST_TEST(indexes().size() == 1u);
  BOOST_TEST(deferred() == 2);
  BOOST_TEST(count("SELECT count(*) FROM intakes") < n);

  // A second rebuild that dies too keeps them recorded (they no longer exist to be dropped).
  rebuild_that_fails();
  BOOST_TEST(deferred() == 2);

  // The projector's next start (coachd's background runner) builds them before it applies
  // anything, and then finishes the model.
  flaky.failing = false;
  {
    wait_for_advisory_locks_released();  // the last runner's backend may still be ending
    projection_runner runner(log, codec, db.conninfo(), flaky, options);
    runner.start();
    const auto deadline = std::chrono::steady_clock::now() + liveness_bound;
    for (int p = 0; p < partitions; ++p) {
      if (ends[static_cast<std::size_t>(p)] == 0) continue;
      BOOST_REQUIRE(runner.wait_past(p, ends[static_cast<std::size_t>(p)] - 1, deadline));
    }
    runner.stop();
  }
  check_whole();

  // catch_up (coachctl's) builds them too.
  flaky.failing = true;
  rebuild_that_fails();
  BOOST_TEST(deferred() == 2);
  flaky.failing = false;
  {
    wait_for_advisory_locks_released();  // the last runner's backend may still be ending
    projection_runner runner(log, codec, db.conninfo(), flaky, options);
    BOOST_TEST(runner.catch_up() > 0u);
  }
  check_whole();
}

namespace {

/// The fixture's log, whose readers fail on their third poll while `armed` is set.
class failing_reads final : public event_log {
 public:
  explicit failing_reads(event_log& inner) : inner_(inner) {}
  std::atomic<bool> armed{true};

  int partitions() const override { return inner_.partitions(); }
  std::unique_ptr<partition_writer> open_writer(int partition) override { return inner_.open_writer(partition); }
  std::unique_ptr<log_reader> open_reader(std::vector<partition_start> from) override {
    return std::make_unique<reader>(inner_.open_reader(std::move(from)), armed);
  }
  std::int64_t end_offset(int partition) override { return inner_.end_offset(partition); }
  std::string name() const override { return inner_.name(); }

 private:
  class reader final : public log_reader {
   public:
    reader(std::unique_ptr<log_reader> inner, std::atomic<bool>& armed) : inner_(std::move(inner)), armed_(armed) {}
    std::vector<stored_event> poll(std::chrono::milliseconds max_wait, std::size_t max_events) override {
      if (armed_ && ++polls_ == 3) throw std::runtime_error("the log's connection broke");
      return inner_->poll(max_wait, max_events);
    }
    std::int64_t position(int partition) const override { return inner_->position(partition); }

   private:
    std::unique_ptr<log_reader> inner_;
    std::atomic<bool>& armed_;
    int polls_ = 0;
  };
  event_log& inner_;
};

/// The fixture's key store, failing every lookup after the 50th while `armed` is set.
class failing_keys final : public key_provider {
 public:
  explicit failing_keys(key_provider& inner) : inner_(inner) {}
  std::atomic<bool> armed{true};

  data_key key_for_write(const std::string& subject) override { return inner_.key_for_write(subject); }
  std::optional<data_key> key_for_read(const std::string& subject) override {
    if (armed && ++reads_ > 50) throw std::runtime_error("the key store's connection broke");
    return inner_.key_for_read(subject);
  }

 private:
  key_provider& inner_;
  std::atomic<int> reads_{0};
};

}  // namespace

BOOST_AUTO_TEST_CASE(a_rebuild_whose_reading_or_decoding_fails_stops_with_the_error_and_can_run_again) {
  constexpr int n = 300;
  append_submitted(n);
  runner_options options;
  options.max_batch = 10;  // many batches: the failures come while every stage holds some
  intakes_projector intakes;

  failing_reads reads(log);
  {
    projection_runner runner(reads, codec, db.conninfo(), intakes, options);
    BOOST_CHECK_EXCEPTION(runner.rebuild(), std::runtime_error, [](const std::runtime_error& e) {
      return std::string(e.what()).find("log's connection broke") != std::string::npos;
    });
  }
  failing_keys keys_that_fail(keys);
  event_codec failing_codec(keys_that_fail);
  {
    wait_for_advisory_locks_released();
    projection_runner runner(log, failing_codec, db.conninfo(), intakes, options);
    BOOST_CHECK_EXCEPTION(runner.rebuild(), std::runtime_error, [](const std::runtime_error& e) {
      return std::string(e.what()).find("key store's connection broke") != std::string::npos;
    });
  }
  BOOST_TEST(count("SELECT count(*) FROM intakes") < n);

  wait_for_advisory_locks_released();
  projection_runner runner(log, codec, db.conninfo(), intakes, options);
  BOOST_TEST(runner.rebuild() == static_cast<std::uint64_t>(n));
  BOOST_TEST(count("SELECT count(*) FROM intakes") == n);
  BOOST_TEST(count("SELECT count(*) FROM projection_deferred_indexes") == 0);
}

/// A projector that names `index` as query-only for the intakes table.
class index_claimer final : public projector {
 public:
  explicit index_claimer(std::string index) : index_(std::move(index)) {}
  std::string name() const override { return "intakes"; }
  std::vector<std::string> tables() const override { return {"intakes"}; }
  std::vector<std::string> query_only_indexes() const override { return {index_}; }
  void apply(pqxx::work&, const stored_event&, const domain_event&) override {}

 private:
  std::string index_;
};

BOOST_AUTO_TEST_CASE(a_unique_index_is_never_dropped_for_a_rebuild) {
  append_submitted(5);
  intakes_projector intakes;
  projection_runner(log, codec, db.conninfo(), intakes).catch_up();
  index_claimer claimer("intakes_pkey");
  wait_for_advisory_locks_released();  // the catch-up's backend may still be ending
  projection_runner runner(log, codec, db.conninfo(), claimer);
  BOOST_CHECK_THROW(runner.rebuild(), std::logic_error);
  BOOST_TEST(count("SELECT count(*) FROM pg_indexes WHERE indexname = 'intakes_pkey'") == 1);
  BOOST_TEST(count("SELECT count(*) FROM intakes") == 5);  // the failed transaction emptied nothing
  BOOST_TEST(count("SELECT count(*) FROM projection_deferred_indexes") == 0);
}

BOOST_AUTO_TEST_CASE(an_index_that_does_not_exist_is_refused_not_skipped) {
  append_submitted(5);
  intakes_projector intakes;
  projection_runner(log, codec, db.conninfo(), intakes).catch_up();
  index_claimer claimer("intakes_by_nothing");
  wait_for_advisory_locks_released();
  projection_runner runner(log, codec, db.conninfo(), claimer);
  BOOST_CHECK_EXCEPTION(runner.rebuild(), std::logic_error, [](const std::logic_error& e) {
    return std::string(e.what()).find("intakes_by_nothing as query-only, but no such index exists") !=
           std::string::npos;
  });
  BOOST_TEST(count("SELECT count(*) FROM intakes") == 5);  // the failed transaction emptied nothing
  BOOST_TEST(count("SELECT count(*) FROM projection_deferred_indexes") == 0);
}

BOOST_AUTO_TEST_SUITE_END()
