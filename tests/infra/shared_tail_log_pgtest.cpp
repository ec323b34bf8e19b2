// The shared-tail decorator of the event log (infra/shared_tail_log.hpp) over the PostgreSQL
// log: the whole conformance suite (with a window small enough that readers fall behind it and
// rejoin), then what it is for: many readers following the tail get every event once, in
// order, from far fewer reads of the log than they make; and a projector's reader, which gets only
// its types whole.

#define BOOST_TEST_MODULE shared_tail_log
#include <boost/test/unit_test.hpp>
#include <algorithm>
#include <atomic>
#include <map>
#include <memory>
#include <mutex>
#include <thread>

#include "infra/pg_event_log.hpp"
#include "infra/shared_tail_log.hpp"
#include "tests/infra/event_log_conformance.hpp"
#include "tests/support/pg_test_db.hpp"

using namespace std::chrono_literals;
using coachd::conformance::stream_events;
using coachd::conformance::subject_in_partition;
using coachd::stored_event;

namespace {

struct shared_tail_fixture {
  coachd::test::test_database db;

  std::unique_ptr<coachd::event_log> open_log() {
    coachd::shared_tail_options options;
    options.window_events = 8;  // small: readers fall behind the window and read on their own
    options.fetch_events = 5;
    return std::make_unique<coachd::shared_tail_log>(std::make_unique<coachd::pg_event_log>(db.conninfo(), 4),
                                                     options);
  }
};

}  // namespace

BOOST_AUTO_TEST_SUITE(conformance)
COACHD_EVENT_LOG_CONFORMANCE_TESTS(shared_tail_fixture)
BOOST_AUTO_TEST_SUITE_END()

BOOST_FIXTURE_TEST_CASE(readers_following_the_tail_share_the_reads_and_miss_nothing, shared_tail_fixture) {
  constexpr int readers = 6;
  constexpr int rounds = 60;
  coachd::pg_event_log inner(db.conninfo(), 4);
  coachd::shared_tail_log log(inner);
  // Two readers start behind (at 0, with events already there), the others at the end.
  std::vector<std::unique_ptr<coachd::partition_writer>> writers;
  for (int p = 0; p < 4; ++p) writers.push_back(log.open_writer(p));
  std::vector<std::int64_t> versions(4, 1);
  auto append_round = [&](int round) {
    if (round % 5 == 4) {  // every partition at once, as the command processor appends
      std::vector<std::vector<coachd::event_envelope>> batches;
      std::vector<coachd::joint_append> joint;
      std::size_t n = 0;
      for (int p = 0; p < 4; ++p) {
        batches.push_back(stream_events(subject_in_partition(p), 1 + (round + p) % 3, versions[p]));
        versions[p] += static_cast<std::int64_t>(batches.back().size());
        n += batches.back().size();
      }
      for (int p = 0; p < 4; ++p) joint.push_back({writers[static_cast<std::size_t>(p)].get(), batches[static_cast<std::size_t>(p)], {}, nullptr});
      log.append_together(joint);
      for (const auto& j : joint) BOOST_TEST_REQUIRE(!j.error);
      return n;
    }
    const int p = round % 4;
    const auto batch = stream_events(subject_in_partition(p), 1 + round % 3, versions[p]);
    versions[p] += static_cast<std::int64_t>(batch.size());
    writers[static_cast<std::size_t>(p)]->append(batch);
    return batch.size();
  };
  std::atomic<std::size_t> total{0};  // read by the reader threads
  for (int round = 0; round < 8; ++round) total += append_round(round);
  const std::size_t before = total;

  std::vector<std::unique_ptr<coachd::log_reader>> opened;
  for (int r = 0; r < readers; ++r) {
    std::vector<coachd::partition_start> from;
    for (int p = 0; p < 4; ++p) from.push_back({p, r < 2 ? 0 : log.end_offset(p)});
    opened.push_back(log.open_reader(from));
  }
  std::vector<std::map<int, std::vector<std::int64_t>>> seen(readers);
  std::atomic<bool> done{false};
  std::vector<std::thread> threads;
  for (int r = 0; r < readers; ++r) {
    threads.emplace_back([&, r] {
      const auto deadline = std::chrono::steady_clock::now() + 120s;
      while (std::chrono::steady_clock::now() < deadline) {
        for (auto& e : opened[static_cast<std::size_t>(r)]->poll(50ms, 7)) seen[r][e.partition].push_back(e.offset);
        std::size_t have = 0;
        for (auto& [p, offsets] : seen[r]) have += offsets.size();
        if (done && have >= total - (r < 2 ? 0 : before)) return;
      }
    });
  }
  for (int round = 8; round < rounds; ++round) {
    total += append_round(round);
    std::this_thread::sleep_for(2ms);
  }
  done = true;
  for (auto& t : threads) t.join();

  for (int r = 0; r < readers; ++r) {
    std::size_t have = 0;
    for (int p = 0; p < 4; ++p) {
      const auto& offsets = seen[r][p];
      have += offsets.size();
      // Dense (the PostgreSQL log's offsets are), ascending, no repeats, up to the end.
      const std::int64_t first = r < 2 ? 0 : offsets.empty() ? log.end_offset(p) : offsets.front();
      for (std::size_t i = 0; i < offsets.size(); ++i) {
        BOOST_TEST(offsets[i] == first + static_cast<std::int64_t>(i), "reader " << r << " partition " << p);
      }
      BOOST_TEST(opened[static_cast<std::size_t>(r)]->position(p) == log.end_offset(p));
    }
    BOOST_TEST(have == (r < 2 ? total.load() : total.load() - before), "reader " << r);
  }
  const auto stats = log.stats();
  BOOST_TEST_MESSAGE("tail fetches " << stats.tail_fetches << ", served " << stats.served_events << ", own polls "
                                     << stats.own_polls << ", written " << stats.written_events);
  BOOST_TEST(stats.served_events > 0u);
  // One read of the log serves every reader waiting on the tail.
  BOOST_TEST(stats.tail_fetches < stats.served_events);
  // The appends through this log's writers went into the window as they were made (once the
  // window had started).
  BOOST_TEST(stats.written_events > 0u);
}

// A projector's reader (open_reader_for) gets events of its types whole and the others as their
// place and type only, from the window and from the log alike, while a plain reader sharing the
// same window still gets every event whole.
BOOST_FIXTURE_TEST_CASE(a_reader_for_some_types_gets_the_others_as_place_and_type_only, shared_tail_fixture) {
  using coachd::conformance::make_event;
  coachd::shared_tail_options options;
  options.window_events = 8;  // the reader that starts at 0 is behind it, then joins it
  options.fetch_events = 5;
  coachd::pg_event_log inner(db.conninfo(), 4);
  coachd::shared_tail_log log(inner, options);
  std::vector<std::unique_ptr<coachd::partition_writer>> writers;
  for (int p = 0; p < 4; ++p) writers.push_back(log.open_writer(p));
  std::vector<std::int64_t> versions(4, 0);
  std::map<std::pair<int, std::int64_t>, coachd::event_envelope> written;  // by place
  auto append = [&](int p, int n) {
    std::vector<coachd::event_envelope> batch;
    for (int i = 0; i < n; ++i) {
      auto e = make_event(subject_in_partition(p), ++versions[p], R"({"i":)" + std::to_string(i) + "}");
      // Skipped ones last in some batches (the position must still move past them).
      e.type = (i + p) % 3 == 0 ? "Wanted" : (i % 2 == 0 ? "Skipped" : "AlsoWanted");
      batch.push_back(e);
    }
    const auto appended = writers[static_cast<std::size_t>(p)]->append(batch);
    for (std::size_t i = 0; i < batch.size(); ++i) written[{p, appended.offsets[i]}] = batch[i];
  };
  for (int p = 0; p < 4; ++p) append(p, 12);  // more than the window holds

  std::vector<coachd::partition_start> ends;
  for (int p = 0; p < 4; ++p) ends.push_back({p, log.end_offset(p)});
  auto behind = log.open_reader_for(coachd::conformance::all_partitions_from(0), {"Wanted", "AlsoWanted"});
  auto tailing = log.open_reader_for(ends, {"Wanted"});
  auto plain = log.open_reader(ends);
  // Their first polls open the window at the log's ends: what comes next is served from it.
  BOOST_TEST(tailing->poll(10ms, 10).empty());
  BOOST_TEST(plain->poll(10ms, 10).empty());
  for (int round = 0; round < 6; ++round) append(round % 4, 1 + round % 5);

  auto drain = [&](coachd::log_reader& reader, std::size_t expected) {
    std::vector<stored_event> read;
    for (int i = 0; i < 200 && read.size() < expected; ++i) {
      for (auto& e : reader.poll(100ms, 3)) read.push_back(std::move(e));
    }
    BOOST_TEST(reader.poll(20ms, 10).empty());
    for (int p = 0; p < 4; ++p) BOOST_TEST(reader.position(p) == log.end_offset(p));
    return read;
  };
  auto check = [&](const std::vector<stored_event>& read, const std::vector<std::string>& types) {
    std::map<int, std::int64_t> last;
    for (const auto& e : read) {
      const auto it = written.find({e.partition, e.offset});
      BOOST_TEST_REQUIRE((it != written.end()), "partition " << e.partition << " offset " << e.offset);
      const auto& w = it->second;
      BOOST_TEST(e.envelope.type == w.type);
      if (last.count(e.partition) > 0) BOOST_TEST(e.offset > last[e.partition]);
      last[e.partition] = e.offset;
      const bool whole = types.empty() || std::find(types.begin(), types.end(), w.type) != types.end();
      if (whole) {
        BOOST_TEST(e.envelope.id == w.id);
        BOOST_TEST(e.envelope.subject == w.subject);
        BOOST_TEST(e.envelope.data == w.data);
        BOOST_TEST(e.envelope.stream_version == w.stream_version);
      } else {
        BOOST_TEST(e.envelope.id.empty());
        BOOST_TEST(e.envelope.subject.empty());
        BOOST_TEST(e.envelope.data.empty());
      }
    }
  };
  std::size_t after_ends = 0;
  for (const auto& [place, _] : written) {
    if (place.second >= ends[static_cast<std::size_t>(place.first)].offset) ++after_ends;
  }
  const auto from_behind = drain(*behind, written.size());
  BOOST_TEST(from_behind.size() == written.size());
  check(from_behind, {"Wanted", "AlsoWanted"});
  const auto from_tail = drain(*tailing, after_ends);
  BOOST_TEST(from_tail.size() == after_ends);
  check(from_tail, {"Wanted"});
  const auto whole = drain(*plain, after_ends);
  BOOST_TEST(whole.size() == after_ends);
  check(whole, {});
  BOOST_TEST(log.stats().own_polls > 0u);  // the reader behind read the log itself at first
  BOOST_TEST(log.stats().served_events > 0u);
}

// A projector following the tail (open_reader_wanting) is handed only events of its types. While
// it waits, a fetch made by another reader that brings none of them does not wake it: that
// reader moves it past them and tells its listener, so its position (what read-your-writes waits
// and checkpoints follow) keeps up. A fetch with one of its events wakes it.
BOOST_FIXTURE_TEST_CASE(a_reader_wanting_some_types_sleeps_through_the_others, shared_tail_fixture) {
  using coachd::conformance::make_event;
  coachd::pg_event_log inner(db.conninfo(), 4);
  coachd::shared_tail_log log(inner);
  std::vector<std::unique_ptr<coachd::partition_writer>> writers;
  for (int p = 0; p < 4; ++p) writers.push_back(log.open_writer(p));
  std::vector<std::int64_t> versions(4, 0);
  auto append = [&](int p, const std::vector<std::string>& types) {
    std::vector<coachd::event_envelope> batch;
    for (const auto& type : types) {
      auto e = make_event(subject_in_partition(p), ++versions[p], R"({"n":1})");
      e.type = type;
      batch.push_back(e);
    }
    return writers[static_cast<std::size_t>(p)]->append(batch);
  };
  append(0, {"Wanted", "Other"});  // before the readers: not theirs to read

  std::vector<coachd::partition_start> ends;
  for (int p = 0; p < 4; ++p) ends.push_back({p, log.end_offset(p)});
  struct move {
    int partition;
    std::int64_t from, to;
  };
  std::mutex moves_mutex;
  std::vector<move> moves;
  auto wanting = log.open_reader_wanting(ends, {"Wanted"}, [&](int p, std::int64_t from, std::int64_t to) {
    std::lock_guard lock(moves_mutex);
    moves.push_back({p, from, to});
  });
  auto plain = log.open_reader(ends);

  // The plain reader fetches (it waits on the log for new events); then the wanting one waits
  // for that fetch.
  std::atomic<bool> stop{false};
  std::vector<stored_event> plain_read;
  std::mutex plain_mutex;
  std::thread fetcher([&] {
    while (!stop) {
      auto got = plain->poll(200ms, 100);
      std::lock_guard lock(plain_mutex);
      for (auto& e : got) plain_read.push_back(std::move(e));
    }
  });
  std::this_thread::sleep_for(100ms);
  std::vector<stored_event> wanted_read;
  std::thread sleeper([&] {
    const auto deadline = std::chrono::steady_clock::now() + 60s;
    while (wanted_read.empty() && std::chrono::steady_clock::now() < deadline) {
      for (auto& e : wanting->poll(30s, 100)) wanted_read.push_back(std::move(e));
    }
  });
  std::this_thread::sleep_for(100ms);

  const auto others_1 = append(1, {"Other", "Other", "Other"});
  const auto others_2 = append(2, {"Other"});
  // Moved past them while it waits: by the reader that fetched them, not on its own thread.
  const auto deadline = std::chrono::steady_clock::now() + 60s;
  auto moved_to = [&](int p) {
    std::lock_guard lock(moves_mutex);
    std::int64_t to = -1;
    for (const auto& m : moves) {
      if (m.partition == p) to = std::max(to, m.to);
    }
    return to;
  };
  while ((moved_to(1) != log.end_offset(1) || moved_to(2) != log.end_offset(2)) &&
         std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(10ms);
  }
  BOOST_TEST(moved_to(1) == log.end_offset(1));
  BOOST_TEST(moved_to(2) == log.end_offset(2));
  {
    std::lock_guard lock(moves_mutex);
    for (const auto& m : moves) {
      BOOST_TEST(m.from < m.to);
      BOOST_TEST((m.from == ends[static_cast<std::size_t>(m.partition)].offset));  // one move, from its start
    }
  }
  // Moved while it waited (by the plain reader's fetch, or by its own when it took the fetching
  // over), and nothing handed out.
  BOOST_TEST(wanted_read.empty());

  const auto wanted = append(3, {"Other", "Wanted", "Other"});
  sleeper.join();
  BOOST_TEST_REQUIRE(wanted_read.size() == 1u);
  BOOST_TEST(wanted_read[0].partition == 3);
  BOOST_TEST(wanted_read[0].offset == wanted.offsets[1]);
  BOOST_TEST(wanted_read[0].envelope.type == "Wanted");
  BOOST_TEST(!wanted_read[0].envelope.data.empty());  // whole
  // Its positions: past everything in 1 and 2; in 3, past the event it read (the one after it
  // is not its own either: moved past it by the same take, or with the next poll).
  BOOST_TEST(wanting->position(1) == log.end_offset(1));
  BOOST_TEST(wanting->position(2) == log.end_offset(2));
  BOOST_TEST(wanting->position(3) >= wanted.offsets[1] + 1);
  BOOST_TEST(wanting->poll(50ms, 100).empty());
  BOOST_TEST(wanting->position(3) == log.end_offset(3));
  BOOST_TEST(wanting->position(0) == ends[0].offset);

  // The plain reader sharing the window got every event whole.
  const std::size_t all = others_1.offsets.size() + others_2.offsets.size() + wanted.offsets.size();
  auto plain_count = [&] {
    std::lock_guard lock(plain_mutex);
    return plain_read.size();
  };
  while (plain_count() < all && std::chrono::steady_clock::now() < deadline) std::this_thread::sleep_for(10ms);
  stop = true;
  fetcher.join();
  BOOST_TEST(plain_read.size() == all);
}
