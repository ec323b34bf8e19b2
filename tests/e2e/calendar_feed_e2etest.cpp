// The subscribable calendar feed over HTTP (PostgreSQL log): a coach and a client each create a
// feed URL, a calendar app fetches it with no header at all and gets every session of theirs as
// RFC 5545 (checked with libical: UIDs, SEQUENCE after a reschedule, STATUS:CANCELLED); the
// management routes never show the token again and store only its hash; rotating kills the old
// URL, revoking kills the URL, and every dead or made-up token gets the same 404 problem.

#ifdef BOOST_TEST_UNIT_TEST_HPP_071894GER
#include <boost/test/unit_test.hpp>
bool init_unit_test() {
  boost::unit_test::framework::master_test_suite().p_name.value = "calendar_feed_e2e";
  return true;
}
int main(int argc, char* argv[]) {
  return boost::unit_test::unit_test_main(&init_unit_test, argc, argv);
}
#else
#define BOOST_TEST_MODULE calendar_feed_e2e
#include <boost/test/unit_test.hpp>
#endif

#include <libical/ical.h>

#include <map>
#include <memory>
#include <pqxx/pqxx>

#include "events/time.hpp"
#include "gateway/app.hpp"
#include "infra/crypto.hpp"
#include "tests/e2e/intake_slice.hpp"
#include "tests/support/pg_test_db.hpp"
#include "tests/support/e2e_config.hpp"

using namespace coachd;
using test::as_object;
using test::http_call;
using test::str;
namespace json = boost::json;

namespace {

struct component_deleter {
  void operator()(icalcomponent* c) const { icalcomponent_free(c); }
};
using component = std::unique_ptr<icalcomponent, component_deleter>;

/// A VEVENT as the test looks at it.
struct feed_event {
  std::string summary, description, location, dtstart;
  int sequence = 0;
  icalproperty_status status = ICAL_STATUS_NONE;
};

/// The feed's events by UID; fails the test when libical cannot read it.
std::map<std::string, feed_event> events_of(const std::string& ics) {
  std::map<std::string, feed_event> out;
  component cal(icalparser_parse_string(ics.c_str()));
  BOOST_TEST_REQUIRE(cal != nullptr, ics);
  BOOST_TEST(icalcomponent_isa(cal.get()) == ICAL_VCALENDAR_COMPONENT);
  BOOST_TEST(icalcomponent_get_method(cal.get()) == ICAL_METHOD_PUBLISH);
  for (icalcomponent* ev = icalcomponent_get_first_component(cal.get(), ICAL_VEVENT_COMPONENT);
       ev != nullptr; ev = icalcomponent_get_next_component(cal.get(), ICAL_VEVENT_COMPONENT)) {
    feed_event e;
    e.summary = icalcomponent_get_summary(ev) ? icalcomponent_get_summary(ev) : "";
    e.description = icalcomponent_get_description(ev) ? icalcomponent_get_description(ev) : "";
    e.location = icalcomponent_get_location(ev) ? icalcomponent_get_location(ev) : "";
    e.dtstart = icaltime_as_ical_string(icalcomponent_get_dtstart(ev));
    e.sequence = icalcomponent_get_sequence(ev);
    e.status = icalcomponent_get_status(ev);
    out[icalcomponent_get_uid(ev)] = e;
  }
  return out;
}

/// The path part of a feed URL ("/api/v1/calendar/<token>.ics").
std::string path_of(const std::string& url, const std::string& portal) {
  BOOST_TEST_REQUIRE(url.rfind(portal, 0) == 0u, url);
  return url.substr(portal.size());
}

std::string ics_utc(const std::string& rfc3339) {
  // "2026-06-04T08:00:00.000Z" → "20260604T080000Z"
  std::string out;
  for (char c : rfc3339.substr(0, 19)) {
    if (c != '-' && c != ':') out += c;
  }
  return out + "Z";
}

/// Whether an answer is a problem+json with this status.
bool is_problem(const test::http_reply& r, int status) {
  return r.status == status && r.header("Content-Type").find("application/problem+json") == 0u;
}

}  // namespace

BOOST_AUTO_TEST_CASE(calendar_feed_over_http) {
  test::test_database db;
  const auto mail_dir = test::mail_dir_for(db);
  gateway::app_config config = test::e2e_config(db, mail_dir);
  config.portal_url = "https://portal.example";
  gateway::app app(config);
  app.start();
  app.seed_demo_accounts();
  const auto port = app.port();

  auto coach = test::sign_in(port, "coach@example.com", "coach-demo-pass-2026");
  auto client = test::sign_in(port, "client@example.com", "client-demo-pass-2026");
  auto signup = http_call(
      port, "POST", "/api/v1/auth/sign-up",
      R"({"email":"olive@example.org","password":"another coach's passphrase","display_name":"Olive","role":"coach"})");
  BOOST_TEST_REQUIRE(signup.status == 201, signup.body);
  auto olive = test::sign_in(port, "olive@example.org", "another coach's passphrase",
                             signup.header("X-Consistency-Token"));

  // The coach's sessions with the demo client: one kept, one cancelled, one moved.
  auto published = http_call(
      port, "PUT", "/api/v1/me/availability",
      R"({"time_zone":"Europe/Berlin","weekly":[{"day":"monday","start":"09:00","end":"17:00"}]})",
      coach.bearer());
  BOOST_TEST_REQUIRE(published.status == 200, published.body);
  const auto day = [](int d) {
    return format_rfc3339(now_utc() + std::chrono::hours(24 * d)).substr(0, 10);
  };
  std::string last_token;  // the latest booking's consistency token (one schedule stream)
  auto book = [&](const std::string& title, const std::string& start) {
    auto r =
        http_call(port, "POST", "/api/v1/coaches/" + coach.account_id + "/sessions",
                  json::serialize(json::object{{"client_account_id", client.account_id},
                                               {"title", title},
                                               {"start", start},
                                               {"duration_minutes", 45},
                                               {"meeting_link", "https://meet.example/" + title}}),
                  coach.bearer());
    BOOST_TEST_REQUIRE(r.status == 201, r.body);
    last_token = r.header("X-Consistency-Token");
    return str(as_object(r), "id");
  };
  const std::string kept = book("Kept", day(3) + "T09:00:00Z");
  const std::string dropped = book("Dropped", day(4) + "T09:00:00Z");
  const std::string moved = book("Moved", day(5) + "T09:00:00Z");
  // The lifecycle routes find the session in the read model: wait for the bookings first.
  auto after_bookings = coach.bearer();
  after_bookings.emplace_back("X-Consistency-Token", last_token);
  auto cancel = http_call(port, "POST", "/api/v1/sessions/" + dropped + "/cancel",
                          R"({"reason":"Ill"})", after_bookings);
  BOOST_TEST_REQUIRE(cancel.status == 200, cancel.body);
  const std::string moved_to = day(6) + "T15:30:00Z";
  auto reschedule = http_call(port, "POST", "/api/v1/sessions/" + moved + "/reschedule",
                              json::serialize(json::object{{"start", moved_to}}), after_bookings);
  BOOST_TEST_REQUIRE(reschedule.status == 200, reschedule.body);
  // Read-your-writes: the sessions model has the reschedule (and the cancellation before it).
  auto seen =
      http_call(port, "GET",
                "/api/v1/sessions/" + moved + "?after=" + reschedule.header("X-Consistency-Token"),
                "", coach.bearer());
  BOOST_TEST_REQUIRE(seen.status == 200, seen.body);

  // No feed yet; the management routes need a signed-in caller.
  auto none = http_call(port, "GET", "/api/v1/me/calendar-feed", "", coach.bearer());
  BOOST_TEST_REQUIRE(none.status == 200, none.body);
  BOOST_TEST(as_object(none).at("exists").as_bool() == false);
  BOOST_TEST(as_object(none).at("created_at").is_null());
  BOOST_TEST(is_problem(http_call(port, "POST", "/api/v1/me/calendar-feed"), 401));
  BOOST_TEST(is_problem(http_call(port, "GET", "/api/v1/me/calendar-feed"), 401));
  BOOST_TEST(is_problem(http_call(port, "DELETE", "/api/v1/me/calendar-feed"), 401));
  // A cookie session must send its CSRF token to create one.
  BOOST_TEST(is_problem(http_call(port, "POST", "/api/v1/me/calendar-feed", "",
                                  {{"Cookie", "coachd_session=" + coach.token}}),
                        403));
  // The request takes no fields: bad bodies are problems that say why.
  auto unknown_field =
      http_call(port, "POST", "/api/v1/me/calendar-feed", R"({"name":"Work"})", coach.bearer());
  BOOST_TEST(is_problem(unknown_field, 422), unknown_field.body);
  BOOST_TEST(unknown_field.body.find("name") != std::string::npos, unknown_field.body);
  BOOST_TEST(
      is_problem(http_call(port, "POST", "/api/v1/me/calendar-feed", "{", coach.bearer()), 400));
  BOOST_TEST(as_object(http_call(port, "GET", "/api/v1/me/calendar-feed", "", coach.bearer()))
                 .at("exists")
                 .as_bool() == false);

  // Create: 201 with the URL, once; only the token's hash is stored.
  auto created = http_call(port, "POST", "/api/v1/me/calendar-feed", "", coach.bearer());
  BOOST_TEST_REQUIRE(created.status == 201, created.body);
  BOOST_TEST(created.header("Cache-Control") == "no-store");
  BOOST_TEST(created.header("Location") == "/api/v1/me/calendar-feed");
  const auto created_json = as_object(created);
  const std::string url = str(created_json, "url");
  BOOST_TEST(created_json.at("past_days").as_int64() == 90);
  BOOST_TEST(created_json.at("max_sessions").as_int64() == 1000);
  const std::string path = path_of(url, "https://portal.example");
  const std::string prefix = "/api/v1/calendar/";
  BOOST_TEST_REQUIRE(path.rfind(prefix, 0) == 0u, path);
  BOOST_TEST_REQUIRE(path.size() > prefix.size() + 4);
  const std::string token = path.substr(prefix.size(), path.size() - prefix.size() - 4);
  BOOST_TEST(path.substr(path.size() - 4) == ".ics");
  BOOST_TEST(token.size() >= 43u);  // 256 bits of base64url
  {
    pqxx::connection c(db.conninfo());
    pqxx::read_transaction tx(c);
    auto rows = tx.exec_params("SELECT token_hash FROM calendar_feeds WHERE account_id = $1",
                               coach.account_id);
    BOOST_TEST_REQUIRE(rows.size() == 1u);
    BOOST_TEST(rows[0][0].as<std::string>() == token_hash_hex(token));
    BOOST_TEST(
        tx.exec_params(
              "SELECT count(*) FROM calendar_feeds WHERE token_hash = $1 OR account_id::text = $1",
              token)[0][0]
            .as<int>() == 0);
  }
  auto info = http_call(port, "GET", "/api/v1/me/calendar-feed", "", coach.bearer());
  BOOST_TEST_REQUIRE(info.status == 200, info.body);
  BOOST_TEST(info.body.find(token) == std::string::npos);
  BOOST_TEST(as_object(info).at("exists").as_bool());
  BOOST_TEST(str(as_object(info), "created_at") == str(created_json, "created_at"));
  BOOST_TEST(as_object(info).at("last_used_at").is_null());

  // A calendar app fetches it with no header at all.
  auto feed = http_call(port, "GET", path);
  BOOST_TEST_REQUIRE(feed.status == 200, feed.body);
  BOOST_TEST(feed.header("Content-Type") == "text/calendar; charset=utf-8");
  BOOST_TEST(feed.header("Cache-Control") == "no-store");
  BOOST_TEST(feed.body.find("X-WR-CALNAME:coachd sessions\r\n") != std::string::npos);
  auto events = events_of(feed.body);
  BOOST_TEST_REQUIRE(events.size() == 3u, feed.body);
  const auto& k = events.at(kept + "@coachd");
  BOOST_TEST(k.summary == "Kept");
  BOOST_TEST(k.description == "With Riley Client");
  BOOST_TEST(k.location == "https://meet.example/Kept");
  BOOST_TEST(k.status == ICAL_STATUS_CONFIRMED);
  BOOST_TEST(k.sequence == 0);
  BOOST_TEST(k.dtstart == ics_utc(day(3) + "T09:00:00Z"));
  const auto& d = events.at(dropped + "@coachd");
  BOOST_TEST(d.status == ICAL_STATUS_CANCELLED);
  BOOST_TEST(d.sequence >= 1);
  const auto& m = events.at(moved + "@coachd");
  BOOST_TEST(m.status == ICAL_STATUS_CONFIRMED);
  BOOST_TEST(m.sequence == 1);
  BOOST_TEST(m.dtstart == ics_utc(moved_to));
  // The event order is the sessions' (earliest first).
  BOOST_TEST(feed.body.find("UID:" + kept) < feed.body.find("UID:" + dropped));
  BOOST_TEST(feed.body.find("UID:" + dropped) < feed.body.find("UID:" + moved));
  // Signed-in callers get the same (the token is the credential, not the caller).
  BOOST_TEST(http_call(port, "GET", path, "", olive.bearer()).body == feed.body);
  // The use shows in the management answer.
  auto used = http_call(port, "GET", "/api/v1/me/calendar-feed", "", coach.bearer());
  BOOST_TEST(!as_object(used).at("last_used_at").is_null(), used.body);

  // The client's own feed: the same sessions, seen from their side; another coach's is empty.
  auto client_created = http_call(port, "POST", "/api/v1/me/calendar-feed", "{}", client.bearer());
  BOOST_TEST_REQUIRE(client_created.status == 201, client_created.body);
  const std::string client_path =
      path_of(str(as_object(client_created), "url"), "https://portal.example");
  BOOST_TEST(client_path != path);
  auto client_feed = http_call(port, "GET", client_path);
  BOOST_TEST_REQUIRE(client_feed.status == 200, client_feed.body);
  auto client_events = events_of(client_feed.body);
  BOOST_TEST_REQUIRE(client_events.size() == 3u);
  BOOST_TEST(client_events.at(kept + "@coachd").description == "With Casey Coach");
  BOOST_TEST(client_events.at(dropped + "@coachd").status == ICAL_STATUS_CANCELLED);
  BOOST_TEST(client_events.at(moved + "@coachd").dtstart == ics_utc(moved_to));
  auto olive_created = http_call(port, "POST", "/api/v1/me/calendar-feed", "", olive.bearer());
  BOOST_TEST_REQUIRE(olive_created.status == 201);
  auto olive_feed = http_call(
      port, "GET", path_of(str(as_object(olive_created), "url"), "https://portal.example"));
  BOOST_TEST_REQUIRE(olive_feed.status == 200);
  BOOST_TEST(events_of(olive_feed.body).empty());

  // Rotate: a new URL; the old one is dead at once, the client's untouched.
  auto rotated = http_call(port, "POST", "/api/v1/me/calendar-feed", "", coach.bearer());
  BOOST_TEST_REQUIRE(rotated.status == 201, rotated.body);
  const std::string new_path = path_of(str(as_object(rotated), "url"), "https://portal.example");
  BOOST_TEST(new_path != path);
  auto old_answer = http_call(port, "GET", path);
  BOOST_TEST(is_problem(old_answer, 404), old_answer.status << " " << old_answer.body);
  BOOST_TEST(old_answer.body.find("BEGIN:VCALENDAR") == std::string::npos);
  auto rotated_feed = http_call(port, "GET", new_path);
  BOOST_TEST(rotated_feed.status == 200);
  BOOST_TEST(events_of(rotated_feed.body).size() == 3u);
  BOOST_TEST(http_call(port, "GET", client_path).status == 200);

  // Every token that opens nothing gets the same problem: replaced, never issued, malformed.
  const auto detail_of = [](const test::http_reply& r) {
    auto o = json::parse(r.body).as_object();
    return str(o, "type") + "|" + str(o, "detail");
  };
  const std::string expected = detail_of(old_answer);
  for (const std::string& bogus :
       {prefix + random_token(32) + ".ics", prefix + "short.ics",
        prefix + std::string(300, 'A') + ".ics",
        prefix + "not%20a%20token%21%21%21%21%21%21%21%21%21%21%21%21%21%21%21%21.ics",
        prefix + token + "x.ics"}) {
    auto r = http_call(port, "GET", bogus);
    BOOST_TEST(is_problem(r, 404), bogus << ": " << r.status << " " << r.body);
    BOOST_TEST(detail_of(r) == expected, bogus);
  }

  // Revoke: 204; the URL is dead, the management answer says so; revoking again is still 204.
  auto revoked = http_call(port, "DELETE", "/api/v1/me/calendar-feed", "", coach.bearer());
  BOOST_TEST(revoked.status == 204, revoked.body);
  auto dead = http_call(port, "GET", new_path);
  BOOST_TEST(is_problem(dead, 404), dead.body);
  BOOST_TEST(detail_of(dead) == expected);
  BOOST_TEST(as_object(http_call(port, "GET", "/api/v1/me/calendar-feed", "", coach.bearer()))
                 .at("exists")
                 .as_bool() == false);
  BOOST_TEST(http_call(port, "DELETE", "/api/v1/me/calendar-feed", "", coach.bearer()).status ==
             204);
  BOOST_TEST(http_call(port, "GET", client_path).status == 200);  // only the caller's own feed went

  // The routes are in the OpenAPI document.
  auto doc = http_call(port, "GET", "/api/v1/openapi.json");
  BOOST_TEST(doc.body.find("/api/v1/calendar/{feed_token}.ics") != std::string::npos);
  BOOST_TEST(doc.body.find("/api/v1/me/calendar-feed") != std::string::npos);

  app.stop();
  std::filesystem::remove_all(mail_dir);
}
