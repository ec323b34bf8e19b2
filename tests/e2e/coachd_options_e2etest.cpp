// coachd's reminder lead time option: the parser shared by --reminder-lead-minutes and
// COACHD_REMINDER_LEAD_MINUTES (a whole number of minutes, 1 to 30 days), and the coachd binary
// refusing a bad value from either place with exit status 2 and a message naming the rule,
// before it touches any database. (The effect of the setting on reminders is in
// booking_pg_e2etest and reminders_pgtest.)

#ifdef BOOST_TEST_UNIT_TEST_HPP_071894GER
#include <boost/test/unit_test.hpp>
bool init_unit_test() {
  boost::unit_test::framework::master_test_suite().p_name.value = "coachd_options";
  return true;
}
int main(int argc, char* argv[]) {
  return boost::unit_test::unit_test_main(&init_unit_test, argc, argv);
}
#else
#define BOOST_TEST_MODULE coachd_options
#include <boost/test/unit_test.hpp>
#endif

#include <sys/wait.h>

#include <array>
#include <cstdio>
#include <filesystem>
#include <stdexcept>
#include <string>

#include "gateway/app.hpp"

using namespace coachd;

namespace {

struct command_result {
  int status = -1;
  std::string output;
};

/// Runs coachd with `env` assignments and arguments (no database reachable on purpose), capturing
/// stdout and stderr.
command_result run_coachd(const std::string& env, const std::string& args) {
  const std::string binary = std::string(COACHD_BINARY_DIR) + "/coachd";
  BOOST_TEST_REQUIRE(std::filesystem::exists(binary),
                     binary << " is missing: build the coachd target first");
  const std::string line = "env " + env + " " + binary +
                           " --pg 'host=127.0.0.1 port=1 connect_timeout=1' " + args + " 2>&1";
  command_result r;
  FILE* pipe = popen(line.c_str(), "r");
  BOOST_TEST_REQUIRE(pipe != nullptr);
  std::array<char, 4096> buffer{};
  std::size_t n;
  while ((n = fread(buffer.data(), 1, buffer.size(), pipe)) > 0) r.output.append(buffer.data(), n);
  const int raw = pclose(pipe);
  r.status = WIFEXITED(raw) ? WEXITSTATUS(raw) : -1;
  return r;
}

}  // namespace

BOOST_AUTO_TEST_CASE(the_lead_is_a_whole_number_of_minutes_from_one_to_thirty_days) {
  using gateway::parse_reminder_lead;
  BOOST_TEST(parse_reminder_lead("1440", "--x").count() == 1440);
  BOOST_TEST(parse_reminder_lead("1", "--x").count() == 1);
  BOOST_TEST(parse_reminder_lead("43200", "--x").count() == 43200);
  for (const char* bad :
       {"0", "-5", "43201", "", "abc", "60m", " 60", "60 ", "1.5", "99999999999999999999999"}) {
    BOOST_TEST_CONTEXT("'" << bad << "'") {
      try {
        parse_reminder_lead(bad, "COACHD_REMINDER_LEAD_MINUTES");
        BOOST_TEST(false, "accepted");
      } catch (const std::invalid_argument& e) {
        const std::string what = e.what();
        BOOST_TEST(what.find("COACHD_REMINDER_LEAD_MINUTES") != std::string::npos, what);
        BOOST_TEST(what.find("from 1 to 43200") != std::string::npos, what);
        BOOST_TEST(what.find("'" + std::string(bad) + "'") != std::string::npos, what);
      }
    }
  }
  // The default is a day.
  BOOST_TEST(gateway::app_config{}.reminder_lead.count() == 1440);
}

BOOST_AUTO_TEST_CASE(coachd_refuses_a_bad_lead_from_the_flag_or_the_environment) {
  for (const char* bad : {"0", "43201", "soon"}) {
    auto flag = run_coachd("", std::string("--reminder-lead-minutes ") + bad);
    BOOST_TEST(flag.status == 2, flag.output);
    BOOST_TEST(flag.output.find(
                   "--reminder-lead-minutes must be a whole number of minutes from 1 to 43200") !=
                   std::string::npos,
               flag.output);
    auto env = run_coachd(std::string("COACHD_REMINDER_LEAD_MINUTES=") + bad, "");
    BOOST_TEST(env.status == 2, env.output);
    BOOST_TEST(
        env.output.find(
            "COACHD_REMINDER_LEAD_MINUTES must be a whole number of minutes from 1 to 43200") !=
            std::string::npos,
        env.output);
  }
  // A good value passes the option checks (coachd then fails only at the unreachable database).
  auto good = run_coachd("COACHD_REMINDER_LEAD_MINUTES=90", "--reminder-lead-minutes 120");
  BOOST_TEST(good.status == 1, good.output);
  BOOST_TEST(good.output.find("reminder") == std::string::npos, good.output);
  auto help = run_coachd("", "--help");
  BOOST_TEST(help.status == 0);
  BOOST_TEST(help.output.find("--reminder-lead-minutes") != std::string::npos, help.output);
}

BOOST_AUTO_TEST_CASE(coachd_refuses_a_bad_projector_linger_from_the_flag_or_the_environment) {
  for (const char* bad : {"-1", "101", "soon", "4ms"}) {
    auto flag = run_coachd("", std::string("--projector-linger-ms ") + bad);
    BOOST_TEST(flag.status == 2, flag.output);
    BOOST_TEST(flag.output.find("--projector-linger-ms must be a whole number of milliseconds from 0 to 100") !=
                   std::string::npos,
               flag.output);
    auto env = run_coachd(std::string("COACHD_PROJECTOR_LINGER_MS=") + bad, "");
    BOOST_TEST(env.status == 2, env.output);
    BOOST_TEST(env.output.find("COACHD_PROJECTOR_LINGER_MS must be a whole number of milliseconds from 0 to 100") !=
                   std::string::npos,
               env.output);
  }
  // Good values pass the option checks (coachd then fails only at the unreachable database).
  auto good = run_coachd("COACHD_PROJECTOR_LINGER_MS=0", "--projector-linger-ms 10");
  BOOST_TEST(good.status == 1, good.output);
  BOOST_TEST(good.output.find("linger") == std::string::npos, good.output);
  BOOST_TEST(gateway::app_config{}.projector_linger.count() == 4);
}
