// The session cache (gateway/session_cache.hpp) over HTTP: a session served from memory stops
// working the moment it ends, whichever way it ends: sign-out, revoking it or the others in this
// process, or a row deleted by another process (which this process hears
// of through auth_sessions' trigger, long before the cache's time-to-live, set to ten minutes
// here so that nothing else could explain it).

#ifdef BOOST_TEST_UNIT_TEST_HPP_071894GER
bool init_unit_test() {
  boost::unit_test::framework::master_test_suite().p_name.value = "session_cache_e2e";
  return true;
}
int main(int argc, char* argv[]) { return boost::unit_test::unit_test_main(&init_unit_test, argc, argv); }
#else
#define BOOST_TEST_MODULE session_cache_e2e
#endif
#include <boost/test/unit_test.hpp>
#include <filesystem>
#include <pqxx/pqxx>

#include "gateway/app.hpp"
#include "tests/e2e/intake_slice.hpp"
#include "tests/support/pg_test_db.hpp"
#include "tests/support/e2e_config.hpp"

using namespace coachd;
using test::http_call;

namespace {

int sessions_status(std::uint16_t port, const test::session& who) {
  return http_call(port, "GET", "/api/v1/auth/sessions", "", who.bearer()).status;
}

}  // namespace

BOOST_AUTO_TEST_CASE(ended_sessions_stop_working_at_once_although_cached) {
  test::test_database db;
  const auto mail_dir = test::mail_dir_for(db);
  gateway::app_config config = test::e2e_config(db, mail_dir);
  config.session_cache_ttl = std::chrono::minutes(10);
  gateway::app app(config);
  app.start();
  app.seed_demo_accounts();
  const auto port = app.port();
  const std::string email = "coach@example.com", password = "coach-demo-pass-2026";

  // Sign-out in this process: the very next request is refused.
  auto a = test::sign_in(port, email, password);
  BOOST_TEST(sessions_status(port, a) == 200);  // now cached
  BOOST_TEST(sessions_status(port, a) == 200);
  BOOST_TEST(http_call(port, "POST", "/api/v1/auth/sign-out", "", a.bearer()).status == 204);
  BOOST_TEST(sessions_status(port, a) == 401);

  // Revoking the other sessions: they are refused at once; the caller's own goes on.
  auto b = test::sign_in(port, email, password);
  auto c = test::sign_in(port, email, password);
  BOOST_TEST(sessions_status(port, b) == 200);
  BOOST_TEST(sessions_status(port, c) == 200);
  BOOST_TEST(http_call(port, "DELETE", "/api/v1/auth/sessions", "", b.bearer()).status == 200);
  BOOST_TEST(sessions_status(port, c) == 401);
  BOOST_TEST(sessions_status(port, b) == 200);

  // Revoking one session by its id.
  auto d = test::sign_in(port, email, password);
  BOOST_TEST(sessions_status(port, d) == 200);
  std::string d_id;
  {
    pqxx::connection conn(db.conninfo());
    pqxx::nontransaction tx(conn);
    d_id = tx.exec_params1("SELECT session_id::text FROM auth_sessions WHERE account_id = $1::uuid "
                           "ORDER BY created_at DESC LIMIT 1",
                           d.account_id)[0]
               .as<std::string>();
  }
  BOOST_TEST(http_call(port, "DELETE", "/api/v1/auth/sessions/" + d_id, "", b.bearer()).status == 204);
  BOOST_TEST(sessions_status(port, d) == 401);

  // Another process ends a session (here: straight in the table): the trigger's notification
  // reaches this process's cache; only it can explain a refusal within the ten-minute TTL.
  auto e = test::sign_in(port, email, password);
  BOOST_TEST(sessions_status(port, e) == 200);
  {
    pqxx::connection conn(db.conninfo());
    pqxx::nontransaction tx(conn);
    tx.exec_params("DELETE FROM auth_sessions WHERE account_id = $1::uuid AND token_hash <> "
                   "(SELECT token_hash FROM auth_sessions WHERE account_id = $1::uuid ORDER BY created_at LIMIT 1)",
                   e.account_id);
  }
  BOOST_TEST(test::eventually([&] { return sessions_status(port, e) == 401; }));
  app.stop();
  std::filesystem::remove_all(mail_dir);
}
