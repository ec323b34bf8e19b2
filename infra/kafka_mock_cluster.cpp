#include "infra/kafka_mock_cluster.hpp"

// rdkafka_mock.h must follow rdkafka.h.
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

#include "events/event_log.hpp"

namespace coachd {

kafka_mock_cluster::kafka_mock_cluster(int brokers) : brokers_(brokers) {
  if (brokers < 1) throw log_error("kafka mock cluster: broker count must be at least 1");
  char errstr[512];
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  // The mock logs through this handle; warnings and errors only (the handle itself has no
  // bootstrap.servers, which librdkafka reports as a notice).
  if (rd_kafka_conf_set(conf, "log_level", "4", errstr, sizeof errstr) != RD_KAFKA_CONF_OK) {
    rd_kafka_conf_destroy(conf);
    throw log_error(std::string("kafka mock cluster: ") + errstr);
  }
  handle_ = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof errstr);
  if (handle_ == nullptr) {
    rd_kafka_conf_destroy(conf);
    throw log_error(std::string("kafka mock cluster: cannot create handle: ") + errstr);
  }
  cluster_ = rd_kafka_mock_cluster_new(handle_, brokers);
  if (cluster_ == nullptr) {
    rd_kafka_destroy(handle_);
    throw log_error("kafka mock cluster: rd_kafka_mock_cluster_new failed");
  }
}

kafka_mock_cluster::~kafka_mock_cluster() {
  rd_kafka_mock_cluster_destroy(cluster_);
  rd_kafka_destroy(handle_);
}

std::string kafka_mock_cluster::bootstrap_servers() const {
  return rd_kafka_mock_cluster_bootstraps(cluster_);
}

void kafka_mock_cluster::create_topic(const std::string& name, int partitions, int replication) {
  rd_kafka_resp_err_t err =
      rd_kafka_mock_topic_create(cluster_, name.c_str(), partitions, replication);
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
    throw log_error("kafka mock cluster: cannot create topic " + name + ": " +
                    rd_kafka_err2str(err));
  }
}

}  // namespace coachd
