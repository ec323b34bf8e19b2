#pragma once
/// librdkafka's in-process mock Kafka cluster: real Kafka wire protocol over loopback TCP, no
/// server to install. Used by the *_kafkatest suites, the end-to-end suites and
/// `coachd --event-log kafka-mock` for local development. State lives in memory only.

#include <string>

struct rd_kafka_s;
struct rd_kafka_mock_cluster_s;

namespace coachd {

/// One mock cluster of 1 or more brokers listening on 127.0.0.1 (ephemeral ports), alive as long
/// as this object. Every client of it must be destroyed before it.
///
/// What the mock (librdkafka 2.0.2) can and cannot do, as far as coachd cares (each checked
/// by tests/infra/kafka_event_log_kafkatest.cpp):
/// - transactions work (InitProducerId, AddPartitionsToTxn, EndTxn) on 1 or 3 brokers and need
///   no transaction state topic or broker setting;
/// - it does not fence: every InitProducerId gets a fresh producer id and epochs are not bumped
///   per transactional.id, so an older producer with the same transactional.id keeps
///   committing. Tests make the mock answer like a fencing broker with
///   rd_kafka_mock_push_request_errors(native(), 24 /* AddPartitionsToTxn */, 1,
///   RD_KAFKA_RESP_ERR_PRODUCER_FENCED);
/// - it writes no transaction markers and reports no aborted transactions, so read_committed
///   readers also see the events of aborted transactions, and offsets stay dense;
/// - it has no CreateTopics, and it speaks Metadata below v4, so any client's metadata request
///   for a missing topic auto-creates it with 4 partitions: create topics with create_topic()
///   before a client asks for them;
/// - destroying it takes about a second (its internal broker thread's wait), so a test suite
///   should share one and give each test its own topic.
class kafka_mock_cluster {
 public:
  /// Starts a cluster of `brokers` brokers. Throws log_error if librdkafka refuses.
  explicit kafka_mock_cluster(int brokers = 1);
  ~kafka_mock_cluster();
  kafka_mock_cluster(const kafka_mock_cluster&) = delete;
  kafka_mock_cluster& operator=(const kafka_mock_cluster&) = delete;

  /// The brokers' addresses, "127.0.0.1:port,...", for `bootstrap.servers`.
  std::string bootstrap_servers() const;

  /// Creates a topic (the mock's stand-in for CreateTopics). Throws log_error if it exists or
  /// the arguments are refused.
  void create_topic(const std::string& name, int partitions, int replication = 1);

  /// Number of brokers.
  int brokers() const { return brokers_; }

  /// The underlying mock, for tests that inject errors with rdkafka_mock.h.
  rd_kafka_mock_cluster_s* native() const { return cluster_; }

 private:
  int brokers_;
  rd_kafka_s* handle_ = nullptr;  // the client handle the mock runs on (it owns no connection)
  rd_kafka_mock_cluster_s* cluster_ = nullptr;
};

}  // namespace coachd
