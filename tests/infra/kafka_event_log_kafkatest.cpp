// The Kafka adapter of the event log, on librdkafka's in-process mock cluster.
//
// The mock cluster does not hide aborted transactions from read_committed readers (it writes
// no transaction markers and reports no aborted transactions), so no test here depends on an
// aborted append staying invisible; that promise is Kafka's own and is exercised only against a
// real cluster. For the same reason offsets on the mock are dense; no test assumes they are.

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

// The test module's entry point. When <boost/test/unit_test.hpp> already came in through the
// precompiled header, a BOOST_TEST_MODULE defined here is too late to generate main().
#ifdef BOOST_TEST_UNIT_TEST_HPP_071894GER
#include <boost/test/unit_test.hpp>
bool init_unit_test() {
  boost::unit_test::framework::master_test_suite().p_name.value = "kafka_event_log";
  return true;
}
int main(int argc, char* argv[]) {
  return boost::unit_test::unit_test_main(&init_unit_test, argc, argv);
}
#else
#ifndef BOOST_TEST_MODULE
#define BOOST_TEST_MODULE kafka_event_log
#endif
#include <boost/test/unit_test.hpp>
#endif

#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <shared_mutex>
#include <string>
#include <vector>

#include "events/partitioning.hpp"
#include "infra/kafka_event_log.hpp"
#include "infra/kafka_mock_cluster.hpp"
#include "tests/infra/event_log_conformance.hpp"

using namespace std::chrono_literals;

namespace {

using coachd::event_envelope;
using coachd::stored_event;

/// librdkafka settings that keep the suite fast on the mock: no batching delay, short fetch
/// waits (the mock holds an empty fetch for the whole fetch.wait.max.ms).
coachd::kafka_event_log_config mock_config(const coachd::kafka_mock_cluster& cluster,
                                           std::string topic, int partitions = 4) {
  coachd::kafka_event_log_config config;
  config.bootstrap_servers = cluster.bootstrap_servers();
  config.topic = std::move(topic);
  config.partitions = partitions;
  config.operation_timeout = 10s;
  config.producer_properties = {{"linger.ms", "0"}};
  config.consumer_properties = {{"fetch.wait.max.ms", "20"}, {"fetch.error.backoff.ms", "20"}};
  return config;
}

/// One mock cluster for the whole suite: librdkafka 2.0.2 takes about a second to destroy one.
coachd::kafka_mock_cluster& shared_cluster() {
  static coachd::kafka_mock_cluster cluster(1);
  return cluster;
}

/// A fresh, empty 4-partition log per test: its own topic and transactional ids on the shared
/// mock cluster.
struct kafka_log_fixture {
  coachd::kafka_mock_cluster& cluster = shared_cluster();
  std::string topic;
  std::string transactional_id_prefix;

  kafka_log_fixture() {
    static int tests = 0;
    ++tests;
    topic = "coachd.events." + std::to_string(tests);
    transactional_id_prefix = "coachd-t" + std::to_string(tests) + "-p";
    cluster.create_topic(topic, 4);
  }
  ~kafka_log_fixture() {
    // No injected broker error outlives its test.
    for (std::int16_t api : {0, 24, 26}) rd_kafka_mock_clear_request_errors(cluster.native(), api);
  }

  coachd::kafka_event_log_config config() const {
    auto config = mock_config(cluster, topic);
    config.transactional_id_prefix = transactional_id_prefix;
    return config;
  }

  /// A new handle onto the same log.
  std::unique_ptr<coachd::event_log> open_log() {
    return std::make_unique<coachd::kafka_event_log>(config());
  }
};

// librdkafka 2.0.2's mock cluster does not fence: its InitProducerId hands out a fresh producer
// id every time and never bumps an epoch per transactional.id, so a zombie producer keeps
// committing. A real broker fences it by answering the zombie's next request with
// PRODUCER_FENCED. The conformance fixture plays that broker part: each handle it opens shares
// one record of the newest writer per partition, and an append by an older writer runs with the
// mock told to answer its AddPartitionsToTxn with PRODUCER_FENCED. The adapter's own code
// (librdkafka's fatal error, fenced_error, a dead writer) does the rest. Like
// InitProducerId on a real broker, opening a writer waits for appends in flight to finish.
class mock_fencing {
 public:
  explicit mock_fencing(coachd::kafka_mock_cluster& cluster) : cluster_(cluster) {}

  class writer final : public coachd::partition_writer {
   public:
    writer(mock_fencing& fencing, std::unique_ptr<coachd::partition_writer> inner, int generation)
        : fencing_(fencing), inner_(std::move(inner)), generation_(generation) {}
    int partition() const override { return inner_->partition(); }
    coachd::append_result append(std::span<const coachd::event_envelope> batch) override {
      {
        std::shared_lock lock(fencing_.mutex_);
        if (fencing_.newest_[partition()] == generation_) return inner_->append(batch);
      }
      std::unique_lock lock(fencing_.mutex_);
      if (fencing_.newest_[partition()] == generation_) return inner_->append(batch);
      constexpr std::int16_t add_partitions_to_txn = 24;
      rd_kafka_mock_push_request_errors(fencing_.cluster_.native(), add_partitions_to_txn, 1,
                                        RD_KAFKA_RESP_ERR_PRODUCER_FENCED);
      try {
        auto result = inner_->append(batch);
        rd_kafka_mock_clear_request_errors(fencing_.cluster_.native(), add_partitions_to_txn);
        return result;
      } catch (...) {
        rd_kafka_mock_clear_request_errors(fencing_.cluster_.native(), add_partitions_to_txn);
        throw;
      }
    }

   private:
    mock_fencing& fencing_;
    std::unique_ptr<coachd::partition_writer> inner_;
    int generation_;
  };

  /// An event_log handle whose writers are fenced as a real broker would fence them.
  class log final : public coachd::event_log {
   public:
    log(mock_fencing& fencing, std::unique_ptr<coachd::event_log> inner)
        : fencing_(fencing), inner_(std::move(inner)) {}
    int partitions() const override { return inner_->partitions(); }
    std::unique_ptr<coachd::partition_writer> open_writer(int partition) override {
      std::unique_lock lock(fencing_.mutex_);
      auto opened = inner_->open_writer(partition);
      return std::make_unique<writer>(fencing_, std::move(opened), ++fencing_.newest_[partition]);
    }
    std::unique_ptr<coachd::log_reader> open_reader(
        std::vector<coachd::partition_start> from) override {
      return inner_->open_reader(std::move(from));
    }
    std::int64_t end_offset(int partition) override { return inner_->end_offset(partition); }
    std::string name() const override { return inner_->name(); }

   private:
    mock_fencing& fencing_;
    std::unique_ptr<coachd::event_log> inner_;
  };

 private:
  coachd::kafka_mock_cluster& cluster_;
  std::shared_mutex mutex_;
  std::map<int, int> newest_;  // partition -> generation of its newest writer
};

/// The conformance suite's fixture: a fresh log per test, with the broker's fencing played
/// by mock_fencing.
struct kafka_conformance_fixture : kafka_log_fixture {
  mock_fencing fencing{cluster};
  std::unique_ptr<coachd::event_log> open_log() {
    return std::make_unique<mock_fencing::log>(fencing, kafka_log_fixture::open_log());
  }
};

event_envelope make_event(const std::string& subject, std::int64_t version,
                          const std::string& type = "SessionBooked") {
  event_envelope e;
  e.id = "evt-" + subject + "-" + std::to_string(version);
  e.source = "/coachd/schedule";
  e.type = type;
  e.time = "2026-11-21T09:00:00.000Z";
  e.subject = subject;
  e.stream_version = version;
  e.command_id = "cmd-" + std::to_string(version);
  e.correlation_id = "corr-1";
  e.causation_id = "cmd-" + std::to_string(version);
  e.actor = "account:coach-1";
  e.schema_version = 2;
  e.data = R"({"session_id":"s-)" + std::to_string(version) + R"(","minutes":50})";
  return e;
}

/// Polls until `count` events arrived or `limit` passed.
std::vector<stored_event> read_n(coachd::log_reader& reader, std::size_t count,
                                 std::chrono::milliseconds limit = 10s) {
  std::vector<stored_event> events;
  const auto deadline = std::chrono::steady_clock::now() + limit;
  while (events.size() < count && std::chrono::steady_clock::now() < deadline) {
    for (auto& e : reader.poll(200ms, count - events.size())) events.push_back(std::move(e));
  }
  return events;
}

std::vector<event_envelope> envelopes(const std::vector<stored_event>& events) {
  std::vector<event_envelope> out;
  for (const auto& e : events) out.push_back(e.envelope);
  return out;
}

/// A plain librdkafka client with no coachd code in it.
struct rd_client {
  rd_kafka_t* handle = nullptr;
  rd_client(rd_kafka_type_t type, const std::map<std::string, std::string>& properties) {
    char errstr[512];
    rd_kafka_conf_t* conf = rd_kafka_conf_new();
    for (const auto& [k, v] : properties) {
      BOOST_REQUIRE_MESSAGE(
          rd_kafka_conf_set(conf, k.c_str(), v.c_str(), errstr, sizeof errstr) == RD_KAFKA_CONF_OK,
          errstr);
    }
    handle = rd_kafka_new(type, conf, errstr, sizeof errstr);
    BOOST_REQUIRE_MESSAGE(handle != nullptr, errstr);
  }
  ~rd_client() { rd_kafka_destroy(handle); }
  rd_client(const rd_client&) = delete;
  rd_client& operator=(const rd_client&) = delete;
};

/// A header's value, or "<absent>".
std::string header(const rd_kafka_message_t* m, const char* name) {
  rd_kafka_headers_t* headers = nullptr;
  if (rd_kafka_message_headers(m, &headers) != RD_KAFKA_RESP_ERR_NO_ERROR) return "<absent>";
  const void* value = nullptr;
  size_t size = 0;
  if (rd_kafka_header_get_last(headers, name, &value, &size) != RD_KAFKA_RESP_ERR_NO_ERROR) {
    return "<absent>";
  }
  return std::string(static_cast<const char*>(value), size);
}

}  // namespace

BOOST_AUTO_TEST_SUITE(kafka_event_log_conformance)
COACHD_EVENT_LOG_CONFORMANCE_TESTS(kafka_conformance_fixture)
BOOST_AUTO_TEST_SUITE_END()

BOOST_FIXTURE_TEST_SUITE(kafka_event_log_properties, kafka_log_fixture)

BOOST_AUTO_TEST_CASE(append_then_read_returns_the_same_envelopes_in_order) {
  auto log = open_log();
  BOOST_TEST(log->name() == "kafka");
  BOOST_TEST(log->partitions() == 4);
  auto writer = log->open_writer(2);
  BOOST_TEST(writer->partition() == 2);

  std::vector<event_envelope> batch{make_event("schedule-a", 1), make_event("schedule-a", 2),
                                    make_event("schedule-a", 3)};
  auto result = writer->append(batch);
  BOOST_TEST(result.partition == 2);
  BOOST_REQUIRE(result.offsets.size() == 3u);
  BOOST_TEST(result.offsets[0] < result.offsets[1]);
  BOOST_TEST(result.offsets[1] < result.offsets[2]);

  auto reader = log->open_reader({{2, 0}});
  auto events = read_n(*reader, 3);
  BOOST_REQUIRE(events.size() == 3u);
  BOOST_TEST((envelopes(events) == batch));
  for (std::size_t i = 0; i < events.size(); ++i) {
    BOOST_TEST(events[i].partition == 2);
    BOOST_TEST(events[i].offset == result.offsets[i]);
  }
}

BOOST_AUTO_TEST_CASE(empty_optional_attributes_round_trip) {
  auto log = open_log();
  event_envelope e = make_event("account-x", 1, "AccountCreated");
  e.command_id.clear();
  e.correlation_id.clear();
  e.causation_id.clear();
  e.actor.clear();
  e.data = "{}";
  auto writer = log->open_writer(0);
  writer->append(std::span(&e, 1));
  auto reader = log->open_reader({{0, 0}});
  auto events = read_n(*reader, 1);
  BOOST_REQUIRE(events.size() == 1u);
  BOOST_TEST((events[0].envelope == e));
}

BOOST_AUTO_TEST_CASE(empty_batch_appends_nothing) {
  auto log = open_log();
  auto writer = log->open_writer(1);
  auto result = writer->append({});
  BOOST_TEST(result.partition == 1);
  BOOST_TEST(result.offsets.empty());
  BOOST_TEST(log->end_offset(1) == 0);
}

BOOST_AUTO_TEST_CASE(offsets_strictly_increase_across_appends) {
  auto log = open_log();
  auto writer = log->open_writer(3);
  std::int64_t last = -1;
  for (int i = 1; i <= 5; ++i) {
    std::vector<event_envelope> batch{make_event("invoice-1", 2 * i - 1),
                                      make_event("invoice-1", 2 * i)};
    auto result = writer->append(batch);
    for (auto offset : result.offsets) {
      BOOST_TEST(offset > last);
      last = offset;
    }
  }
  BOOST_TEST(log->end_offset(3) > last);
}

BOOST_AUTO_TEST_CASE(end_offset_and_position_meet_after_reading_everything) {
  auto log = open_log();
  BOOST_TEST(log->end_offset(0) == 0);
  auto reader = log->open_reader({{0, 0}, {1, 0}});
  BOOST_TEST(reader->position(0) == 0);
  BOOST_TEST(reader->position(1) == 0);
  BOOST_TEST(reader->poll(50ms, 10).empty());

  auto writer = log->open_writer(0);
  std::vector<event_envelope> batch{make_event("coach-1", 1), make_event("coach-1", 2)};
  writer->append(batch);
  const auto end = log->end_offset(0);
  BOOST_TEST(end >= 2);

  auto events = read_n(*reader, 2);
  BOOST_REQUIRE(events.size() == 2u);
  // Poll until the consumer's position reaches the end: a reader that did has seen everything.
  const auto deadline = std::chrono::steady_clock::now() + 5s;
  while (reader->position(0) < end && std::chrono::steady_clock::now() < deadline) {
    BOOST_TEST(reader->poll(50ms, 10).empty());
  }
  BOOST_TEST(reader->position(0) == end);
  BOOST_TEST(reader->position(1) == 0);
  BOOST_CHECK_THROW(reader->position(2), std::invalid_argument);
}

BOOST_AUTO_TEST_CASE(read_from_any_offset_and_resume_from_position) {
  auto log = open_log();
  auto writer = log->open_writer(1);
  std::vector<event_envelope> all;
  std::vector<std::int64_t> offsets;
  for (int i = 1; i <= 6; ++i) {
    all.push_back(make_event("client-9", i));
    auto r = writer->append(std::span(&all.back(), 1));
    offsets.push_back(r.offsets.at(0));
  }

  // Start in the middle.
  auto reader = log->open_reader({{1, offsets[3]}});
  auto tail = read_n(*reader, 3);
  BOOST_REQUIRE(tail.size() == 3u);
  BOOST_TEST((tail[0].envelope == all[3]));
  BOOST_TEST((tail[2].envelope == all[5]));

  // max_events caps a poll; the position is a checkpoint another reader resumes from.
  auto first = log->open_reader({{1, 0}});
  auto two = read_n(*first, 2);
  BOOST_REQUIRE(two.size() == 2u);
  const auto checkpoint = first->position(1);
  BOOST_TEST(checkpoint > two[1].offset);
  BOOST_TEST(checkpoint <= offsets[2]);
  auto resumed = log->open_reader({{1, checkpoint}});
  auto rest = read_n(*resumed, 4);
  BOOST_REQUIRE(rest.size() == 4u);
  BOOST_TEST((rest[0].envelope == all[2]));
  BOOST_TEST((rest[3].envelope == all[5]));
  BOOST_TEST(resumed->poll(50ms, 10).empty());
}

BOOST_AUTO_TEST_CASE(partitions_are_independent_and_readable_together) {
  auto log = open_log();
  std::vector<std::unique_ptr<coachd::partition_writer>> writers;
  for (int p = 0; p < 4; ++p) writers.push_back(log->open_writer(p));
  for (int p = 0; p < 4; ++p) {
    std::vector<event_envelope> batch;
    for (int v = 1; v <= p + 1; ++v) batch.push_back(make_event("stream-" + std::to_string(p), v));
    writers[p]->append(batch);
  }
  auto reader = log->open_reader({{0, 0}, {1, 0}, {2, 0}, {3, 0}});
  auto events = read_n(*reader, 10);
  BOOST_REQUIRE(events.size() == 10u);
  std::map<int, std::vector<std::int64_t>> versions;
  for (const auto& e : events) {
    BOOST_TEST(e.envelope.subject == "stream-" + std::to_string(e.partition));
    versions[e.partition].push_back(e.envelope.stream_version);
  }
  for (int p = 0; p < 4; ++p) {
    BOOST_REQUIRE(versions[p].size() == static_cast<std::size_t>(p + 1));
    for (int v = 0; v <= p; ++v) BOOST_TEST(versions[p][v] == v + 1);
  }
}

BOOST_AUTO_TEST_CASE(a_second_handle_sees_the_same_log) {
  auto log = open_log();
  auto writer = log->open_writer(2);
  auto e = make_event("intake-7", 1, "IntakeSubmitted");
  writer->append(std::span(&e, 1));
  auto other = open_log();
  BOOST_TEST(other->end_offset(2) == log->end_offset(2));
  auto events = read_n(*other->open_reader({{2, 0}}), 1);
  BOOST_REQUIRE(events.size() == 1u);
  BOOST_TEST((events[0].envelope == e));
}

BOOST_AUTO_TEST_CASE(restart_keeps_every_acknowledged_event) {
  std::vector<event_envelope> acknowledged;
  {
    auto log = open_log();
    auto w0 = log->open_writer(0);
    auto w3 = log->open_writer(3);
    for (int v = 1; v <= 4; ++v) {
      acknowledged.push_back(make_event("coach-r", v));
      w0->append(std::span(&acknowledged.back(), 1));
    }
    std::vector<event_envelope> batch{make_event("invoice-r", 1), make_event("invoice-r", 2)};
    w3->append(batch);
    acknowledged.insert(acknowledged.end(), batch.begin(), batch.end());
  }  // every client of the log destroyed: a process restart

  auto log = open_log();
  auto w0 = log->open_writer(0);  // same transactional.id as before the restart
  acknowledged.push_back(make_event("coach-r", 5));
  w0->append(std::span(&acknowledged.back(), 1));

  auto events = read_n(*log->open_reader({{0, 0}, {3, 0}}), acknowledged.size());
  BOOST_REQUIRE(events.size() == acknowledged.size());
  std::vector<event_envelope> p0, p3;
  for (const auto& e : events) (e.partition == 0 ? p0 : p3).push_back(e.envelope);
  std::vector<event_envelope> want0(acknowledged.begin(), acknowledged.begin() + 4);
  want0.push_back(acknowledged[6]);
  std::vector<event_envelope> want3(acknowledged.begin() + 4, acknowledged.begin() + 6);
  BOOST_TEST((p0 == want0));
  BOOST_TEST((p3 == want3));
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_FIXTURE_TEST_SUITE(kafka_event_log_on_the_wire, kafka_log_fixture)

// The downstream-consumer promise: any Kafka client reads coachd's events from the CloudEvents
// binding, with no coachd code, and finds each stream where Kafka's default partitioner puts it.
BOOST_AUTO_TEST_CASE(a_plain_kafka_consumer_reads_cloudevents_headers_and_json) {
  auto log = open_log();
  const std::string subject = "invoice-42";
  const int partition = coachd::partition_for(subject, 4);
  auto e = make_event(subject, 7, "InvoicePaid");
  auto r = log->open_writer(partition)->append(std::span(&e, 1));

  rd_client consumer(RD_KAFKA_CONSUMER, {{"bootstrap.servers", cluster.bootstrap_servers()},
                                         {"group.id", "downstream-analytics"},
                                         {"isolation.level", "read_committed"},
                                         {"auto.offset.reset", "earliest"},
                                         {"fetch.wait.max.ms", "20"}});
  rd_kafka_poll_set_consumer(consumer.handle);
  rd_kafka_topic_partition_list_t* topics = rd_kafka_topic_partition_list_new(1);
  rd_kafka_topic_partition_list_add(topics, topic.c_str(), RD_KAFKA_PARTITION_UA);
  BOOST_REQUIRE(rd_kafka_subscribe(consumer.handle, topics) == RD_KAFKA_RESP_ERR_NO_ERROR);
  rd_kafka_topic_partition_list_destroy(topics);

  rd_kafka_message_t* m = nullptr;
  const auto deadline = std::chrono::steady_clock::now() + 15s;
  while (std::chrono::steady_clock::now() < deadline) {
    m = rd_kafka_consumer_poll(consumer.handle, 200);
    if (m != nullptr && m->err == RD_KAFKA_RESP_ERR_NO_ERROR) break;
    if (m != nullptr) rd_kafka_message_destroy(m);
    m = nullptr;
  }
  BOOST_REQUIRE(m != nullptr);
  BOOST_TEST(m->partition == partition);
  BOOST_TEST(m->offset == r.offsets.at(0));
  BOOST_TEST(std::string(static_cast<const char*>(m->key), m->key_len) == subject);
  BOOST_TEST(coachd::partition_for(std::string_view(static_cast<const char*>(m->key), m->key_len),
                                   4) == m->partition);
  BOOST_TEST(std::string(static_cast<const char*>(m->payload), m->len) == e.data);
  BOOST_TEST(header(m, "content-type") == "application/json");
  BOOST_TEST(header(m, "ce_specversion") == "1.0");
  BOOST_TEST(header(m, "ce_id") == e.id);
  BOOST_TEST(header(m, "ce_source") == e.source);
  BOOST_TEST(header(m, "ce_type") == "InvoicePaid");
  BOOST_TEST(header(m, "ce_time") == e.time);
  BOOST_TEST(header(m, "ce_subject") == subject);
  BOOST_TEST(header(m, "ce_streamversion") == "7");
  BOOST_TEST(header(m, "ce_schemaversion") == "2");
  BOOST_TEST(header(m, "ce_commandid") == e.command_id);
  BOOST_TEST(header(m, "ce_correlationid") == e.correlation_id);
  BOOST_TEST(header(m, "ce_causationid") == e.causation_id);
  BOOST_TEST(header(m, "ce_actor") == e.actor);
  rd_kafka_message_destroy(m);
  rd_kafka_consumer_close(consumer.handle);
}

// A record without the binding's headers (written by some other producer) stops the reader at
// that offset: the error names it, and no later poll or checkpoint goes past it.
BOOST_AUTO_TEST_CASE(an_event_without_ce_headers_is_an_error_naming_its_offset) {
  auto log = open_log();
  auto good = make_event("coach-g", 1);
  auto first = log->open_writer(2)->append(std::span(&good, 1));

  {
    rd_client producer(RD_KAFKA_PRODUCER,
                       {{"bootstrap.servers", cluster.bootstrap_servers()}, {"linger.ms", "0"}});
    const std::string value = R"({"not":"an event"})";
    BOOST_REQUIRE(rd_kafka_producev(producer.handle, RD_KAFKA_V_TOPIC(topic.c_str()),
                                    RD_KAFKA_V_PARTITION(2),
                                    RD_KAFKA_V_VALUE(const_cast<char*>(value.data()), value.size()),
                                    RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                                    RD_KAFKA_V_END) == RD_KAFKA_RESP_ERR_NO_ERROR);
    BOOST_REQUIRE(rd_kafka_flush(producer.handle, 10000) == RD_KAFKA_RESP_ERR_NO_ERROR);
  }
  const auto bad_offset = log->end_offset(2) - 1;

  auto reader = log->open_reader({{2, 0}});
  auto events = read_n(*reader, 1);
  BOOST_REQUIRE(events.size() == 1u);
  BOOST_TEST(events[0].offset == first.offsets[0]);
  for (int attempt = 0; attempt < 2; ++attempt) {
    try {
      reader->poll(5s, 10);
      BOOST_FAIL("expected log_error");
    } catch (const coachd::log_error& error) {
      const std::string what = error.what();
      BOOST_TEST_MESSAGE(what);
      BOOST_TEST(what.find("@" + std::to_string(bad_offset)) != std::string::npos);
      BOOST_TEST(what.find("ce_") != std::string::npos);
    }
  }
  BOOST_TEST(reader->position(2) == bad_offset);
}

// A start offset past the end is an error, not a silent jump to the beginning or the end
// (auto.offset.reset=error).
BOOST_AUTO_TEST_CASE(a_start_offset_past_the_end_is_an_error) {
  auto log = open_log();
  auto e = make_event("coach-o", 1);
  log->open_writer(1)->append(std::span(&e, 1));
  auto reader = log->open_reader({{1, 100}});
  BOOST_CHECK_EXCEPTION(read_n(*reader, 1, 5s), coachd::log_error, [](const coachd::log_error& e) {
    BOOST_TEST_MESSAGE(e.what());
    return std::string(e.what()).find("[1]") != std::string::npos;
  });
}

// A broker outage neither loses nor repeats events: a reader may report it (log_error) and goes
// on reading where it was once the broker is back.
BOOST_AUTO_TEST_CASE(a_reader_goes_on_after_a_broker_outage) {
  auto config = this->config();
  config.properties.emplace_back("reconnect.backoff.max.ms", "200");
  coachd::kafka_event_log log(config);
  auto writer = log.open_writer(0);
  std::vector<event_envelope> all{make_event("coach-b", 1), make_event("coach-b", 2)};
  writer->append(std::span(&all[0], 1));
  auto reader = log.open_reader({{0, 0}});
  auto events = read_n(*reader, 1);
  BOOST_REQUIRE(events.size() == 1u);

  BOOST_REQUIRE(rd_kafka_mock_broker_set_down(cluster.native(), 1) == RD_KAFKA_RESP_ERR_NO_ERROR);
  int reported = 0;
  for (int i = 0; i < 3; ++i) {
    try {
      BOOST_TEST(reader->poll(200ms, 10).empty());
    } catch (const coachd::log_error& e) {
      BOOST_TEST_MESSAGE(e.what());
      ++reported;
    }
  }
  BOOST_TEST_MESSAGE("outage reported " << reported << " times");
  BOOST_REQUIRE(rd_kafka_mock_broker_set_up(cluster.native(), 1) == RD_KAFKA_RESP_ERR_NO_ERROR);

  writer->append(std::span(&all[1], 1));
  const auto deadline = std::chrono::steady_clock::now() + 15s;
  while (events.size() < 2 && std::chrono::steady_clock::now() < deadline) {
    try {
      for (auto& e : reader->poll(200ms, 10)) events.push_back(std::move(e));
    } catch (const coachd::log_error& e) {
      BOOST_TEST_MESSAGE(e.what());
    }
  }
  BOOST_TEST((envelopes(events) == all));
  BOOST_TEST(reader->poll(300ms, 10).empty());
}

BOOST_AUTO_TEST_CASE(a_partition_count_mismatch_is_refused) {
  auto config = mock_config(cluster, topic, 8);
  BOOST_CHECK_EXCEPTION(coachd::kafka_event_log{config}, coachd::log_error,
                        [](const coachd::log_error& e) {
                          BOOST_TEST_MESSAGE(e.what());
                          return std::string(e.what()).find("4 partitions") != std::string::npos;
                        });
}

BOOST_AUTO_TEST_CASE(bad_arguments_are_refused) {
  auto log = open_log();
  BOOST_CHECK_THROW(log->open_writer(4), std::invalid_argument);
  BOOST_CHECK_THROW(log->open_writer(-1), std::invalid_argument);
  BOOST_CHECK_THROW(log->open_reader({{5, 0}}), std::invalid_argument);
  BOOST_CHECK_THROW(log->open_reader({{1, 0}, {1, 3}}), std::invalid_argument);
  auto config = this->config();
  config.properties.emplace_back("no.such.property", "1");
  BOOST_CHECK_THROW(coachd::kafka_event_log{config}, coachd::log_error);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_FIXTURE_TEST_SUITE(kafka_writer_errors, kafka_log_fixture)

// Kafka protocol API keys whose next request the mock can be told to fail.
constexpr std::int16_t api_produce = 0;
constexpr std::int16_t api_add_partitions_to_txn = 24;
constexpr std::int16_t api_end_txn = 26;

void fail_next(coachd::kafka_mock_cluster& cluster, std::int16_t api, rd_kafka_resp_err_t err) {
  rd_kafka_mock_push_request_errors(cluster.native(), api, 1, err);
}

// A zombie is fenced once a new writer for its partition opened. librdkafka 2.0.2's mock hands
// out a fresh producer id on every InitProducerId and never bumps epochs per transactional.id,
// so it does not fence by itself: after the new writer's real init_transactions, the mock is told
// to give the zombie's next request the answer a real broker gives (PRODUCER_FENCED from Kafka
// 2.7 on, INVALID_PRODUCER_EPOCH before; either may come at AddPartitionsToTxn or EndTxn).
void check_zombie_is_fenced(kafka_log_fixture& f, std::int16_t api, rd_kafka_resp_err_t answer) {
  auto log = f.open_log();
  auto zombie = log->open_writer(1);
  auto before = make_event("schedule-z", 1);
  zombie->append(std::span(&before, 1));

  auto owner = f.open_log()->open_writer(1);  // e.g. another process took the partition
  fail_next(f.cluster, api, answer);
  auto lost = make_event("schedule-z", 2, "SessionCancelled");
  BOOST_CHECK_EXCEPTION(zombie->append(std::span(&lost, 1)), coachd::fenced_error,
                        [](const coachd::fenced_error& e) {
                          BOOST_TEST_MESSAGE(e.what());
                          return true;
                        });
  // Dead for good, without another round trip.
  BOOST_CHECK_THROW(zombie->append(std::span(&lost, 1)), coachd::fenced_error);

  auto after = make_event("schedule-z", 2, "SessionRescheduled");
  auto r = owner->append(std::span(&after, 1));
  BOOST_REQUIRE(r.offsets.size() == 1u);
  auto reader = log->open_reader({{1, r.offsets[0]}});
  auto events = read_n(*reader, 1);
  BOOST_REQUIRE(events.size() == 1u);
  BOOST_TEST((events[0].envelope == after));
}

BOOST_AUTO_TEST_CASE(a_zombie_is_fenced_when_adding_its_partition) {
  check_zombie_is_fenced(*this, api_add_partitions_to_txn, RD_KAFKA_RESP_ERR_PRODUCER_FENCED);
}

BOOST_AUTO_TEST_CASE(a_zombie_is_fenced_by_an_old_style_epoch_error) {
  check_zombie_is_fenced(*this, api_add_partitions_to_txn,
                         RD_KAFKA_RESP_ERR_INVALID_PRODUCER_EPOCH);
}

BOOST_AUTO_TEST_CASE(a_zombie_is_fenced_when_committing) {
  check_zombie_is_fenced(*this, api_end_txn, RD_KAFKA_RESP_ERR_PRODUCER_FENCED);
}

// A failed delivery makes the transaction abortable: the append is aborted and reported as a
// log_error (never fenced_error), and the writer goes on. librdkafka 2.0.2 does not bump the
// producer epoch when aborting after a rejected record, so the next transaction may fail once
// more on the sequence gap (that abort does bump it); the append after that succeeds.
BOOST_AUTO_TEST_CASE(an_abortable_failure_aborts_and_the_writer_goes_on) {
  auto log = open_log();
  auto writer = log->open_writer(0);
  fail_next(cluster, api_produce, RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE);
  auto next = make_event("coach-a", 1);
  std::optional<coachd::append_result> appended;
  int failures = 0;
  while (!appended && failures < 3) {
    try {
      appended = writer->append(std::span(&next, 1));
    } catch (const coachd::fenced_error& e) {
      BOOST_FAIL("an abortable error is not fencing: " << e.what());
    } catch (const coachd::log_error& e) {
      BOOST_TEST_MESSAGE(e.what());
      BOOST_TEST(std::string(e.what()).find("aborted") != std::string::npos);
      ++failures;
    }
  }
  BOOST_TEST(failures >= 1);
  BOOST_TEST(failures <= 2);
  BOOST_REQUIRE(appended.has_value());
  BOOST_REQUIRE(appended->offsets.size() == 1u);
  auto events = read_n(*log->open_reader({{0, appended->offsets[0]}}), 1);
  BOOST_REQUIRE(events.size() == 1u);
  BOOST_TEST((events[0].envelope == next));
}

// Retriable broker answers (coordinator moving, leader elections) are retried, not reported.
BOOST_AUTO_TEST_CASE(retriable_failures_are_retried) {
  auto log = open_log();
  auto writer = log->open_writer(3);
  rd_kafka_mock_push_request_errors(cluster.native(), api_end_txn, 2,
                                    RD_KAFKA_RESP_ERR_COORDINATOR_LOAD_IN_PROGRESS,
                                    RD_KAFKA_RESP_ERR_CONCURRENT_TRANSACTIONS);
  rd_kafka_mock_push_request_errors(cluster.native(), api_produce, 1,
                                    RD_KAFKA_RESP_ERR_NOT_ENOUGH_REPLICAS);
  std::vector<event_envelope> batch{make_event("invoice-t", 1), make_event("invoice-t", 2)};
  auto r = writer->append(batch);
  BOOST_REQUIRE(r.offsets.size() == 2u);
  auto events = read_n(*log->open_reader({{3, 0}}), 2);
  BOOST_TEST((envelopes(events) == batch));
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(kafka_mock_cluster_setup)

// Transactions on a 3-broker mock: the transaction coordinator may sit on another broker than
// the partition leader, and the mock needs no transaction state topic for it.
BOOST_AUTO_TEST_CASE(three_brokers_run_transactions) {
  coachd::kafka_mock_cluster cluster(3);
  BOOST_TEST(cluster.brokers() == 3);
  const auto servers = cluster.bootstrap_servers();
  BOOST_TEST(servers.find("127.0.0.1:") == 0u);
  BOOST_TEST(std::count(servers.begin(), servers.end(), ',') == 2);
  cluster.create_topic("coachd.events", 4, 3);
  BOOST_CHECK_THROW(cluster.create_topic("coachd.events", 4, 3), coachd::log_error);

  coachd::kafka_event_log log(mock_config(cluster, "coachd.events"));
  std::vector<std::unique_ptr<coachd::partition_writer>> writers;
  for (int p = 0; p < 4; ++p) writers.push_back(log.open_writer(p));
  for (int p = 0; p < 4; ++p) {
    std::vector<event_envelope> batch{make_event("s" + std::to_string(p), 1),
                                      make_event("s" + std::to_string(p), 2)};
    BOOST_TEST(writers[p]->append(batch).offsets.size() == 2u);
  }
  auto events = read_n(*log.open_reader({{0, 0}, {1, 0}, {2, 0}, {3, 0}}), 8);
  BOOST_TEST(events.size() == 8u);
}

BOOST_AUTO_TEST_CASE(bad_broker_count_is_refused) {
  BOOST_CHECK_THROW(coachd::kafka_mock_cluster(0), coachd::log_error);
}

BOOST_AUTO_TEST_SUITE_END()

// What the mock lacks, pinned down: if a later librdkafka's mock gains it, these fail and the
// stand-ins above (mock_fencing, create_topic before use) can go.
BOOST_FIXTURE_TEST_SUITE(kafka_mock_cluster_limits, kafka_log_fixture)

BOOST_AUTO_TEST_CASE(the_mock_auto_creates_a_missing_topic_with_4_partitions) {
  auto config = this->config();
  config.topic = topic + ".missing";
  config.partitions = 2;
  BOOST_CHECK_EXCEPTION(
      coachd::kafka_event_log{config}, coachd::log_error, [](const coachd::log_error& e) {
        BOOST_TEST_MESSAGE(e.what());
        return std::string(e.what()).find("has 4 partitions") != std::string::npos;
      });
}

BOOST_AUTO_TEST_CASE(the_mock_does_not_fence_by_itself) {
  auto log = open_log();
  auto first = log->open_writer(0);
  auto second = open_log()->open_writer(0);
  auto e1 = make_event("coach-f", 1);
  auto e2 = make_event("coach-f", 2);
  BOOST_TEST(first->append(std::span(&e1, 1)).offsets.size() == 1u);
  BOOST_TEST(second->append(std::span(&e2, 1)).offsets.size() == 1u);
}

BOOST_AUTO_TEST_SUITE_END()
