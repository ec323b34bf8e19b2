// coachd: the server — gateway, command processor and projectors in one process (each can be
// switched off to run them as separate processes).

#include <csignal>
#include <cstdio>
#include <iostream>
#include <pthread.h>

#include <boost/program_options.hpp>

#include "gateway/app.hpp"

namespace po = boost::program_options;

int main(int argc, char** argv) {
  coachd::gateway::app_config config;
  try {
    coachd::gateway::apply_environment(config);
  } catch (const std::exception& e) {
    std::cerr << "coachd: " << e.what() << "\n";
    return 2;
  }
  std::string reminder_lead = std::to_string(config.reminder_lead.count());
  bool seed_demo = false, no_gateway = false, no_commands = false, no_projectors = false;
  int consistency_ms = static_cast<int>(config.consistency_wait.count());
  std::string linger = std::to_string(config.projector_linger.count());
  po::options_description options("coachd options (environment variables COACHD_<NAME> work too)");
  options.add_options()
      ("help,h", "show this help")
      ("listen", po::value(&config.listen)->default_value(config.listen), "HTTP listen address host:port")
      ("event-log", po::value(&config.event_log)->default_value(config.event_log),
       "postgres | kafka://host:port[,host:port…] | kafka-mock")
      ("kafka-topic", po::value(&config.kafka_topic)->default_value(config.kafka_topic), "Kafka topic of events")
      ("pg", po::value(&config.pg)->default_value(config.pg), "libpq connection string of the database")
      ("partitions", po::value(&config.partitions)->default_value(config.partitions), "event log partitions")
      ("io-threads", po::value(&config.io_threads)->default_value(config.io_threads),
       "HTTP I/O threads (0: half the hardware threads, at least one)")
      ("pg-pool", po::value(&config.pg_pool_size)->default_value(config.pg_pool_size), "query connections")
      ("pg-read-pool", po::value(&config.pg_read_pool)->default_value(config.pg_read_pool),
       "pipelined connections of the HTTP threads' reads (0: twice the hardware threads)")
      ("mail-transport", po::value(&config.mail_transport)->default_value(config.mail_transport), "file | smtp")
      ("mail-dir", po::value(&config.mail_dir)->default_value(config.mail_dir), "where the file transport writes .eml")
      ("mail-from", po::value(&config.mail_from)->default_value(config.mail_from), "From: of outgoing mail")
      ("smtp-host", po::value(&config.smtp_host)->default_value(config.smtp_host), "SMTP server")
      ("smtp-port", po::value(&config.smtp_port)->default_value(config.smtp_port), "SMTP port")
      ("smtp-security", po::value(&config.smtp_security)->default_value(config.smtp_security), "none | starttls | tls")
      ("smtp-username", po::value(&config.smtp_username), "SMTP user (COACHD_SMTP_USERNAME)")
      ("smtp-password", po::value(&config.smtp_password), "SMTP password (prefer COACHD_SMTP_PASSWORD)")
      ("portal-url", po::value(&config.portal_url)->default_value(config.portal_url), "URL named in e-mails")
      ("secure-cookies", po::bool_switch(&config.secure_cookies), "mark the session cookie Secure (HTTPS)")
      ("reminder-lead-minutes", po::value(&reminder_lead)->default_value(reminder_lead),
       "how long before a session its reminder goes out, 1 to 43200 (30 days)")
      ("projector-linger-ms", po::value(&linger)->default_value(linger),
       "how long a projector batch waits for more events while they keep coming, 0 to 100")
      ("consistency-wait-ms", po::value(&consistency_ms)->default_value(consistency_ms),
       "longest wait of a query for a consistency token")
      ("seed-demo", po::bool_switch(&seed_demo), "register the demo coach and client (idempotent)")
      ("no-gateway", po::bool_switch(&no_gateway), "do not serve HTTP")
      ("no-commands", po::bool_switch(&no_commands), "do not own partitions / process commands")
      ("no-projectors", po::bool_switch(&no_projectors), "do not run projectors and process managers");
  po::variables_map vm;
  try {
    po::store(po::parse_command_line(argc, argv, options), vm);
    po::notify(vm);
    config.reminder_lead = coachd::gateway::parse_reminder_lead(reminder_lead, "--reminder-lead-minutes");
    config.projector_linger = coachd::gateway::parse_projector_linger(linger, "--projector-linger-ms");
    if (config.pg_read_pool < 0 || config.pg_read_pool > 1000) {
      throw std::invalid_argument("--pg-read-pool must be from 0 (automatic) to 1000, got " +
                                  std::to_string(config.pg_read_pool));
    }
  } catch (const std::exception& e) {
    std::cerr << "coachd: " << e.what() << "\n" << options << "\n";
    return 2;
  }
  if (vm.count("help")) {
    std::cout << options << "\n";
    return 0;
  }
  config.run_gateway = !no_gateway;
  config.run_commands = !no_commands;
  config.run_projectors = !no_projectors;
  config.consistency_wait = std::chrono::milliseconds(consistency_ms);

  // SIGINT/SIGTERM are taken by this thread alone (sigwait), so every other thread is free of
  // signal handlers; the graceful stop runs on an ordinary thread.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  std::signal(SIGPIPE, SIG_IGN);

  try {
    coachd::gateway::app app(config);
    app.start();
    if (seed_demo) std::cout << "coachd: demo accounts\n" << app.seed_demo_accounts() << std::flush;
    std::cout << "coachd: listening on http://" << config.listen.substr(0, config.listen.rfind(':')) << ":"
              << app.port() << " (event log: " << config.event_log << ", " << config.partitions
              << " partitions)" << std::endl;
    int received = 0;
    sigwait(&signals, &received);
    std::cout << "coachd: " << (received == SIGINT ? "SIGINT" : "SIGTERM")
              << ": finishing in-flight work, then stopping" << std::endl;
    app.stop();
    std::cout << "coachd: stopped" << std::endl;
    return 0;
  } catch (const std::exception& e) {
    std::cerr << "coachd: " << e.what() << std::endl;
    return 1;
  }
}
