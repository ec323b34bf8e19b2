// Availability and booking over HTTP with the PostgreSQL event log, including 100 concurrent
// BookSession requests for one slot, and a restart (the schedule is rebuilt from the log); and
// session reminders under cancellation, rescheduling, restarts and a configured lead time.
#define BOOST_TEST_MODULE booking_pg_e2etest
#include <boost/test/unit_test.hpp>

#include <pqxx/pqxx>
#include <tuple>

#include "tests/e2e/booking_slice.hpp"
#include "tests/support/pg_test_db.hpp"
#include "tests/support/e2e_config.hpp"

using namespace coachd;

BOOST_AUTO_TEST_CASE(booking_over_http_with_the_postgres_log) {
  test::test_database db;
  const auto mail_dir = test::mail_dir_for(db);
  gateway::app_config config = test::e2e_config(db, mail_dir);
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
    // Booked by a client without a title: called by its type, and nothing personal was sealed,
    // so the session has no key. Titled sessions (the coach's direct booking) have one.
    BOOST_TEST(first.at("title").as_string() == "Coaching");
    {
      pqxx::connection c(db.conninfo());
      pqxx::nontransaction tx(c);
      const std::string id(first.at("id").as_string());
      BOOST_TEST(tx.exec_params1("SELECT count(*) FROM pii_keys WHERE subject = $1", "session:" + id)[0].as<int>() == 0);
      BOOST_TEST(tx.exec1("SELECT count(*) FROM pii_keys WHERE subject LIKE 'session:%'")[0].as<int>() >= 1);
      BOOST_TEST(tx.exec1("SELECT count(*) FROM sessions WHERE title = 'Strategy call'")[0].as<int>() == 1);
    }
    auto rebook = test::http_call(
        again.port(), "POST", "/api/v1/coaches/" + coach.account_id + "/sessions",
        boost::json::serialize(boost::json::object{{"type", first.at("session_type_id")}, {"start", first.at("start")}}),
        client.bearer());
    BOOST_TEST(rebook.status == 409, rebook.body);
    again.stop();
  }
  std::filesystem::remove_all(mail_dir);
}

namespace {

/// Counts rows of the reminders' effects for one session title: queued mails and in-app
/// notifications.
struct reminder_counts {
  std::int64_t mails = 0, notifications = 0;
};

reminder_counts reminders_for(const std::string& conninfo, const std::string& session_id, const std::string& title) {
  pqxx::connection c(conninfo);
  pqxx::read_transaction tx(c);
  reminder_counts n;
  n.mails = tx.exec_params("SELECT count(*) FROM mail_outbox WHERE subject LIKE $1", "Reminder: " + title + " at %")[0][0]
                .as<std::int64_t>();
  n.notifications =
      tx.exec_params("SELECT count(*) FROM notifications WHERE subject_id = $1 AND kind = 'session-reminder'",
                     session_id)[0][0]
          .as<std::int64_t>();
  return n;
}

/// The reminder e-mails the file transport wrote for a title.
std::vector<std::string> reminder_files(const std::filesystem::path& mail_dir, const std::string& title) {
  std::vector<std::string> found;
  if (!std::filesystem::exists(mail_dir)) return found;
  for (const auto& f : std::filesystem::directory_iterator(mail_dir)) {
    std::ifstream in(f.path());
    std::stringstream text;
    text << in.rdbuf();
    if (text.str().find("Reminder: " + title + " at ") != std::string::npos) found.push_back(text.str());
  }
  return found;
}

}  // namespace

// Reminders driven over HTTP, with the lead time set through the configuration and coachd
// restarted between phases: a cancelled session is never reminded although it falls inside
// every lead used; a rescheduled one is never reminded for its old time and once for the new;
// nothing is sent twice across restarts. Each phase waits for a reminder that must go out; the
// dispatcher takes due rows earliest first in one transaction, so once that one is out, any
// earlier wrong one would have been sent with it.
BOOST_AUTO_TEST_CASE(reminders_over_http_follow_cancellation_rescheduling_and_the_configured_lead) {
  test::test_database db;
  const auto mail_dir = test::mail_dir_for(db);
  gateway::app_config config = test::e2e_config(db, mail_dir);
  const auto t0 = now_utc();
  const auto soon_at = t0 + std::chrono::minutes(30);
  const auto dropped_at = t0 + std::chrono::hours(3);
  const auto moved_from = t0 + std::chrono::hours(4);
  const auto kept_at = t0 + std::chrono::hours(5);
  const auto moved_to = t0 + std::chrono::hours(10);
  std::string soon, dropped, moved, kept;

  // Phase 1, lead 60 minutes: only the session in 30 minutes is due.
  config.reminder_lead = std::chrono::minutes(60);
  {
    gateway::app app(config);
    app.start();
    app.seed_demo_accounts();
    const auto port = app.port();
    auto coach = test::sign_in(port, "coach@example.com", "coach-demo-pass-2026");
    auto client = test::sign_in(port, "client@example.com", "client-demo-pass-2026");
    std::string last_token;  // the latest booking's consistency token (one schedule stream)
    auto book = [&](const std::string& title, timestamp start) {
      auto r = test::http_call(port, "POST", "/api/v1/coaches/" + coach.account_id + "/sessions",
                               boost::json::serialize(boost::json::object{{"client_account_id", client.account_id},
                                                                          {"title", title},
                                                                          {"start", format_rfc3339(start)},
                                                                          {"duration_minutes", 30}}),
                               coach.bearer());
      BOOST_TEST_REQUIRE(r.status == 201, r.body);
      last_token = r.header("X-Consistency-Token");
      return test::str(test::as_object(r), "id");
    };
    dropped = book("Reminder dropped", dropped_at);
    moved = book("Reminder moved", moved_from);
    kept = book("Reminder kept", kept_at);
    // The lifecycle routes find the session in the read model: wait for the bookings first.
    auto after_bookings = coach.bearer();
    after_bookings.emplace_back("X-Consistency-Token", last_token);
    auto cancelled = test::http_call(port, "POST", "/api/v1/sessions/" + dropped + "/cancel", "", after_bookings);
    BOOST_TEST_REQUIRE(cancelled.status == 200, cancelled.body);
    auto rescheduled = test::http_call(port, "POST", "/api/v1/sessions/" + moved + "/reschedule",
                                       boost::json::serialize(boost::json::object{{"start", format_rfc3339(moved_to)}}),
                                       after_bookings);
    BOOST_TEST_REQUIRE(rescheduled.status == 200, rescheduled.body);
    // Booked after the changes, in the same schedule stream: when its reminder is out, the
    // dispatcher has seen the cancellation and the new time.
    soon = book("Reminder soon", soon_at);
    BOOST_TEST_REQUIRE(test::eventually([&] { return reminder_files(mail_dir, "Reminder soon").size() == 1u; }));
    for (const auto& [id, title] : {std::pair{dropped, "Reminder dropped"}, std::pair{moved, "Reminder moved"},
                                    std::pair{kept, "Reminder kept"}}) {
      const auto n = reminders_for(db.conninfo(), id, title);
      BOOST_TEST(n.mails == 0, title);
      BOOST_TEST(n.notifications == 0, title);
    }
    BOOST_TEST(reminders_for(db.conninfo(), soon, "Reminder soon").notifications == 1);
    app.stop();
  }

  // Phase 2, restarted with a 6-hour lead: the kept session (5 h) is due now; the cancelled one
  // (3 h) and the moved one's old time (4 h) would be, and must stay silent.
  config.reminder_lead = std::chrono::minutes(6 * 60);
  {
    gateway::app app(config);
    app.start();
    BOOST_TEST_REQUIRE(test::eventually([&] { return reminder_files(mail_dir, "Reminder kept").size() == 1u; }));
    BOOST_TEST(reminders_for(db.conninfo(), dropped, "Reminder dropped").mails == 0);
    BOOST_TEST(reminders_for(db.conninfo(), dropped, "Reminder dropped").notifications == 0);
    BOOST_TEST(reminders_for(db.conninfo(), moved, "Reminder moved").mails == 0);
    BOOST_TEST(reminders_for(db.conninfo(), moved, "Reminder moved").notifications == 0);
    app.stop();
  }

  // Phase 3, restarted with a 12-hour lead: the moved session's new time (10 h) is due: one
  // reminder naming it; nothing sent before goes out again.
  config.reminder_lead = std::chrono::minutes(12 * 60);
  {
    gateway::app app(config);
    app.start();
    BOOST_TEST_REQUIRE(test::eventually([&] { return reminder_files(mail_dir, "Reminder moved").size() == 1u; }));
    const auto moved_mail = reminder_files(mail_dir, "Reminder moved")[0];
    BOOST_TEST(moved_mail.find(format_rfc3339(moved_to).substr(11, 5) + " (UTC)") != std::string::npos, moved_mail);
    BOOST_TEST(moved_mail.find(format_rfc3339(moved_from).substr(11, 5) + " (UTC)") == std::string::npos, moved_mail);
    BOOST_TEST(moved_mail.find("client@example.com") != std::string::npos);
    app.stop();
  }
  for (const auto& [id, title, expected] :
       {std::tuple{soon, "Reminder soon", 1}, std::tuple{kept, "Reminder kept", 1},
        std::tuple{moved, "Reminder moved", 1}, std::tuple{dropped, "Reminder dropped", 0}}) {
    const auto n = reminders_for(db.conninfo(), id, title);
    BOOST_TEST(n.mails == expected, title);
    BOOST_TEST(n.notifications == expected, title);
    BOOST_TEST(reminder_files(mail_dir, title).size() == static_cast<std::size_t>(expected), title);
  }
  std::filesystem::remove_all(mail_dir);
}
