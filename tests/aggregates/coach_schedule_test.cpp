// The coach schedule aggregate (aggregates/coach_schedule.hpp): given events, when a command,
// then the events it produces or the error (with its distinct reason) that refuses it.

// The test module's entry point. When <boost/test/unit_test.hpp> already came in through the
// precompiled header, a BOOST_TEST_MODULE defined here is too late to generate main().
#ifdef BOOST_TEST_UNIT_TEST_HPP_071894GER
#include <boost/test/unit_test.hpp>
bool init_unit_test() {
  boost::unit_test::framework::master_test_suite().p_name.value = "coach_schedule";
  return true;
}
int main(int argc, char* argv[]) {
  return boost::unit_test::unit_test_main(&init_unit_test, argc, argv);
}
#else
#define BOOST_TEST_MODULE coach_schedule
#include <boost/test/unit_test.hpp>
#endif

#include <algorithm>
#include <random>
#include <stdexcept>
#include <string>
#include <variant>
#include <vector>

#include "aggregates/coach_schedule.hpp"

using namespace coachd;
using std::chrono::minutes;

namespace {

timestamp at(std::string_view text) {
  auto t = parse_rfc3339(text);
  if (!t) throw std::invalid_argument("bad test timestamp " + std::string(text));
  return *t;
}

const std::string coach = "c0ac0000-0000-4000-8000-000000000001";
const std::string client = "c1e00000-0000-4000-8000-000000000002";
const std::string other = "c1e00000-0000-4000-8000-000000000003";
const std::string type_id = "7e000000-0000-4000-8000-000000000004";
const timestamp now = at("2026-06-01T06:00:00Z");

/// Folds events into a state, as the processor does.
void apply_all(coach_schedule_state& s, const std::vector<domain_event>& events) {
  for (const auto& e : events) {
    std::visit([&](const auto& ev) {
      if constexpr (is_schedule_event<std::decay_t<decltype(ev)>>) coach_schedule::evolve(s, ev);
    }, e);
  }
}

/// A coach in Berlin, weekdays 09:00-17:00, a 60-minute type with 15-minute buffers, 2 h notice,
/// a 24 h client cancellation notice.
coach_schedule_state given_schedule(const std::string& late = "refuse") {
  coach_schedule_state s;
  set_availability a{coach, coach, {}, 24 * 60, late, now};
  a.rules.time_zone = "Europe/Berlin";
  for (const char* d : {"mon", "tue", "wed", "thu", "fri"}) a.rules.weekly.push_back(*parse_weekly_window(std::string(d) + " 09:00-17:00"));
  a.rules.max_per_day = 3;
  auto events = coach_schedule::decide(a, s);
  BOOST_TEST_REQUIRE(events.ok());
  apply_all(s, *events);
  define_session_type t{coach, coach, type_id, "Coaching", {}, 9000, "EUR", "https://meet.example/x", now};
  t.rules.duration = minutes{60};
  t.rules.buffer_before = minutes{15};
  t.rules.buffer_after = minutes{15};
  t.rules.min_notice = minutes{120};
  t.rules.horizon = date::days{30};
  t.rules.slot_interval = minutes{30};
  events = coach_schedule::decide(t, s);
  BOOST_TEST_REQUIRE(events.ok());
  apply_all(s, *events);
  return s;
}

book_session client_books(const std::string& session_id, const char* start, const std::string& who = client) {
  return book_session{coach, session_id, who, who, type_id, std::nullopt, "", at(start), std::nullopt, std::nullopt, now};
}

void expect_error(const decision& d, errc code, const std::string& reason) {
  BOOST_TEST_REQUIRE(!d.ok());
  BOOST_TEST(static_cast<int>(d.err().code) == static_cast<int>(code));
  BOOST_TEST(d.err().type_suffix == reason);
}

}  // namespace

BOOST_AUTO_TEST_CASE(settings_are_the_coachs_and_validated) {
  coach_schedule_state s;
  set_availability a{coach, client, {}, 0, "refuse", now};
  a.rules.time_zone = "Europe/Berlin";
  expect_error(coach_schedule::decide(a, s), errc::forbidden, "");
  a.acting_account_id = coach;
  a.rules.time_zone = "Nowhere/Special";
  expect_error(coach_schedule::decide(a, s), errc::invalid, "unknown-time-zone");
  a.rules.time_zone = "Europe/Berlin";
  a.late_cancellation = "maybe";
  BOOST_TEST(coach_schedule::decide(a, s).err().fields == std::vector<std::string>{"late_cancellation"});
  a.late_cancellation = "flag";
  a.rules.weekly.push_back(*parse_weekly_window("mon 09:00-12:00"));
  a.rules.overrides.push_back(*parse_date_override("2026-12-24 off"));
  auto d = coach_schedule::decide(a, s);
  BOOST_TEST_REQUIRE(d.ok());
  const auto& e = std::get<availability_set>(d->at(0));
  BOOST_TEST(e.weekly == std::vector<std::string>{"mon 09:00-12:00"});
  BOOST_TEST(e.overrides == std::vector<std::string>{"2026-12-24 off"});
  apply_all(s, *d);
  BOOST_TEST_REQUIRE(s.availability.has_value());
  BOOST_TEST(rules_of(*s.availability).weekly.size() == 1u);
  BOOST_TEST(s.availability->late_cancellation == "flag");
}

BOOST_AUTO_TEST_CASE(a_slot_is_booked_once) {
  auto s = given_schedule();
  // Thursday 4 June 2026 10:00 in Berlin = 08:00Z.
  auto first = coach_schedule::decide(client_books("s1", "2026-06-04T08:00:00Z"), s);
  BOOST_TEST_REQUIRE(first.ok());
  const auto& booked = std::get<session_booked>(first->at(0));
  BOOST_TEST(format_rfc3339(booked.end) == "2026-06-04T09:00:00.000Z");
  // No title was given: nothing personal to seal, the session is called by its type's name.
  BOOST_TEST(booked.title.value == "");
  BOOST_TEST(booked.type_name == "Coaching");
  BOOST_TEST(booked.location == "https://meet.example/x");
  apply_all(s, *first);
  expect_error(coach_schedule::decide(client_books("s2", "2026-06-04T08:00:00Z", other), s), errc::conflict, "slot-taken");
  // Overlapping but different: 10:30 local overlaps; 11:00 is within the stacked buffers (15+15).
  expect_error(coach_schedule::decide(client_books("s2", "2026-06-04T08:30:00Z", other), s), errc::conflict, "slot-taken");
  expect_error(coach_schedule::decide(client_books("s2", "2026-06-04T09:00:00Z", other), s), errc::conflict, "slot-taken");
  BOOST_TEST(coach_schedule::decide(client_books("s2", "2026-06-04T09:30:00Z", other), s).ok());
  expect_error(coach_schedule::decide(client_books("s1", "2026-06-05T08:00:00Z"), s), errc::conflict, "session-exists");
}

BOOST_AUTO_TEST_CASE(every_refusal_has_its_reason) {
  auto s = given_schedule();
  expect_error(coach_schedule::decide(client_books("x", "2026-06-01T06:30:00Z"), s), errc::invalid, "slot-inside-minimum-notice");
  expect_error(coach_schedule::decide(client_books("x", "2026-05-29T08:00:00Z"), s), errc::invalid, "slot-in-past");
  expect_error(coach_schedule::decide(client_books("x", "2026-07-15T08:00:00Z"), s), errc::invalid, "slot-beyond-horizon");
  expect_error(coach_schedule::decide(client_books("x", "2026-06-06T08:00:00Z"), s), errc::invalid, "slot-outside-availability");  // Saturday
  expect_error(coach_schedule::decide(client_books("x", "2026-06-04T08:10:00Z"), s), errc::invalid, "slot-outside-availability");  // off grid
  auto unknown = client_books("x", "2026-06-04T08:00:00Z");
  unknown.session_type_id = "nope";
  expect_error(coach_schedule::decide(unknown, s), errc::invalid, "unknown-session-type");
  // Daily limit of 3 (in Berlin's calendar).
  for (const char* t : {"2026-06-04T07:00:00Z", "2026-06-04T09:00:00Z", "2026-06-04T11:00:00Z"}) {
    auto d = coach_schedule::decide(client_books(std::string("d") + t, t), s);
    BOOST_TEST_REQUIRE(d.ok(), t);
    apply_all(s, *d);
  }
  expect_error(coach_schedule::decide(client_books("x", "2026-06-04T13:00:00Z"), s), errc::conflict, "daily-limit-reached");
  BOOST_TEST(coach_schedule::decide(client_books("x", "2026-06-05T13:00:00Z"), s).ok());
  // Blackout.
  coach_schedule_state b = given_schedule();
  set_availability a{coach, coach, rules_of(*b.availability), 0, "refuse", now};
  a.rules.blackouts.push_back(*parse_blackout("2026-06-08..2026-06-12"));
  apply_all(b, *coach_schedule::decide(a, b));
  expect_error(coach_schedule::decide(client_books("x", "2026-06-10T08:00:00Z"), b), errc::invalid, "slot-in-blackout");
}

BOOST_AUTO_TEST_CASE(holds_reserve_and_expire) {
  auto s = given_schedule();
  hold_slot h{coach, "h1", type_id, client, at("2026-06-04T08:00:00Z"), minutes{10}, now};
  auto held = coach_schedule::decide(h, s);
  BOOST_TEST_REQUIRE(held.ok());
  apply_all(s, *held);
  // Someone else cannot book or hold it while the hold lasts…
  expect_error(coach_schedule::decide(client_books("s2", "2026-06-04T08:00:00Z", other), s), errc::conflict, "slot-taken");
  // …but can once it has expired.
  auto later = client_books("s2", "2026-06-04T08:00:00Z", other);
  later.at = now + minutes{11};
  BOOST_TEST(coach_schedule::decide(later, s).ok());
  // The holder books with it.
  auto mine = client_books("s1", "2026-06-04T08:00:00Z");
  mine.hold_id = "h1";
  auto booked = coach_schedule::decide(mine, s);
  BOOST_TEST_REQUIRE(booked.ok());
  apply_all(s, *booked);
  BOOST_TEST(s.holds.empty());
  // A hold of someone else's, or an expired one, is refused.
  apply_all(s, *coach_schedule::decide(hold_slot{coach, "h2", type_id, client, at("2026-06-05T08:00:00Z"), minutes{10}, now}, s));
  auto theirs = client_books("s3", "2026-06-05T08:00:00Z", other);
  theirs.hold_id = "h2";
  expect_error(coach_schedule::decide(theirs, s), errc::conflict, "hold-not-found");
  auto expired = client_books("s3", "2026-06-05T08:00:00Z");
  expired.hold_id = "h2";
  expired.at = now + minutes{10};
  expect_error(coach_schedule::decide(expired, s), errc::conflict, "hold-expired");
}

BOOST_AUTO_TEST_CASE(coach_books_directly_but_not_over_a_session) {
  auto s = given_schedule();
  book_session direct{coach, "d1", coach, client, std::nullopt, std::nullopt, "Strategy call",
                      at("2026-06-06T18:00:00Z"), minutes{45}, "https://meet.example/y", now};  // a Saturday evening
  auto d = coach_schedule::decide(direct, s);
  BOOST_TEST_REQUIRE(d.ok());
  BOOST_TEST(std::get<session_booked>(d->at(0)).title.value == "Strategy call");
  BOOST_TEST(std::get<session_booked>(d->at(0)).type_name == "Session");  // no session type
  apply_all(s, *d);
  direct.session_id = "d2";
  direct.start = at("2026-06-06T18:30:00Z");
  expect_error(coach_schedule::decide(direct, s), errc::conflict, "slot-taken");
  direct.duration = minutes{0};
  BOOST_TEST(coach_schedule::decide(direct, s).err().fields == std::vector<std::string>{"duration_minutes"});
}

BOOST_AUTO_TEST_CASE(reschedule_cancel_confirm_complete) {
  auto s = given_schedule();
  apply_all(s, *coach_schedule::decide(client_books("s1", "2026-06-04T08:00:00Z"), s));
  apply_all(s, *coach_schedule::decide(client_books("s2", "2026-06-04T12:00:00Z", other), s));
  // Another client cannot see it; moving onto s2 is refused; moving to a free slot works.
  expect_error(coach_schedule::decide(reschedule_session{coach, "s1", other, at("2026-06-05T08:00:00Z"), now}, s),
               errc::not_found, "no-session");
  expect_error(coach_schedule::decide(reschedule_session{coach, "s1", client, at("2026-06-04T12:00:00Z"), now}, s),
               errc::conflict, "slot-taken");
  // Moving within its own old time is fine (it does not collide with itself).
  auto moved = coach_schedule::decide(reschedule_session{coach, "s1", client, at("2026-06-04T08:30:00Z"), now}, s);
  BOOST_TEST_REQUIRE(moved.ok());
  BOOST_TEST(std::get<session_rescheduled>(moved->at(0)).sequence == 1);
  apply_all(s, *moved);
  // Client cancelling inside 24 h notice: refused under "refuse".
  auto late = cancel_session{coach, "s1", client, "sick", at("2026-06-03T20:00:00Z")};
  expect_error(coach_schedule::decide(late, s), errc::conflict, "cancellation-too-late");
  // The coach may; and under "flag" the client may, flagged.
  BOOST_TEST(coach_schedule::decide(cancel_session{coach, "s1", coach, "", late.at}, s).ok());
  auto flagged = given_schedule("flag");
  apply_all(flagged, *coach_schedule::decide(client_books("s1", "2026-06-04T08:00:00Z"), flagged));
  auto f = coach_schedule::decide(late, flagged);
  BOOST_TEST_REQUIRE(f.ok());
  BOOST_TEST(std::get<session_cancelled>(f->at(0)).late);
  // Confirm (client only, once), complete / no-show (coach only, after the start).
  expect_error(coach_schedule::decide(confirm_session{coach, "s1", coach, now}, s), errc::forbidden, "");
  auto confirmed = coach_schedule::decide(confirm_session{coach, "s1", client, now}, s);
  BOOST_TEST_REQUIRE(confirmed.ok());
  apply_all(s, *confirmed);
  expect_error(coach_schedule::decide(confirm_session{coach, "s1", client, now}, s), errc::conflict, "already-confirmed");
  expect_error(coach_schedule::decide(complete_session{coach, "s1", coach, now}, s), errc::conflict, "session-not-started");
  expect_error(coach_schedule::decide(complete_session{coach, "s1", client, at("2026-06-04T10:00:00Z")}, s),
               errc::forbidden, "");
  auto done = coach_schedule::decide(complete_session{coach, "s1", coach, at("2026-06-04T10:00:00Z")}, s);
  BOOST_TEST_REQUIRE(done.ok());
  apply_all(s, *done);
  expect_error(coach_schedule::decide(cancel_session{coach, "s1", coach, "", now}, s), errc::conflict, "session-closed");
  auto cancelled = coach_schedule::decide(cancel_session{coach, "s2", coach, "", now}, s);
  apply_all(s, *cancelled);
  expect_error(coach_schedule::decide(mark_no_show{coach, "s2", coach, at("2026-06-04T13:00:00Z")}, s), errc::conflict,
               "session-cancelled");
  // The cancelled slot is free again.
  BOOST_TEST(coach_schedule::decide(client_books("s3", "2026-06-04T12:00:00Z", other), s).ok());
}

// A decision looks only at the sessions near its slot (busy_times with `near`, through the
// schedule's time index). Property: over a random history of bookings, reschedules and
// cancellations, every slot gets the same verdict as when every session is considered, also
// after the index is dropped (as a decoded snapshot has none) and rebuilt.
BOOST_AUTO_TEST_CASE(deciding_near_the_slot_gives_the_verdict_of_the_whole_schedule) {
  std::mt19937 random(20261122);
  auto pick = [&](int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(random); };
  for (int round = 0; round < 12; ++round) {
    auto s = given_schedule();
    set_availability limits{coach, coach, {}, 24 * 60, "refuse", now};
    limits.rules = rules_of(*s.availability);
    limits.rules.max_per_day = pick(0, 4);
    limits.rules.max_per_week = pick(0, 1) == 0 ? 0 : pick(3, 12);
    apply_all(s, *coach_schedule::decide(limits, s));
    // History: sessions from 60 days back to 60 days ahead, some moved, some cancelled.
    const int sessions = pick(20, 400);
    for (int i = 0; i < sessions; ++i) {
      const auto start = now + minutes{30 * pick(-60 * 48, 60 * 48)};
      const auto id = "h" + std::to_string(i);
      coach_schedule::evolve(s, session_booked{coach, id, client, type_id, std::nullopt, personal{"x"}, "Intro", start,
                                               start + minutes{30 * pick(1, 6)}, pick(0, 45), pick(0, 45), "", coach,
                                               now});
      if (pick(0, 9) == 0) {
        const auto moved = now + minutes{30 * pick(-10 * 48, 30 * 48)};
        coach_schedule::evolve(s, session_rescheduled{coach, id, moved, moved + minutes{60}, 1, coach, now});
      }
      if (pick(0, 9) == 0) coach_schedule::evolve(s, session_cancelled{coach, id, coach, false, 2, personal{""}, now});
    }
    // Kept in order by evolve, whatever order the sessions came in.
    BOOST_TEST(s.by_time.by_start.size() == s.sessions.size());
    BOOST_TEST(std::is_sorted(s.by_time.by_start.begin(), s.by_time.by_start.end(),
                              [](const auto& a, const auto& b) { return a.first < b.first; }));
    for (const auto& [start, node] : s.by_time.by_start) BOOST_TEST((start == node->second.start));
    auto without_index = s;
    without_index.by_time = {};
    const auto rules = rules_of(*s.availability);
    const auto type = rules_of(s.types.at(type_id));
    int refused = 0;
    for (int probe = 0; probe < 300; ++probe) {
      const auto start = now + minutes{30 * pick(0, 32 * 48)};
      const auto near = std::make_pair(start - type.buffer_before, start + type.duration + type.buffer_after);
      const auto whole = check_slot(rules, type, busy_times(s, now, {}, other), start, now);
      const auto windowed = check_slot(rules, type, busy_times(s, now, {}, other, near), start, now);
      const auto rebuilt = check_slot(rules, type, busy_times(without_index, now, {}, other, near), start, now);
      BOOST_TEST((whole == windowed), "slot " << format_rfc3339(start) << " round " << round);
      BOOST_TEST((whole == rebuilt), "slot " << format_rfc3339(start) << " round " << round);
      if (whole) ++refused;
    }
    BOOST_TEST(refused > 0);  // the history is dense enough to refuse some slots
  }
}

BOOST_AUTO_TEST_CASE(a_moved_session_frees_its_old_time_and_takes_its_new_one) {
  auto s = given_schedule();
  auto first = coach_schedule::decide(client_books("s1", "2026-06-04T08:00:00Z"), s);
  BOOST_TEST_REQUIRE(first.ok());
  apply_all(s, *first);
  coach_schedule::evolve(s, session_rescheduled{coach, "s1", at("2026-06-05T08:00:00Z"), at("2026-06-05T09:00:00Z"), 1,
                                                coach, now});
  BOOST_TEST(coach_schedule::decide(client_books("s2", "2026-06-04T08:00:00Z", other), s).ok());
  expect_error(coach_schedule::decide(client_books("s2", "2026-06-05T08:00:00Z", other), s), errc::conflict,
               "slot-taken");
}
