// Availability and booking over HTTP with the Kafka log (librdkafka's mock cluster), including
// 100 concurrent BookSession requests for one slot.
#define BOOST_TEST_MODULE booking_kafka_e2etest
#include <boost/test/unit_test.hpp>

#include "infra/kafka_mock_cluster.hpp"
#include "tests/e2e/booking_slice.hpp"
#include "tests/support/pg_test_db.hpp"
#include "tests/support/e2e_config.hpp"

using namespace coachd;

BOOST_AUTO_TEST_CASE(booking_over_http_with_the_kafka_log) {
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
  test::run_booking_slice(app.port(), mail_dir);
  app.stop();
  std::filesystem::remove_all(mail_dir);
}
