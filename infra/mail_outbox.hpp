#pragma once
/// The mail outbox: e-mail waits in a PostgreSQL table until a dispatcher hands it to a
/// transport. Callers enqueue inside their own transaction (a projector or process manager
/// commits the mail together with its checkpoint), so a mail is queued exactly when its cause
/// is committed, and at most once per message id.

#include <atomic>
#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <mutex>
#include <pqxx/pqxx>
#include <string>
#include <string_view>
#include <thread>

#include "infra/mail.hpp"

namespace coachd {

namespace mail_outbox {

/// The NOTIFY channel that enqueue signals and dispatchers LISTEN on.
inline constexpr const char* channel = "mail_outbox";

/// Creates the mail_outbox table and its index if they do not exist.
void ensure_schema(pqxx::connection& connection);

/// Queues `message` in the caller's transaction (any real transaction: pqxx::work,
/// serializable, a subtransaction) and NOTIFYs the dispatchers on commit.
/// A message whose id is already queued (or sent) is ignored: a redelivered trigger never
/// queues a second mail. Returns whether a row was inserted. Throws std::invalid_argument when
/// the message cannot be formatted (so the caller's transaction fails, not the dispatcher).
bool enqueue(pqxx::dbtransaction& tx, const mail_message& message);

/// For erasing a data subject: deletes the unsent mail to `address` and blanks the recipient
/// and subject of the sent mail. Returns the number of rows affected.
std::size_t erase_recipient(pqxx::dbtransaction& tx, const std::string& address);

}  // namespace mail_outbox

/// How a mail_dispatcher claims, retries and waits.
struct mail_dispatcher_config {
  std::size_t batch_size = 10;  // rows claimed per transaction
  int max_attempts = 10;        // after this many failures the mail is given up
  std::chrono::milliseconds first_retry{std::chrono::seconds(30)};    // doubled per failure...
  std::chrono::milliseconds max_retry{std::chrono::hours(2)};         // ...up to this
  std::chrono::milliseconds poll_interval{std::chrono::seconds(10)};  // fallback to NOTIFY
  std::chrono::milliseconds reconnect_delay{std::chrono::seconds(2)};
  /// Where the background thread reports a failure it will retry (lost connection); stderr
  /// when empty.
  std::function<void(const std::string&)> on_error;
};

/// Sends queued mail through a transport. Rows are claimed with SELECT ... FOR UPDATE SKIP
/// LOCKED, so any number of dispatchers (threads or processes) may work on one table and each
/// due message is sent once; a crash between a send and its commit sends that batch's messages
/// again (with the same Message-ID). A sent row keeps its metadata but loses its bodies; a
/// failed one records last_error and is retried with exponential backoff until max_attempts.
class mail_dispatcher {
 public:
  /// `transport` must outlive the dispatcher; it is called from the dispatcher's thread and
  /// from callers of dispatch_once.
  mail_dispatcher(std::string conninfo, mail_transport& transport,
                  mail_dispatcher_config config = {});
  ~mail_dispatcher();  // stop()
  mail_dispatcher(const mail_dispatcher&) = delete;
  mail_dispatcher& operator=(const mail_dispatcher&) = delete;

  /// Starts the background thread: it sends what is due, then waits for a NOTIFY on
  /// mail_outbox, the next retry time, or poll_interval, whichever comes first.
  void start();
  /// Stops the background thread after the message it is sending (if any); the rest of a
  /// claimed batch stays queued untouched. Idempotent.
  void stop();
  /// Claims one batch of due messages in the calling thread and tries each once. Returns the
  /// number of messages tried (sent or rescheduled); 0 when none is due. For tests and the CLI.
  std::size_t dispatch_once();

 private:
  std::size_t dispatch_batch(pqxx::connection& connection, bool stop_early);
  std::chrono::milliseconds time_to_next_due(pqxx::connection& connection);
  void wait_for(int socket, std::chrono::milliseconds timeout);
  void run();
  void report(const std::string& what) const;

  std::string conninfo_;
  mail_transport& transport_;
  mail_dispatcher_config config_;
  std::atomic<bool> stopping_{false};
  int wake_fd_ = -1;  // eventfd: wakes the background thread for stop()
  std::thread thread_;
  std::mutex once_mutex_;  // dispatch_once's connection is one caller's at a time
  std::unique_ptr<pqxx::connection> once_connection_;
};

}  // namespace coachd
