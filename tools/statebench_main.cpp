// statebench: fills an event log with realistic SubmitIntake commands straight through the
// command processor (no HTTP), and measures what the command processor's state costs: the time
// to rebuild every partition at start (from the log alone, or from snapshots) and the resident
// memory it then holds per aggregate. It starts the processor as coachd does (pg_key_store with
// every key preloaded, snapshots in command_snapshots), so its numbers are coachd's cold start
// without the HTTP server and the projectors.
//
//   statebench [--pg CONNINFO] [--partitions N] fill --intakes N [--coach ID]... [--coaches N]
//              [--in-flight N] [--fill-snapshots]
//   statebench [--pg CONNINFO] [--partitions N] rebuild [--snapshots off|on]
//
// fill appends one IntakeSubmitted per intake (personal fields sealed, keys in pii_keys, as a
// SubmitIntake over HTTP would leave them; the applicants are bench/bench.py's) to the intakes
// of the given coaches, or of --coaches random ids; the coaches need no account. It never runs
// projectors: a coachd started afterwards brings its read models up to the log first.
// rebuild starts a processor over the log, reports, then stops it gracefully (which writes
// every partition's snapshot, as coachd's stop does), so a second `rebuild --snapshots on`
// measures a start from snapshots.
//
// Each command prints one line of JSON on stdout (progress goes to stderr); rebuild reports
// seconds (key preload, rebuild, to ready, stop), events read per second, and VmRSS/VmHWM of
// /proc/self/status at start, after the key preload and when ready, with bytes per aggregate
// above the process's size at start. Nothing is judged against a target here.

#include <boost/program_options.hpp>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <mutex>
#include <random>
#include <string>
#include <vector>

#include "commands/command.hpp"
#include "commands/pg_snapshot_store.hpp"
#include "commands/processor.hpp"
#include "events/codec.hpp"
#include "infra/crypto.hpp"
#include "infra/pg_event_log.hpp"
#include "infra/pg_key_store.hpp"

namespace po = boost::program_options;
using namespace coachd;

namespace {

using clock_type = std::chrono::steady_clock;

double seconds_since(clock_type::time_point t) {
  return std::chrono::duration<double>(clock_type::now() - t).count();
}

/// A "VmXXX:   1234 kB" line of /proc/self/status, in kB (0 when absent).
long proc_status_kb(const char* field) {
  std::ifstream status("/proc/self/status");
  std::string line;
  const std::string prefix = std::string(field) + ":";
  while (std::getline(status, line)) {
    if (line.rfind(prefix, 0) == 0) return std::stol(line.substr(prefix.size()));
  }
  return 0;
}

/// The key store as coachd opens it for the embedded PostgreSQL log.
pg_key_store_options coachd_key_options() {
  pg_key_store_options o;
  o.master_key = master_key_from_env();
  o.new_keys = pg_key_store_options::durability::shared_wal;
  return o;
}

// The same made-up applicants as bench/bench.py's intake requests.
const char* const first_names[] = {"Ada",    "Grace",   "Alan", "Edsger",   "Barbara",
                                   "Donald", "Frances", "Ken",  "Margaret", "Tony"};
const char* const last_names[] = {"Lovelace", "Hopper", "Turing",   "Dijkstra", "Liskov",
                                  "Knuth",    "Allen",  "Thompson", "Hamilton", "Hoare"};
const char* const goals[] = {
    "Prepare for a promotion to engineering manager within the next two quarters.",
    "Build a sustainable training plan for a first marathon while working full time.",
    "Find clarity on a career change from finance into product design.",
};
const char* const messages[] = {
    "Hi! A colleague recommended you. I am free most weekday mornings and would love a first call.",
    "Hello, I read your blog post on habits and would like to work with you on mine. Thanks!",
};

std::string lower(std::string s) {
  for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

/// SubmitIntake number `i`, as the public intake form sends it (anonymous, random command id).
command intake_command(std::size_t i, const std::string& coach, std::mt19937_64& rng) {
  const std::string first = first_names[rng() % std::size(first_names)];
  const std::string last = last_names[rng() % std::size(last_names)];
  char phone[32];
  std::snprintf(phone, sizeof phone, "+44 20 7946 %04zu", i % 10000);
  const std::string intake_id = new_uuid();
  const timestamp now = now_utc();
  command c;
  c.id = new_uuid();
  c.stream = intake_stream(intake_id);
  c.actor = "anonymous";
  c.correlation_id = new_uuid();
  c.causation_id = c.correlation_id;
  c.issued_at = now;
  c.body =
      submit_intake{intake_id,
                    coach,
                    first + " " + last,
                    lower(first) + "." + lower(last) + "." + std::to_string(i) + "@example.org",
                    std::string(phone),
                    goals[rng() % std::size(goals)],
                    messages[rng() % std::size(messages)],
                    now};
  return c;
}

struct common_options {
  std::string pg;
  int partitions = 8;
};

/// Submits `intakes` SubmitIntake commands with at most `in_flight` unanswered at a time (the
/// processor group-commits what is queued, up to its max_batch per append).
int fill(const common_options& o, std::size_t intakes, const std::vector<std::string>& coach_ids,
         std::size_t in_flight, bool snapshots) {
  pg_event_log log(o.pg, o.partitions);
  pg_key_store keys(o.pg, coachd_key_options());
  event_codec codec(keys);
  pg_snapshot_store store(o.pg, "postgres");
  processor_options options;
  if (snapshots) {
    options.snapshots = &store;
    options.keys = &keys;
  }
  command_processor processor(log, codec, options);
  const auto started = clock_type::now();
  processor.start();
  const std::uint64_t events_before = processor.stats().rebuilt_events.load();

  std::mt19937_64 rng(42);
  std::mutex mutex;
  std::condition_variable answered;
  std::size_t outstanding = 0, failed = 0;
  std::string first_failure;
  const auto filling = clock_type::now();
  auto last_report = filling;
  for (std::size_t i = 0; i < intakes; ++i) {
    {
      std::unique_lock lock(mutex);
      answered.wait(lock, [&] { return outstanding < in_flight; });
      if (failed > 0) break;
      ++outstanding;
    }
    processor.submit(intake_command(i, coach_ids[i % coach_ids.size()], rng),
                     [&](result<command_outcome> r) {
                       std::lock_guard lock(mutex);
                       --outstanding;
                       if (!r.ok() && failed++ == 0) first_failure = r.err().detail;
                       answered.notify_all();
                     });
    if (clock_type::now() - last_report > std::chrono::seconds(5)) {
      last_report = clock_type::now();
      std::fprintf(stderr, "statebench: %zu / %zu submitted, %.0f commands/s\n", i, intakes,
                   double(i) / seconds_since(filling));
    }
  }
  {
    std::unique_lock lock(mutex);
    answered.wait(lock, [&] { return outstanding == 0; });
  }
  const double fill_seconds = seconds_since(filling);
  processor.stop();
  if (failed > 0) {
    std::fprintf(stderr, "statebench: %zu commands failed; first: %s\n", failed,
                 first_failure.c_str());
    return 1;
  }
  std::int64_t log_events = 0;
  for (int p = 0; p < log.partitions(); ++p) log_events += log.end_offset(p);
  std::printf(
      "{\"step\":\"fill\",\"intakes\":%zu,\"coaches\":%zu,\"events_before\":%llu,\"log_events\":%"
      "lld,"
      "\"fill_seconds\":%.2f,\"commands_per_s\":%.0f,\"total_seconds\":%.2f}\n",
      intakes, coach_ids.size(), static_cast<unsigned long long>(events_before),
      static_cast<long long>(log_events), fill_seconds, double(intakes) / fill_seconds,
      seconds_since(started));
  return 0;
}

/// Starts a processor over the stored log as coachd does, reports time and memory, then stops
/// it gracefully as coachd does (which writes every partition's snapshot) and times that too.
int rebuild(const common_options& o, bool snapshots) {
  const long rss_start = proc_status_kb("VmRSS");
  const auto started = clock_type::now();
  pg_event_log log(o.pg, o.partitions);
  pg_key_store keys(o.pg, coachd_key_options());
  const std::size_t preloaded = keys.preload_all();
  const double preload_seconds = seconds_since(started);
  const long rss_keys = proc_status_kb("VmRSS");
  event_codec codec(keys);
  pg_snapshot_store store(o.pg, "postgres");
  processor_options options;
  options.snapshots = &store;
  options.keys = &keys;
  // --snapshots off: never load one, but write them as coachd would (during a long rebuild and
  // at the stop), so that a following run can start from them.
  struct no_load final : snapshot_store {
    snapshot_store& inner;
    explicit no_load(snapshot_store& s) : inner(s) {}
    std::optional<std::int64_t> load(int, const std::function<bool(std::string_view)>&) override {
      return std::nullopt;
    }
    void save(const partition_snapshot& s) override { inner.save(s); }
  } log_only(store);
  if (!snapshots) options.snapshots = &log_only;
  command_processor processor(log, codec, options);
  const auto rebuilding = clock_type::now();
  processor.start();
  const double rebuild_seconds = seconds_since(rebuilding);
  const double ready_seconds = seconds_since(started);
  const long rss_ready = proc_status_kb("VmRSS");
  const long hwm_ready = proc_status_kb("VmHWM");
  const std::size_t streams = processor.stream_count();
  const std::uint64_t events = processor.stats().rebuilt_events.load();
  const auto stopping = clock_type::now();
  processor.stop();
  const double stop_seconds = seconds_since(stopping);
  const auto per = [&](long kb) {
    return streams == 0 ? 0.0 : double(kb - rss_start) * 1024.0 / double(streams);
  };
  std::printf(
      "{\"step\":\"rebuild\",\"snapshots\":%s,\"keys\":%zu,\"streams\":%zu,\"events_read\":%llu,"
      "\"preload_seconds\":%.2f,\"rebuild_seconds\":%.2f,\"ready_seconds\":%.2f,\"events_per_s\":%."
      "0f,"
      "\"rss_start_kb\":%ld,\"rss_after_keys_kb\":%ld,\"rss_ready_kb\":%ld,\"hwm_ready_kb\":%ld,"
      "\"hwm_end_kb\":%ld,\"rss_bytes_per_aggregate\":%.0f,\"hwm_bytes_per_aggregate\":%.0f,"
      "\"key_bytes_per_subject\":%.0f,\"stop_seconds\":%.2f}\n",
      snapshots ? "true" : "false", preloaded, streams, static_cast<unsigned long long>(events),
      preload_seconds, rebuild_seconds, ready_seconds,
      rebuild_seconds > 0 ? double(events) / rebuild_seconds : 0.0, rss_start, rss_keys, rss_ready,
      hwm_ready, proc_status_kb("VmHWM"), per(rss_ready), per(hwm_ready),
      preloaded == 0 ? 0.0 : double(rss_keys - rss_start) * 1024.0 / double(preloaded),
      stop_seconds);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  common_options common;
  common.pg = "host=127.0.0.1 port=5432 user=postgres dbname=coachd";
  if (const char* env = std::getenv("COACHD_PG"); env != nullptr && *env != '\0') common.pg = env;
  std::string command_word, snapshots = "off";
  std::size_t intakes = 0, coaches = 50, in_flight = 16384;
  bool fill_snapshots = false;
  std::vector<std::string> coach_ids;
  po::options_description options(
      "usage: statebench [options] fill --intakes N | rebuild [--snapshots off|on]\noptions");
  // clang-format off
  options.add_options()
      ("help,h", "show this help")
      ("pg", po::value(&common.pg)->default_value(common.pg), "libpq connection string (or COACHD_PG)")
      ("partitions", po::value(&common.partitions)->default_value(common.partitions), "event log partitions")
      ("intakes", po::value(&intakes), "fill: SubmitIntake commands to append (one event and one intake each)")
      ("coach", po::value(&coach_ids)->composing(),
       "fill: a coach id the intakes go to (repeatable; default: --coaches random ids)")
      ("coaches", po::value(&coaches)->default_value(coaches), "fill: random coach ids when no --coach is given")
      ("in-flight", po::value(&in_flight)->default_value(in_flight), "fill: unanswered commands at a time")
      ("fill-snapshots", po::bool_switch(&fill_snapshots),
       "fill: write snapshots as coachd does (every 100k events per partition and at the end)")
      ("snapshots", po::value(&snapshots)->default_value(snapshots),
       "rebuild: start from snapshots (on) or the log alone (off)")
      ("command", po::value(&command_word), "fill | rebuild");
  // clang-format on
  po::positional_options_description positional;
  positional.add("command", 1);
  po::variables_map vm;
  try {
    po::store(po::command_line_parser(argc, argv).options(options).positional(positional).run(),
              vm);
    po::notify(vm);
  } catch (const std::exception& e) {
    std::cerr << "statebench: " << e.what() << "\n" << options;
    return 2;
  }
  if (vm.count("help") || command_word.empty()) {
    std::cout << options;
    return command_word.empty() && !vm.count("help") ? 2 : 0;
  }
  try {
    if (command_word == "fill") {
      if (intakes == 0) {
        std::cerr << "statebench: fill needs --intakes N\n";
        return 2;
      }
      if (coach_ids.empty()) {
        for (std::size_t i = 0; i < std::max<std::size_t>(1, coaches); ++i) coach_ids.push_back(new_uuid());
      }
      return fill(common, intakes, coach_ids, std::max<std::size_t>(1, in_flight), fill_snapshots);
    }
    if (command_word == "rebuild") {
      if (snapshots != "on" && snapshots != "off") {
        std::cerr << "statebench: --snapshots must be on or off\n";
        return 2;
      }
      return rebuild(common, snapshots == "on");
    }
    std::cerr << "statebench: unknown command '" << command_word << "'\n" << options;
    return 2;
  } catch (const std::exception& e) {
    std::cerr << "statebench: " << e.what() << "\n";
    return 1;
  }
}
