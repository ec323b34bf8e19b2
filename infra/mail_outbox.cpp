#include "infra/mail_outbox.hpp"

#include <poll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <stdexcept>
#include <system_error>

#include "infra/thread_name.hpp"

namespace coachd {

namespace mail_outbox {

void ensure_schema(pqxx::connection& connection) {
  pqxx::work tx(connection, "mail_outbox_schema");
  // CREATE ... IF NOT EXISTS is not safe against a concurrent creator; serialize them.
  tx.exec("SELECT pg_advisory_xact_lock(hashtext('coachd.mail_outbox.schema'))");
  tx.exec(R"sql(
    CREATE TABLE IF NOT EXISTS mail_outbox (
      id              text PRIMARY KEY,
      from_header     text NOT NULL,
      to_address      text NOT NULL,          -- the bare address: the SMTP recipient
      to_header       text,                   -- the To value with its display name
      subject         text NOT NULL,
      body            text,                   -- text/plain part; NULL once sent
      html_body       text,                   -- text/html part, if any; NULL once sent
      extra_headers   text,                   -- "Name:value" lines; NULL once sent
      created_at      timestamptz NOT NULL DEFAULT now(),
      attempts        integer NOT NULL DEFAULT 0,
      next_attempt_at timestamptz NOT NULL DEFAULT now(),
      sent_at         timestamptz,
      gave_up_at      timestamptz,
      last_error      text
    ))sql");
  // Serves the dispatcher's claim query: only pending rows, oldest due first.
  tx.exec(R"sql(
    CREATE INDEX IF NOT EXISTS mail_outbox_due ON mail_outbox (next_attempt_at)
      WHERE sent_at IS NULL AND gave_up_at IS NULL)sql");
  tx.commit();
}

bool enqueue(pqxx::dbtransaction& tx, const mail_message& message) {
  // Format once now, so that a message the dispatcher could never send fails the caller's
  // transaction instead of sitting in the outbox.
  (void)format_rfc5322(message, std::chrono::system_clock::now());
  std::string extra_headers;
  for (const auto& [name, value] : message.extra_headers) {
    extra_headers += name + ":" + value + "\n";
  }
  const pqxx::result inserted = tx.exec_params(
      R"sql(
        INSERT INTO mail_outbox (id, from_header, to_address, to_header, subject, body,
                                 html_body, extra_headers)
        VALUES ($1, $2, $3, $4, $5, $6, NULLIF($7, ''), $8)
        ON CONFLICT (id) DO NOTHING)sql",
      message.id, message.from, mail_address_of(message.to), message.to, message.subject,
      message.text_body, message.html_body, extra_headers);
  if (inserted.affected_rows() == 0) return false;
  // Delivered at commit; PostgreSQL folds identical notifications of one transaction.
  tx.exec(std::string("NOTIFY ") + channel);
  return true;
}

std::size_t erase_recipient(pqxx::dbtransaction& tx, const std::string& address) {
  // Unsent rows are given up rather than deleted, so that their ids still block a re-enqueue.
  const pqxx::result r = tx.exec_params(
      R"sql(
        UPDATE mail_outbox
           SET to_address = '', to_header = NULL, subject = '', body = NULL,
               html_body = NULL, extra_headers = NULL,
               gave_up_at = CASE WHEN sent_at IS NULL THEN coalesce(gave_up_at, now()) END,
               last_error = CASE WHEN sent_at IS NULL THEN 'recipient erased' END
         WHERE lower(to_address) = lower($1))sql",
      address);
  return r.affected_rows();
}

}  // namespace mail_outbox

namespace {

// Sets a flag when the mail_outbox channel is notified.
class outbox_listener : public pqxx::notification_receiver {
 public:
  outbox_listener(pqxx::connection& connection, bool& notified)
      : pqxx::notification_receiver(connection, mail_outbox::channel), notified_(notified) {}
  void operator()(const std::string&, int) override { notified_ = true; }

 private:
  bool& notified_;
};

// Remembers a FATAL message the server sends while the connection is idle: the reason it is
// about to close the connection (e.g. "terminating connection due to administrator command").
// Seeing it lets the dispatcher drop the connection before running a query on it.
class fatal_notice_watch : public pqxx::errorhandler {
 public:
  explicit fatal_notice_watch(pqxx::connection& connection) : pqxx::errorhandler(connection) {}
  bool operator()(const char message[]) noexcept override {
    std::string_view text(message);
    if (text.starts_with("FATAL") || text.starts_with("PANIC")) {
      while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) text.remove_suffix(1);
      fatal_.assign(text);
    }
    return false;
  }
  const std::string& fatal() const { return fatal_; }

 private:
  std::string fatal_;
};

std::vector<std::pair<std::string, std::string>> parse_extra_headers(std::string_view lines) {
  std::vector<std::pair<std::string, std::string>> headers;
  while (!lines.empty()) {
    const std::size_t end = lines.find('\n');
    const std::string_view line = lines.substr(0, end);
    const std::size_t colon = line.find(':');
    if (colon != std::string_view::npos) {
      headers.emplace_back(std::string(line.substr(0, colon)), std::string(line.substr(colon + 1)));
    }
    if (end == std::string_view::npos) break;
    lines.remove_prefix(end + 1);
  }
  return headers;
}

std::string field_text(const pqxx::field& f) {
  return f.is_null() ? std::string() : f.as<std::string>();
}

// first_retry * 2^(failures - 1), capped.
std::chrono::milliseconds retry_delay(const mail_dispatcher_config& config, int failures) {
  std::chrono::milliseconds delay = config.first_retry;
  for (int i = 1; i < failures && delay < config.max_retry; ++i) delay *= 2;
  return std::min(delay, config.max_retry);
}

}  // namespace

mail_dispatcher::mail_dispatcher(std::string conninfo, mail_transport& transport,
                                 mail_dispatcher_config config)
    : conninfo_(std::move(conninfo)), transport_(transport), config_(std::move(config)) {
  if (config_.batch_size == 0) throw std::invalid_argument("mail_dispatcher: batch_size is 0");
  if (config_.max_attempts < 1) throw std::invalid_argument("mail_dispatcher: max_attempts < 1");
  wake_fd_ = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (wake_fd_ < 0) throw std::system_error(errno, std::generic_category(), "eventfd");
}

mail_dispatcher::~mail_dispatcher() {
  stop();
  ::close(wake_fd_);
}

void mail_dispatcher::start() {
  if (thread_.joinable()) throw std::logic_error("mail_dispatcher: already started");
  stopping_ = false;
  thread_ = std::thread([this] { run(); });
}

void mail_dispatcher::stop() {
  stopping_ = true;
  const std::uint64_t one = 1;
  // A full counter already means "wake up"; nothing else can fail here.
  [[maybe_unused]] const ssize_t n = ::write(wake_fd_, &one, sizeof one);
  if (thread_.joinable()) thread_.join();
}

std::size_t mail_dispatcher::dispatch_once() {
  std::lock_guard lock(once_mutex_);
  try {
    if (!once_connection_) once_connection_ = std::make_unique<pqxx::connection>(conninfo_);
    return dispatch_batch(*once_connection_, false);
  } catch (...) {
    // The connection's state is unknown (broken, or mid-transaction); start afresh next time.
    once_connection_.reset();
    throw;
  }
}

std::size_t mail_dispatcher::dispatch_batch(pqxx::connection& connection, bool stop_early) {
  pqxx::work tx(connection, "mail_dispatch");
  const pqxx::result due = tx.exec_params(
      R"sql(
        SELECT id, from_header, coalesce(to_header, to_address) AS to_header, subject, body,
               html_body, extra_headers, attempts,
               (extract(epoch FROM created_at) * 1000000)::bigint AS created_us
          FROM mail_outbox
         WHERE sent_at IS NULL AND gave_up_at IS NULL AND next_attempt_at <= now()
         ORDER BY next_attempt_at
         LIMIT $1
           FOR UPDATE SKIP LOCKED)sql",
      static_cast<long long>(config_.batch_size));

  std::size_t tried = 0;
  for (const auto& row : due) {
    // Graceful stop: the message being sent is finished, the rest of the batch stays queued.
    if (stop_early && stopping_) break;
    mail_message message;
    message.id = row["id"].as<std::string>();
    message.from = row["from_header"].as<std::string>();
    message.to = row["to_header"].as<std::string>();
    message.subject = row["subject"].as<std::string>();
    message.text_body = field_text(row["body"]);
    message.html_body = field_text(row["html_body"]);
    message.extra_headers = parse_extra_headers(field_text(row["extra_headers"]));
    message.date = std::chrono::system_clock::time_point(
        std::chrono::microseconds(row["created_us"].as<long long>()));
    const int failures = row["attempts"].as<int>() + 1;

    std::string error;
    bool permanent = false;
    try {
      transport_.send(message);
    } catch (const std::invalid_argument& e) {
      // The message itself is malformed: no retry can help.
      error = e.what();
      permanent = true;
    } catch (const std::exception& e) {
      error = e.what();
      if (error.empty()) error = "unknown transport failure";
    } catch (...) {
      error = "unknown transport failure (non-standard exception)";
    }
    ++tried;

    if (error.empty()) {
      // Sent: keep the record, drop the personal content.
      tx.exec_params(
          R"sql(
            UPDATE mail_outbox
               SET sent_at = clock_timestamp(), attempts = attempts + 1, body = NULL,
                   html_body = NULL, extra_headers = NULL, to_header = NULL
             WHERE id = $1)sql",
          message.id);
    } else {
      if (error.size() > 2000) error.resize(2000);
      const bool give_up = permanent || failures >= config_.max_attempts;
      tx.exec_params(
          R"sql(
            UPDATE mail_outbox
               SET attempts = attempts + 1, last_error = $2,
                   next_attempt_at = clock_timestamp() + $3::bigint * interval '1 millisecond',
                   gave_up_at = CASE WHEN $4::boolean THEN clock_timestamp() END
             WHERE id = $1)sql",
          message.id, error, static_cast<long long>(retry_delay(config_, failures).count()),
          give_up);
    }
  }
  tx.commit();
  return tried;
}

std::chrono::milliseconds mail_dispatcher::time_to_next_due(pqxx::connection& connection) {
  pqxx::nontransaction tx(connection, "mail_next_due");
  const pqxx::row r = tx.exec1(R"sql(
    SELECT ceil(extract(epoch FROM min(next_attempt_at) - clock_timestamp()) * 1000)::bigint
      FROM mail_outbox
     WHERE sent_at IS NULL AND gave_up_at IS NULL)sql");
  if (r[0].is_null()) return config_.poll_interval;
  const std::chrono::milliseconds due(r[0].as<long long>());
  // Due already, yet the batch just claimed came back short: another dispatcher holds those
  // rows. Look again soon rather than spin while it sends them.
  if (due <= std::chrono::milliseconds(0)) {
    return std::min(config_.poll_interval, std::chrono::milliseconds(250));
  }
  return std::min(due, config_.poll_interval);
}

void mail_dispatcher::wait_for(int socket, std::chrono::milliseconds timeout) {
  pollfd fds[2] = {{wake_fd_, POLLIN, 0}, {socket, POLLIN, 0}};
  const nfds_t count = socket >= 0 ? 2 : 1;
  const int ms = static_cast<int>(std::min<long long>(timeout.count(), 24 * 3600 * 1000));
  if (::poll(fds, count, ms) < 0 && errno != EINTR) {
    throw std::system_error(errno, std::generic_category(), "mail_dispatcher: poll");
  }
  if (fds[0].revents & POLLIN) {
    std::uint64_t value = 0;
    [[maybe_unused]] const ssize_t n = ::read(wake_fd_, &value, sizeof value);
  }
}

void mail_dispatcher::run() {
  name_this_thread("mail-outbox");
  bool notified = false;
  std::unique_ptr<pqxx::connection> connection;
  std::unique_ptr<outbox_listener> listener;
  std::unique_ptr<fatal_notice_watch> fatal_watch;
  const auto drop_connection = [&] {
    // Close first, so that the listener does not send UNLISTEN over a dead connection.
    if (connection) connection->disconnect();
    listener.reset();
    fatal_watch.reset();
    connection.reset();
  };
  while (!stopping_) {
    try {
      if (!connection) {
        connection = std::make_unique<pqxx::connection>(conninfo_);
        fatal_watch = std::make_unique<fatal_notice_watch>(*connection);
        listener = std::make_unique<outbox_listener>(*connection, notified);
      } else if (!fatal_watch->fatal().empty() || !connection->is_open()) {
        // Closed, or about to be, while we waited (server restart, terminated backend): start
        // afresh instead of running a query on it (libpqxx 6 would also try to reactivate it
        // behind the listener's back).
        throw pqxx::broken_connection(fatal_watch->fatal().empty()
                                          ? "the connection to PostgreSQL was closed"
                                          : fatal_watch->fatal());
      }
      notified = false;
      // A full batch means more may be due.
      while (!stopping_ && dispatch_batch(*connection, true) == config_.batch_size) {
      }
      if (stopping_) break;
      // Notifications that arrived during the batch are already buffered by libpq.
      connection->get_notifs();
      if (notified) continue;
      wait_for(connection->sock(), time_to_next_due(*connection));
      connection->get_notifs();
    } catch (const std::exception& e) {
      report(std::string("mail_dispatcher: ") + e.what() + "; retrying in " +
             std::to_string(config_.reconnect_delay.count()) + " ms");
      drop_connection();
      try {
        if (!stopping_) wait_for(-1, config_.reconnect_delay);
      } catch (const std::exception& wait_error) {
        report(wait_error.what());
      }
    }
  }
}

void mail_dispatcher::report(const std::string& what) const {
  if (config_.on_error) {
    config_.on_error(what);
  } else {
    std::fprintf(stderr, "%s\n", what.c_str());
  }
}

}  // namespace coachd
