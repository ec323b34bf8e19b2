// coachctl as an operator runs it: projection status and a rebuild from offset 0 that yields
// the same read model, refused while a running coachd holds the projector.

#define BOOST_TEST_MODULE coachctl
#include <boost/test/unit_test.hpp>

#include <pqxx/pqxx>
#include <sys/wait.h>

#include <algorithm>
#include <array>
#include <boost/json.hpp>
#include <thread>
#include <cstdio>
#include <filesystem>

#include "gateway/app.hpp"
#include "tests/support/http_client.hpp"
#include "tests/support/pg_test_db.hpp"
#include "tests/support/e2e_config.hpp"

using namespace coachd;

namespace {

struct command_result {
  int status = -1;
  std::string output;
};

/// Runs coachctl with arguments, capturing stdout and stderr.
command_result coachctl(const std::string& args) {
  const std::string line = std::string(COACHD_BINARY_DIR) + "/coachctl " + args + " 2>&1";
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

std::string intake_rows(const std::string& conninfo) {
  pqxx::connection c(conninfo);
  pqxx::read_transaction tx(c);
  std::string all;
  for (const auto& row : tx.exec("SELECT intake_id, status, name, email FROM intakes ORDER BY intake_id")) {
    for (const auto& f : row) all += f.c_str() + std::string("|");
    all += "\n";
  }
  return all;
}

}  // namespace

BOOST_AUTO_TEST_CASE(status_and_rebuild) {
  test::test_database db;
  const auto mail_dir = test::mail_dir_for(db);
  gateway::app_config config = test::e2e_config(db, mail_dir);
  config.partitions = 3;
  const std::string flags = "--pg '" + db.conninfo() + "' --partitions 3";
  std::string before;
  {
    gateway::app app(config);
    app.start();
    app.seed_demo_accounts();
    const auto coach = test::http_call(app.port(), "POST", "/api/v1/auth/sign-in",
                                       R"({"email":"coach@example.com","password":"coach-demo-pass-2026"})");
    BOOST_TEST_REQUIRE(coach.status == 200);
    const std::string me = boost::json::value_to<std::string>(
        boost::json::parse(coach.body).at("account").at("id"));
    for (int i = 0; i < 30; ++i) {
      auto r = test::http_call(app.port(), "POST", "/api/v1/coaches/" + me + "/intakes",
                               R"({"name":"Person )" + std::to_string(i) +
                                   R"(","email":"p)" + std::to_string(i) + R"(@example.org","goals":"g","message":"m"})");
      BOOST_TEST_REQUIRE(r.status == 201);
    }
    // While coachd runs its projectors, a rebuild is refused and nothing is touched.
    auto refused = coachctl(flags + " projections rebuild intakes");
    BOOST_TEST(refused.status == 1);
    BOOST_TEST(refused.output.find("running in another process") != std::string::npos, refused.output);
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(15);
    while (std::chrono::steady_clock::now() < deadline) {
      const auto rows = intake_rows(db.conninfo());
      if (std::count(rows.begin(), rows.end(), '\n') == 30) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    before = intake_rows(db.conninfo());
    BOOST_TEST(std::count(before.begin(), before.end(), '\n') == 30);
    app.stop();
  }
  auto status = coachctl(flags + " projections status");
  BOOST_TEST(status.status == 0, status.output);
  BOOST_TEST(status.output.find("intakes") != std::string::npos);
  BOOST_TEST(status.output.find("total lag 0 events") != std::string::npos, status.output);

  auto rebuilt = coachctl(flags + " projections rebuild intakes");
  BOOST_TEST(rebuilt.status == 0, rebuilt.output);
  BOOST_TEST(rebuilt.output.find("rebuilt intakes") != std::string::npos, rebuilt.output);
  BOOST_TEST(intake_rows(db.conninfo()) == before);  // same rows, from offset 0

  auto unknown = coachctl(flags + " projections rebuild nonsense");
  BOOST_TEST(unknown.status == 2);
  BOOST_TEST(coachctl(flags + " frobnicate").status == 2);
  std::filesystem::remove_all(mail_dir);
}
