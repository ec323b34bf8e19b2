#define BOOST_TEST_MODULE intake_kafka_e2etest
#include <boost/test/unit_test.hpp>

#include <librdkafka/rdkafka.h>

#include "infra/kafka_mock_cluster.hpp"
#include "tests/e2e/intake_slice.hpp"
#include "tests/support/pg_test_db.hpp"
#include "tests/support/e2e_config.hpp"

using namespace coachd;

namespace {

/// Reads every message of the topic with plain librdkafka (no coachd code): values and headers.
std::string read_topic(const std::string& bootstrap, const std::string& topic, int partitions) {
  char err[512];
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  rd_kafka_conf_set(conf, "bootstrap.servers", bootstrap.c_str(), err, sizeof err);
  rd_kafka_conf_set(conf, "group.id", "raw-reader", err, sizeof err);
  rd_kafka_conf_set(conf, "enable.partition.eof", "true", err, sizeof err);
  rd_kafka_conf_set(conf, "log_level", "3", err, sizeof err);
  rd_kafka_t* consumer = rd_kafka_new(RD_KAFKA_CONSUMER, conf, err, sizeof err);
  BOOST_TEST_REQUIRE(consumer != nullptr, err);
  rd_kafka_topic_partition_list_t* list = rd_kafka_topic_partition_list_new(partitions);
  for (int p = 0; p < partitions; ++p) {
    rd_kafka_topic_partition_list_add(list, topic.c_str(), p)->offset = RD_KAFKA_OFFSET_BEGINNING;
  }
  rd_kafka_assign(consumer, list);
  rd_kafka_topic_partition_list_destroy(list);
  std::string all;
  int at_end = 0;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (at_end < partitions && std::chrono::steady_clock::now() < deadline) {
    rd_kafka_message_t* m = rd_kafka_consumer_poll(consumer, 200);
    if (m == nullptr) continue;
    if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
      ++at_end;
    } else if (m->err == RD_KAFKA_RESP_ERR_NO_ERROR) {
      all.append(static_cast<const char*>(m->payload), m->len).push_back('\n');
      rd_kafka_headers_t* headers = nullptr;
      if (rd_kafka_message_headers(m, &headers) == RD_KAFKA_RESP_ERR_NO_ERROR) {
        const char* name;
        const void* value;
        size_t size;
        for (size_t i = 0; rd_kafka_header_get_all(headers, i, &name, &value, &size) == RD_KAFKA_RESP_ERR_NO_ERROR; ++i) {
          all.append(name).push_back('=');
          if (value != nullptr) all.append(static_cast<const char*>(value), size);
          all.push_back('\n');
        }
      }
    }
    rd_kafka_message_destroy(m);
  }
  rd_kafka_consumer_close(consumer);
  rd_kafka_destroy(consumer);
  return all;
}

}  // namespace

BOOST_AUTO_TEST_CASE(intake_to_client_over_http_with_the_kafka_log) {
  test::test_database db;
  kafka_mock_cluster cluster(1);
  const std::string topic = "coachd.e2e";
  cluster.create_topic(topic, 4);
  const auto mail_dir = test::mail_dir_for(db);
  gateway::app_config config = test::e2e_config(db, mail_dir);
  config.event_log = "kafka://" + cluster.bootstrap_servers();
  config.kafka_topic = topic;
  gateway::app app(config);
  app.start();
  app.seed_demo_accounts();
  test::run_intake_slice(app.port(), [&] { return read_topic(cluster.bootstrap_servers(), topic, 4); }, mail_dir);
  app.stop();
  std::filesystem::remove_all(mail_dir);
}
