#pragma once
/// The conformance suite of the event_log port: the behaviour every adapter (PostgreSQL, Kafka)
/// must show. An adapter's test file instantiates it with its own fixture:
///
///   struct my_log_fixture {
///     // default-constructible; each test case gets a fresh, empty log with 4 partitions
///     std::unique_ptr<coachd::event_log> open_log();  // a new handle onto that same log
///   };
///   COACHD_EVENT_LOG_CONFORMANCE_TESTS(my_log_fixture)
///
/// open_log() may be called many times in one test: a second handle stands for a second process
/// or for the same process after a restart.
///
/// Deliberately not tested: that events of an aborted Kafka transaction stay hidden from
/// read_committed readers. librdkafka's mock cluster does not hide them, so no case here
/// depends on it. A fenced writer's batch is checked to be invisible only where the writer was
/// fenced before the batch began (its records are then never written, not written and aborted);
/// where fencing races an append in flight, only the acknowledged events are checked.
///
/// Event ids are lowercase canonical UUIDs (the PostgreSQL adapter stores them as uuid).

#include <sys/random.h>

#include <atomic>
#include <boost/test/unit_test.hpp>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <exception>
#include <map>
#include <memory>
#include <set>
#include <stdexcept>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "events/envelope.hpp"
#include "events/event_log.hpp"
#include "events/partitioning.hpp"

namespace coachd::conformance {

using namespace std::chrono_literals;

/// The partition count every fixture's log has.
inline constexpr int partition_count = 4;

/// A random (version 4) UUID, lowercase and hyphenated.
inline std::string random_uuid() {
  // Straight from the kernel, not from a seeded engine: a forked child (the crash tests) would
  // otherwise repeat its parent's ids.
  unsigned char bytes[16];
  if (::getrandom(bytes, sizeof bytes, 0) != static_cast<ssize_t>(sizeof bytes)) {
    throw std::runtime_error("getrandom failed");
  }
  bytes[6] = static_cast<unsigned char>((bytes[6] & 0x0f) | 0x40);
  bytes[8] = static_cast<unsigned char>((bytes[8] & 0x3f) | 0x80);
  char text[37];
  std::snprintf(text, sizeof text,
                "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", bytes[0],
                bytes[1], bytes[2], bytes[3], bytes[4], bytes[5], bytes[6], bytes[7], bytes[8],
                bytes[9], bytes[10], bytes[11], bytes[12], bytes[13], bytes[14], bytes[15]);
  return text;
}

/// A complete envelope with every attribute set.
inline event_envelope make_event(std::string subject, std::int64_t stream_version,
                                 std::string data = R"({"n":1})") {
  event_envelope e;
  e.id = random_uuid();
  e.source = "/coachd/conformance";
  e.type = "ConformanceChecked";
  e.time = "2026-11-21T09:00:00.123Z";
  e.subject = std::move(subject);
  e.stream_version = stream_version;
  e.command_id = random_uuid();
  e.correlation_id = random_uuid();
  e.causation_id = e.command_id;
  e.actor = "system:conformance";
  e.schema_version = 1;
  e.data = std::move(data);
  return e;
}

/// A stream id that partition_for maps to `partition` (the `n`-th such id for `prefix`).
inline std::string subject_in_partition(int partition, int n = 0,
                                        const std::string& prefix = "stream-") {
  for (int i = 0;; ++i) {
    std::string subject = prefix + std::to_string(i);
    if (partition_for(subject, partition_count) == partition && n-- == 0) return subject;
  }
}

/// Every partition from `offset`.
inline std::vector<partition_start> all_partitions_from(std::int64_t offset = 0) {
  std::vector<partition_start> from;
  for (int p = 0; p < partition_count; ++p) from.push_back({p, offset});
  return from;
}

/// Polls until at least `count` events arrived or `timeout` passed; returns what arrived.
inline std::vector<stored_event> read_at_least(log_reader& reader, std::size_t count,
                                               std::chrono::milliseconds timeout = 20s) {
  std::vector<stored_event> events;
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (events.size() < count && std::chrono::steady_clock::now() < deadline) {
    for (auto& e : reader.poll(200ms, 1000)) events.push_back(std::move(e));
  }
  return events;
}

/// Reads `count` events and then listens a little longer, so that the result also shows any
/// event that should not be there (callers compare its size with `count`).
inline std::vector<stored_event> read_exactly(log_reader& reader, std::size_t count) {
  auto events = read_at_least(reader, count);
  for (auto& e : reader.poll(500ms, 1000)) events.push_back(std::move(e));
  return events;
}

/// The events of one partition, in the order read.
inline std::vector<stored_event> of_partition(const std::vector<stored_event>& events,
                                              int partition) {
  std::vector<stored_event> out;
  for (const auto& e : events) {
    if (e.partition == partition) out.push_back(e);
  }
  return out;
}

/// Appends a batch, checking the result's shape; returns one stored_event per envelope.
inline std::vector<stored_event> append_checked(partition_writer& writer,
                                                const std::vector<event_envelope>& batch) {
  const append_result result = writer.append(batch);
  BOOST_TEST_REQUIRE(result.partition == writer.partition());
  BOOST_TEST_REQUIRE(result.offsets.size() == batch.size());
  std::vector<stored_event> stored;
  for (std::size_t i = 0; i < batch.size(); ++i) {
    stored.push_back({result.partition, result.offsets[i], batch[i]});
  }
  return stored;
}

/// `n` events of one stream.
inline std::vector<event_envelope> stream_events(const std::string& subject, int n,
                                                 std::int64_t first_version = 1) {
  std::vector<event_envelope> batch;
  for (int i = 0; i < n; ++i) batch.push_back(make_event(subject, first_version + i));
  return batch;
}

/// Checks that `read` is exactly `expected` (partition, offset and full envelope), in order.
inline void check_same_events(const std::vector<stored_event>& read,
                              const std::vector<stored_event>& expected) {
  BOOST_TEST_REQUIRE(read.size() == expected.size());
  for (std::size_t i = 0; i < read.size(); ++i) {
    BOOST_TEST_CONTEXT("event " << i << " (" << expected[i].envelope.id << ")") {
      BOOST_TEST(read[i].partition == expected[i].partition);
      BOOST_TEST(read[i].offset == expected[i].offset);
      BOOST_TEST(read[i].envelope.id == expected[i].envelope.id);
      BOOST_TEST((read[i].envelope == expected[i].envelope));
    }
  }
}

// --- the cases --------------------------------------------------------------------------------

/// One writer per partition, each on its own thread, appending batches at the same time: every
/// partition reads back in exactly its append order, with strictly increasing offsets.
template <class Fixture>
void per_partition_order_under_concurrent_writers(Fixture& f) {
  auto log = f.open_log();
  BOOST_TEST_REQUIRE(log->partitions() == partition_count);
  constexpr int batches = 30;
  std::vector<std::vector<stored_event>> appended(partition_count);
  std::vector<std::string> failures(partition_count);
  std::vector<std::thread> threads;
  for (int p = 0; p < partition_count; ++p) {
    threads.emplace_back([&, p] {
      try {
        auto writer = log->open_writer(p);
        std::int64_t version = 1;
        for (int b = 0; b < batches; ++b) {
          // Several streams of the partition interleave; batch sizes vary from 1 to 4.
          std::vector<event_envelope> batch;
          for (int i = 0; i <= b % 4; ++i) {
            batch.push_back(make_event(subject_in_partition(p, i), version++));
          }
          const auto result = writer->append(batch);
          if (result.partition != p || result.offsets.size() != batch.size()) {
            throw std::runtime_error("append returned a malformed result");
          }
          for (std::size_t i = 0; i < batch.size(); ++i) {
            appended[p].push_back({p, result.offsets[i], batch[i]});
          }
        }
      } catch (const std::exception& e) {
        failures[p] = e.what();
      }
    });
  }
  for (auto& t : threads) t.join();
  std::size_t total = 0;
  for (int p = 0; p < partition_count; ++p) {
    BOOST_TEST_INFO("partition " << p);
    BOOST_TEST_REQUIRE(failures[p] == std::string());
    for (std::size_t i = 1; i < appended[p].size(); ++i) {
      BOOST_TEST(appended[p][i].offset > appended[p][i - 1].offset);
    }
    total += appended[p].size();
  }

  auto reader = log->open_reader(all_partitions_from(0));
  const auto read = read_exactly(*reader, total);
  BOOST_TEST_REQUIRE(read.size() == total);
  for (int p = 0; p < partition_count; ++p) {
    BOOST_TEST_CONTEXT("partition " << p) { check_same_events(of_partition(read, p), appended[p]); }
  }
}

/// A batch lands whole, on consecutive offsets in batch order; a batch refused because its
/// writer was fenced leaves none of its events.
template <class Fixture>
void atomic_batch(Fixture& f) {
  auto log = f.open_log();
  auto writer = log->open_writer(1);
  const auto subject = subject_in_partition(1);
  const auto first = append_checked(*writer, stream_events(subject, 10, 1));
  for (std::size_t i = 1; i < first.size(); ++i) {
    BOOST_TEST(first[i].offset == first[i - 1].offset + 1);
  }
  const auto second = append_checked(*writer, stream_events(subject, 3, 11));
  BOOST_TEST(second.front().offset > first.back().offset);

  auto successor = log->open_writer(1);
  const auto refused = stream_events(subject, 5, 14);
  BOOST_CHECK_THROW(writer->append(refused), fenced_error);
  const auto third = append_checked(*successor, stream_events(subject, 1, 14));

  std::vector<stored_event> expected = first;
  expected.insert(expected.end(), second.begin(), second.end());
  expected.insert(expected.end(), third.begin(), third.end());
  auto reader = log->open_reader({{1, 0}});
  const auto read = read_exactly(*reader, expected.size());
  check_same_events(read, expected);
  std::set<std::string> refused_ids;
  for (const auto& e : refused) refused_ids.insert(e.id);
  for (const auto& e : read) BOOST_TEST(!refused_ids.contains(e.envelope.id));
}

/// A reader starts anywhere: in the middle, at 0 (everything), at the end (nothing yet).
template <class Fixture>
void read_from_any_offset(Fixture& f) {
  auto log = f.open_log();
  auto writer = log->open_writer(0);
  const auto subject = subject_in_partition(0);
  std::vector<stored_event> all;
  for (const auto& [size, version] : {std::pair{4, 1}, std::pair{3, 5}, std::pair{3, 8}}) {
    const auto batch = append_checked(*writer, stream_events(subject, size, version));
    all.insert(all.end(), batch.begin(), batch.end());
  }

  {
    auto reader = log->open_reader({{0, all[5].offset}});
    check_same_events(read_exactly(*reader, 5),
                      std::vector<stored_event>(all.begin() + 5, all.end()));
  }
  {
    auto reader = log->open_reader({{0, 0}});
    check_same_events(read_exactly(*reader, all.size()), all);
  }
  {
    const auto end = log->end_offset(0);
    BOOST_TEST(end > all.back().offset);
    auto reader = log->open_reader({{0, end}});
    BOOST_TEST(reader->poll(500ms, 100).empty());
    BOOST_TEST(reader->position(0) == end);
  }
}

/// Opening a second writer on a partition (here from a second handle, as another process would)
/// fences the first: its next append throws fenced_error and leaves nothing, while the new
/// writer appends; the old one stays fenced.
template <class Fixture>
void second_writer_fences_first(Fixture& f) {
  auto log = f.open_log();
  auto other_process = f.open_log();
  const auto subject = subject_in_partition(2);
  auto first = log->open_writer(2);
  const auto before = append_checked(*first, stream_events(subject, 2, 1));

  auto second = other_process->open_writer(2);
  const auto refused = stream_events(subject, 2, 3);
  BOOST_CHECK_THROW(first->append(refused), fenced_error);
  const auto after = append_checked(*second, stream_events(subject, 2, 3));
  BOOST_TEST(after.front().offset > before.back().offset);
  const auto refused_again = stream_events(subject, 1, 5);
  BOOST_CHECK_THROW(first->append(refused_again), fenced_error);
  const auto last = append_checked(*second, stream_events(subject, 1, 5));

  std::vector<stored_event> expected = before;
  expected.insert(expected.end(), after.begin(), after.end());
  expected.insert(expected.end(), last.begin(), last.end());
  auto reader = log->open_reader({{2, 0}});
  check_same_events(read_exactly(*reader, expected.size()), expected);
}

/// Fencing races appends in flight: a writer appends in a loop on its own thread while a second
/// writer takes the partition. The first must end with fenced_error (never both keep writing);
/// everything either acknowledged is present, and the first's acknowledged events all precede
/// the second's. (A batch in flight at the moment of fencing may be aborted rather than never
/// written; it is not checked, see the top of this file.)
template <class Fixture>
void fencing_races_appends_in_flight(Fixture& f) {
  auto log = f.open_log();
  auto other_process = f.open_log();
  const auto subject = subject_in_partition(3);
  auto first = log->open_writer(3);
  std::vector<stored_event> first_acked;
  std::atomic<int> first_appends{0};
  std::atomic<bool> first_done{false};
  std::string first_ended;  // how the first writer's loop ended
  std::thread loop([&] {
    try {
      const auto deadline = std::chrono::steady_clock::now() + 30s;
      for (std::int64_t version = 1; std::chrono::steady_clock::now() < deadline;) {
        auto batch = stream_events(subject, 2, version);
        const auto result = first->append(batch);
        for (std::size_t i = 0; i < batch.size(); ++i) {
          first_acked.push_back({3, result.offsets.at(i), batch[i]});
        }
        version += 2;
        ++first_appends;
      }
      first_ended = "still writing after 30 s";
    } catch (const fenced_error&) {
      first_ended = "fenced";
    } catch (const std::exception& e) {
      first_ended = std::string("unexpected error: ") + e.what();
    }
    first_done = true;
  });
  while (first_appends < 5 && !first_done) std::this_thread::sleep_for(1ms);
  std::vector<stored_event> second_acked;
  std::string second_failure;
  try {
    auto second = other_process->open_writer(3);
    for (int b = 0; b < 5; ++b) {
      const auto batch = append_checked(*second, stream_events("fencing-" + subject, 2, 2 * b + 1));
      second_acked.insert(second_acked.end(), batch.begin(), batch.end());
    }
  } catch (const std::exception& e) {
    second_failure = e.what();
  }
  loop.join();
  BOOST_TEST(first_ended == "fenced");
  BOOST_TEST_REQUIRE(second_failure == std::string());
  BOOST_TEST_REQUIRE(!first_acked.empty());
  BOOST_TEST(first_acked.back().offset < second_acked.front().offset);

  std::vector<stored_event> expected = first_acked;
  expected.insert(expected.end(), second_acked.begin(), second_acked.end());
  auto reader = log->open_reader({{3, 0}});
  const auto read = read_at_least(*reader, expected.size());
  std::map<std::string, stored_event> by_id;
  for (const auto& e : read) by_id.emplace(e.envelope.id, e);
  for (const auto& e : expected) {
    BOOST_TEST_CONTEXT("acknowledged event " << e.envelope.id) {
      const auto found = by_id.find(e.envelope.id);
      BOOST_TEST_REQUIRE((found != by_id.end()));
      BOOST_TEST(found->second.offset == e.offset);
      BOOST_TEST((found->second.envelope == e.envelope));
    }
  }
}

/// Everything acknowledged survives closing every handle and opening the log again, attribute
/// for attribute and byte for byte (unicode, quotes, backslashes, array-literal syntax, blanks).
template <class Fixture>
void reopen_after_close_keeps_acknowledged_appends(Fixture& f) {
  const std::vector<std::string> payloads = {
      R"({"note":"café – naïve – 日本語 – 😀"})",
      R"({"quote":"she said \"hi\"","backslash":"C:\\path\\","newline":"a\nb"})",
      R"( { "spaced" : [ 1 , 2 ] , "nested" : { "x" : null } } )",
      R"({"tricky":"},{\",NULL,\"{}","comma":",","brace":"}"})",
      "{}",
      R"({"text":"'single' \u0000 escaped nul, tab\there"})",
  };
  std::vector<stored_event> acked;
  {
    auto log = f.open_log();
    std::vector<std::unique_ptr<partition_writer>> writers;
    for (int p = 0; p < partition_count; ++p) writers.push_back(log->open_writer(p));
    for (int s = 0; s < 8; ++s) {
      const std::string subject = "client-" + random_uuid();
      std::vector<event_envelope> batch;
      for (std::size_t i = 0; i < payloads.size(); ++i) {
        auto e = make_event(subject, static_cast<std::int64_t>(i) + 1, payloads[i]);
        e.time = "2026-03-29T01:" + std::to_string(10 + s) + ":00.00" + std::to_string(i) + "Z";
        e.schema_version = static_cast<int>(i % 3) + 1;
        if (i == 0) e.causation_id.clear();  // the first event of a flow has no cause
        if (i == 1) e.actor = "NULL";        // a value that looks like SQL NULL
        if (i == 2) e.source = "/coachd/intake?x=\"{a,b}\"";
        batch.push_back(std::move(e));
      }
      auto& writer = *writers[partition_for(subject, partition_count)];
      const auto stored = append_checked(writer, batch);
      acked.insert(acked.end(), stored.begin(), stored.end());
    }
  }  // every handle closed

  auto log = f.open_log();
  auto reader = log->open_reader(all_partitions_from(0));
  const auto read = read_exactly(*reader, acked.size());
  BOOST_TEST_REQUIRE(read.size() == acked.size());
  std::map<std::pair<int, std::int64_t>, event_envelope> by_position;
  for (const auto& e : read) by_position.emplace(std::pair{e.partition, e.offset}, e.envelope);
  for (const auto& e : acked) {
    BOOST_TEST_CONTEXT("event " << e.envelope.id << " at " << e.partition << "/" << e.offset) {
      const auto found = by_position.find({e.partition, e.offset});
      BOOST_TEST_REQUIRE((found != by_position.end()));
      BOOST_TEST(found->second.data == e.envelope.data);
      BOOST_TEST((found->second == e.envelope));
    }
  }
}

/// Kafka's murmur2 (known vectors from Kafka's UtilsTest) decides the partition of a stream, and
/// the log keeps every event of a stream in that partition, through any handle.
template <class Fixture>
void key_to_partition_is_stable(Fixture& f) {
  struct vector_case {
    const char* key;
    std::int32_t murmur2;
    int partition_of_4;
  };
  const vector_case cases[] = {
      {"21", -973932308, 0},
      {"foobar", -790332482, 2},
      {"a-little-bit-long-string", -985981536, 0},
      {"a-little-bit-longer-string", -1486304829, 3},
      {"lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8", -58897971, 1},
      {"abc", 479470107, 3},
      {"", 275646681, 1},
  };
  for (const auto& c : cases) {
    BOOST_TEST_CONTEXT("key \"" << c.key << "\"") {
      BOOST_TEST(murmur2(c.key) == c.murmur2);
      BOOST_TEST(partition_for(c.key, partition_count) == c.partition_of_4);
      // Kafka: Utils.toPositive(murmur2(key)) % numPartitions
      BOOST_TEST(partition_for(c.key, partition_count) ==
                 static_cast<int>((static_cast<std::uint32_t>(c.murmur2) & 0x7fffffffu) %
                                  partition_count));
    }
  }

  std::vector<std::string> subjects;
  {
    auto log = f.open_log();
    std::vector<std::unique_ptr<partition_writer>> writers;
    for (int p = 0; p < partition_count; ++p) writers.push_back(log->open_writer(p));
    for (int i = 0; i < 40; ++i) {
      subjects.push_back("coach-" + std::to_string(i));
      const auto& subject = subjects.back();
      const auto stored = append_checked(*writers[partition_for(subject, partition_count)],
                                         stream_events(subject, 2));
      BOOST_TEST(stored.front().partition == partition_for(subject, partition_count));
    }
  }
  for (int round = 0; round < 2; ++round) {  // the same through two fresh handles
    auto log = f.open_log();
    auto reader = log->open_reader(all_partitions_from(0));
    const auto read = read_exactly(*reader, subjects.size() * 2);
    BOOST_TEST_REQUIRE(read.size() == subjects.size() * 2);
    std::set<int> used;
    for (const auto& e : read) {
      BOOST_TEST(e.partition == partition_for(e.envelope.subject, partition_count));
      used.insert(e.partition);
    }
    BOOST_TEST(used.size() == static_cast<std::size_t>(partition_count));
  }
}

/// position() is the next offset to read: it starts at the given offset, moves past whatever a
/// poll returned, and a reader started from it continues exactly where the first stopped.
template <class Fixture>
void reader_position_advances(Fixture& f) {
  auto log = f.open_log();
  auto writer = log->open_writer(3);
  const auto subject = subject_in_partition(3);
  auto all = append_checked(*writer, stream_events(subject, 5, 1));
  const auto more = append_checked(*writer, stream_events(subject, 5, 6));
  all.insert(all.end(), more.begin(), more.end());

  auto reader = log->open_reader({{3, 0}});
  BOOST_TEST(reader->position(3) == 0);
  std::vector<stored_event> head;
  const auto deadline = std::chrono::steady_clock::now() + 20s;
  while (head.empty() && std::chrono::steady_clock::now() < deadline) {
    head = reader->poll(200ms, 3);
  }
  BOOST_TEST_REQUIRE(!head.empty());
  BOOST_TEST_REQUIRE(head.size() <= 3u);
  check_same_events(head, std::vector<stored_event>(
                              all.begin(), all.begin() + static_cast<std::ptrdiff_t>(head.size())));
  BOOST_TEST(reader->position(3) > head.back().offset);
  BOOST_TEST(reader->position(3) <= all[head.size()].offset);

  const std::vector<stored_event> rest(all.begin() + static_cast<std::ptrdiff_t>(head.size()),
                                       all.end());
  auto resumed = log->open_reader({{3, reader->position(3)}});
  check_same_events(read_exactly(*resumed, rest.size()), rest);
  check_same_events(read_exactly(*reader, rest.size()), rest);
  BOOST_TEST(reader->position(3) > all.back().offset);
  BOOST_TEST(reader->position(3) <= log->end_offset(3));
}

/// With nothing to read, poll returns empty after about max_wait (not much later).
template <class Fixture>
void poll_on_empty_partition_returns_within_max_wait(Fixture& f) {
  auto log = f.open_log();
  for (const auto& from : {std::vector<partition_start>{{1, 0}}, all_partitions_from(0)}) {
    auto reader = log->open_reader(from);
    for (const auto max_wait : {0ms, 300ms, 1000ms}) {
      const auto start = std::chrono::steady_clock::now();
      const auto events = reader->poll(max_wait, 100);
      const auto took = std::chrono::steady_clock::now() - start;
      BOOST_TEST_CONTEXT("max_wait " << max_wait.count() << " ms") {
        BOOST_TEST(events.empty());
        BOOST_TEST(took < max_wait + 1500ms);
      }
    }
    BOOST_TEST(reader->position(from.front().partition) == 0);
  }
}

/// A reader blocked in poll wakes when an event is appended, well before its max_wait.
template <class Fixture>
void tailing_reader_wakes_on_append(Fixture& f) {
  auto log = f.open_log();
  auto reader = log->open_reader({{2, log->end_offset(2)}});
  std::vector<stored_event> received;
  std::chrono::steady_clock::time_point received_at{};
  std::string failure;
  std::thread tail([&] {
    try {
      const auto deadline = std::chrono::steady_clock::now() + 30s;
      while (received.empty() && std::chrono::steady_clock::now() < deadline) {
        received = reader->poll(10s, 100);
      }
      received_at = std::chrono::steady_clock::now();
    } catch (const std::exception& e) {
      failure = e.what();
    }
  });
  std::this_thread::sleep_for(500ms);  // let the reader block in poll
  auto writer = log->open_writer(2);
  const auto appended_at = std::chrono::steady_clock::now();
  const auto stored = append_checked(*writer, stream_events(subject_in_partition(2), 1));
  tail.join();
  BOOST_TEST_REQUIRE(failure == std::string());
  check_same_events(received, stored);
  BOOST_TEST(
      std::chrono::duration_cast<std::chrono::milliseconds>(received_at - appended_at).count() <
      3000);
}

/// A joint append (append_together) lands each writer's batch as its own append would, and a
/// fenced writer's batch fails alone: the other partitions' batches in the same call land.
template <class Fixture>
void joint_append_lands_each_batch_and_fails_alone(Fixture& f) {
  auto log = f.open_log();
  auto other_process = f.open_log();
  std::vector<std::unique_ptr<partition_writer>> writers;
  std::vector<stored_event> expected;
  for (int p = 0; p < partition_count; ++p) {
    writers.push_back(log->open_writer(p));
    const auto first = append_checked(*writers.back(), stream_events(subject_in_partition(p), 1));
    expected.insert(expected.end(), first.begin(), first.end());
  }
  auto taker = other_process->open_writer(1);  // fences writers[1]

  std::vector<std::vector<event_envelope>> batches{stream_events(subject_in_partition(0), 2, 2),
                                                   stream_events(subject_in_partition(1), 1, 2),
                                                   {},
                                                   stream_events(subject_in_partition(3), 3, 2)};
  std::vector<joint_append> joint;
  for (int p = 0; p < partition_count; ++p) {
    joint.push_back(joint_append{writers[static_cast<std::size_t>(p)].get(), batches[static_cast<std::size_t>(p)], {}, nullptr});
  }
  log->append_together(joint);

  for (int p : {0, 2, 3}) {
    BOOST_TEST_CONTEXT("partition " << p) {
      const auto& j = joint[static_cast<std::size_t>(p)];
      BOOST_TEST_REQUIRE(!j.error);
      BOOST_TEST(j.result.partition == p);
      BOOST_TEST_REQUIRE(j.result.offsets.size() == j.batch.size());
      for (std::size_t i = 0; i < j.batch.size(); ++i) {
        if (i > 0) BOOST_TEST(j.result.offsets[i] > j.result.offsets[i - 1]);
        expected.push_back({p, j.result.offsets[i], j.batch[i]});
      }
    }
  }
  BOOST_TEST_REQUIRE(static_cast<bool>(joint[1].error));
  BOOST_CHECK_THROW(std::rethrow_exception(joint[1].error), fenced_error);

  // The writers go on appending alone afterwards, the fenced one refused.
  const auto after = append_checked(*writers[0], stream_events(subject_in_partition(0), 1, 4));
  expected.insert(expected.end(), after.begin(), after.end());
  BOOST_CHECK_THROW(writers[1]->append(stream_events(subject_in_partition(1), 1, 2)), fenced_error);

  auto reader = other_process->open_reader(all_partitions_from(0));
  const auto read = read_exactly(*reader, expected.size());
  for (int p = 0; p < partition_count; ++p) {
    BOOST_TEST_CONTEXT("partition " << p) { check_same_events(of_partition(read, p), of_partition(expected, p)); }
  }
}

}  // namespace coachd::conformance

/// Expands to the conformance test cases for fixture type F (see the top of this file).
#define COACHD_EVENT_LOG_CONFORMANCE_TESTS(F)                                               \
  BOOST_FIXTURE_TEST_CASE(conformance_per_partition_order_under_concurrent_writers, F) {    \
    ::coachd::conformance::per_partition_order_under_concurrent_writers(*this);             \
  }                                                                                         \
  BOOST_FIXTURE_TEST_CASE(conformance_atomic_batch, F) {                                    \
    ::coachd::conformance::atomic_batch(*this);                                             \
  }                                                                                         \
  BOOST_FIXTURE_TEST_CASE(conformance_read_from_any_offset, F) {                            \
    ::coachd::conformance::read_from_any_offset(*this);                                     \
  }                                                                                         \
  BOOST_FIXTURE_TEST_CASE(conformance_second_writer_fences_first, F) {                      \
    ::coachd::conformance::second_writer_fences_first(*this);                               \
  }                                                                                         \
  BOOST_FIXTURE_TEST_CASE(conformance_fencing_races_appends_in_flight, F) {                 \
    ::coachd::conformance::fencing_races_appends_in_flight(*this);                          \
  }                                                                                         \
  BOOST_FIXTURE_TEST_CASE(conformance_reopen_after_close_keeps_acknowledged_appends, F) {   \
    ::coachd::conformance::reopen_after_close_keeps_acknowledged_appends(*this);            \
  }                                                                                         \
  BOOST_FIXTURE_TEST_CASE(conformance_key_to_partition_is_stable, F) {                      \
    ::coachd::conformance::key_to_partition_is_stable(*this);                               \
  }                                                                                         \
  BOOST_FIXTURE_TEST_CASE(conformance_reader_position_advances, F) {                        \
    ::coachd::conformance::reader_position_advances(*this);                                 \
  }                                                                                         \
  BOOST_FIXTURE_TEST_CASE(conformance_poll_on_empty_partition_returns_within_max_wait, F) { \
    ::coachd::conformance::poll_on_empty_partition_returns_within_max_wait(*this);          \
  }                                                                                         \
  BOOST_FIXTURE_TEST_CASE(conformance_tailing_reader_wakes_on_append, F) {                  \
    ::coachd::conformance::tailing_reader_wakes_on_append(*this);                           \
  }                                                                                         \
  BOOST_FIXTURE_TEST_CASE(conformance_joint_append_lands_each_batch_and_fails_alone, F) {   \
    ::coachd::conformance::joint_append_lands_each_batch_and_fails_alone(*this);            \
  }
