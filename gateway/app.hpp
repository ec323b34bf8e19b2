#pragma once
/// coachd assembled: configuration → event log, key store, codec, command processor,
/// projectors, process managers, mail dispatcher, HTTP server. `coachd` runs one; the
/// end-to-end tests run one in-process.

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

namespace coachd::gateway {

/// Everything coachd can be told (flags and environment; see README "Configuration").
struct app_config {
  std::string listen = "127.0.0.1:8080";  // port 0 picks a free one
  /// "postgres" (the embedded log in --pg), "kafka://host:port[,host:port]" or "kafka-mock"
  /// (an in-process mock cluster on loopback, for development and tests).
  std::string event_log = "postgres";
  std::string kafka_topic = "coachd.events";
  std::string pg = "host=127.0.0.1 port=55432 user=postgres dbname=coachd";
  int partitions = 8;
  /// HTTP threads; 0: half the hardware threads, at least one. On two cores one thread served
  /// GETs 9-30 % faster at about a third less of coachd's CPU per GET than two, and bookings as
  /// fast or faster: two threads sharing one io_context hand every wake-up to each other.
  int io_threads = 0;
  int pg_pool_size = 16;
  /// Pipelined connections of the reads that run on the HTTP threads (infra/pg_async);
  /// 0: twice the hardware threads (4 on two cores, where 4 served GET /clients 22 % faster
  /// than 16 did).
  int pg_read_pool = 0;
  bool run_gateway = true;
  bool run_commands = true;
  bool run_projectors = true;
  /// "file" (RFC 5322 .eml files in mail_dir) or "smtp".
  std::string mail_transport = "file";
  std::string mail_dir = "var/mail";
  std::string mail_from = "coachd <no-reply@coachd.local>";
  std::string smtp_host = "127.0.0.1";
  std::uint16_t smtp_port = 587;
  std::string smtp_security = "starttls";  // none | starttls | tls
  std::string smtp_username, smtp_password;
  std::string portal_url = "http://127.0.0.1:8080";
  bool secure_cookies = false;  // must be true anywhere but loopback development
  std::chrono::milliseconds consistency_wait{2000};
  std::chrono::milliseconds shutdown_grace{10000};
  /// How long before a session its reminder goes out (--reminder-lead-minutes): 1 minute to
  /// 30 days; start() refuses anything else.
  std::chrono::minutes reminder_lead{24 * 60};
  /// How long a projector batch waits for more events while they keep coming
  /// (--projector-linger-ms, 0 to 100; projections/runner.hpp).
  std::chrono::milliseconds projector_linger{4};
  /// How long a checked session may be served from memory (gateway/session_cache.hpp); ended
  /// sessions are dropped at once whatever this is. Zero asks PostgreSQL on every request.
  std::chrono::milliseconds session_cache_ttl{10000};
};

/// The value of --reminder-lead-minutes or COACHD_REMINDER_LEAD_MINUTES (named by `source` in
/// the error): a whole number of minutes from 1 to 43200 (30 days). Throws
/// std::invalid_argument with the rule and the offending text otherwise.
std::chrono::minutes parse_reminder_lead(std::string_view text, std::string_view source);
/// The value of --projector-linger-ms or COACHD_PROJECTOR_LINGER_MS: a whole number of
/// milliseconds from 0 to 100; anything else throws std::invalid_argument naming `source`.
std::chrono::milliseconds parse_projector_linger(std::string_view text, std::string_view source);

/// Reads COACHD_* environment variables into `config` (flags applied later override them).
/// Throws std::invalid_argument for a value it cannot use.
void apply_environment(app_config& config);

class app {
 public:
  explicit app(app_config config);
  ~app();
  app(const app&) = delete;
  app& operator=(const app&) = delete;

  /// Migrates, opens the log, rebuilds command state, starts projectors and the server.
  void start();
  /// Blocks until stop() (or a signal handled by the caller) ends the server.
  void wait();
  /// Graceful stop: stop accepting, finish in-flight requests and commands, stop projectors.
  void stop();

  /// The port the server listens on (useful with port 0).
  std::uint16_t port() const;
  /// Registers the demo coach and client (idempotent); returns their (e-mail, password) lines.
  std::string seed_demo_accounts();

  struct impl;

 private:
  std::unique_ptr<impl> impl_;
};

}  // namespace coachd::gateway
