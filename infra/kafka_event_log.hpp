#pragma once
/// The Kafka adapter of the event log (librdkafka): one topic, one transactional producer per
/// written partition, read_committed consumers with explicitly assigned offsets. Events travel
/// in the CloudEvents Kafka binding (binary mode): ce_ headers and a JSON value.

#include <chrono>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "events/event_log.hpp"

struct rd_kafka_s;

namespace coachd {

/// librdkafka properties as (name, value) pairs, applied in order.
using kafka_properties = std::vector<std::pair<std::string, std::string>>;

/// Where the log lives and how its clients are set up.
struct kafka_event_log_config {
  std::string bootstrap_servers;
  std::string topic = "coachd.events";
  int partitions = 0;
  /// A partition's writer has `transactional.id` = prefix + partition number: stable across
  /// restarts, so a new writer fences the previous one.
  std::string transactional_id_prefix = "coachd-p";
  /// Replication factor of a topic this adapter creates; -1 takes the brokers' default.
  int replication_factor = -1;
  /// Extra librdkafka properties for every client (producers, consumers, the admin client),
  /// then for producers only and consumers only. They override coachd's defaults (linger.ms,
  /// log_level, ...) but not the settings the log's guarantees rest on (transactional.id,
  /// enable.idempotence, acks, isolation.level, enable.auto.commit, auto.offset.reset).
  kafka_properties properties;
  kafka_properties producer_properties;
  kafka_properties consumer_properties;
  /// Bound on each blocking broker operation: metadata, topic creation, init/commit/abort of a
  /// transaction, delivery of an append, watermark queries.
  std::chrono::milliseconds operation_timeout{30000};
};

/// The event log on a Kafka topic.
///
/// Construction connects, creates the topic with CreateTopics if it is missing (with
/// `retention.ms=-1`: an event log never expires), and throws log_error if the topic's
/// partition count differs from `config.partitions`. Writers and readers are independent
/// librdkafka clients and may outlive this object.
///
/// Writer: a transactional producer (`transactional.id` = prefix + partition, idempotence on,
/// acks=all); one append is one transaction, every event produced to the writer's partition with
/// key = subject, value = `data`, the envelope in ce_ headers (CloudEvents Kafka binding, binary
/// mode; extensions ce_streamversion, ce_commandid, ce_correlationid, ce_causationid, ce_actor,
/// ce_schemaversion; the four optional ones are left out when empty) and
/// `content-type: application/json`. Offsets come from the delivery reports. Retriable errors are
/// retried within operation_timeout; an abortable one aborts the transaction and throws
/// log_error (the writer goes on; librdkafka 2.0.2 may fail the next append once more while it
/// bumps the producer epoch); a fatal one (fenced: PRODUCER_FENCED, INVALID_PRODUCER_EPOCH,
/// _FENCED, or any other fatal producer error) throws fenced_error, and so does every later
/// append. A commit whose outcome stays unknown past operation_timeout throws log_error and
/// leaves the writer unusable: reopen it and read the log.
///
/// Reader: a consumer with `isolation.level=read_committed`, `enable.auto.commit=false` and
/// `auto.offset.reset=error` (a start offset that does not exist is an error, never a jump),
/// assigned the given partitions and offsets; it never joins its group or commits. position()
/// is librdkafka's consumer position (rd_kafka_position: past the last message or transaction
/// marker handed to the application), or the start offset before anything was consumed. A record
/// without the required ce_ headers (specversion, id, source, type, time, subject,
/// streamversion, schemaversion) throws log_error naming topic[partition]@offset; the reader then
/// stays on that record (every poll throws, position() reports its offset) so no checkpoint
/// skips it.
///
/// end_offset() is the partition's last stable offset: ListOffsets(latest) sent by a
/// read_committed client, which Kafka answers with the LSO (the first offset of the oldest open
/// transaction, or the high watermark when none is open). A reader whose position reached it has
/// seen every committed event. On the mock cluster LSO and high watermark are the same.
class kafka_event_log : public event_log {
 public:
  explicit kafka_event_log(kafka_event_log_config config);
  ~kafka_event_log() override;
  kafka_event_log(const kafka_event_log&) = delete;
  kafka_event_log& operator=(const kafka_event_log&) = delete;

  int partitions() const override { return config_.partitions; }
  /// Starts the partition's transactional producer (init_transactions fences any older one).
  std::unique_ptr<partition_writer> open_writer(int partition) override;
  std::unique_ptr<log_reader> open_reader(std::vector<partition_start> from) override;
  std::int64_t end_offset(int partition) override;
  std::string name() const override { return "kafka"; }

  const kafka_event_log_config& config() const { return config_; }

  /// Deleter for librdkafka client handles held by this adapter.
  struct client_deleter {
    void operator()(rd_kafka_s* client) const;
  };
  using client_ptr = std::unique_ptr<rd_kafka_s, client_deleter>;

 private:
  void ensure_topic();

  kafka_event_log_config config_;
  client_ptr admin_;  // read_committed consumer used for metadata, CreateTopics and ListOffsets
};

}  // namespace coachd
