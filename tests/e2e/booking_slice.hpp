#pragma once
// Availability and booking, driven over HTTP against a running coachd (issue 4). Included by
// the suites of each event-log adapter (booking_pg_e2etest, booking_kafka_e2etest).

#include <boost/json.hpp>
#include <boost/test/unit_test.hpp>
#include <future>
#include <string>
#include <vector>

#include "events/time.hpp"
#include "tests/e2e/intake_slice.hpp"
#include "tests/support/http_client.hpp"

namespace coachd::test {

namespace booking {

using headers = std::vector<std::pair<std::string, std::string>>;

inline headers with_token(const session& who, const std::string& token) {
  auto h = who.bearer();
  if (!token.empty()) h.emplace_back("X-Consistency-Token", token);
  return h;
}

/// Whether a problem answer has this status and names `field`.
inline bool names_field(const http_reply& r, int status, const std::string& field) {
  if (r.status != status) return false;
  auto o = json::parse(r.body).as_object();
  if (!o.contains("errors")) return false;
  for (const auto& e : o.at("errors").as_array()) {
    if (json::value_to<std::string>(e.as_object().at("field")) == field) return true;
  }
  return false;
}

/// Sends `n` requests at once (each from its own thread) and returns the answers.
inline std::vector<http_reply> concurrently(std::uint16_t port, const std::vector<std::pair<std::string, headers>>& requests,
                                            const std::string& path) {
  std::vector<std::future<http_reply>> futures;
  std::promise<void> go;
  std::shared_future<void> start = go.get_future().share();
  for (const auto& [body, h] : requests) {
    futures.push_back(std::async(std::launch::async, [&, body = body, h = h] {
      start.wait();
      return http_call(port, "POST", path, body, h);
    }));
  }
  go.set_value();
  std::vector<http_reply> replies;
  for (auto& f : futures) replies.push_back(f.get());
  return replies;
}

}  // namespace booking

/// Runs the scheduling slice. The demo accounts must be seeded.
inline void run_booking_slice(std::uint16_t port, const std::filesystem::path& mail_dir) {
  using namespace booking;
  auto coach = sign_in(port, "coach@example.com", "coach-demo-pass-2026");
  // Four clients of our own.
  std::vector<session> clients;
  for (int i = 0; i < 4; ++i) {
    const std::string email = "booker" + std::to_string(i) + "@example.org";
    auto up = http_call(port, "POST", "/api/v1/auth/sign-up",
                        json::serialize(json::object{{"email", email},
                                                     {"password", "a long enough secret"},
                                                     {"display_name", "Booker " + std::to_string(i)},
                                                     {"role", "client"}}));
    BOOST_TEST_REQUIRE(up.status == 201, up.body);
    clients.push_back(sign_in(port, email, "a long enough secret", up.header("X-Consistency-Token")));
  }
  const std::string coach_base = "/api/v1/coaches/" + coach.account_id;

  // Availability: every day 09:00-17:00 in Berlin; bad input names the field and writes nothing.
  std::string weekly = "[";
  for (const char* d : {"monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"}) {
    if (weekly.size() > 1) weekly += ",";
    weekly += std::string(R"({"day":")") + d + R"(","start":"09:00","end":"17:00"})";
  }
  weekly += "]";
  auto bad_zone = http_call(port, "PUT", "/api/v1/me/availability",
                            R"({"time_zone":"Europe/Atlantis","weekly":)" + weekly + "}", coach.bearer());
  BOOST_TEST(names_field(bad_zone, 422, "time_zone"), bad_zone.body);
  auto end_before_start = http_call(port, "PUT", "/api/v1/me/availability",
                                    R"({"time_zone":"Europe/Berlin","weekly":[{"day":"monday","start":"12:00","end":"09:00"}]})",
                                    coach.bearer());
  BOOST_TEST(names_field(end_before_start, 422, "weekly[0].end"), end_before_start.body);
  auto malformed_time = http_call(port, "PUT", "/api/v1/me/availability",
                                  R"({"time_zone":"Europe/Berlin","weekly":[{"day":"monday","start":"9am","end":"17:00"}]})",
                                  coach.bearer());
  BOOST_TEST(names_field(malformed_time, 422, "weekly[0].start"), malformed_time.body);
  BOOST_TEST(http_call(port, "PUT", "/api/v1/me/availability", R"({"time_zone":"Europe/Berlin","weekly":[]})",
                       clients[0].bearer()).status == 403);
  auto set = http_call(port, "PUT", "/api/v1/me/availability",
                       R"({"time_zone":"Europe/Berlin","weekly":)" + weekly +
                           R"(,"cancellation_notice_minutes":1440,"late_cancellation":"refuse"})",
                       coach.bearer());
  BOOST_TEST_REQUIRE(set.status == 200, set.body);

  // A session type; zero or negative durations are 422.
  BOOST_TEST(names_field(http_call(port, "POST", "/api/v1/me/session-types", R"({"name":"X","duration_minutes":0})",
                                   coach.bearer()),
                         422, "duration_minutes"));
  BOOST_TEST(names_field(http_call(port, "POST", "/api/v1/me/session-types", R"({"name":"X","duration_minutes":-30})",
                                   coach.bearer()),
                         422, "duration_minutes"));
  auto created = http_call(port, "POST", "/api/v1/me/session-types",
                           R"({"name":"Coaching","duration_minutes":60,"buffer_before_minutes":15,"buffer_after_minutes":15,)"
                           R"("horizon_days":60,"slot_interval_minutes":30,"price_cents":9000,"currency":"EUR",)"
                           R"("location":"https://meet.example/coach"})",
                           coach.bearer());
  BOOST_TEST_REQUIRE(created.status == 201, created.body);
  const std::string type_id = str(as_object(created), "id");
  const std::string token = created.header("X-Consistency-Token");
  auto types = http_call(port, "GET", coach_base + "/session-types?after=" + token);
  BOOST_TEST_REQUIRE(types.status == 200, types.body);
  BOOST_TEST(as_object(types).at("items").as_array().size() == 1u);

  // Slots a week from now, seen from New York; the coach's 09:00 is the same instant.
  const std::string day = format_rfc3339(now_utc() + std::chrono::hours(24 * 7)).substr(0, 10);
  const std::string next_day = format_rfc3339(now_utc() + std::chrono::hours(24 * 8)).substr(0, 10);
  const std::string range = "&from=" + day + "T00:00:00Z&to=" + next_day + "T00:00:00Z";
  const std::string slots_path = coach_base + "/slots?type=" + type_id + range;
  auto slots_ny = http_call(port, "GET", slots_path + "&tz=America/New_York&after=" + token);
  BOOST_TEST_REQUIRE(slots_ny.status == 200, slots_ny.body);
  auto slots_berlin = http_call(port, "GET", slots_path);
  BOOST_TEST_REQUIRE(slots_berlin.status == 200, slots_berlin.body);
  const auto ny = as_object(slots_ny).at("slots").as_array();
  const auto berlin = as_object(slots_berlin).at("slots").as_array();
  BOOST_TEST_REQUIRE(ny.size() >= 10u);
  BOOST_TEST(ny.size() == berlin.size());
  BOOST_TEST(str(as_object(slots_berlin), "coach_time_zone") == "Europe/Berlin");
  for (std::size_t i = 0; i < ny.size(); ++i) {
    BOOST_TEST(str(ny[i].as_object(), "start") == str(berlin[i].as_object(), "start"));
  }
  // Every slot is within 09:00-17:00 in Berlin, and the day's first 09:00 is there.
  bool nine = false;
  for (const auto& s : berlin) {
    const std::string local = str(s.as_object(), "local_start");
    const std::string hhmm = local.substr(11, 5);
    BOOST_TEST((hhmm >= "09:00" && hhmm <= "16:00"), local);
    if (hhmm == "09:00") nine = true;
  }
  BOOST_TEST(nine);
  BOOST_TEST(str(ny[0].as_object(), "local_start").find("-0") != std::string::npos);  // -04:00 or -05:00

  // Bad slot queries: 422 naming the field.
  BOOST_TEST(names_field(http_call(port, "GET", coach_base + "/slots?type=" + type_id + "&from=" + next_day +
                                                    "T00:00:00Z&to=" + day + "T00:00:00Z"),
                         422, "to"));
  BOOST_TEST(names_field(http_call(port, "GET", coach_base + "/slots?type=" + type_id +
                                                    "&from=2026-01-01T00:00:00Z&to=2026-06-01T00:00:00Z"),
                         422, "to"));
  BOOST_TEST(names_field(http_call(port, "GET", slots_path + "&tz=Mars/Base"), 422, "tz"));
  BOOST_TEST(names_field(http_call(port, "GET", coach_base + "/slots?type=" + type_id + "&from=yesterday&to=" + next_day +
                                                    "T00:00:00Z"),
                         422, "from"));
  BOOST_TEST(names_field(http_call(port, "GET", coach_base + "/slots?type=nope" + range), 422, "type"));

  // 100 concurrent BookSession for one slot: exactly one 201, 99 409 slot-taken.
  const std::string contested = str(berlin[2].as_object(), "start");
  std::vector<std::pair<std::string, headers>> requests;
  for (int i = 0; i < 100; ++i) {
    requests.emplace_back(json::serialize(json::object{{"type", type_id}, {"start", contested}}),
                          clients[static_cast<std::size_t>(i) % clients.size()].bearer());
  }
  auto replies = concurrently(port, requests, coach_base + "/sessions");
  int created_count = 0, conflicts = 0;
  std::string winner, winner_token;
  for (const auto& r : replies) {
    if (r.status == 201) {
      ++created_count;
      winner = str(as_object(r), "id");
      winner_token = r.header("X-Consistency-Token");
    } else if (r.status == 409 && r.body.find("slot-taken") != std::string::npos) {
      ++conflicts;
    } else {
      BOOST_TEST_INFO("unexpected answer " << r.status << " " << r.body);
      BOOST_TEST(false);
    }
  }
  BOOST_TEST(created_count == 1);
  BOOST_TEST(conflicts == 99);

  // Overlapping but different starts (30 minutes apart, 60-minute sessions + buffers): one wins.
  const std::string later_a = str(berlin[6].as_object(), "start");
  const std::string later_b = str(berlin[7].as_object(), "start");
  requests.clear();
  for (int i = 0; i < 60; ++i) {
    requests.emplace_back(json::serialize(json::object{{"type", type_id}, {"start", i % 2 == 0 ? later_a : later_b}}),
                          clients[static_cast<std::size_t>(i) % clients.size()].bearer());
  }
  replies = concurrently(port, requests, coach_base + "/sessions");
  created_count = 0;
  conflicts = 0;
  for (const auto& r : replies) {
    if (r.status == 201) ++created_count;
    if (r.status == 409) ++conflicts;
  }
  BOOST_TEST(created_count == 1);
  BOOST_TEST(conflicts == 59);

  // The booked slot is gone from the slots; its neighbours within the buffers too.
  auto after_booking = http_call(port, "GET", slots_path + "&after=" + winner_token);
  const auto after_booking_json = as_object(after_booking);
  for (const auto& s : after_booking_json.at("slots").as_array()) {
    BOOST_TEST(str(s.as_object(), "start") != contested);
  }

  // A hold: someone else cannot book the held slot; the holder books with the hold.
  const std::string held_start = str(berlin[12].as_object(), "start");
  auto hold = http_call(port, "POST", coach_base + "/holds",
                        json::serialize(json::object{{"type", type_id}, {"start", held_start}}), clients[1].bearer());
  BOOST_TEST_REQUIRE(hold.status == 201, hold.body);
  const std::string hold_id = str(as_object(hold), "id");
  auto stolen = http_call(port, "POST", coach_base + "/sessions",
                          json::serialize(json::object{{"type", type_id}, {"start", held_start}}), clients[2].bearer());
  BOOST_TEST(stolen.status == 409);
  BOOST_TEST(stolen.body.find("slot-taken") != std::string::npos);
  auto with_hold = http_call(port, "POST", coach_base + "/sessions",
                             json::serialize(json::object{{"type", type_id}, {"start", held_start}, {"hold_id", hold_id}}),
                             clients[1].bearer());
  BOOST_TEST_REQUIRE(with_hold.status == 201, with_hold.body);
  const std::string held_session = str(as_object(with_hold), "id");

  // Refusals with their reasons: outside availability (off-grid), and a client cannot set a title.
  auto off_grid = http_call(port, "POST", coach_base + "/sessions",
                            json::serialize(json::object{{"type", type_id}, {"start", day + "T07:10:00Z"}}),
                            clients[3].bearer());
  BOOST_TEST(off_grid.status == 422);
  BOOST_TEST(off_grid.body.find("slot-outside-availability") != std::string::npos);
  BOOST_TEST(names_field(http_call(port, "POST", coach_base + "/sessions", R"({"type":")" + type_id + R"(","start":"soon"})",
                                   clients[3].bearer()),
                         422, "start"));

  // The session in the winner's list and detail, in their preferred zone.
  auto pref = http_call(port, "PUT", "/api/v1/me/preferences", R"({"timezone":"America/New_York"})", clients[1].bearer());
  BOOST_TEST(pref.status == 200);
  BOOST_TEST(names_field(http_call(port, "PUT", "/api/v1/me/preferences", R"({"timezone":"EST+5"})", clients[1].bearer()),
                         422, "timezone"));
  auto detail = http_call(port, "GET", "/api/v1/sessions/" + held_session, "",
                          with_token(clients[1], with_hold.header("X-Consistency-Token")));
  BOOST_TEST_REQUIRE(detail.status == 200, detail.body);
  auto d = as_object(detail);
  BOOST_TEST(str(d, "time_zone") == "America/New_York");
  BOOST_TEST(str(d, "start") == held_start);
  BOOST_TEST(str(d, "title") == "Coaching");
  BOOST_TEST(str(d, "location") == "https://meet.example/coach");
  BOOST_TEST(http_call(port, "GET", "/api/v1/sessions/" + held_session, "", clients[2].bearer()).status == 404);
  auto upcoming = http_call(port, "GET", "/api/v1/sessions?view=upcoming", "", clients[1].bearer());
  BOOST_TEST_REQUIRE(upcoming.status == 200, upcoming.body);
  bool listed = false;
  const auto upcoming_json = as_object(upcoming);
  for (const auto& s : upcoming_json.at("items").as_array()) {
    if (str(s.as_object(), "id") == held_session) listed = true;
  }
  BOOST_TEST(listed);
  auto coach_list = http_call(port, "GET", "/api/v1/sessions?limit=1", "", coach.bearer());
  BOOST_TEST_REQUIRE(coach_list.status == 200);
  BOOST_TEST(as_object(coach_list).at("items").as_array().size() == 1u);
  BOOST_TEST(!as_object(coach_list).at("next_cursor").is_null());
  auto page2 = http_call(port, "GET", "/api/v1/sessions?limit=1&cursor=" + str(as_object(coach_list), "next_cursor"), "",
                         coach.bearer());
  BOOST_TEST(page2.status == 200);
  BOOST_TEST(str(as_object(page2).at("items").as_array()[0].as_object(), "id") !=
             str(as_object(coach_list).at("items").as_array()[0].as_object(), "id"));

  // Reschedule (client, to a free slot): SEQUENCE rises in the .ics.
  const std::string new_start = str(berlin[14].as_object(), "start");
  auto moved = http_call(port, "POST", "/api/v1/sessions/" + held_session + "/reschedule",
                         json::serialize(json::object{{"start", new_start}}), clients[1].bearer());
  BOOST_TEST_REQUIRE(moved.status == 200, moved.body);
  auto ics = http_call(port, "GET", "/api/v1/sessions/" + held_session + ".ics", "",
                       with_token(clients[1], moved.header("X-Consistency-Token")));
  BOOST_TEST_REQUIRE(ics.status == 200, ics.body);
  BOOST_TEST(ics.header("Content-Type").find("text/calendar") == 0u);
  BOOST_TEST(ics.body.find("UID:" + held_session + "@coachd\r\n") != std::string::npos);
  BOOST_TEST(ics.body.find("SEQUENCE:1\r\n") != std::string::npos);
  BOOST_TEST(ics.body.find("METHOD:PUBLISH\r\n") != std::string::npos);
  // A client cancelling inside 24 h notice would be refused; a week ahead it is fine. The coach cancels here.
  auto cancelled = http_call(port, "POST", "/api/v1/sessions/" + held_session + "/cancel", R"({"reason":"Travel"})",
                             coach.bearer());
  BOOST_TEST_REQUIRE(cancelled.status == 200, cancelled.body);
  auto cancelled_ics = http_call(port, "GET", "/api/v1/sessions/" + held_session + ".ics", "",
                                 with_token(clients[1], cancelled.header("X-Consistency-Token")));
  BOOST_TEST(cancelled_ics.body.find("METHOD:CANCEL\r\n") != std::string::npos);
  BOOST_TEST(cancelled_ics.body.find("STATUS:CANCELLED\r\n") != std::string::npos);
  BOOST_TEST(cancelled_ics.body.find("SEQUENCE:2\r\n") != std::string::npos);
  auto again = http_call(port, "POST", "/api/v1/sessions/" + held_session + "/cancel", "", coach.bearer());
  BOOST_TEST(again.status == 409);
  BOOST_TEST(again.body.find("session-cancelled") != std::string::npos);
  auto cancelled_list = http_call(port, "GET", "/api/v1/sessions?view=cancelled", "", clients[1].bearer());
  BOOST_TEST(as_object(cancelled_list).at("items").as_array().size() == 1u);

  // The coach books directly (outside their hours), but never over another session.
  auto direct = http_call(port, "POST", coach_base + "/sessions",
                          json::serialize(json::object{{"client_account_id", clients[0].account_id},
                                                       {"title", "Strategy call"},
                                                       {"start", day + "T20:00:00Z"},
                                                       {"duration_minutes", 45},
                                                       {"meeting_link", "https://meet.example/strategy"}}),
                          coach.bearer());
  BOOST_TEST_REQUIRE(direct.status == 201, direct.body);
  auto direct_overlap = http_call(port, "POST", coach_base + "/sessions",
                                  json::serialize(json::object{{"client_account_id", clients[1].account_id},
                                                               {"start", day + "T20:30:00Z"},
                                                               {"duration_minutes", 30}}),
                                  coach.bearer());
  BOOST_TEST(direct_overlap.status == 409);
  const std::string direct_id = str(as_object(direct), "id");
  // The client confirms; the coach cannot complete before the start.
  auto confirm = http_call(port, "POST", "/api/v1/sessions/" + direct_id + "/confirm", "",
                           with_token(clients[0], direct.header("X-Consistency-Token")));
  BOOST_TEST(confirm.status == 200, confirm.body);
  auto early = http_call(port, "POST", "/api/v1/sessions/" + direct_id + "/complete", "", coach.bearer());
  BOOST_TEST(early.status == 409);
  BOOST_TEST(early.body.find("session-not-started") != std::string::npos);

  // Reminders: a session a month out has none due; moved to two hours from now, exactly one
  // reminder goes out (for the new time), by e-mail to the client.
  auto later = http_call(port, "POST", coach_base + "/sessions",
                         json::serialize(json::object{{"client_account_id", clients[3].account_id},
                                                      {"title", "Reminder check"},
                                                      {"start", format_rfc3339(now_utc() + std::chrono::hours(24 * 30))},
                                                      {"duration_minutes", 30}}),
                         coach.bearer());
  BOOST_TEST_REQUIRE(later.status == 201, later.body);
  const std::string later_id = str(as_object(later), "id");
  const auto soon = now_utc() + std::chrono::hours(2);
  auto moved_soon = http_call(port, "POST", "/api/v1/sessions/" + later_id + "/reschedule",
                              json::serialize(json::object{{"start", format_rfc3339(soon)}}),
                              with_token(coach, later.header("X-Consistency-Token")));
  BOOST_TEST_REQUIRE(moved_soon.status == 200, moved_soon.body);
  const auto reminder_mails = [&] {
    std::vector<std::string> found;
    if (!std::filesystem::exists(mail_dir)) return found;
    for (const auto& f : std::filesystem::directory_iterator(mail_dir)) {
      std::ifstream in(f.path());
      std::stringstream text;
      text << in.rdbuf();
      if (text.str().find("Reminder: Reminder check") != std::string::npos) found.push_back(text.str());
    }
    return found;
  };
  BOOST_TEST(eventually([&] { return reminder_mails().size() == 1u; }));
  const auto mails = reminder_mails();
  BOOST_TEST_REQUIRE(mails.size() == 1u);
  BOOST_TEST(mails[0].find("booker3@example.org") != std::string::npos);
  BOOST_TEST(mails[0].find(format_rfc3339(soon).substr(11, 5)) != std::string::npos);  // HH:MM of the new time (UTC)
}

}  // namespace coachd::test
