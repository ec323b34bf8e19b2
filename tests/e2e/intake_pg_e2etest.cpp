#define BOOST_TEST_MODULE intake_pg_e2etest
#include <boost/test/unit_test.hpp>

#include <pqxx/pqxx>

#include "tests/e2e/intake_slice.hpp"
#include "tests/support/pg_test_db.hpp"
#include "tests/support/e2e_config.hpp"

using namespace coachd;

BOOST_AUTO_TEST_CASE(intake_to_client_over_http_with_the_postgres_log) {
  test::test_database db;
  const auto mail_dir = test::mail_dir_for(db);
  gateway::app_config config = test::e2e_config(db, mail_dir);
  {
    gateway::app app(config);
    app.start();
    app.seed_demo_accounts();
    const auto raw_log = [&] {
      pqxx::connection c(db.conninfo());
      pqxx::read_transaction tx(c);
      std::string all;
      // Every column of every stored event, as text: what someone reading the table sees.
      for (const auto& row : tx.exec("SELECT e::text FROM coachd_log.events e")) all += row[0].as<std::string>() + "\n";
      return all;
    };
    test::run_intake_slice(app.port(), raw_log, mail_dir);

    // Restart on the same database: state, idempotency records and read models survive.
    app.stop();
  }
  {
    gateway::app again(config);
    again.start();
    auto coach = test::sign_in(again.port(), "coach@example.com", "coach-demo-pass-2026");
    auto list = test::http_call(again.port(), "GET", "/api/v1/intakes", "", coach.bearer());
    BOOST_TEST(test::as_object(list).at("items").as_array().size() == 2u);
    again.stop();
  }
  std::filesystem::remove_all(mail_dir);
}
