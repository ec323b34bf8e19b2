#include "gateway/app.hpp"

#include <boost/asio/io_context.hpp>
#include <charconv>
#include <cstdio>
#include <future>
#include <pqxx/pqxx>
#include <stdexcept>
#include <thread>

#include "commands/pg_snapshot_store.hpp"
#include "commands/processor.hpp"
#include "events/codec.hpp"
#include "gateway/auth.hpp"
#include "gateway/authorization.hpp"
#include "gateway/http_server.hpp"
#include "gateway/router.hpp"
#include "gateway/routes.hpp"
#include "gateway/services.hpp"
#include "gateway/session_cache.hpp"
#include "infra/crypto.hpp"
#include "infra/kafka_event_log.hpp"
#include "infra/kafka_mock_cluster.hpp"
#include "infra/mail.hpp"
#include "infra/mail_outbox.hpp"
#include "infra/metrics.hpp"
#include "infra/password.hpp"
#include "infra/pg_event_log.hpp"
#include "infra/pg_key_store.hpp"
#include "infra/pg_pool.hpp"
#include "infra/shared_tail_log.hpp"
#include "infra/thread_name.hpp"
#include "projections/accounts_projector.hpp"
#include "projections/calendar_feed_queries.hpp"
#include "projections/client_queries.hpp"
#include "projections/clients_projector.hpp"
#include "projections/identity_projector.hpp"
#include "projections/identity_queries.hpp"
#include "projections/intake_queries.hpp"
#include "projections/intakes_projector.hpp"
#include "projections/migrations.hpp"
#include "projections/onboarding.hpp"
#include "projections/reminders.hpp"
#include "projections/runner.hpp"
#include "projections/session_queries.hpp"
#include "projections/sessions_projector.hpp"

namespace coachd::gateway {

namespace {

std::pair<std::string, std::uint16_t> split_listen(const std::string& listen) {
  const auto colon = listen.rfind(':');
  if (colon == std::string::npos) throw std::invalid_argument("--listen must be host:port, got " + listen);
  std::string host = listen.substr(0, colon);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
  const int port = std::stoi(listen.substr(colon + 1));
  if (port < 0 || port > 65535) throw std::invalid_argument("--listen port out of range: " + listen);
  return {host, static_cast<std::uint16_t>(port)};
}

/// Connections of the pipelined read pool: as configured, or twice the hardware threads. More
/// connections than PostgreSQL can keep busy only make each pipeline shallower: on two cores,
/// GET /api/v1/clients at 64 connections served (medians of four alternating runs) 10,231/s
/// with 4, 9,022/s with 16 (p99 50-80 ms against 12-14 ms), and 8,412/s with the earlier pool
/// of 16 connections that ran one statement at a time.
std::size_t read_pool_size(int configured) {
  if (configured < 0) throw std::invalid_argument("--pg-read-pool must be 0 (automatic) or more");
  if (configured > 0) return static_cast<std::size_t>(configured);
  return std::max<std::size_t>(2, 2 * std::max(1u, std::thread::hardware_concurrency()));
}

/// Submits a command and waits for its outcome on the calling (non-I/O) thread.
result<command_outcome> submit_and_wait(command_processor& processor, command cmd) {
  auto promise = std::make_shared<std::promise<result<command_outcome>>>();
  auto future = promise->get_future();
  processor.submit(std::move(cmd), [promise](result<command_outcome> r) { promise->set_value(std::move(r)); });
  return future.get();
}

}  // namespace

std::chrono::minutes parse_reminder_lead(std::string_view text, std::string_view source) {
  const auto rule = [&] {
    return std::string(source) + " must be a whole number of minutes from 1 to " +
           std::to_string(max_reminder_lead.count()) + " (30 days); got '" + std::string(text) + "'";
  };
  long long minutes = 0;
  const auto* end = text.data() + text.size();
  const auto [ptr, ec] = std::from_chars(text.data(), end, minutes);
  if (text.empty() || ec != std::errc() || ptr != end) throw std::invalid_argument(rule());
  if (minutes < 1 || minutes > max_reminder_lead.count()) throw std::invalid_argument(rule());
  return std::chrono::minutes(minutes);
}

std::chrono::milliseconds parse_projector_linger(std::string_view text, std::string_view source) {
  int ms = -1;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), ms);
  if (ec != std::errc() || end != text.data() + text.size() || ms < 0 || ms > 100) {
    throw std::invalid_argument(std::string(source) + " must be a whole number of milliseconds from 0 to 100; got '" +
                                std::string(text) + "'");
  }
  return std::chrono::milliseconds(ms);
}

void apply_environment(app_config& c) {
  auto env = [](const char* name) -> const char* {
    const char* v = std::getenv(name);
    return (v != nullptr && *v != '\0') ? v : nullptr;
  };
  if (auto v = env("COACHD_LISTEN")) c.listen = v;
  if (auto v = env("COACHD_EVENT_LOG")) c.event_log = v;
  if (auto v = env("COACHD_PG")) c.pg = v;
  if (auto v = env("COACHD_PARTITIONS")) c.partitions = std::stoi(v);
  if (auto v = env("COACHD_MAIL_TRANSPORT")) c.mail_transport = v;
  if (auto v = env("COACHD_MAIL_DIR")) c.mail_dir = v;
  if (auto v = env("COACHD_MAIL_FROM")) c.mail_from = v;
  if (auto v = env("COACHD_SMTP_HOST")) c.smtp_host = v;
  if (auto v = env("COACHD_SMTP_PORT")) c.smtp_port = static_cast<std::uint16_t>(std::stoi(v));
  if (auto v = env("COACHD_SMTP_SECURITY")) c.smtp_security = v;
  if (auto v = env("COACHD_SMTP_USERNAME")) c.smtp_username = v;
  if (auto v = env("COACHD_SMTP_PASSWORD")) c.smtp_password = v;
  if (auto v = env("COACHD_PORTAL_URL")) c.portal_url = v;
  if (auto v = env("COACHD_SECURE_COOKIES")) c.secure_cookies = std::string(v) == "1" || std::string(v) == "true";
  if (auto v = env("COACHD_REMINDER_LEAD_MINUTES")) c.reminder_lead = parse_reminder_lead(v, "COACHD_REMINDER_LEAD_MINUTES");
  if (auto v = env("COACHD_PROJECTOR_LINGER_MS")) {
    c.projector_linger = parse_projector_linger(v, "COACHD_PROJECTOR_LINGER_MS");
  }
}

struct app::impl final : onboarding_commands {
  app_config config;
  std::unique_ptr<kafka_mock_cluster> mock;
  std::unique_ptr<event_log> log;
  // What the projection runners read: the log, with one shared fetch for all that follow its tail
  // (and what the processor writes through, so that its appends reach them directly).
  std::unique_ptr<shared_tail_log> projection_log;
  std::unique_ptr<pg_key_store> keys;
  std::unique_ptr<event_codec> codec;
  std::unique_ptr<pg_snapshot_store> snapshots;
  std::unique_ptr<command_processor> processor;
  accounts_projector accounts;
  intakes_projector intakes;
  sessions_projector sessions;  // scheduling
  reminders_projector reminders;  // scheduling: due session reminders
  std::unique_ptr<reminder_dispatcher> reminder_sender;
  clients_projector clients;
  identity_projector identity;  // credentials + audit trail (issue 3)
  std::unique_ptr<onboarding_process> onboarding;
  std::vector<std::unique_ptr<projection_runner>> runners;
  std::unique_ptr<mail_transport> transport;
  std::unique_ptr<mail_dispatcher> dispatcher;
  std::unique_ptr<pg_pool> pool;
  std::unique_ptr<gateway::session_cache> session_cache;
  services svc;
  router routes;
  boost::asio::io_context ioc;
  std::unique_ptr<pg_async_pool> reads;  // after ioc: its sockets are registered with it
  std::unique_ptr<http_server> server;
  std::vector<std::thread> io_threads;
  std::mutex lag_mutex;
  std::vector<std::int64_t> cached_ends;
  std::chrono::steady_clock::time_point ends_read_at{};

  explicit impl(app_config c) : config(std::move(c)) {}

  result<bool> register_client_account(const client_account& r) override {
    command cmd;
    cmd.id = r.command_id;
    cmd.stream = account_stream_for(svc, r.email);
    cmd.actor = "system:onboarding";
    cmd.correlation_id = r.correlation_id;
    cmd.causation_id = r.causation_id;
    cmd.issued_at = r.at;
    cmd.body = register_account{r.account_id, "client", r.email, r.display_name, std::nullopt, r.at};
    auto outcome = submit_and_wait(*processor, std::move(cmd));
    if (!outcome) return outcome.err();
    return true;
  }

  result<bool> create_client_profile(const client_profile& r) override {
    command cmd;
    cmd.id = r.command_id;
    cmd.stream = client_stream(r.client_id);
    cmd.actor = "system:onboarding";
    cmd.correlation_id = r.correlation_id;
    cmd.causation_id = r.causation_id;
    cmd.issued_at = r.at;
    cmd.body = coachd::create_client_profile{r.client_id, r.coach_id, r.account_id, r.intake_id, r.name,
                                             r.email,     r.phone,    r.goals,      r.at};
    auto outcome = submit_and_wait(*processor, std::move(cmd));
    if (!outcome) return outcome.err();
    return true;
  }

  void open_log() {
    if (config.event_log == "postgres") {
      log = std::make_unique<pg_event_log>(config.pg, config.partitions);
      return;
    }
    kafka_event_log_config k;
    k.topic = config.kafka_topic;
    k.partitions = config.partitions;
    if (config.event_log == "kafka-mock") {
      mock = std::make_unique<kafka_mock_cluster>(1);
      mock->create_topic(k.topic, config.partitions);
      k.bootstrap_servers = mock->bootstrap_servers();
    } else if (config.event_log.rfind("kafka://", 0) == 0) {
      k.bootstrap_servers = config.event_log.substr(8);
    } else {
      throw std::invalid_argument("--event-log must be postgres, kafka://host:port[,…] or kafka-mock; got " +
                                  config.event_log);
    }
    log = std::make_unique<kafka_event_log>(k);
  }

  std::string load_email_key() {
    pqxx::connection c(config.pg);
    pqxx::work tx(c);
    tx.exec_params("INSERT INTO coachd_settings (name, value) VALUES ('email_key', $1) ON CONFLICT (name) DO NOTHING",
                   random_token(32));
    auto key = tx.exec("SELECT value FROM coachd_settings WHERE name = 'email_key'")[0][0].as<std::string>();
    tx.commit();
    return key;
  }

  void open_mail() {
    if (config.mail_transport == "file") {
      transport = std::make_unique<file_transport>(config.mail_dir);
    } else if (config.mail_transport == "smtp") {
      smtp_config s;
      s.host = config.smtp_host;
      s.port = config.smtp_port;
      s.username = config.smtp_username;
      s.password = config.smtp_password;
      if (config.smtp_security == "none") {
        s.security = smtp_security::none;
      } else if (config.smtp_security == "tls") {
        s.security = smtp_security::tls;
      } else if (config.smtp_security == "starttls") {
        s.security = smtp_security::starttls;
      } else {
        throw std::invalid_argument("--smtp-security must be none, starttls or tls");
      }
      transport = std::make_unique<smtp_transport>(s);
    } else {
      throw std::invalid_argument("--mail-transport must be file or smtp");
    }
    dispatcher = std::make_unique<mail_dispatcher>(config.pg, *transport);
  }

  /// End offsets for the lag gauges, read at most once a second whatever the scrape rate.
  std::int64_t cached_end(int partition) {
    std::lock_guard lock(lag_mutex);
    if (std::chrono::steady_clock::now() - ends_read_at > std::chrono::seconds(1)) {
      try {
        cached_ends.clear();
        for (int p = 0; p < log->partitions(); ++p) cached_ends.push_back(log->end_offset(p));
        ends_read_at = std::chrono::steady_clock::now();
      } catch (const std::exception&) {
        cached_ends.assign(static_cast<std::size_t>(log->partitions()), 0);
      }
    }
    return cached_ends[static_cast<std::size_t>(partition)];
  }

  void register_metrics() {
    auto& m = metrics::default_registry();
    svc.metrics = &m;
    auto& commands = m.add_gauge("coachd_commands_processed", "Commands answered since start, by outcome",
                                 {"outcome"});
    commands.bind({"accepted"}, [this] { return double(processor->stats().commands_accepted.load()); });
    commands.bind({"rejected"}, [this] { return double(processor->stats().commands_rejected.load()); });
    commands.bind({"replayed"}, [this] { return double(processor->stats().commands_replayed.load()); });
    m.add_callback_gauge("coachd_streams_in_memory", "Aggregate streams held by the command processor",
                         [this] { return double(processor->stream_count()); });
    auto& batch = m.add_histogram("coachd_append_batch_commands", "Commands per group-commit append", {},
                                  {1, 2, 4, 8, 16, 32, 64, 128, 256, 512});
    auto& events = m.add_counter("coachd_appended_events_total", "Events appended to the log");
    auto& took = m.add_histogram("coachd_append_seconds",
                                 "Time from handing a group commit's events to the log to their being durable "
                                 "(new PII keys included)",
                                 {}, {0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1});
    processor->on_append([&batch, &events, &took](std::size_t n_commands, std::size_t n_events,
                                                  std::chrono::duration<double> seconds) {
      batch.with({}).observe(double(n_commands));
      events.with({}).inc(double(n_events));
      took.with({}).observe(seconds.count());
    });
    auto& lag = m.add_gauge("coachd_projection_lag_events", "Events in the log a projector has not applied yet",
                            {"projector", "partition"});
    for (auto& runner : runners) {
      for (int p = 0; p < log->partitions(); ++p) {
        lag.bind({runner->target().name(), std::to_string(p)}, [this, r = runner.get(), p] {
          return double(std::max<std::int64_t>(0, cached_end(p) - r->position(p)));
        });
      }
    }
  }

  void start() {
    if (config.reminder_lead < std::chrono::minutes(1) || config.reminder_lead > max_reminder_lead) {
      throw std::invalid_argument("the reminder lead time must be from 1 to " +
                                  std::to_string(max_reminder_lead.count()) + " minutes (30 days), got " +
                                  std::to_string(config.reminder_lead.count()));
    }
    {
      pqxx::connection c(config.pg);
      apply_migrations(c);
      mail_outbox::ensure_schema(c);
    }
    svc.email_key = load_email_key();
    open_log();
    pg_key_store_options key_options;
    key_options.master_key = master_key_from_env();
    // With the log in the same cluster, each group commit's append flushes the keys created
    // for it; with Kafka, the processor flushes them once per group commit before appending.
    key_options.new_keys = config.event_log == "postgres" ? pg_key_store_options::durability::shared_wal
                                                          : pg_key_store_options::durability::deferred;
    keys = std::make_unique<pg_key_store>(config.pg, key_options);
    keys->preload_all();
    codec = std::make_unique<event_codec>(*keys);
    snapshots = std::make_unique<pg_snapshot_store>(
        config.pg, config.event_log == "postgres" ? "postgres" : "kafka:" + config.kafka_topic);
    processor_options options;
    options.snapshots = snapshots.get();
    options.keys = keys.get();
    // The processor writes through the projectors' shared tail when this process runs them:
    // what it appends then reaches them without being read back from the log.
    if (config.run_projectors) projection_log = std::make_unique<shared_tail_log>(*log);
    processor = std::make_unique<command_processor>(projection_log ? static_cast<event_log&>(*projection_log) : *log,
                                                    *codec, options);
    svc.settings.secure_cookies = config.secure_cookies;
    svc.settings.consistency_wait = config.consistency_wait;
    svc.settings.portal_url = config.portal_url;
    svc.log = log.get();
    svc.processor = processor.get();
    pool = std::make_unique<pg_pool>(config.pg, static_cast<std::size_t>(config.pg_pool_size),
                                     [](pqxx::connection_base& c) {
                                       prepare_session_queries(c);
                                       prepare_identity_queries(c);
                                       prepare_calendar_feed_queries(c);
                                     });
    svc.pool = pool.get();
    {
      std::vector<pg_statement> statements = client_statements();
      for (auto* more : {intake_statements, session_read_statements}) {
        auto list = more();
        statements.insert(statements.end(), std::make_move_iterator(list.begin()), std::make_move_iterator(list.end()));
      }
      reads = std::make_unique<pg_async_pool>(ioc.get_executor(), config.pg, read_pool_size(config.pg_read_pool),
                                              std::move(statements));
    }
    svc.reads = reads.get();
    if (config.session_cache_ttl.count() > 0) {
      session_cache = std::make_unique<gateway::session_cache>(config.session_cache_ttl);
      session_cache->start(config.pg);
      svc.sessions = session_cache.get();
    }
    if (config.run_commands) processor->start();
    onboarding = std::make_unique<onboarding_process>(*this, onboarding_options{config.mail_from, config.portal_url});
    if (config.run_projectors) {
      for (projector* p : std::initializer_list<projector*>{&accounts, &intakes, &clients, onboarding.get(), &identity,
                                                                      &sessions, &reminders}) {
        runner_options options;
        options.linger = config.projector_linger;
        runners.push_back(std::make_unique<projection_runner>(*projection_log, *codec, config.pg, *p, options));
        svc.runners[p->name()] = runners.back().get();
      }
      for (auto& r : runners) r->start();
      open_mail();
      dispatcher->start();
      reminder_sender = std::make_unique<reminder_dispatcher>(
          config.pg, reminder_options{config.reminder_lead, config.mail_from, config.portal_url,
                                       std::chrono::milliseconds(1000)});
      reminder_sender->start();
    }
    register_metrics();
    if (config.run_gateway) {
      add_all_routes(routes, svc);
      declare_core_route_scopes(routes);  // scopes of routes registered without one (issue 3)
      routes.set_before(make_auth_hook(svc));
      auto [host, port] = split_listen(config.listen);
      http_server_config sc;
      sc.address = host;
      sc.port = port;
      server = std::make_unique<http_server>(ioc, sc, routes);
      server->start();
      const int threads = config.io_threads > 0 ? config.io_threads
                                                : std::max(1, static_cast<int>(std::thread::hardware_concurrency() / 2));
      for (int i = 0; i < threads; ++i) {
        io_threads.emplace_back([this] {
          name_this_thread("http-io");
          ioc.run();
        });
      }
    }
  }

  void stop() {
    if (server) server->stop();
    for (auto& t : io_threads) {
      if (t.joinable()) t.join();
    }
    io_threads.clear();
    for (auto& r : runners) r->stop();
    if (reminder_sender) reminder_sender->stop();
    if (dispatcher) dispatcher->stop();
    if (processor) processor->stop();
    if (pool) pool->stop();
    svc.reads = nullptr;
    reads.reset();  // the I/O threads are gone: nobody waits on its connections
    if (session_cache) session_cache->stop();
  }
};

app::app(app_config config) : impl_(std::make_unique<impl>(std::move(config))) {}

app::~app() { stop(); }

void app::start() { impl_->start(); }

void app::wait() {
  for (auto& t : impl_->io_threads) {
    if (t.joinable()) t.join();
  }
}

void app::stop() { impl_->stop(); }

std::uint16_t app::port() const { return impl_->server ? impl_->server->port() : 0; }

std::string app::seed_demo_accounts() {
  constexpr const char* ns = "5d1e3c7a-9b2f-4e8d-a6c1-0f4b7e2d9a35";
  struct demo {
    const char* email;
    const char* password;
    const char* name;
    const char* role;
  };
  const demo demos[] = {{"coach@example.com", "coach-demo-pass-2026", "Casey Coach", "coach"},
                        {"client@example.com", "client-demo-pass-2026", "Riley Client", "client"},
                        {"admin@example.com", "admin-demo-pass-2026", "Ada Admin", "admin"}};
  std::string lines;
  std::string ids[3];
  std::vector<command_outcome> written;
  int i = 0;
  for (const auto& d : demos) {
    const std::string account_id = uuid_from_name(ns, std::string("account/") + d.email);
    ids[i++] = account_id;
    command cmd;
    cmd.id = "d:" + uuid_from_name(ns, std::string("seed/") + d.email);
    cmd.stream = account_stream_for(impl_->svc, d.email);
    cmd.actor = "system:seed";
    cmd.correlation_id = cmd.id;
    cmd.causation_id = cmd.id;
    cmd.issued_at = now_utc();
    cmd.body = register_account{account_id, d.role, d.email, d.name, hash_password(d.password), cmd.issued_at};
    auto outcome = submit_and_wait(*impl_->processor, std::move(cmd));
    if (!outcome && outcome.err().type_suffix != "email-taken") {
      throw std::runtime_error(std::string("seeding ") + d.email + " failed: " + outcome.err().detail);
    }
    if (outcome) written.push_back(outcome.value());
    lines += std::string("  ") + d.role + ": " + d.email + " / " + d.password + "\n";
  }
  // The demo client is the demo coach's client.
  const std::string client_id = uuid_from_name(ns, "client/client@example.com");
  command cmd;
  cmd.id = "d:" + uuid_from_name(ns, "seed/client-profile");
  cmd.stream = client_stream(client_id);
  cmd.actor = "system:seed";
  cmd.correlation_id = cmd.id;
  cmd.causation_id = cmd.id;
  cmd.issued_at = now_utc();
  cmd.body = create_client_profile{client_id, ids[0], ids[1], std::nullopt, "Riley Client", "client@example.com",
                                   std::nullopt, "Build a sustainable morning routine", cmd.issued_at};
  auto outcome = submit_and_wait(*impl_->processor, std::move(cmd));
  if (!outcome && outcome.err().type_suffix != "client-exists") {
    throw std::runtime_error("seeding the demo client profile failed: " + outcome.err().detail);
  }
  if (outcome) written.push_back(outcome.value());
  // Return once the read models show the demo accounts, so they can sign in right away.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  for (auto& runner : impl_->runners) {
    for (const auto& w : written) {
      if (w.offset >= 0 && !runner->wait_past(w.partition, w.offset, deadline)) {
        throw std::runtime_error("projector " + runner->target().name() + " did not catch up with the demo accounts");
      }
    }
  }
  return lines;
}

}  // namespace coachd::gateway
