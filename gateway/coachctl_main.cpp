// coachctl: the operator's jobs — projection status and rebuilds, migrations.

#include <chrono>
#include <cstdio>
#include <iostream>
#include <map>
#include <memory>
#include <pqxx/pqxx>
#include <vector>

#include <boost/program_options.hpp>

#include "events/codec.hpp"
#include "gateway/app.hpp"
#include "infra/kafka_event_log.hpp"
#include "infra/pg_event_log.hpp"
#include "infra/pg_key_store.hpp"
#include "projections/accounts_projector.hpp"
#include "projections/clients_projector.hpp"
#include "projections/intakes_projector.hpp"
#include "projections/sessions_projector.hpp"
#include "projections/migrations.hpp"
#include "projections/runner.hpp"

namespace po = boost::program_options;
using namespace coachd;

namespace {

const char* usage =
    "usage: coachctl [--pg CONNINFO] [--event-log postgres|kafka://…] [--partitions N] COMMAND\n"
    "commands:\n"
    "  migrate                        apply pending read-model migrations\n"
    "  projections status             lag per projector and partition\n"
    "  projections rebuild NAME       empty NAME's read model and replay it from offset 0\n"
    "                                 (NAME: accounts, intakes, clients, sessions; stop coachd's projectors first)\n";

std::unique_ptr<event_log> open_log(const gateway::app_config& c) {
  if (c.event_log == "postgres") return std::make_unique<pg_event_log>(c.pg, c.partitions);
  if (c.event_log.rfind("kafka://", 0) == 0) {
    kafka_event_log_config k;
    k.bootstrap_servers = c.event_log.substr(8);
    k.topic = c.kafka_topic;
    k.partitions = c.partitions;
    return std::make_unique<kafka_event_log>(k);
  }
  throw std::invalid_argument("coachctl needs --event-log postgres or kafka://…");
}

void progress_bar(std::uint64_t done, std::uint64_t total, std::chrono::steady_clock::time_point started) {
  const double fraction = total == 0 ? 1.0 : double(done) / double(total);
  const int width = 40;
  const int filled = static_cast<int>(fraction * width);
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  std::fprintf(stderr, "\r[%.*s%*s] %5.1f%% %llu/%llu events %.0f ev/s", filled,
               "########################################", width - filled, "", fraction * 100.0,
               static_cast<unsigned long long>(done), static_cast<unsigned long long>(total),
               seconds > 0 ? double(done) / seconds : 0.0);
  std::fflush(stderr);
}

int status(const gateway::app_config& c) {
  auto log = open_log(c);
  pqxx::connection connection(c.pg);
  pqxx::read_transaction tx(connection);
  auto rows = tx.exec(
      "SELECT projector, partition, position, to_char(updated_at, 'YYYY-MM-DD HH24:MI:SS') FROM "
      "projection_checkpoints ORDER BY projector, partition");
  std::vector<std::int64_t> ends;
  for (int p = 0; p < log->partitions(); ++p) ends.push_back(log->end_offset(p));
  std::printf("%-14s %9s %12s %12s %10s  %s\n", "projector", "partition", "position", "end", "lag", "updated");
  std::map<std::string, std::int64_t> totals;
  for (const auto& r : rows) {
    const int p = r[1].as<int>();
    const std::int64_t position = r[2].as<std::int64_t>();
    const std::int64_t end = p < static_cast<int>(ends.size()) ? ends[static_cast<std::size_t>(p)] : 0;
    const std::int64_t lag = std::max<std::int64_t>(0, end - position);
    totals[r[0].as<std::string>()] += lag;
    std::printf("%-14s %9d %12lld %12lld %10lld  %s\n", r[0].c_str(), p, static_cast<long long>(position),
                static_cast<long long>(end), static_cast<long long>(lag), r[3].c_str());
  }
  for (const auto& [name, lag] : totals) std::printf("%-14s total lag %lld events\n", name.c_str(), static_cast<long long>(lag));
  return 0;
}

int rebuild(const gateway::app_config& c, const std::string& name) {
  accounts_projector accounts;
  intakes_projector intakes;
  clients_projector clients;
  sessions_projector sessions;
  std::map<std::string, projector*> known{
      {"accounts", &accounts}, {"intakes", &intakes}, {"clients", &clients}, {"sessions", &sessions}};
  auto it = known.find(name);
  if (it == known.end()) {
    std::cerr << "coachctl: no projector named '" << name
              << "' (accounts, intakes, clients, sessions; process managers such as onboarding and the reminder "
                 "scheduler are not rebuilt: their effects are commands and mail, not only rows)\n";
    return 2;
  }
  auto log = open_log(c);
  pg_key_store_options key_options;
  key_options.master_key = master_key_from_env();
  pg_key_store keys(c.pg, key_options);
  keys.preload_all();
  event_codec codec(keys);
  {
    pqxx::connection connection(c.pg);
    apply_migrations(connection);
  }
  projection_runner runner(*log, codec, c.pg, *it->second);
  const auto started = std::chrono::steady_clock::now();
  const auto applied = runner.rebuild([&](std::uint64_t done, std::uint64_t total) { progress_bar(done, total, started); });
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  std::fprintf(stderr, "\n");
  std::printf("rebuilt %s: %llu events in %.2f s (%.0f events/s)\n", name.c_str(),
              static_cast<unsigned long long>(applied), seconds, seconds > 0 ? double(applied) / seconds : 0.0);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  gateway::app_config config;
  gateway::apply_environment(config);
  std::vector<std::string> words;
  po::options_description options("coachctl options");
  options.add_options()("help,h", "show this help")
      ("pg", po::value(&config.pg)->default_value(config.pg), "libpq connection string")
      ("event-log", po::value(&config.event_log)->default_value(config.event_log), "postgres | kafka://…")
      ("kafka-topic", po::value(&config.kafka_topic)->default_value(config.kafka_topic), "Kafka topic")
      ("partitions", po::value(&config.partitions)->default_value(config.partitions), "event log partitions")
      ("command", po::value(&words)->composing(), "command words");
  po::positional_options_description positional;
  positional.add("command", -1);
  po::variables_map vm;
  try {
    po::store(po::command_line_parser(argc, argv).options(options).positional(positional).run(), vm);
    po::notify(vm);
  } catch (const std::exception& e) {
    std::cerr << "coachctl: " << e.what() << "\n" << usage;
    return 2;
  }
  if (vm.count("help") || words.empty()) {
    std::cout << usage << options << "\n";
    return words.empty() && !vm.count("help") ? 2 : 0;
  }
  try {
    if (words == std::vector<std::string>{"migrate"}) {
      pqxx::connection connection(config.pg);
      for (const auto& name : apply_migrations(connection)) std::cout << "applied " << name << "\n";
      return 0;
    }
    if (words.size() == 2 && words[0] == "projections" && words[1] == "status") return status(config);
    if (words.size() == 3 && words[0] == "projections" && words[1] == "rebuild") return rebuild(config, words[2]);
    std::cerr << "coachctl: unknown command\n" << usage;
    return 2;
  } catch (const std::exception& e) {
    std::cerr << "coachctl: " << e.what() << "\n";
    return 1;
  }
}
