// Availability and booking over HTTP with the PostgreSQL event log, including 100 concurrent
// BookSession requests for one slot, and a restart (the schedule is rebuilt from the log).
#define BOOST_TEST_MODULE booking_pg_e2etest
#include <boost/test/unit_test.hpp>

#include "tests/e2e/booking_slice.hpp"
#include "tests/support/pg_test_db.hpp"

using namespace coachd;

BOOST_AUTO_TEST_CASE(booking_over_http_with_the_postgres_log) {
  test::test_database db;
  const auto mail_dir = std::filesystem::temp_directory_path() / ("coachd-mail-" + db.name());
  gateway::app_config config;
  config.listen = "127.0.0.1:0";
  config.pg = db.conninfo();
  config.event_log = "postgres";
  config.partitions = 4;
  config.mail_dir = mail_dir.string();
  {
    gateway::app app(config);
    app.start();
    app.seed_demo_accounts();
    test::run_booking_slice(app.port(), mail_dir);
    app.stop();
  }
  {
    // After a restart the schedule is rebuilt: the sessions booked before still block their slots.
    gateway::app again(config);
    again.start();
    auto coach = test::sign_in(again.port(), "coach@example.com", "coach-demo-pass-2026");
    auto list = test::http_call(again.port(), "GET", "/api/v1/sessions?view=upcoming&limit=100", "", coach.bearer());
    BOOST_TEST_REQUIRE(list.status == 200, list.body);
    const auto items = test::as_object(list).at("items").as_array();
    // The reminder check (in two hours), the contested slot, the overlapping pair, the direct booking.
    BOOST_TEST_REQUIRE(items.size() == 4u);
    auto client = test::sign_in(again.port(), "booker3@example.org", "a long enough secret");
    const auto& first = items[1].as_object();
    BOOST_TEST(!first.at("session_type_id").is_null());
    auto rebook = test::http_call(
        again.port(), "POST", "/api/v1/coaches/" + coach.account_id + "/sessions",
        boost::json::serialize(boost::json::object{{"type", first.at("session_type_id")}, {"start", first.at("start")}}),
        client.bearer());
    BOOST_TEST(rebook.status == 409, rebook.body);
    again.stop();
  }
  std::filesystem::remove_all(mail_dir);
}
