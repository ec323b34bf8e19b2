// The PostgreSQL adapter of the event log: the conformance suite every adapter passes, then what
// only this adapter promises (dense offsets, crash safety, the partition count check, polling
// when notifications do not come).

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <boost/test/unit_test.hpp>
#include <chrono>
#include <cstdio>
#include <map>
#include <memory>
#include <pqxx/pqxx>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "infra/pg_event_log.hpp"
#include "tests/infra/event_log_conformance.hpp"
#include "tests/support/pg_test_db.hpp"

// The test module's entry point. <boost/test/unit_test.hpp> comes in through the precompiled
// header, before any BOOST_TEST_MODULE in this file could be seen, so it generates no main().
bool init_unit_test() {
  boost::unit_test::framework::master_test_suite().p_name.value = "pg_event_log";
  return true;
}
int main(int argc, char* argv[]) {
  return boost::unit_test::unit_test_main(&init_unit_test, argc, argv);
}

using namespace std::chrono_literals;
using coachd::event_envelope;
using coachd::stored_event;
using coachd::conformance::make_event;
using coachd::conformance::stream_events;
using coachd::conformance::subject_in_partition;

namespace {

/// A fresh database per test case, holding one 4-partition log.
struct pg_log_fixture {
  coachd::test::test_database db;

  /// A new handle onto the same log (as a second process or a restart would open it).
  std::unique_ptr<coachd::event_log> open_log() {
    return std::make_unique<coachd::pg_event_log>(db.conninfo(), 4);
  }
};

/// Reads every partition from 0 up to its current end offset.
std::vector<stored_event> read_everything(coachd::event_log& log) {
  std::size_t total = 0;
  for (int p = 0; p < log.partitions(); ++p) total += static_cast<std::size_t>(log.end_offset(p));
  auto reader = log.open_reader(coachd::conformance::all_partitions_from(0));
  return coachd::conformance::read_exactly(*reader, total);
}

void write_all(int fd, const std::string& text) {
  std::size_t done = 0;
  while (done < text.size()) {
    const auto n = ::write(fd, text.data() + done, text.size() - done);
    if (n <= 0) ::_exit(3);
    done += static_cast<std::size_t>(n);
  }
}

/// The child of the crash test: appends batches to every partition until killed, reporting each
/// acknowledged event as "partition offset id" on `fd`, one write per batch (below PIPE_BUF, so
/// a batch's acknowledgements arrive whole or not at all).
[[noreturn]] void append_until_killed(const std::string& conninfo, int fd) {
  try {
    coachd::pg_event_log log(conninfo, 4);
    std::vector<std::unique_ptr<coachd::partition_writer>> writers;
    for (int p = 0; p < 4; ++p) writers.push_back(log.open_writer(p));
    std::vector<std::int64_t> versions(4, 1);
    for (int round = 0;; ++round) {
      const int p = round % 4;
      const auto batch = stream_events(subject_in_partition(p), 1 + round % 7, versions[p]);
      versions[p] += static_cast<std::int64_t>(batch.size());
      const auto result = writers[p]->append(batch);
      std::string acks;
      for (std::size_t i = 0; i < batch.size(); ++i) {
        acks +=
            std::to_string(p) + " " + std::to_string(result.offsets[i]) + " " + batch[i].id + "\n";
      }
      write_all(fd, acks);
    }
  } catch (const std::exception& e) {
    write_all(fd, std::string("error ") + e.what() + "\n");
    ::_exit(2);
  }
}

struct ack {
  int partition;
  std::int64_t offset;
  std::string id;
};

}  // namespace

BOOST_AUTO_TEST_SUITE(conformance)
COACHD_EVENT_LOG_CONFORMANCE_TESTS(pg_log_fixture)
BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(postgres_only)

BOOST_FIXTURE_TEST_CASE(a_reader_for_some_types_reads_the_others_as_place_and_type_only,
                        pg_log_fixture) {
  auto log = open_log();
  // Each partition: a run of wanted and unwanted types, unwanted ones last in some partitions
  // (the position must still move past them) and first in others.
  std::vector<event_envelope> written;
  for (int p = 0; p < 4; ++p) {
    auto writer = log->open_writer(p);
    std::vector<event_envelope> batch;
    for (int i = 0; i < 7; ++i) {
      auto e = make_event(subject_in_partition(p), i + 1, R"({"i":)" + std::to_string(i) + "}");
      e.type = (i + p) % 3 == 0 ? "Wanted" : (i % 2 == 0 ? "Skipped" : "AlsoWanted");
      batch.push_back(e);
    }
    writer->append(batch);
    written.insert(written.end(), batch.begin(), batch.end());
  }
  const auto whole = read_everything(*log);
  auto reader = log->open_reader_for(coachd::conformance::all_partitions_from(0),
                                     {"Wanted", "AlsoWanted"});
  // Small polls: positions carry over between them, also past runs of skipped events.
  std::vector<stored_event> read;
  for (int i = 0; i < 100 && read.size() < written.size(); ++i) {
    for (auto& e : reader->poll(100ms, 3)) read.push_back(std::move(e));
  }
  BOOST_TEST_REQUIRE(read.size() == whole.size());
  BOOST_TEST(reader->poll(50ms, 10).empty());
  for (int p = 0; p < 4; ++p) BOOST_TEST(reader->position(p) == 7);
  for (int p = 0; p < 4; ++p) {
    const auto mine = coachd::conformance::of_partition(read, p);
    const auto all = coachd::conformance::of_partition(whole, p);
    BOOST_TEST_REQUIRE(mine.size() == all.size());
    for (std::size_t i = 0; i < mine.size(); ++i) {
      BOOST_TEST(mine[i].offset == all[i].offset);
      BOOST_TEST(mine[i].envelope.type == all[i].envelope.type);
      if (all[i].envelope.type == "Skipped") {
        BOOST_TEST(mine[i].envelope.id.empty());
        BOOST_TEST(mine[i].envelope.data.empty());
        BOOST_TEST(mine[i].envelope.subject.empty());
      } else {
        BOOST_TEST(mine[i].envelope.id == all[i].envelope.id);
        BOOST_TEST(mine[i].envelope.data == all[i].envelope.data);
        BOOST_TEST(mine[i].envelope.time == all[i].envelope.time);
        BOOST_TEST(mine[i].envelope.actor == all[i].envelope.actor);
        BOOST_TEST(mine[i].envelope.stream_version == all[i].envelope.stream_version);
        BOOST_TEST(mine[i].envelope.schema_version == all[i].envelope.schema_version);
      }
    }
  }
  // A reader for no type at all still walks every position.
  auto none = log->open_reader_for(coachd::conformance::all_partitions_from(5), {});
  const auto tail = coachd::conformance::read_exactly(*none, 8);
  BOOST_TEST(tail.size() == 8u);
  for (const auto& e : tail) BOOST_TEST(e.envelope.data.empty());
  BOOST_CHECK_THROW(log->open_reader_for({{0, 0}, {0, 1}}, {"Wanted"}), std::invalid_argument);
}

BOOST_FIXTURE_TEST_CASE(acknowledged_appends_survive_sigkill_of_the_writer, pg_log_fixture) {
  open_log().reset();  // tables exist before the child starts; no connection crosses the fork
  int pipe_fds[2];
  BOOST_TEST_REQUIRE(::pipe(pipe_fds) == 0);
  const pid_t child = ::fork();
  BOOST_TEST_REQUIRE(child >= 0);
  if (child == 0) {
    ::close(pipe_fds[0]);
    append_until_killed(db.conninfo(), pipe_fds[1]);
  }
  ::close(pipe_fds[1]);

  // Read acknowledgements; kill the child mid-stream, then take what it wrote before dying.
  std::vector<ack> acks;
  std::string child_error;
  FILE* in = ::fdopen(pipe_fds[0], "r");
  BOOST_TEST_REQUIRE(in != nullptr);
  bool killed = false;
  char line[512];
  while (std::fgets(line, sizeof line, in) != nullptr) {
    std::istringstream fields(line);
    std::string first;
    fields >> first;
    if (first == "error") {
      child_error = line;
      continue;
    }
    ack a{std::stoi(first), 0, {}};
    fields >> a.offset >> a.id;
    acks.push_back(a);
    if (!killed && acks.size() >= 400) {
      ::kill(child, SIGKILL);
      killed = true;
    }
  }
  std::fclose(in);
  int status = 0;
  BOOST_TEST_REQUIRE(::waitpid(child, &status, 0) == child);
  BOOST_TEST_REQUIRE(child_error == std::string());
  BOOST_TEST_REQUIRE(WIFSIGNALED(status));
  BOOST_TEST(WTERMSIG(status) == SIGKILL);
  BOOST_TEST_MESSAGE("acknowledged before SIGKILL: " << acks.size());

  auto log = open_log();
  const auto read = read_everything(*log);
  std::map<std::string, int> copies;
  std::map<std::string, const stored_event*> by_id;
  for (const auto& e : read) {
    ++copies[e.envelope.id];
    by_id[e.envelope.id] = &e;
  }
  for (const auto& [id, n] : copies)
    BOOST_TEST(n == 1, "event " << id << " read " << n << " times");

  // Every acknowledged event is there, where its acknowledgement said.
  for (const auto& a : acks) {
    const auto found = by_id.find(a.id);
    BOOST_TEST_REQUIRE((found != by_id.end()), "acknowledged event " << a.id << " is missing");
    BOOST_TEST(found->second->partition == a.partition);
    BOOST_TEST(found->second->offset == a.offset);
  }

  // Offsets are 0, 1, 2, ... in every partition up to its end; what was committed but not yet
  // acknowledged when the child died is at most the one batch in flight, at a partition's tail.
  std::map<std::string, bool> acked_ids;
  for (const auto& a : acks) acked_ids[a.id] = true;
  std::size_t unacknowledged = 0;
  for (int p = 0; p < 4; ++p) {
    const auto events = coachd::conformance::of_partition(read, p);
    BOOST_TEST(static_cast<std::int64_t>(events.size()) == log->end_offset(p));
    bool in_tail = false;
    for (std::size_t i = 0; i < events.size(); ++i) {
      BOOST_TEST(events[i].offset == static_cast<std::int64_t>(i));
      const bool acked = acked_ids.contains(events[i].envelope.id);
      if (!acked) {
        in_tail = true;
        ++unacknowledged;
      }
      BOOST_TEST(!(in_tail && acked), "acknowledged event after an unacknowledged one");
    }
  }
  BOOST_TEST(unacknowledged <= 7u);
  BOOST_TEST_MESSAGE("committed but not acknowledged when killed: " << unacknowledged);

  // The partitions take new writers and continue without a gap.
  for (int p = 0; p < 4; ++p) {
    const auto end = log->end_offset(p);
    auto writer = log->open_writer(p);
    const auto result = writer->append(stream_events("after-crash-" + std::to_string(p), 1));
    BOOST_TEST(result.offsets.at(0) == end);
  }
}

BOOST_FIXTURE_TEST_CASE(a_different_partition_count_is_refused, pg_log_fixture) {
  open_log().reset();
  BOOST_CHECK_EXCEPTION(coachd::pg_event_log(db.conninfo(), 8), coachd::log_error,
                        [](const coachd::log_error& e) {
                          const std::string what = e.what();
                          BOOST_TEST_MESSAGE("refused: " << what);
                          return what.find("has 4 partitions") != std::string::npos &&
                                 what.find("with 8") != std::string::npos;
                        });
  BOOST_TEST(open_log()->partitions() == 4);
}

BOOST_AUTO_TEST_CASE(an_unreachable_server_is_a_log_error) {
  BOOST_CHECK_EXCEPTION(
      coachd::pg_event_log("host=127.0.0.1 port=1 user=postgres connect_timeout=2", 4),
      coachd::log_error, [](const coachd::log_error& e) {
        BOOST_TEST_MESSAGE("unreachable: " << e.what());
        return std::string(e.what()).find("cannot connect") != std::string::npos;
      });
}

BOOST_FIXTURE_TEST_CASE(bad_partition_numbers_are_rejected, pg_log_fixture) {
  auto log = open_log();
  BOOST_CHECK_THROW(log->open_writer(4), std::invalid_argument);
  BOOST_CHECK_THROW(log->open_writer(-1), std::invalid_argument);
  BOOST_CHECK_THROW(log->end_offset(9), std::invalid_argument);
  BOOST_CHECK_THROW(log->open_reader({{0, 0}, {0, 5}}), std::invalid_argument);
  auto reader = log->open_reader({{1, 0}});
  BOOST_CHECK_THROW(reader->position(2), std::out_of_range);
}

// An append the database rejects (here: an event id that is already in the log) leaves none of
// its events and takes no offsets: the next append continues where the log ended.
BOOST_FIXTURE_TEST_CASE(a_rejected_append_leaves_nothing_and_no_gap, pg_log_fixture) {
  auto log = open_log();
  auto writer = log->open_writer(2);
  const auto subject = subject_in_partition(2);
  const auto first = stream_events(subject, 3, 1);
  writer->append(first);

  auto rejected = stream_events(subject, 3, 4);
  rejected[2].id = first[0].id;
  BOOST_CHECK_EXCEPTION(writer->append(rejected), coachd::log_error,
                        [](const coachd::log_error& e) {
                          BOOST_TEST_MESSAGE("rejected: " << e.what());
                          return std::string(e.what()).find("events_id_key") != std::string::npos;
                        });
  auto with_nul = stream_events(subject, 1, 4);
  with_nul[0].data = std::string("{\"a\":\"x\0y\"}", 11);  // a NUL inside
  BOOST_CHECK_THROW(writer->append(with_nul), std::invalid_argument);
  BOOST_TEST(log->end_offset(2) == 3);

  const auto next = writer->append(stream_events(subject, 2, 4));
  BOOST_TEST(next.offsets == (std::vector<std::int64_t>{3, 4}));
  auto reader = log->open_reader({{2, 0}});
  const auto read = coachd::conformance::read_exactly(*reader, 5);
  BOOST_TEST_REQUIRE(read.size() == 5u);
  for (std::size_t i = 0; i < read.size(); ++i) {
    BOOST_TEST(read[i].offset == static_cast<std::int64_t>(i));
    BOOST_TEST(read[i].envelope.stream_version == static_cast<std::int64_t>(i) + 1);
  }
}

// A reader whose notification never comes (here: an event inserted with plain SQL, no NOTIFY)
// still sees the event by polling when its max_wait runs out.
BOOST_FIXTURE_TEST_CASE(a_reader_polls_when_no_notification_comes, pg_log_fixture) {
  auto log = open_log();
  auto reader = log->open_reader({{0, 0}});
  BOOST_TEST(reader->poll(0ms, 10).empty());

  const auto event = make_event(subject_in_partition(0), 1, R"({"silent":true})");
  std::thread silent_append([&] {
    std::this_thread::sleep_for(300ms);
    pqxx::connection conn(db.conninfo());
    pqxx::work tx(conn);
    const auto next =
        tx.exec1("SELECT next_offset FROM coachd_log.partitions WHERE partition = 0 FOR UPDATE")[0]
            .as<std::int64_t>();
    tx.exec_params(
        "INSERT INTO coachd_log.events (partition, log_offset, id, source, type, specversion,"
        " time, subject, stream_version, command_id, correlation_id, causation_id, actor,"
        " schema_version, data) VALUES (0, $1, $2::uuid, $3, $4, $5, $6, $7, $8, $9, $10, $11,"
        " $12, $13, $14)",
        next, event.id, event.source, event.type, event.specversion, event.time, event.subject,
        event.stream_version, event.command_id, event.correlation_id, event.causation_id,
        event.actor, event.schema_version, event.data);
    tx.exec_params("UPDATE coachd_log.partitions SET next_offset = $1 WHERE partition = 0",
                   next + 1);
    tx.commit();
  });
  const auto start = std::chrono::steady_clock::now();
  const auto events = reader->poll(2500ms, 10);
  const auto took = std::chrono::steady_clock::now() - start;
  silent_append.join();
  BOOST_TEST_REQUIRE(events.size() == 1u);
  BOOST_TEST((events[0].envelope == event));
  BOOST_TEST(events[0].offset == 0);
  // Found by the look at the end of max_wait, not woken early (the insert commits at ~0.3 s).
  BOOST_TEST(took >= 2000ms);
  BOOST_TEST(took < 4500ms);
  BOOST_TEST(reader->position(0) == 1);
}

// Offsets are taken under the partition's row lock and committed in order, so a reader that
// polls while appends commit never sees offset N+1 before N: it reads 0, 1, 2, ... with no hole.
// A reader told what its caller already has (known_up_to, as the shared tail tells its tail
// reader about its own writers' appends) moves past it instead of reading it, and an
// announcement of only that does not make it read the log: it returns at once, empty, so that
// its caller looks where it keeps them. What comes after is read as usual.
BOOST_FIXTURE_TEST_CASE(a_reader_skips_what_its_caller_knows, pg_log_fixture) {
  auto log = open_log();
  auto writer = log->open_writer(1);
  auto reader = log->open_reader(coachd::conformance::all_partitions_from(0));
  BOOST_TEST(reader->poll(0ms, 10).empty());
  const auto subject = subject_in_partition(1);
  const auto known = writer->append(stream_events(subject, 3, 1));
  reader->known_up_to(1, known.offsets.back() + 1);
  // Announced, but all known: back well before the wait runs out, with nothing.
  const auto start = std::chrono::steady_clock::now();
  BOOST_TEST(reader->poll(20s, 10).empty());
  BOOST_TEST((std::chrono::steady_clock::now() - start < 15s));
  BOOST_TEST(reader->position(1) == known.offsets.back() + 1);
  const auto later = writer->append(stream_events(subject, 2, 4));
  std::vector<stored_event> read;
  for (int i = 0; i < 50 && read.size() < 2; ++i) {
    for (auto& e : reader->poll(200ms, 10)) read.push_back(std::move(e));
  }
  BOOST_TEST_REQUIRE(read.size() == 2u);
  BOOST_TEST(read[0].offset == later.offsets[0]);
  BOOST_TEST(read[1].offset == later.offsets[1]);
  BOOST_TEST(read[0].envelope.stream_version == 4);
  for (int p : {0, 2, 3}) BOOST_TEST(reader->position(p) == 0);
}

BOOST_FIXTURE_TEST_CASE(a_tailing_reader_never_sees_a_gap, pg_log_fixture) {
  auto log = open_log();
  constexpr int batches = 300;
  std::string failure;
  std::thread appender([&] {
    try {
      auto writer = log->open_writer(1);
      for (int b = 0; b < batches; ++b) {
        writer->append(stream_events(subject_in_partition(1), 1 + b % 3, 1));
      }
    } catch (const std::exception& e) {
      failure = e.what();
    }
  });
  std::int64_t total = 0;
  for (int b = 0; b < batches; ++b) total += 1 + b % 3;
  std::int64_t expected = 0;
  auto reader = log->open_reader({{1, 0}});
  const auto deadline = std::chrono::steady_clock::now() + 60s;
  while (expected < total && std::chrono::steady_clock::now() < deadline) {
    for (const auto& e : reader->poll(100ms, 7)) {
      BOOST_TEST_REQUIRE(e.offset == expected);
      ++expected;
    }
  }
  appender.join();
  BOOST_TEST_REQUIRE(failure == std::string());
  BOOST_TEST(expected == total);
}

// The writers' batches are committed together, one statement for every partition with a batch
// waiting. A batch at fault (an event id already in the log) or a fenced writer's batch fails
// alone: the other batches of the same statement land. The appender's statements are held on
// partition row locks first (0, and 1 if there is a second statement in flight), so that the
// batches after them queue up and go in one statement.
BOOST_FIXTURE_TEST_CASE(a_batch_that_fails_fails_alone_among_batches_committed_together, pg_log_fixture) {
  coachd::pg_event_log log(db.conninfo(), 8);
  const auto subject = [](int p) { return "group-" + std::to_string(p); };
  std::vector<std::unique_ptr<coachd::partition_writer>> w;
  for (int p = 0; p < 6; ++p) w.push_back(log.open_writer(p));
  auto fenced = std::move(w[4]);
  w[4] = log.open_writer(4);  // fences `fenced`
  const auto first = stream_events(subject(2), 3, 1);
  w[2]->append(first);

  pqxx::connection holder(db.conninfo());
  pqxx::work hold(holder);
  hold.exec("SELECT 1 FROM coachd_log.partitions WHERE partition IN (0, 1) FOR UPDATE");

  std::vector<std::string> failures(6);
  std::vector<coachd::append_result> results(6);
  std::vector<std::thread> threads;
  const auto append = [&](int slot, coachd::partition_writer& writer, std::vector<event_envelope> batch) {
    threads.emplace_back([&failures, &results, slot, to = &writer, batch = std::move(batch)] {
      try {
        results[slot] = to->append(batch);
      } catch (const coachd::fenced_error& e) {
        failures[slot] = std::string("fenced: ") + e.what();
      } catch (const std::exception& e) {
        failures[slot] = e.what();
      }
    });
  };
  pqxx::connection watcher(db.conninfo());
  const auto wait_for_blocked_append = [&] {
    for (int tries = 0; tries < 12000; ++tries) {  // (a guard against hanging, not a timing)
      pqxx::nontransaction look(watcher);
      if (look.exec("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
                    " AND wait_event_type = 'Lock' AND query LIKE 'WITH owner AS MATERIALIZED%'")[0][0]
              .as<int>() > 0) {
        return;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    BOOST_FAIL("the append never waited for the row lock");
  };
  append(0, *w[0], stream_events(subject(0), 2, 1));
  wait_for_blocked_append();
  append(1, *w[1], stream_events(subject(1), 1, 1));  // (a second appender statement would wait on row 1)
  auto duplicate = stream_events(subject(2), 2, 4);
  duplicate[1].id = first[0].id;
  append(2, *w[2], std::move(duplicate));
  append(3, *w[3], stream_events(subject(3), 4, 1));
  append(4, *fenced, stream_events(subject(4), 1, 1));
  append(5, *w[5], stream_events(subject(5), 2, 1));
  std::this_thread::sleep_for(std::chrono::milliseconds(300));  // (the outcome is the same if one is late)
  hold.commit();
  for (auto& t : threads) t.join();

  BOOST_TEST(failures[0] == std::string());
  BOOST_TEST(results[0].offsets == (std::vector<std::int64_t>{0, 1}));
  BOOST_TEST(failures[1] == std::string());
  BOOST_TEST(results[1].offsets == (std::vector<std::int64_t>{0}));
  BOOST_TEST(failures[2].find("events_id_key") != std::string::npos, failures[2]);
  BOOST_TEST(failures[3] == std::string());
  BOOST_TEST(results[3].offsets == (std::vector<std::int64_t>{0, 1, 2, 3}));
  BOOST_TEST(failures[4].find("fenced: ") == 0u, failures[4]);
  BOOST_TEST(failures[5] == std::string());
  BOOST_TEST(results[5].offsets == (std::vector<std::int64_t>{0, 1}));
  const std::vector<std::int64_t> ends{2, 1, 3, 4, 0, 2, 0, 0};
  for (int p = 0; p < 8; ++p) BOOST_TEST(log.end_offset(p) == ends[p], "partition " << p);
  // The partitions go on without a gap, the one whose batch failed too.
  BOOST_TEST(w[2]->append(stream_events(subject(2), 1, 4)).offsets.at(0) == 3);
  BOOST_TEST(w[4]->append(stream_events(subject(4), 1, 1)).offsets.at(0) == 0);
}

// One joint append (the command processor's, every partition's batch in one call): a batch
// PostgreSQL refuses, and one that cannot be sent at all, fail alone; the others land.
BOOST_FIXTURE_TEST_CASE(a_joint_append_lands_the_batches_it_can, pg_log_fixture) {
  auto log = open_log();
  BOOST_TEST(log->appends_together());
  std::vector<std::unique_ptr<coachd::partition_writer>> w;
  for (int p = 0; p < 4; ++p) w.push_back(log->open_writer(p));
  const auto first = stream_events(subject_in_partition(0), 2, 1);
  w[0]->append(first);

  auto duplicate = stream_events(subject_in_partition(0), 2, 3);
  duplicate[1].id = first[0].id;
  auto with_nul = stream_events(subject_in_partition(1), 1, 1);
  with_nul[0].data = std::string("{\"a\":\"x\0y\"}", 11);
  const auto good2 = stream_events(subject_in_partition(2), 3, 1);
  const auto good3 = stream_events(subject_in_partition(3), 1, 1);
  std::vector<coachd::joint_append> joint{{w[0].get(), duplicate, {}, nullptr},
                                          {w[1].get(), with_nul, {}, nullptr},
                                          {w[2].get(), good2, {}, nullptr},
                                          {w[3].get(), good3, {}, nullptr}};
  log->append_together(joint);

  BOOST_TEST_REQUIRE(static_cast<bool>(joint[0].error));
  BOOST_CHECK_EXCEPTION(std::rethrow_exception(joint[0].error), coachd::log_error, [](const coachd::log_error& e) {
    return std::string(e.what()).find("events_id_key") != std::string::npos;
  });
  BOOST_TEST_REQUIRE(static_cast<bool>(joint[1].error));
  BOOST_CHECK_THROW(std::rethrow_exception(joint[1].error), std::invalid_argument);
  BOOST_TEST(!joint[2].error);
  BOOST_TEST(joint[2].result.offsets == (std::vector<std::int64_t>{0, 1, 2}));
  BOOST_TEST(!joint[3].error);
  BOOST_TEST(joint[3].result.offsets == (std::vector<std::int64_t>{0}));
  const std::vector<std::int64_t> ends{2, 0, 3, 1};
  for (int p = 0; p < 4; ++p) BOOST_TEST(log->end_offset(p) == ends[static_cast<std::size_t>(p)], "partition " << p);
  // The partitions whose batch failed go on without a gap.
  BOOST_TEST(w[0]->append(stream_events(subject_in_partition(0), 1, 3)).offsets.at(0) == 2);
  BOOST_TEST(w[1]->append(stream_events(subject_in_partition(1), 1, 1)).offsets.at(0) == 0);
}

// Not a pass/fail benchmark: prints what a batch of 100 events costs on this machine.
BOOST_FIXTURE_TEST_CASE(batch_append_rate, pg_log_fixture) {
  auto log = open_log();
  constexpr int batches = 50;
  constexpr int batch_size = 100;
  std::vector<std::vector<event_envelope>> prepared;
  for (int b = 0; b < batches; ++b) {
    prepared.push_back(stream_events(subject_in_partition(0), batch_size, 1));
  }
  {
    auto writer = log->open_writer(0);
    const auto start = std::chrono::steady_clock::now();
    for (const auto& batch : prepared) writer->append(batch);
    const std::chrono::duration<double> took = std::chrono::steady_clock::now() - start;
    BOOST_TEST_MESSAGE("one partition: " << batches << " appends of " << batch_size << " events in "
                                         << took.count() << " s = "
                                         << batches * batch_size / took.count() << " events/s, "
                                         << 1000 * took.count() / batches << " ms per append");
  }
  {
    std::vector<std::vector<std::vector<event_envelope>>> per_partition(4);
    for (int p = 0; p < 4; ++p) {
      for (int b = 0; b < batches; ++b) {
        per_partition[p].push_back(stream_events(subject_in_partition(p), batch_size, 1));
      }
    }
    std::vector<std::string> failures(4);
    std::vector<std::thread> threads;
    const auto start = std::chrono::steady_clock::now();
    for (int p = 0; p < 4; ++p) {
      threads.emplace_back([&, p] {
        try {
          auto writer = log->open_writer(p);
          for (const auto& batch : per_partition[p]) writer->append(batch);
        } catch (const std::exception& e) {
          failures[p] = e.what();
        }
      });
    }
    for (auto& t : threads) t.join();
    const std::chrono::duration<double> took = std::chrono::steady_clock::now() - start;
    for (const auto& failure : failures) BOOST_TEST_REQUIRE(failure == std::string());
    BOOST_TEST_MESSAGE("four partitions at once: " << 4 * batches * batch_size / took.count()
                                                   << " events/s in total");
  }
  BOOST_TEST(log->end_offset(0) == 2 * batches * batch_size);
}

BOOST_AUTO_TEST_SUITE_END()
