#include "infra/kafka_event_log.hpp"

#include <librdkafka/rdkafka.h>

#include <algorithm>
#include <charconv>
#include <cstdint>
#include <map>
#include <optional>
#include <stdexcept>
#include <thread>

namespace coachd {

namespace {

using clock = std::chrono::steady_clock;
using client_ptr = kafka_event_log::client_ptr;

// CloudEvents Kafka protocol binding, binary mode: one header per attribute, `ce_` + name.
// Extension attribute names are lowercase alphanumeric, hence `ce_streamversion` etc.
constexpr const char* header_specversion = "ce_specversion";
constexpr const char* header_id = "ce_id";
constexpr const char* header_source = "ce_source";
constexpr const char* header_type = "ce_type";
constexpr const char* header_time = "ce_time";
constexpr const char* header_subject = "ce_subject";
constexpr const char* header_streamversion = "ce_streamversion";
constexpr const char* header_commandid = "ce_commandid";
constexpr const char* header_correlationid = "ce_correlationid";
constexpr const char* header_causationid = "ce_causationid";
constexpr const char* header_actor = "ce_actor";
constexpr const char* header_schemaversion = "ce_schemaversion";
constexpr const char* header_content_type = "content-type";

constexpr const char* reader_group_id = "coachd-log-reader";

struct conf_deleter {
  void operator()(rd_kafka_conf_t* conf) const { rd_kafka_conf_destroy(conf); }
};
using conf_ptr = std::unique_ptr<rd_kafka_conf_t, conf_deleter>;

struct error_deleter {
  void operator()(rd_kafka_error_t* error) const { rd_kafka_error_destroy(error); }
};
using error_ptr = std::unique_ptr<rd_kafka_error_t, error_deleter>;

struct message_deleter {
  void operator()(rd_kafka_message_t* message) const { rd_kafka_message_destroy(message); }
};
using message_ptr = std::unique_ptr<rd_kafka_message_t, message_deleter>;

struct partition_list_deleter {
  void operator()(rd_kafka_topic_partition_list_t* list) const {
    rd_kafka_topic_partition_list_destroy(list);
  }
};
using partition_list_ptr = std::unique_ptr<rd_kafka_topic_partition_list_t, partition_list_deleter>;

struct headers_deleter {
  void operator()(rd_kafka_headers_t* headers) const { rd_kafka_headers_destroy(headers); }
};
using headers_ptr = std::unique_ptr<rd_kafka_headers_t, headers_deleter>;

int to_ms(std::chrono::milliseconds d) {
  return static_cast<int>(std::clamp<std::chrono::milliseconds::rep>(d.count(), 0, 1 << 30));
}

int remaining_ms(clock::time_point deadline) {
  return to_ms(std::chrono::duration_cast<std::chrono::milliseconds>(deadline - clock::now()));
}

void set_property(rd_kafka_conf_t* conf, const std::string& name, const std::string& value) {
  char errstr[512];
  if (rd_kafka_conf_set(conf, name.c_str(), value.c_str(), errstr, sizeof errstr) !=
      RD_KAFKA_CONF_OK) {
    throw log_error("kafka: property " + name + "=" + value + ": " + errstr);
  }
}

void set_properties(rd_kafka_conf_t* conf, const kafka_properties& properties) {
  for (const auto& [name, value] : properties) set_property(conf, name, value);
}

// coachd's defaults for every client, then the configured extras.
conf_ptr base_conf(const kafka_event_log_config& config) {
  conf_ptr conf(rd_kafka_conf_new());
  set_property(conf.get(), "bootstrap.servers", config.bootstrap_servers);
  set_property(conf.get(), "client.id", "coachd");
  // Warnings and errors reach stderr; informational chatter does not.
  set_property(conf.get(), "log_level", "4");
  set_property(conf.get(), "log.connection.close", "false");
  set_properties(conf.get(), config.properties);
  return conf;
}

// A read_committed consumer. A reader, which uses assign() with explicit offsets, needs a group
// (librdkafka's assign() lives in the group handle) but never joins it or commits to it.
conf_ptr consumer_conf(const kafka_event_log_config& config, bool reader) {
  conf_ptr conf = base_conf(config);
  if (reader) set_property(conf.get(), "group.id", reader_group_id);
  set_property(conf.get(), "enable.partition.eof", "false");
  set_properties(conf.get(), config.consumer_properties);
  // What the log's guarantees rest on: committed events only, no group offsets, and no silent
  // jump when a start offset does not exist.
  set_property(conf.get(), "isolation.level", "read_committed");
  set_property(conf.get(), "enable.auto.commit", "false");
  set_property(conf.get(), "enable.auto.offset.store", "false");
  set_property(conf.get(), "auto.offset.reset", "error");
  return conf;
}

client_ptr new_client(rd_kafka_type_t type, conf_ptr conf, const std::string& who) {
  char errstr[512];
  rd_kafka_t* client = rd_kafka_new(type, conf.get(), errstr, sizeof errstr);
  if (client == nullptr) throw log_error("kafka " + who + ": cannot create client: " + errstr);
  conf.release();  // rd_kafka_new took ownership
  return client_ptr(client);
}

std::string where(const std::string& topic, int partition) {
  return topic + "[" + std::to_string(partition) + "]";
}

bool is_fencing(rd_kafka_resp_err_t code) {
  return code == RD_KAFKA_RESP_ERR__FENCED || code == RD_KAFKA_RESP_ERR_PRODUCER_FENCED ||
         code == RD_KAFKA_RESP_ERR_INVALID_PRODUCER_EPOCH;
}

// ---- encoding: envelope <-> CloudEvents Kafka binding -------------------------------------

void add_header(rd_kafka_headers_t* headers, const char* name, const std::string& value) {
  rd_kafka_header_add(headers, name, -1, value.data(), static_cast<ssize_t>(value.size()));
}

headers_ptr encode_headers(const event_envelope& event) {
  headers_ptr headers(rd_kafka_headers_new(13));
  add_header(headers.get(), header_specversion, event.specversion);
  add_header(headers.get(), header_id, event.id);
  add_header(headers.get(), header_source, event.source);
  add_header(headers.get(), header_type, event.type);
  add_header(headers.get(), header_time, event.time);
  add_header(headers.get(), header_subject, event.subject);
  add_header(headers.get(), header_streamversion, std::to_string(event.stream_version));
  add_header(headers.get(), header_schemaversion, std::to_string(event.schema_version));
  // Optional extensions are left out when empty, as CloudEvents asks of absent attributes.
  if (!event.command_id.empty()) add_header(headers.get(), header_commandid, event.command_id);
  if (!event.correlation_id.empty()) {
    add_header(headers.get(), header_correlationid, event.correlation_id);
  }
  if (!event.causation_id.empty()) {
    add_header(headers.get(), header_causationid, event.causation_id);
  }
  if (!event.actor.empty()) add_header(headers.get(), header_actor, event.actor);
  add_header(headers.get(), header_content_type, "application/json");
  return headers;
}

std::optional<std::string> find_header(rd_kafka_headers_t* headers, const char* name) {
  if (headers == nullptr) return std::nullopt;
  const void* value = nullptr;
  size_t size = 0;
  if (rd_kafka_header_get_last(headers, name, &value, &size) != RD_KAFKA_RESP_ERR_NO_ERROR) {
    return std::nullopt;
  }
  if (value == nullptr) return std::string();
  return std::string(static_cast<const char*>(value), size);
}

template <typename Int>
Int parse_integer(const std::string& text, const char* name, const std::string& at) {
  Int value{};
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size()) {
    throw log_error("kafka event at " + at + ": header " + name + " is not an integer: '" + text +
                    "'");
  }
  return value;
}

stored_event decode(const rd_kafka_message_t& message, const std::string& topic) {
  const std::string at = where(topic, message.partition) + "@" + std::to_string(message.offset);
  rd_kafka_headers_t* headers = nullptr;  // owned by the message
  rd_kafka_resp_err_t err = rd_kafka_message_headers(&message, &headers);
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR && err != RD_KAFKA_RESP_ERR__NOENT) {
    throw log_error("kafka event at " + at + ": cannot read headers: " + rd_kafka_err2str(err));
  }
  auto required = [&](const char* name) {
    std::optional<std::string> value = find_header(headers, name);
    if (!value) throw log_error("kafka event at " + at + ": missing header " + name);
    return std::move(*value);
  };
  auto optional = [&](const char* name) { return find_header(headers, name).value_or(""); };

  stored_event stored;
  stored.partition = message.partition;
  stored.offset = message.offset;
  event_envelope& e = stored.envelope;
  e.specversion = required(header_specversion);
  e.id = required(header_id);
  e.source = required(header_source);
  e.type = required(header_type);
  e.time = required(header_time);
  e.subject = required(header_subject);
  e.stream_version =
      parse_integer<std::int64_t>(required(header_streamversion), header_streamversion, at);
  e.schema_version = parse_integer<int>(required(header_schemaversion), header_schemaversion, at);
  e.command_id = optional(header_commandid);
  e.correlation_id = optional(header_correlationid);
  e.causation_id = optional(header_causationid);
  e.actor = optional(header_actor);
  if (message.payload != nullptr)
    e.data.assign(static_cast<const char*>(message.payload), message.len);
  return stored;
}

// ---- writer --------------------------------------------------------------------------------

/// The single writer of one partition: a transactional producer whose transactional.id is
/// derived from the partition, so opening a newer one fences this one.
class kafka_partition_writer final : public partition_writer {
 public:
  kafka_partition_writer(const kafka_event_log_config& config, int partition)
      : topic_(config.topic),
        partition_(partition),
        timeout_(config.operation_timeout),
        transactional_id_(config.transactional_id_prefix + std::to_string(partition)) {
    conf_ptr conf = base_conf(config);
    set_properties(conf.get(), config.producer_properties);
    set_property(conf.get(), "transactional.id", transactional_id_);
    set_property(conf.get(), "enable.idempotence", "true");
    set_property(conf.get(), "acks", "all");
    rd_kafka_conf_set_dr_msg_cb(conf.get(), &kafka_partition_writer::on_delivery);
    rd_kafka_conf_set_opaque(conf.get(), this);
    producer_ = new_client(RD_KAFKA_PRODUCER, std::move(conf), "writer " + transactional_id_);
    topic_handle_.reset(rd_kafka_topic_new(producer_.get(), topic_.c_str(), nullptr));
    if (!topic_handle_) {
      throw log_error("kafka writer " + transactional_id_ +
                      ": topic handle: " + rd_kafka_err2str(rd_kafka_last_error()));
    }

    // init_transactions fences every older producer with this transactional.id and aborts
    // whatever transaction it left open.
    const auto deadline = clock::now() + timeout_;
    for (;;) {
      error_ptr error(rd_kafka_init_transactions(producer_.get(), remaining_ms(deadline)));
      if (!error) break;
      if (rd_kafka_error_is_retriable(error.get()) && clock::now() < deadline) continue;
      throw log_error("kafka writer " + transactional_id_ +
                      ": init_transactions: " + rd_kafka_error_string(error.get()));
    }
    // Learn the topic's partitions now rather than on the first append (librdkafka would
    // otherwise wait for its periodic topic scan, up to a second).
    const rd_kafka_metadata_t* metadata = nullptr;
    rd_kafka_resp_err_t err = rd_kafka_metadata(producer_.get(), 0, topic_handle_.get(), &metadata,
                                                remaining_ms(deadline));
    if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
      throw log_error("kafka writer " + transactional_id_ + ": metadata: " + rd_kafka_err2str(err));
    }
    rd_kafka_metadata_destroy(metadata);
  }

  int partition() const override { return partition_; }

  append_result append(std::span<const event_envelope> batch) override {
    if (!fenced_.empty()) throw fenced_error(fenced_);
    if (!broken_.empty()) throw log_error(broken_);
    append_result result{partition_, {}};
    if (batch.empty()) return result;
    if (in_transaction_) abort_transaction();  // an earlier append could not abort in time

    rd_kafka_poll(producer_.get(), 0);  // drop stale delivery reports of an earlier append
    ++generation_;
    deliveries_.assign(batch.size(), delivery{});
    const auto deadline = clock::now() + timeout_;

    check(rd_kafka_begin_transaction(producer_.get()), "begin_transaction");
    in_transaction_ = true;
    for (std::size_t i = 0; i < batch.size(); ++i) produce(batch[i], i, deadline);

    rd_kafka_resp_err_t err = rd_kafka_flush(producer_.get(), remaining_ms(deadline));
    if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
      fail("delivery not confirmed in time: " + std::string(rd_kafka_err2str(err)));
    }
    for (const delivery& d : deliveries_) {
      if (d.err != RD_KAFKA_RESP_ERR_NO_ERROR) {
        fail("delivery failed: " + std::string(rd_kafka_err2str(d.err)));
      }
    }

    for (;;) {
      error_ptr error(rd_kafka_commit_transaction(producer_.get(), remaining_ms(deadline)));
      if (!error) break;
      // A retriable commit error (a timeout) leaves the outcome open: commit again while there
      // is time. Past the deadline the batch may or may not be committed, and librdkafka takes
      // no abort in that state: the writer cannot go on.
      if (rd_kafka_error_is_retriable(error.get()) && !rd_kafka_error_is_fatal(error.get())) {
        if (clock::now() < deadline) continue;
        broken_ =
            "kafka writer " + transactional_id_ +
            " unusable (reopen it): commit outcome unknown: " + rd_kafka_error_string(error.get());
        throw log_error(broken_);
      }
      check(error.release(), "commit_transaction");
    }
    in_transaction_ = false;

    result.offsets.reserve(deliveries_.size());
    for (const delivery& d : deliveries_) result.offsets.push_back(d.offset);
    return result;
  }

 private:
  struct delivery {
    std::int64_t offset = -1;
    rd_kafka_resp_err_t err = RD_KAFKA_RESP_ERR__IN_PROGRESS;
  };

  // A message's opaque carries (append generation << 32 | index in batch) so that a late
  // report of an aborted append can never land in a later append's results.
  static_assert(sizeof(std::uintptr_t) >= 8, "opaque needs 64 bits");

  static void on_delivery(rd_kafka_t*, const rd_kafka_message_t* message, void* opaque) {
    auto* self = static_cast<kafka_partition_writer*>(opaque);
    auto tag = reinterpret_cast<std::uintptr_t>(message->_private);
    auto generation = static_cast<std::uint32_t>(tag >> 32);
    auto index = static_cast<std::size_t>(tag & 0xffffffffu);
    if (generation != self->generation_ || index >= self->deliveries_.size()) return;
    self->deliveries_[index] = delivery{message->offset, message->err};
  }

  void produce(const event_envelope& event, std::size_t index, clock::time_point deadline) {
    headers_ptr headers = encode_headers(event);
    auto tag = (static_cast<std::uintptr_t>(generation_) << 32) | index;
    for (;;) {
      rd_kafka_resp_err_t err = rd_kafka_producev(
          producer_.get(), RD_KAFKA_V_RKT(topic_handle_.get()), RD_KAFKA_V_PARTITION(partition_),
          RD_KAFKA_V_KEY(event.subject.data(), event.subject.size()),
          RD_KAFKA_V_VALUE(const_cast<char*>(event.data.data()), event.data.size()),
          RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_HEADERS(headers.get()),
          RD_KAFKA_V_OPAQUE(reinterpret_cast<void*>(tag)), RD_KAFKA_V_END);
      if (err == RD_KAFKA_RESP_ERR_NO_ERROR) {
        headers.release();  // the message owns them now
        return;
      }
      if (err == RD_KAFKA_RESP_ERR__QUEUE_FULL && clock::now() < deadline) {
        rd_kafka_poll(producer_.get(), 10);
        continue;
      }
      fail("produce: " + std::string(rd_kafka_err2str(err)));
    }
  }

  // Classifies a transactional API error and throws; does nothing when there is none.
  void check(rd_kafka_error_t* raw, const char* step) {
    error_ptr error(raw);
    if (!error) return;
    const std::string what = std::string(step) + ": " + rd_kafka_error_string(error.get());
    if (rd_kafka_error_is_fatal(error.get()) || is_fencing(rd_kafka_error_code(error.get()))) {
      fenced(what);
    }
    if (rd_kafka_error_txn_requires_abort(error.get())) fail(what);
    if (in_transaction_) fail(what);
    throw log_error("kafka writer " + transactional_id_ + ": " + what);
  }

  // The producer is dead: another writer with our transactional.id took over (or another
  // fatal error hit it). Nothing of the open transaction becomes visible.
  [[noreturn]] void fenced(const std::string& what) {
    char reason[512] = "";
    rd_kafka_resp_err_t fatal = rd_kafka_fatal_error(producer_.get(), reason, sizeof reason);
    fenced_ = "kafka writer " + transactional_id_ + " fenced: " + what;
    if (fatal != RD_KAFKA_RESP_ERR_NO_ERROR) fenced_ += std::string(" (") + reason + ")";
    in_transaction_ = false;
    throw fenced_error(fenced_);
  }

  // The append failed: abort its transaction (nothing becomes visible) and throw.
  [[noreturn]] void fail(const std::string& what) {
    char reason[512];
    if (rd_kafka_fatal_error(producer_.get(), reason, sizeof reason) !=
        RD_KAFKA_RESP_ERR_NO_ERROR) {
      fenced(what);
    }
    abort_transaction();
    throw log_error("kafka writer " + transactional_id_ + ": " + what + " (transaction aborted)");
  }

  void abort_transaction() {
    const auto deadline = clock::now() + timeout_;
    for (;;) {
      error_ptr error(rd_kafka_abort_transaction(producer_.get(), remaining_ms(deadline)));
      if (!error) {
        in_transaction_ = false;
        rd_kafka_poll(producer_.get(), 0);  // serve the purged messages' reports now
        return;
      }
      const std::string what =
          std::string("abort_transaction: ") + rd_kafka_error_string(error.get());
      if (rd_kafka_error_is_fatal(error.get()) || is_fencing(rd_kafka_error_code(error.get()))) {
        fenced(what);
      }
      if (rd_kafka_error_is_retriable(error.get()) && clock::now() < deadline) continue;
      if (!rd_kafka_error_is_retriable(error.get())) {
        // Neither fatal nor retriable: the producer's transaction state is unknown to us.
        broken_ = "kafka writer " + transactional_id_ + " unusable (reopen it): " + what;
        throw log_error(broken_);
      }
      // Timed out: the next append tries the abort again first.
      throw log_error("kafka writer " + transactional_id_ + ": " + what);
    }
  }

  std::string topic_;
  int partition_;
  std::chrono::milliseconds timeout_;
  std::string transactional_id_;
  std::uint32_t generation_ = 0;  // append counter; tags delivery reports
  std::vector<delivery> deliveries_;
  bool in_transaction_ = false;  // begun and neither committed nor aborted
  std::string fenced_;           // set once the producer is dead
  std::string broken_;           // set once its transaction state is unknown
  client_ptr producer_;          // destroyed after the topic handle, before the state above
  std::unique_ptr<rd_kafka_topic_t, void (*)(rd_kafka_topic_t*)> topic_handle_{
      nullptr, rd_kafka_topic_destroy};
};

// ---- reader --------------------------------------------------------------------------------

/// A read_committed consumer over explicitly assigned partitions and offsets.
class kafka_log_reader final : public log_reader {
 public:
  kafka_log_reader(const kafka_event_log_config& config, std::vector<partition_start> from)
      : topic_(config.topic) {
    partition_list_ptr assignment(rd_kafka_topic_partition_list_new(static_cast<int>(from.size())));
    for (const partition_start& start : from) {
      if (start.partition < 0 || start.partition >= config.partitions || start.offset < 0) {
        throw std::invalid_argument("kafka reader: bad start " + where(topic_, start.partition) +
                                    "@" + std::to_string(start.offset));
      }
      if (!starts_.emplace(start.partition, start.offset).second) {
        throw std::invalid_argument("kafka reader: partition " + std::to_string(start.partition) +
                                    " given twice");
      }
      rd_kafka_topic_partition_list_add(assignment.get(), topic_.c_str(), start.partition)->offset =
          start.offset;
    }
    consumer_ = new_client(RD_KAFKA_CONSUMER, consumer_conf(config, true), "reader");
    rd_kafka_poll_set_consumer(consumer_.get());
    rd_kafka_resp_err_t err = rd_kafka_assign(consumer_.get(), assignment.get());
    if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
      throw log_error("kafka reader: assign: " + std::string(rd_kafka_err2str(err)));
    }
  }

  std::vector<stored_event> poll(std::chrono::milliseconds max_wait,
                                 std::size_t max_events) override {
    if (undecodable_) throw *undecodable_;
    if (pending_) {
      log_error error = std::move(*pending_);
      pending_.reset();
      throw error;
    }
    std::vector<stored_event> events;
    const auto deadline = clock::now() + max_wait;
    while (events.size() < max_events) {
      // Wait only for the first event; then take what is already there.
      message_ptr message(
          rd_kafka_consumer_poll(consumer_.get(), events.empty() ? remaining_ms(deadline) : 0));
      if (!message) {
        if (events.empty() && clock::now() < deadline) continue;
        break;
      }
      if (message->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) continue;
      if (message->err != RD_KAFKA_RESP_ERR_NO_ERROR) {
        log_error error("kafka reader " + where(topic_, message->partition) + ": " +
                        rd_kafka_message_errstr(message.get()));
        if (events.empty()) throw error;
        pending_ = std::move(error);  // hand over what was consumed first
        break;
      }
      try {
        events.push_back(decode(*message, topic_));
      } catch (const log_error& error) {
        // The reader stops at an event it cannot decode, for good, and its position stays on
        // it, so no checkpoint ever skips it.
        undecodable_ = error;
        undecodable_at_ = {message->partition, message->offset};
        if (events.empty()) throw;
        break;
      }
    }
    return events;
  }

  std::int64_t position(int partition) const override {
    auto start = starts_.find(partition);
    if (start == starts_.end()) {
      throw std::invalid_argument("kafka reader: partition " + std::to_string(partition) +
                                  " is not assigned");
    }
    if (undecodable_ && undecodable_at_.first == partition) return undecodable_at_.second;
    partition_list_ptr list(rd_kafka_topic_partition_list_new(1));
    rd_kafka_topic_partition_list_add(list.get(), topic_.c_str(), partition);
    rd_kafka_resp_err_t err = rd_kafka_position(consumer_.get(), list.get());
    if (err == RD_KAFKA_RESP_ERR_NO_ERROR) err = list->elems[0].err;
    if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
      throw log_error("kafka reader " + where(topic_, partition) +
                      ": position: " + rd_kafka_err2str(err));
    }
    // librdkafka's position is the offset after the last message (or transaction marker) the
    // application consumed; before the first one it is unset and the start offset stands.
    std::int64_t offset = list->elems[0].offset;
    return offset >= 0 ? offset : start->second;
  }

 private:
  std::string topic_;
  std::map<int, std::int64_t> starts_;
  std::optional<log_error> pending_;      // a consumer error met after events were taken
  std::optional<log_error> undecodable_;  // sticky: the reader cannot go past this event
  std::pair<int, std::int64_t> undecodable_at_{-1, -1};
  client_ptr consumer_;
};

}  // namespace

// ---- the log -------------------------------------------------------------------------------

void kafka_event_log::client_deleter::operator()(rd_kafka_s* client) const {
  rd_kafka_destroy(client);  // closes a consumer first
}

kafka_event_log::kafka_event_log(kafka_event_log_config config) : config_(std::move(config)) {
  if (config_.partitions < 1) throw log_error("kafka event log: partitions must be at least 1");
  admin_ = new_client(RD_KAFKA_CONSUMER, consumer_conf(config_, false), "event log");
  ensure_topic();
}

kafka_event_log::~kafka_event_log() = default;

namespace {

// CreateTopics through the admin API. A topic that appeared meanwhile is fine.
void create_topic(rd_kafka_t* client, const kafka_event_log_config& config) {
  char errstr[512];
  rd_kafka_NewTopic_t* topic = rd_kafka_NewTopic_new(
      config.topic.c_str(), config.partitions, config.replication_factor, errstr, sizeof errstr);
  if (topic == nullptr) throw log_error("kafka: create topic " + config.topic + ": " + errstr);
  std::unique_ptr<rd_kafka_NewTopic_t, void (*)(rd_kafka_NewTopic_t*)> topic_owner(
      topic, rd_kafka_NewTopic_destroy);
  // An event log keeps every event: no time-based deletion.
  rd_kafka_NewTopic_set_config(topic, "retention.ms", "-1");

  std::unique_ptr<rd_kafka_AdminOptions_t, void (*)(rd_kafka_AdminOptions_t*)> options(
      rd_kafka_AdminOptions_new(client, RD_KAFKA_ADMIN_OP_CREATETOPICS),
      rd_kafka_AdminOptions_destroy);
  const int timeout = to_ms(config.operation_timeout);
  rd_kafka_AdminOptions_set_request_timeout(options.get(), timeout, errstr, sizeof errstr);
  rd_kafka_AdminOptions_set_operation_timeout(options.get(), timeout, errstr, sizeof errstr);

  std::unique_ptr<rd_kafka_queue_t, void (*)(rd_kafka_queue_t*)> queue(rd_kafka_queue_new(client),
                                                                       rd_kafka_queue_destroy);
  rd_kafka_CreateTopics(client, &topic, 1, options.get(), queue.get());
  std::unique_ptr<rd_kafka_event_t, void (*)(rd_kafka_event_t*)> event(
      rd_kafka_queue_poll(queue.get(), timeout + 1000), rd_kafka_event_destroy);
  const std::string what = "kafka: topic " + config.topic + " is missing and CreateTopics failed: ";
  if (!event) throw log_error(what + "timed out");
  if (rd_kafka_event_error(event.get()) != RD_KAFKA_RESP_ERR_NO_ERROR) {
    throw log_error(what + rd_kafka_event_error_string(event.get()));
  }
  const rd_kafka_CreateTopics_result_t* result = rd_kafka_event_CreateTopics_result(event.get());
  size_t count = 0;
  const rd_kafka_topic_result_t** topics =
      result ? rd_kafka_CreateTopics_result_topics(result, &count) : nullptr;
  if (count != 1) throw log_error(what + "no result");
  rd_kafka_resp_err_t err = rd_kafka_topic_result_error(topics[0]);
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR && err != RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS) {
    const char* message = rd_kafka_topic_result_error_string(topics[0]);
    throw log_error(what + (message ? message : rd_kafka_err2str(err)));
  }
}

}  // namespace

void kafka_event_log::ensure_topic() {
  std::unique_ptr<rd_kafka_topic_t, void (*)(rd_kafka_topic_t*)> topic(
      rd_kafka_topic_new(admin_.get(), config_.topic.c_str(), nullptr), rd_kafka_topic_destroy);
  if (!topic)
    throw log_error("kafka: topic handle " + config_.topic + ": " +
                    rd_kafka_err2str(rd_kafka_last_error()));
  const auto deadline = clock::now() + config_.operation_timeout;
  bool created = false;
  for (;;) {
    const rd_kafka_metadata_t* metadata = nullptr;
    // Only this topic; a consumer's metadata request never auto-creates it.
    rd_kafka_resp_err_t err =
        rd_kafka_metadata(admin_.get(), 0, topic.get(), &metadata, remaining_ms(deadline));
    if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
      throw log_error("kafka: metadata of " + config_.topic + ": " + rd_kafka_err2str(err));
    }
    std::unique_ptr<const rd_kafka_metadata_t, void (*)(const rd_kafka_metadata_t*)> owner(
        metadata, rd_kafka_metadata_destroy);
    rd_kafka_resp_err_t topic_err = RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART;
    int partition_count = 0;
    for (int i = 0; i < metadata->topic_cnt; ++i) {
      if (config_.topic == metadata->topics[i].topic) {
        topic_err = metadata->topics[i].err;
        partition_count = metadata->topics[i].partition_cnt;
      }
    }
    if (topic_err == RD_KAFKA_RESP_ERR_NO_ERROR && partition_count > 0) {
      if (partition_count != config_.partitions) {
        throw log_error("kafka: topic " + config_.topic + " has " +
                        std::to_string(partition_count) + " partitions, configured " +
                        std::to_string(config_.partitions));
      }
      return;
    }
    if (topic_err == RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART && !created) {
      create_topic(admin_.get(), config_);
      created = true;
      continue;
    }
    const bool settling = topic_err == RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART ||
                          topic_err == RD_KAFKA_RESP_ERR_LEADER_NOT_AVAILABLE ||
                          topic_err == RD_KAFKA_RESP_ERR_NO_ERROR;
    if (!settling || clock::now() >= deadline) {
      throw log_error("kafka: topic " + config_.topic + ": " + rd_kafka_err2str(topic_err));
    }
    // A freshly created topic takes a moment to show up with its leaders.
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
}

std::unique_ptr<partition_writer> kafka_event_log::open_writer(int partition) {
  if (partition < 0 || partition >= config_.partitions) {
    throw std::invalid_argument("kafka event log: no partition " + std::to_string(partition));
  }
  return std::make_unique<kafka_partition_writer>(config_, partition);
}

std::unique_ptr<log_reader> kafka_event_log::open_reader(std::vector<partition_start> from) {
  return std::make_unique<kafka_log_reader>(config_, std::move(from));
}

std::int64_t kafka_event_log::end_offset(int partition) {
  if (partition < 0 || partition >= config_.partitions) {
    throw std::invalid_argument("kafka event log: no partition " + std::to_string(partition));
  }
  std::int64_t low = 0;
  std::int64_t high = 0;
  // ListOffsets from a read_committed client: Kafka answers with the last stable offset.
  rd_kafka_resp_err_t err =
      rd_kafka_query_watermark_offsets(admin_.get(), config_.topic.c_str(), partition, &low, &high,
                                       to_ms(config_.operation_timeout));
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
    throw log_error("kafka: end offset of " + where(config_.topic, partition) + ": " +
                    rd_kafka_err2str(err));
  }
  return high;
}

}  // namespace coachd
