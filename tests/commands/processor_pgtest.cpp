// The command processor (commands/processor.hpp) on the PostgreSQL event log: outcomes and
// where events land, the one-account-per-address invariant under concurrency, group commit,
// deduplication of derived command ids (also across a restart), If-Match, and fencing of an
// earlier owner.

// The test module's entry point. When <boost/test/unit_test.hpp> already came in through the
// precompiled header, a BOOST_TEST_MODULE defined here is too late to generate main().
#ifdef BOOST_TEST_UNIT_TEST_HPP_071894GER
#include <boost/test/unit_test.hpp>
bool init_unit_test() {
  boost::unit_test::framework::master_test_suite().p_name.value = "processor";
  return true;
}
int main(int argc, char* argv[]) {
  return boost::unit_test::unit_test_main(&init_unit_test, argc, argv);
}
#else
#define BOOST_TEST_MODULE processor
#include <boost/test/unit_test.hpp>
#endif

#include <algorithm>
#include <atomic>
#include <chrono>
#include <future>
#include <latch>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "commands/command.hpp"
#include "commands/processor.hpp"
#include "events/codec.hpp"
#include <boost/test/data/monomorphic.hpp>
#include <boost/test/data/test_case.hpp>

#include "events/partitioning.hpp"
#include "infra/crypto.hpp"
#include "infra/pg_event_log.hpp"
#include "tests/support/pg_test_db.hpp"

using namespace coachd;
using namespace std::chrono_literals;

namespace {

constexpr int partitions = 4;
// Liveness bound for one answer; never a performance assertion.
constexpr auto answer_bound = 120s;

const timestamp issued_at = *parse_rfc3339("2026-11-21T09:00:00.250Z");

/// A fresh database holding a 4-partition log, with in-memory subject keys.
struct log_fixture {
  test::test_database db;
  pg_event_log log{db.conninfo(), partitions};
  memory_key_provider keys;
  event_codec codec{keys};
};

command make_command(std::string id, std::string stream, command_body body,
                     std::optional<std::int64_t> expected_version = std::nullopt) {
  command c;
  c.id = std::move(id);
  c.stream = std::move(stream);
  c.expected_version = expected_version;
  c.actor = "anonymous";
  c.correlation_id = "corr-" + c.id;
  c.causation_id = "cause-" + c.id;
  c.issued_at = issued_at;
  c.body = std::move(body);
  return c;
}

command submit_command(const std::string& intake_id, std::string id = new_uuid()) {
  return make_command(std::move(id), intake_stream(intake_id),
                      submit_intake{intake_id, "coach-a", "Zelda Quuxworth", "zelda.q@example.org",
                                    std::nullopt, "Run a marathon", "Hello", issued_at});
}

command accept_command(const std::string& intake_id, std::string id = new_uuid(),
                       std::optional<std::int64_t> expected_version = std::nullopt,
                       std::string coach = "coach-a") {
  return make_command(
      std::move(id), intake_stream(intake_id),
      accept_intake{intake_id, std::move(coach), "client-" + intake_id, "Welcome", issued_at},
      expected_version);
}

command register_command(const std::string& stream, const std::string& account_id) {
  return make_command(new_uuid(), stream,
                      register_account{account_id, "client", "zelda.q@example.org", "Zelda",
                                       std::nullopt, issued_at});
}

using answer = result<command_outcome>;

/// Submits and returns the future answer (the callback runs on a worker thread).
std::future<answer> submit_async(command_processor& processor, command c) {
  auto promise = std::make_shared<std::promise<answer>>();
  auto future = promise->get_future();
  processor.submit(std::move(c), [promise](answer a) { promise->set_value(std::move(a)); });
  return future;
}

answer wait_for(std::future<answer>& f) {
  BOOST_REQUIRE_MESSAGE(f.wait_for(answer_bound) == std::future_status::ready, "no answer");
  return f.get();
}

answer submit_and_wait(command_processor& processor, command c) {
  auto f = submit_async(processor, std::move(c));
  return wait_for(f);
}

std::string describe(const answer& a) {
  if (a) return "ok";
  return a.err().detail + " [" + a.err().type_suffix + "]";
}

/// Every event of every partition, up to the end offsets at the time of the call.
std::vector<stored_event> read_all(event_log& log) {
  std::vector<partition_start> from;
  std::vector<std::int64_t> ends;
  for (int p = 0; p < log.partitions(); ++p) {
    from.push_back({p, 0});
    ends.push_back(log.end_offset(p));
  }
  auto reader = log.open_reader(from);
  std::vector<stored_event> all;
  const auto deadline = std::chrono::steady_clock::now() + answer_bound;
  for (;;) {
    bool done = true;
    for (int p = 0; p < log.partitions(); ++p) {
      if (reader->position(p) < ends[static_cast<std::size_t>(p)]) done = false;
    }
    if (done) break;
    BOOST_REQUIRE_MESSAGE(std::chrono::steady_clock::now() < deadline,
                          "log did not reach its end offsets");
    for (auto& e : reader->poll(100ms, 10000)) all.push_back(std::move(e));
  }
  return all;
}

std::vector<stored_event> events_of(event_log& log, const std::string& stream) {
  std::vector<stored_event> out;
  for (auto& e : read_all(log)) {
    if (e.envelope.subject == stream) out.push_back(std::move(e));
  }
  return out;
}

std::vector<std::int64_t> end_offsets(event_log& log) {
  std::vector<std::int64_t> ends;
  for (int p = 0; p < log.partitions(); ++p) ends.push_back(log.end_offset(p));
  return ends;
}

/// Waits (bounded) until `condition` holds.
template <typename Condition>
bool eventually(Condition condition) {
  const auto deadline = std::chrono::steady_clock::now() + answer_bound;
  while (!condition()) {
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(5ms);
  }
  return true;
}

}  // namespace

BOOST_FIXTURE_TEST_SUITE(processor, log_fixture)

BOOST_AUTO_TEST_CASE(outcomes_name_version_partition_and_offset_of_the_appended_events) {
  command_processor processor(log, codec);
  BOOST_TEST(!processor.ready());
  processor.start();
  BOOST_TEST(processor.ready());

  std::map<std::string, command_outcome> first;
  for (int i = 0; i < 12; ++i) {
    const std::string intake_id = "i-" + std::to_string(i);
    const auto a = submit_and_wait(processor, submit_command(intake_id));
    BOOST_REQUIRE_MESSAGE(a.ok(), describe(a));
    const auto& o = a.value();
    BOOST_TEST(o.stream == intake_stream(intake_id));
    BOOST_TEST(o.stream_version == 1);
    BOOST_TEST(o.partition == partition_for(intake_stream(intake_id), partitions));
    BOOST_TEST(o.offset >= 0);
    BOOST_TEST(!o.replayed);
    BOOST_TEST(o.consistency_token() ==
               std::to_string(o.partition) + ":" + std::to_string(o.offset));
    first.emplace(intake_id, o);
  }
  BOOST_TEST(processor.stream_count() == 12u);

  auto accept = accept_command("i-3", "accept-i-3");
  const auto accepted = submit_and_wait(processor, accept);
  BOOST_REQUIRE_MESSAGE(accepted.ok(), describe(accepted));
  BOOST_TEST(accepted->stream_version == 2);
  BOOST_TEST(accepted->partition == first.at("i-3").partition);
  BOOST_TEST(accepted->offset > first.at("i-3").offset);

  // The outcome points at the event the log holds, with the command's envelope attributes.
  const auto stored = events_of(log, intake_stream("i-3"));
  BOOST_REQUIRE(stored.size() == 2u);
  const auto& last = stored.back();
  BOOST_TEST(last.partition == accepted->partition);
  BOOST_TEST(last.offset == accepted->offset);
  BOOST_TEST(last.envelope.type == "IntakeAccepted");
  BOOST_TEST(last.envelope.source == "/coachd/intake");
  BOOST_TEST(last.envelope.stream_version == 2);
  BOOST_TEST(last.envelope.command_id == "accept-i-3");
  BOOST_TEST(last.envelope.correlation_id == "corr-accept-i-3");
  BOOST_TEST(last.envelope.causation_id == "cause-accept-i-3");
  BOOST_TEST(last.envelope.actor == "anonymous");
  BOOST_TEST(last.envelope.time == "2026-11-21T09:00:00.250Z");
  BOOST_TEST(last.envelope.data.find("Zelda") == std::string::npos);
  auto decoded = codec.decode(last.envelope);
  BOOST_REQUIRE(decoded.ok());
  const auto& e = std::get<intake_accepted>(decoded.value());
  BOOST_TEST(e.name.value == "Zelda Quuxworth");
  BOOST_TEST(e.client_id == "client-i-3");
  BOOST_TEST(stored.front().offset == first.at("i-3").offset);

  // Refusals append nothing.
  const auto ends = end_offsets(log);
  const auto again = submit_and_wait(processor, accept_command("i-3"));
  BOOST_REQUIRE(!again.ok());
  BOOST_TEST((again.err().code == errc::conflict));
  BOOST_TEST(again.err().type_suffix == "intake-already-accepted");
  const auto foreign =
      submit_and_wait(processor, accept_command("i-4", new_uuid(), std::nullopt, "coach-b"));
  BOOST_REQUIRE(!foreign.ok());
  BOOST_TEST((foreign.err().code == errc::not_found));
  const auto missing = submit_and_wait(processor, accept_command("i-404"));
  BOOST_REQUIRE(!missing.ok());
  BOOST_TEST((missing.err().code == errc::not_found));
  const auto wrong_kind =
      submit_and_wait(processor, register_command(intake_stream("i-5"), "acct-x"));
  BOOST_REQUIRE(!wrong_kind.ok());
  BOOST_TEST((wrong_kind.err().code == errc::invalid));
  BOOST_TEST(end_offsets(log) == ends, boost::test_tools::per_element());

  BOOST_TEST(processor.stats().commands_accepted.load() == 13u);
  BOOST_TEST(processor.stats().commands_rejected.load() == 4u);
  BOOST_TEST(processor.stats().appended_events.load() == 13u);
}

BOOST_AUTO_TEST_CASE(commands_queued_together_see_each_others_effects) {
  command_processor processor(log, codec);
  processor.start();
  // Submitted without waiting, so they may share a batch: each is decided against the state
  // the earlier ones leave, in submission order.
  auto submitted = submit_async(processor, submit_command("q-1"));
  auto duplicate = submit_async(processor, submit_command("q-1"));
  auto accepted = submit_async(processor, accept_command("q-1"));
  auto accepted_again = submit_async(processor, accept_command("q-1"));
  const auto a = wait_for(submitted);
  const auto b = wait_for(duplicate);
  const auto c = wait_for(accepted);
  const auto d = wait_for(accepted_again);
  BOOST_REQUIRE_MESSAGE(a.ok(), describe(a));
  BOOST_REQUIRE(!b.ok());
  BOOST_TEST(b.err().type_suffix == "intake-exists");
  BOOST_REQUIRE_MESSAGE(c.ok(), describe(c));
  BOOST_TEST(c->stream_version == 2);
  BOOST_TEST(c->offset > a->offset);
  BOOST_REQUIRE(!d.ok());
  BOOST_TEST(d.err().type_suffix == "intake-already-accepted");
  BOOST_TEST(events_of(log, intake_stream("q-1")).size() == 2u);
}

BOOST_AUTO_TEST_CASE(a_failed_append_leaves_no_tentative_state_behind) {
  command_processor processor(log, codec);
  processor.start();
  BOOST_REQUIRE(submit_and_wait(processor, submit_command("f-1")).ok());
  // The writer's connection dies: the next append fails, outcome unknown to the processor.
  {
    pqxx::connection admin(db.conninfo());
    pqxx::nontransaction tx(admin);
    tx.exec("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid()");
  }
  const auto failed = submit_and_wait(processor, accept_command("f-1"));
  BOOST_REQUIRE_MESSAGE(!failed.ok(), "the append on a dead connection cannot succeed");
  BOOST_TEST((failed.err().code == errc::unavailable));
  // The partition is reloaded from the log, which does not hold the acceptance: accepting
  // again is decided against the state without it, and it lands as version 2.
  answer retried = submit_and_wait(processor, accept_command("f-1"));
  for (int i = 0; i < 50 && !retried.ok() && retried.err().code == errc::unavailable; ++i) {
    std::this_thread::sleep_for(100ms);
    retried = submit_and_wait(processor, accept_command("f-1"));
  }
  BOOST_REQUIRE_MESSAGE(retried.ok(), describe(retried));
  BOOST_TEST(retried->stream_version == 2);
  BOOST_TEST(events_of(log, intake_stream("f-1")).size() == 2u);
  // And the state after it is the log's: a third acceptance is refused.
  const auto third = submit_and_wait(processor, accept_command("f-1"));
  BOOST_REQUIRE(!third.ok());
  BOOST_TEST(third.err().type_suffix == "intake-already-accepted");
}

BOOST_AUTO_TEST_CASE(fifty_concurrent_registrations_of_one_address_make_one_account) {
  command_processor processor(log, codec);
  processor.start();
  const std::string stream = account_stream("hash-of-zelda");
  constexpr int n = 50;
  std::vector<std::optional<answer>> answers(n);
  {
    std::latch go(n);
    std::vector<std::jthread> threads;
    for (int i = 0; i < n; ++i) {
      threads.emplace_back([&, i] {
        go.arrive_and_wait();
        auto f = submit_async(processor, register_command(stream, "acct-" + std::to_string(i)));
        if (f.wait_for(answer_bound) == std::future_status::ready)
          answers[static_cast<std::size_t>(i)] = f.get();
      });
    }
  }  // joined
  int ok = 0, taken = 0;
  std::string winner;
  for (int i = 0; i < n; ++i) {
    const auto& a = answers[static_cast<std::size_t>(i)];
    BOOST_REQUIRE_MESSAGE(a.has_value(), "thread " << i << " got no answer");
    if (a->ok()) {
      ++ok;
      winner = "acct-" + std::to_string(i);
      BOOST_TEST(a->value().stream_version == 1);
    } else {
      BOOST_TEST((a->err().code == errc::conflict), describe(*a));
      BOOST_TEST(a->err().type_suffix == "email-taken");
      if (a->err().type_suffix == "email-taken") ++taken;
    }
  }
  BOOST_TEST(ok == 1);
  BOOST_TEST(taken == n - 1);

  const auto stored = events_of(log, stream);
  BOOST_REQUIRE(stored.size() == 1u);
  BOOST_TEST(stored[0].envelope.type == "AccountRegistered");
  auto decoded = codec.decode(stored[0].envelope);
  BOOST_REQUIRE(decoded.ok());
  BOOST_TEST(std::get<account_registered>(decoded.value()).account_id == winner);
}

// With one thread deciding every partition (what the PostgreSQL log gets by default, its appends
// being joint) and with one thread per partition (what a log without joint appends gets).
BOOST_DATA_TEST_CASE(two_hundred_concurrent_submissions_are_group_committed,
                     boost::unit_test::data::make(std::vector<std::size_t>{0, partitions}), deciders) {
  std::mutex observed_mutex;
  std::size_t observed_commands = 0, observed_events = 0, largest_append = 0, observed_appends = 0;
  bool durations_positive = true;
  processor_options options;
  options.deciders = deciders;
  command_processor processor(log, codec, options);
  processor.on_append([&](std::size_t commands, std::size_t events, std::chrono::duration<double> took) {
    std::lock_guard lock(observed_mutex);
    durations_positive = durations_positive && took.count() > 0;
    observed_commands += commands;
    observed_events += events;
    largest_append = std::max(largest_append, commands);
    ++observed_appends;
  });
  processor.start();

  constexpr int threads_count = 8, per_thread = 25, n = threads_count * per_thread;
  std::vector<std::future<answer>> futures(n);
  std::vector<std::string> intake_ids(n);
  {
    std::latch go(threads_count);
    std::vector<std::jthread> threads;
    for (int t = 0; t < threads_count; ++t) {
      threads.emplace_back([&, t] {
        go.arrive_and_wait();
        for (int k = 0; k < per_thread; ++k) {
          const auto i = static_cast<std::size_t>(t * per_thread + k);
          intake_ids[i] = "g-" + std::to_string(i);
          futures[i] = submit_async(processor, submit_command(intake_ids[i]));
        }
      });
    }
  }
  std::set<std::pair<int, std::int64_t>> positions;
  for (int i = 0; i < n; ++i) {
    const auto a = wait_for(futures[static_cast<std::size_t>(i)]);
    BOOST_REQUIRE_MESSAGE(a.ok(), describe(a));
    BOOST_TEST(a->stream_version == 1);
    BOOST_TEST(a->partition ==
               partition_for(intake_stream(intake_ids[static_cast<std::size_t>(i)]), partitions));
    positions.emplace(a->partition, a->offset);
  }
  BOOST_TEST(positions.size() == static_cast<std::size_t>(n));  // every event its own place
  BOOST_TEST(processor.stats().appended_events.load() == static_cast<std::uint64_t>(n));
  BOOST_TEST(processor.stats().appends.load() < static_cast<std::uint64_t>(n));
  BOOST_TEST_MESSAGE("200 commands in " << processor.stats().appends.load() << " appends, largest "
                                        << largest_append);
  std::lock_guard lock(observed_mutex);
  BOOST_TEST(observed_commands == static_cast<std::size_t>(n));
  BOOST_TEST(observed_events == static_cast<std::size_t>(n));
  BOOST_TEST(observed_appends == processor.stats().appends.load());
  BOOST_TEST(durations_positive);
  BOOST_TEST(largest_append > 1u);
  BOOST_TEST(read_all(log).size() == static_cast<std::size_t>(n));
}

BOOST_AUTO_TEST_CASE(a_derived_command_id_is_answered_once_and_then_replayed) {
  command_processor processor(log, codec);
  processor.start();
  const auto first = submit_and_wait(processor, submit_command("d-1", "k:retry-me"));
  BOOST_REQUIRE_MESSAGE(first.ok(), describe(first));
  BOOST_TEST(!first->replayed);
  const auto appends = processor.stats().appends.load();

  const auto second = submit_and_wait(processor, submit_command("d-1", "k:retry-me"));
  BOOST_REQUIRE_MESSAGE(second.ok(), describe(second));
  BOOST_TEST(second->replayed);
  BOOST_TEST(second->stream == first->stream);
  BOOST_TEST(second->stream_version == first->stream_version);
  BOOST_TEST(second->partition == first->partition);
  BOOST_TEST(second->offset == first->offset);
  BOOST_TEST(processor.stats().appends.load() == appends);
  BOOST_TEST(processor.stats().commands_replayed.load() == 1u);
  BOOST_TEST(events_of(log, intake_stream("d-1")).size() == 1u);

  // Two copies queued at once (possibly in one batch): one append, the copy replayed.
  auto a = submit_async(processor, accept_command("d-1", "d:accept-after-event-42"));
  auto b = submit_async(processor, accept_command("d-1", "d:accept-after-event-42"));
  const auto ra = wait_for(a);
  const auto rb = wait_for(b);
  BOOST_REQUIRE_MESSAGE(ra.ok(), describe(ra));
  BOOST_REQUIRE_MESSAGE(rb.ok(), describe(rb));
  BOOST_TEST(!ra->replayed);
  BOOST_TEST(rb->replayed);
  BOOST_TEST(rb->offset == ra->offset);
  BOOST_TEST(rb->stream_version == 2);
  BOOST_TEST(events_of(log, intake_stream("d-1")).size() == 2u);

  // A random id is not deduplicated: the same submission again is decided again.
  const auto random_again = submit_and_wait(processor, submit_command("d-1"));
  BOOST_REQUIRE(!random_again.ok());
  BOOST_TEST(random_again.err().type_suffix == "intake-exists");
}

BOOST_AUTO_TEST_CASE(derived_commands_are_remembered_across_a_restart) {
  command_outcome submitted, accepted;
  std::uint64_t events_before_restart = 0;
  {
    command_processor processor(log, codec);
    processor.start();
    const auto a = submit_and_wait(processor, submit_command("r-1", "k:submit-r-1"));
    BOOST_REQUIRE_MESSAGE(a.ok(), describe(a));
    submitted = a.value();
    const auto b = submit_and_wait(processor, accept_command("r-1", "d:accept-r-1"));
    BOOST_REQUIRE_MESSAGE(b.ok(), describe(b));
    accepted = b.value();
    for (int i = 0; i < 20; ++i)
      BOOST_REQUIRE(submit_and_wait(processor, submit_command("other-" + std::to_string(i))).ok());
    events_before_restart = processor.stats().appended_events.load();
    processor.stop();
    BOOST_TEST(!processor.ready());
    const auto after_stop = submit_and_wait(processor, submit_command("r-2"));
    BOOST_REQUIRE(!after_stop.ok());
    BOOST_TEST((after_stop.err().code == errc::unavailable));
  }

  // A new process: its own log handle and processor, the same database and keys.
  pg_event_log reopened(db.conninfo(), partitions);
  command_processor restarted(reopened, codec);
  restarted.start();
  BOOST_TEST(restarted.stats().rebuilt_events.load() == events_before_restart);
  BOOST_TEST(restarted.stream_count() == 21u);
  const auto ends = end_offsets(reopened);

  const auto again = submit_and_wait(restarted, submit_command("r-1", "k:submit-r-1"));
  BOOST_REQUIRE_MESSAGE(again.ok(), describe(again));
  BOOST_TEST(again->replayed);
  BOOST_TEST(again->stream_version == submitted.stream_version);
  BOOST_TEST(again->partition == submitted.partition);
  BOOST_TEST(again->offset == submitted.offset);

  const auto accept_again = submit_and_wait(restarted, accept_command("r-1", "d:accept-r-1"));
  BOOST_REQUIRE_MESSAGE(accept_again.ok(), describe(accept_again));
  BOOST_TEST(accept_again->replayed);
  BOOST_TEST(accept_again->stream_version == accepted.stream_version);
  BOOST_TEST(accept_again->offset == accepted.offset);

  BOOST_TEST(restarted.stats().appends.load() == 0u);
  BOOST_TEST(end_offsets(reopened) == ends, boost::test_tools::per_element());
  BOOST_TEST(events_of(reopened, intake_stream("r-1")).size() == 2u);

  // The state was rebuilt too: a fresh command sees the accepted intake.
  const auto fresh = submit_and_wait(restarted, accept_command("r-1"));
  BOOST_REQUIRE(!fresh.ok());
  BOOST_TEST(fresh.err().type_suffix == "intake-already-accepted");
  const auto next = submit_and_wait(restarted, submit_command("r-3"));
  BOOST_REQUIRE_MESSAGE(next.ok(), describe(next));
  BOOST_TEST(next->stream_version == 1);
}

BOOST_AUTO_TEST_CASE(
    derived_ids_are_remembered_within_the_window_and_the_limit_then_decided_again) {
  // Remembered: at most 3 ids per partition, issued within an hour of the newest one.
  processor_options options;
  options.remembering = remembering_limits{std::chrono::hours(1), 3};
  // Intakes whose streams share one partition, so that they count against one limit.
  std::vector<std::string> ids;
  for (int i = 0; ids.size() < 6; ++i) {
    const std::string id = "w-" + std::to_string(i);
    if (partition_for(intake_stream(id), partitions) == 0) ids.push_back(id);
  }
  const auto submit_at = [&](int n, timestamp when) {
    command c = submit_command(ids[static_cast<std::size_t>(n)], "k:window-" + std::to_string(n));
    c.issued_at = when;
    return c;
  };
  const timestamp t0 = issued_at;
  const auto replayed = [](const answer& a) { return a.ok() && a->replayed; };
  const auto decided_again = [](const answer& a) {
    return !a.ok() && a.err().type_suffix == "intake-exists";
  };
  {
    command_processor processor(log, codec, options);
    processor.start();
    for (int n = 0; n < 4; ++n) BOOST_REQUIRE(submit_and_wait(processor, submit_at(n, t0)).ok());
    // Four ids, limit three: the oldest is forgotten, so its retry is decided again (the intake
    // exists), while the three newest are answered with their first outcome.
    BOOST_TEST(decided_again(submit_and_wait(processor, submit_at(0, t0))));
    for (int n = 1; n < 4; ++n)
      BOOST_TEST(replayed(submit_and_wait(processor, submit_at(n, t0))), "id " << n);

    // An id issued two hours later pushes the earlier ones out of the one-hour window.
    BOOST_REQUIRE(submit_and_wait(processor, submit_at(4, t0 + std::chrono::hours(2))).ok());
    BOOST_TEST(decided_again(submit_and_wait(processor, submit_at(3, t0))));
    BOOST_TEST(replayed(submit_and_wait(processor, submit_at(4, t0 + std::chrono::hours(2)))));
    processor.stop();
  }
  // A processor rebuilt from the log remembers exactly what the running one did.
  pg_event_log reopened(db.conninfo(), partitions);
  command_processor restarted(reopened, codec, options);
  restarted.start();
  BOOST_TEST(replayed(submit_and_wait(restarted, submit_at(4, t0 + std::chrono::hours(2)))));
  BOOST_TEST(decided_again(submit_and_wait(restarted, submit_at(2, t0))));
  BOOST_TEST(decided_again(submit_and_wait(restarted, submit_at(1, t0))));
  // The default limits keep a day's worth: the same ids are all remembered.
  command_processor defaults(reopened, codec);
  restarted.stop();
  defaults.start();
  for (int n = 1; n < 4; ++n)
    BOOST_TEST(replayed(submit_and_wait(defaults, submit_at(n, t0))), "id " << n);
}

BOOST_AUTO_TEST_CASE(a_stale_expected_version_is_a_version_conflict) {
  command_processor processor(log, codec);
  processor.start();
  // A new stream is at version 0.
  const auto created = submit_and_wait(
      processor, make_command(new_uuid(), intake_stream("v-1"),
                              std::get<submit_intake>(submit_command("v-1").body), 0));
  BOOST_REQUIRE_MESSAGE(created.ok(), describe(created));
  BOOST_TEST(created->stream_version == 1);
  const auto ends = end_offsets(log);

  for (std::int64_t stale : {0, 2, 7}) {
    const auto a = submit_and_wait(processor, accept_command("v-1", new_uuid(), stale));
    BOOST_REQUIRE_MESSAGE(!a.ok(), "expected version " << stale << " was accepted");
    BOOST_TEST((a.err().code == errc::version_conflict));
    BOOST_TEST(a.err().type_suffix == "version-1");
    BOOST_TEST(a.err().detail.find("version 1") != std::string::npos, a.err().detail);
  }
  BOOST_TEST(end_offsets(log) == ends, boost::test_tools::per_element());

  const auto current = submit_and_wait(processor, accept_command("v-1", new_uuid(), 1));
  BOOST_REQUIRE_MESSAGE(current.ok(), describe(current));
  BOOST_TEST(current->stream_version == 2);
  const auto now_stale = submit_and_wait(processor, accept_command("v-1", new_uuid(), 1));
  BOOST_REQUIRE(!now_stale.ok());
  BOOST_TEST((now_stale.err().code == errc::version_conflict));
  BOOST_TEST(now_stale.err().type_suffix == "version-2");
}

BOOST_AUTO_TEST_CASE(a_second_processor_fences_the_first) {
  command_processor first(log, codec);
  first.start();
  const auto before = submit_and_wait(first, submit_command("f-1"));
  BOOST_REQUIRE_MESSAGE(before.ok(), describe(before));
  BOOST_TEST(first.ready());

  // Another process takes over the same log.
  pg_event_log other_log(db.conninfo(), partitions);
  command_processor second(other_log, codec);
  second.start();
  BOOST_TEST(second.ready());
  const auto ends = end_offsets(log);

  // The first still thinks it owns the partition; its next append is refused by the log.
  const auto fenced = submit_and_wait(first, accept_command("f-1"));
  BOOST_REQUIRE_MESSAGE(!fenced.ok(), "a fenced processor appended");
  BOOST_TEST((fenced.err().code == errc::unavailable), describe(fenced));
  BOOST_TEST(eventually([&] { return !first.ready(); }));
  BOOST_TEST(end_offsets(log) == ends, boost::test_tools::per_element());
  // Its worker for that partition is gone: later commands there are refused at once.
  const auto refused = submit_and_wait(first, accept_command("f-1"));
  BOOST_REQUIRE(!refused.ok());
  BOOST_TEST((refused.err().code == errc::unavailable));

  // The new owner has the first one's history and carries on.
  const auto duplicate = submit_and_wait(second, submit_command("f-1"));
  BOOST_REQUIRE(!duplicate.ok());
  BOOST_TEST(duplicate.err().type_suffix == "intake-exists");
  const auto accepted = submit_and_wait(second, accept_command("f-1"));
  BOOST_REQUIRE_MESSAGE(accepted.ok(), describe(accepted));
  BOOST_TEST(accepted->stream_version == 2);
  BOOST_TEST(events_of(log, intake_stream("f-1")).size() == 2u);
  first.stop();
}

BOOST_AUTO_TEST_CASE(a_fenced_partition_fails_alone_among_the_partitions_decided_together) {
  command_processor processor(log, codec);  // one thread decides all four partitions
  processor.start();
  // An intake in each partition.
  std::vector<std::string> intakes(partitions);
  for (int i = 0, found = 0; found < partitions; ++i) {
    const std::string id = "j-" + std::to_string(i);
    auto& slot = intakes[static_cast<std::size_t>(partition_for(intake_stream(id), partitions))];
    if (!slot.empty()) continue;
    slot = id;
    ++found;
    BOOST_REQUIRE(submit_and_wait(processor, submit_command(id)).ok());
  }
  // Another process takes partition 1 only.
  pg_event_log other_log(db.conninfo(), partitions);
  auto taker = other_log.open_writer(1);
  const auto ends = end_offsets(log);

  // Commands for all four, queued together so that one round decides them.
  std::vector<std::future<answer>> accepted;
  for (const auto& id : intakes) accepted.push_back(submit_async(processor, accept_command(id)));
  for (int p = 0; p < partitions; ++p) {
    const auto a = wait_for(accepted[static_cast<std::size_t>(p)]);
    if (p == 1) {
      BOOST_REQUIRE_MESSAGE(!a.ok(), "a fenced partition appended");
      BOOST_TEST((a.err().code == errc::unavailable), describe(a));
    } else {
      BOOST_TEST_REQUIRE(a.ok(), "partition " << p << ": " << describe(a));
      BOOST_TEST(a->stream_version == 2);
    }
  }
  BOOST_TEST(eventually([&] { return !processor.ready(); }));
  BOOST_TEST(end_offsets(log)[1] == ends[1]);
  // The other partitions go on; the fenced one refuses at once.
  for (int p : {0, 2, 3}) {
    const auto declined = submit_and_wait(processor, accept_command(intakes[static_cast<std::size_t>(p)]));
    BOOST_REQUIRE(!declined.ok());
    BOOST_TEST(declined.err().type_suffix == "intake-already-accepted", "partition " << p);
  }
  const auto refused = submit_and_wait(processor, accept_command(intakes[1]));
  BOOST_REQUIRE(!refused.ok());
  BOOST_TEST((refused.err().code == errc::unavailable));
  BOOST_TEST(refused.err().detail.find("not available") != std::string::npos, refused.err().detail);
  processor.stop();
}

BOOST_AUTO_TEST_CASE(commands_queued_behind_a_fenced_append_are_refused_not_left_waiting) {
  // One command per append, so that the commands submitted together queue up behind the one
  // whose append finds the partition taken.
  command_processor first(log, codec, processor_options{1});
  first.start();
  BOOST_REQUIRE(submit_and_wait(first, submit_command("w-1")).ok());
  pg_event_log other_log(db.conninfo(), partitions);
  command_processor second(other_log, codec);
  second.start();

  constexpr int n = 20;
  std::vector<std::future<answer>> queued;
  for (int i = 0; i < n; ++i) queued.push_back(submit_async(first, accept_command("w-1")));
  // Every one of them is answered while the first processor is still up (bounded wait; the
  // processor is only stopped after the checks).
  int unavailable = 0;
  const auto deadline = std::chrono::steady_clock::now() + 30s;
  for (auto& f : queued) {
    BOOST_REQUIRE_MESSAGE(f.wait_until(deadline) == std::future_status::ready,
                          "a command queued on a fenced partition was never answered");
    const auto a = f.get();
    BOOST_TEST(!a.ok());
    if (!a.ok() && a.err().code == errc::unavailable) ++unavailable;
  }
  BOOST_TEST(unavailable == n);
  BOOST_TEST(!first.ready());
  BOOST_TEST(events_of(log, intake_stream("w-1")).size() == 1u);
  first.stop();
}

BOOST_AUTO_TEST_CASE(a_processor_that_is_not_running_refuses_commands) {
  command_processor processor(log, codec);
  const auto early = submit_and_wait(processor, submit_command("n-1"));
  BOOST_REQUIRE(!early.ok());
  BOOST_TEST((early.err().code == errc::unavailable));
  BOOST_TEST(end_offsets(log) == std::vector<std::int64_t>(partitions, 0),
             boost::test_tools::per_element());
}

BOOST_AUTO_TEST_SUITE_END()
