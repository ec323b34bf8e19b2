// The slot engine (aggregates/availability.hpp): tables for the rules and property loops over
// whole years in zones with unusual DST (New York, Berlin, Lord Howe's 30-minute shift,
// Kolkata without DST, Chatham's +12:45/+13:45).

// The test module's entry point. When <boost/test/unit_test.hpp> already came in through the
// precompiled header, a BOOST_TEST_MODULE defined here is too late to generate main().
#ifdef BOOST_TEST_UNIT_TEST_HPP_071894GER
#include <boost/test/unit_test.hpp>
bool init_unit_test() {
  boost::unit_test::framework::master_test_suite().p_name.value = "availability";
  return true;
}
int main(int argc, char* argv[]) {
  return boost::unit_test::unit_test_main(&init_unit_test, argc, argv);
}
#else
#define BOOST_TEST_MODULE availability
#include <boost/test/unit_test.hpp>
#endif

#include <date/tz.h>

#include <map>
#include <set>
#include <stdexcept>
#include <string>
#include <vector>

#include "aggregates/availability.hpp"

using namespace coachd;
using std::chrono::minutes;

namespace {

timestamp at(std::string_view text) {
  auto t = parse_rfc3339(text);
  if (!t) throw std::invalid_argument("bad test timestamp " + std::string(text));
  return *t;
}

availability_rules every_day(const std::string& zone, const std::string& range) {
  availability_rules r;
  r.time_zone = zone;
  for (const char* d : {"sun", "mon", "tue", "wed", "thu", "fri", "sat"}) {
    r.weekly.push_back(*parse_weekly_window(std::string(d) + " " + range));
  }
  return r;
}

booking_rules type_of(int duration, int interval, int horizon_days = 730) {
  booking_rules t;
  t.duration = minutes{duration};
  t.slot_interval = minutes{interval};
  t.horizon = date::days{horizon_days};
  return t;
}

std::string local_text(const std::string& zone, timestamp t) {
  return date::format("%F %R", date::make_zoned(zone, std::chrono::time_point_cast<std::chrono::seconds>(t)));
}

std::vector<std::string> as_text(const std::vector<timestamp>& slots) {
  std::vector<std::string> out;
  for (auto s : slots) out.push_back(format_rfc3339(s));
  return out;
}

/// "Now" for the tests that ignore notice: before every range they ask about.
const timestamp long_ago = at("2025-12-01T00:00:00Z");

}  // namespace

BOOST_AUTO_TEST_SUITE(text_forms)

BOOST_AUTO_TEST_CASE(round_trips_and_refuses_garbage) {
  for (const char* good : {"mon 09:00-12:00", "sun 00:00-24:00", "sat 13:30-17:45"}) {
    auto w = parse_weekly_window(good);
    BOOST_TEST_REQUIRE(w.has_value(), good);
    BOOST_TEST(format_weekly_window(*w) == good);
  }
  BOOST_TEST(parse_weekly_window("Monday 09:00-12:00")->weekday == 1u);
  for (const char* bad : {"", "mon", "xyz 09:00-10:00", "mon 9:00-10:00", "mon 09:00-24:30", "mon 09:60-10:00",
                          "mon 09:00", "mon 09:00-10:00x"}) {
    BOOST_TEST(!parse_weekly_window(bad).has_value(), bad);
  }
  for (const char* good : {"2026-12-24 off", "2026-12-24 10:00-12:00", "2026-12-31 09:00-10:00,11:00-12:00"}) {
    auto o = parse_date_override(good);
    BOOST_TEST_REQUIRE(o.has_value(), good);
    BOOST_TEST(format_date_override(*o) == good);
  }
  for (const char* bad : {"2026-02-30 off", "2026-12-24", "2026-12-24 ", "2026-12-24 10:00-12:00,", "26-12-24 off"}) {
    BOOST_TEST(!parse_date_override(bad).has_value(), bad);
  }
  BOOST_TEST(format_blackout(*parse_blackout("2026-12-20..2026-12-31")) == "2026-12-20..2026-12-31");
  BOOST_TEST(!parse_blackout("2026-12-20-2026-12-31").has_value());
}

BOOST_AUTO_TEST_CASE(validation_names_the_field) {
  auto r = every_day("Europe/Berlin", "09:00-12:00");
  BOOST_TEST(!validate(r).has_value());
  r.time_zone = "Mars/Olympus_Mons";
  BOOST_TEST(validate(r)->fields == std::vector<std::string>{"time_zone"});
  r.time_zone = "Europe/Berlin";
  r.weekly.push_back(*parse_weekly_window("mon 11:00-13:00"));
  BOOST_TEST(validate(r)->fields == std::vector<std::string>{"weekly"});
  r = every_day("Europe/Berlin", "09:00-12:00");
  r.weekly.push_back(weekly_window{1, {minutes{600}, minutes{500}}});
  BOOST_TEST(validate(r)->fields == std::vector<std::string>{"weekly"});
  r = every_day("UTC", "09:00-12:00");
  r.blackouts.push_back(*parse_blackout("2026-12-31..2026-12-20"));
  BOOST_TEST(validate(r)->fields == std::vector<std::string>{"blackouts[0]"});
  r = every_day("UTC", "09:00-12:00");
  r.overrides.push_back(*parse_date_override("2026-12-24 off"));
  r.overrides.push_back(*parse_date_override("2026-12-24 10:00-11:00"));
  BOOST_TEST(validate(r)->fields == std::vector<std::string>{"overrides[1]"});

  BOOST_TEST(!validate(type_of(60, 30)).has_value());
  BOOST_TEST(validate(type_of(0, 30))->fields == std::vector<std::string>{"duration_minutes"});
  BOOST_TEST(validate(type_of(-5, 30))->fields == std::vector<std::string>{"duration_minutes"});
  BOOST_TEST(validate(type_of(60, 0))->fields == std::vector<std::string>{"slot_interval_minutes"});
  BOOST_TEST(validate(type_of(60, 30, 0))->fields == std::vector<std::string>{"horizon_days"});
  auto t = type_of(60, 30);
  t.buffer_after = minutes{-1};
  BOOST_TEST(validate(t)->fields == std::vector<std::string>{"buffer_after_minutes"});
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(rules)

BOOST_AUTO_TEST_CASE(weekly_window_stays_at_nine_local_across_dst) {
  availability_rules r;
  r.time_zone = "America/New_York";
  r.weekly.push_back(*parse_weekly_window("mon 09:00-11:00"));
  // 2026-03-08 is the US spring-forward Sunday: Monday before is EST (-5), Monday after EDT (-4).
  auto slots = bookable_slots(r, type_of(60, 60), {}, at("2026-03-02T00:00:00Z"), at("2026-03-10T00:00:00Z"), long_ago);
  BOOST_TEST(as_text(slots) == (std::vector<std::string>{"2026-03-02T14:00:00.000Z", "2026-03-02T15:00:00.000Z",
                                                         "2026-03-09T13:00:00.000Z", "2026-03-09T14:00:00.000Z"}),
             boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(spring_forward_gap_and_fall_back_repeat) {
  availability_rules r;
  r.time_zone = "America/New_York";
  // Sunday windows through the night of each change.
  r.overrides.push_back(*parse_date_override("2026-03-08 01:00-04:00"));
  r.overrides.push_back(*parse_date_override("2026-11-01 00:00-03:00"));
  auto spring = bookable_slots(r, type_of(30, 30), {}, at("2026-03-08T00:00:00Z"), at("2026-03-09T00:00:00Z"), long_ago);
  // 01:00 and 01:30 EST, then 03:00 and 03:30 EDT: the wall window holds two real hours.
  BOOST_TEST(as_text(spring) == (std::vector<std::string>{"2026-03-08T06:00:00.000Z", "2026-03-08T06:30:00.000Z",
                                                          "2026-03-08T07:00:00.000Z", "2026-03-08T07:30:00.000Z"}),
             boost::test_tools::per_element());
  auto fall = bookable_slots(r, type_of(30, 30), {}, at("2026-11-01T00:00:00Z"), at("2026-11-02T00:00:00Z"), long_ago);
  // 00:00 EDT (04:00Z) to 03:00 EST (08:00Z): four real hours, each instant once.
  BOOST_TEST(fall.size() == 8u);
  BOOST_TEST(format_rfc3339(fall.front()) == "2026-11-01T04:00:00.000Z");
  BOOST_TEST(format_rfc3339(fall.back()) == "2026-11-01T07:30:00.000Z");
  // A window that starts inside the gap starts when the gap ends.
  r.overrides[0] = *parse_date_override("2026-03-08 02:00-04:00");
  auto gap = bookable_slots(r, type_of(30, 30), {}, at("2026-03-08T00:00:00Z"), at("2026-03-09T00:00:00Z"), long_ago);
  BOOST_TEST(as_text(gap) == (std::vector<std::string>{"2026-03-08T07:00:00.000Z", "2026-03-08T07:30:00.000Z"}),
             boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(lord_howe_half_hour_shift) {
  auto r = every_day("Australia/Lord_Howe", "09:00-10:00");
  // DST starts 2026-10-04 at 02:00 (+10:30 → +11).
  auto slots = bookable_slots(r, type_of(60, 60), {}, at("2026-10-02T00:00:00Z"), at("2026-10-05T00:00:00Z"), long_ago);
  BOOST_TEST(as_text(slots) == (std::vector<std::string>{"2026-10-02T22:30:00.000Z", "2026-10-03T22:00:00.000Z",
                                                         "2026-10-04T22:00:00.000Z"}),
             boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(berlin_coach_and_new_york_client_see_the_same_instant) {
  auto r = every_day("Europe/Berlin", "09:00-10:00");
  // 2026-03-20: New York already on EDT, Berlin still on CET (the 3-week gap between the switches).
  auto slots = bookable_slots(r, type_of(60, 60), {}, at("2026-03-20T00:00:00Z"), at("2026-03-21T00:00:00Z"), long_ago);
  BOOST_TEST_REQUIRE(slots.size() == 1u);
  BOOST_TEST(format_rfc3339(slots[0]) == "2026-03-20T08:00:00.000Z");
  BOOST_TEST(local_text("Europe/Berlin", slots[0]) == "2026-03-20 09:00");
  BOOST_TEST(local_text("America/New_York", slots[0]) == "2026-03-20 04:00");
}

BOOST_AUTO_TEST_CASE(overrides_blackouts_notice_horizon) {
  auto r = every_day("Europe/Berlin", "09:00-11:00");
  r.overrides.push_back(*parse_date_override("2026-06-02 off"));
  r.overrides.push_back(*parse_date_override("2026-06-03 14:00-15:00"));
  r.blackouts.push_back(*parse_blackout("2026-06-05..2026-06-06"));
  const auto t = type_of(60, 60, 10);
  const auto now = at("2026-06-01T07:30:00Z");  // 09:30 in Berlin (CEST)
  auto slots = bookable_slots(r, t, {}, at("2026-06-01T00:00:00Z"), at("2026-06-20T00:00:00Z"), now);
  std::map<std::string, int> per_day;
  for (auto s : slots) ++per_day[local_text("Europe/Berlin", s).substr(0, 10)];
  BOOST_TEST(per_day.count("2026-06-01") == 1u);  // 09:00 passed; 10:00 left
  BOOST_TEST(per_day["2026-06-01"] == 1);
  BOOST_TEST(per_day.count("2026-06-02") == 0u);  // day off
  BOOST_TEST(per_day["2026-06-03"] == 1);         // override hours
  BOOST_TEST(local_text("Europe/Berlin", slots[1]) == "2026-06-03 14:00");
  BOOST_TEST(per_day.count("2026-06-05") == 0u);  // blackout
  BOOST_TEST(per_day.count("2026-06-06") == 0u);
  BOOST_TEST(per_day.count("2026-06-12") == 0u);  // beyond the 10-day horizon
  BOOST_TEST(per_day["2026-06-11"] == 1);         // 11 June 09:00 is within it, 10:00 is not

  // The refusal table: one reason per rule.
  struct row {
    const char* start;
    std::optional<slot_refusal> expected;
  };
  auto tn = t;
  tn.min_notice = minutes{24 * 60};
  const std::vector<row> rows{
      {"2026-06-04T07:00:00Z", std::nullopt},
      {"2026-06-01T07:00:00Z", slot_refusal::in_past},
      {"2026-06-04T07:30:00Z", slot_refusal::outside_availability},  // off the hourly grid
      {"2026-06-04T08:30:00Z", slot_refusal::outside_availability},
      {"2026-06-04T09:00:00Z", slot_refusal::outside_availability},  // would run past 11:00
      {"2026-06-02T07:00:00Z", slot_refusal::outside_availability},  // day off
      {"2026-06-05T07:00:00Z", slot_refusal::blackout},
      {"2026-06-30T07:00:00Z", slot_refusal::horizon},
  };
  for (const auto& row : rows) {
    BOOST_TEST_INFO(row.start);
    BOOST_TEST((check_slot(r, t, {}, at(row.start), now) == row.expected));
  }
  BOOST_TEST((check_slot(r, tn, {}, at("2026-06-02T07:00:00Z"), now) == slot_refusal::notice));
}

BOOST_AUTO_TEST_CASE(buffers_stack) {
  auto r = every_day("UTC", "08:00-18:00");
  auto t = type_of(60, 30);
  t.buffer_before = minutes{15};
  // An existing 10:00-11:00 session with a 15-minute after-buffer.
  const std::vector<busy_interval> busy{{at("2026-06-04T10:00:00Z"), at("2026-06-04T11:00:00Z"), minutes{0}, minutes{15}, true}};
  const auto now = at("2026-06-01T00:00:00Z");
  BOOST_TEST((check_slot(r, t, busy, at("2026-06-04T11:00:00Z"), now) == slot_refusal::overlap));
  BOOST_TEST(!check_slot(r, t, busy, at("2026-06-04T11:30:00Z"), now).has_value());
  // 11:15 would fit exactly (15 + 15 minutes between them) but is off the 30-minute grid.
  t.slot_interval = minutes{15};
  BOOST_TEST((check_slot(r, t, busy, at("2026-06-04T11:15:00Z"), now) == slot_refusal::overlap));
  BOOST_TEST(!check_slot(r, t, busy, at("2026-06-04T11:30:00Z"), now).has_value());
  // Before it: the new session's after-buffer against the existing one's before-buffer.
  t.buffer_after = minutes{10};
  const std::vector<busy_interval> busy2{{at("2026-06-04T10:00:00Z"), at("2026-06-04T11:00:00Z"), minutes{5}, minutes{0}, true}};
  // 09:00-10:00 + 10 min after-buffer runs into 10:00's 5-minute before-buffer; 08:45 fits exactly.
  BOOST_TEST((check_slot(r, t, busy2, at("2026-06-04T09:00:00Z"), now) == slot_refusal::overlap));
  BOOST_TEST(!check_slot(r, t, busy2, at("2026-06-04T08:45:00Z"), now).has_value());
  // Slots around the session show the same rule.
  auto slots = bookable_slots(r, type_of(60, 30), busy, at("2026-06-04T09:00:00Z"), at("2026-06-04T12:00:00Z"), now);
  BOOST_TEST(as_text(slots) == (std::vector<std::string>{"2026-06-04T09:00:00.000Z", "2026-06-04T11:30:00.000Z"}),
             boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(limits_count_in_the_coach_zone) {
  auto r = every_day("Asia/Kolkata", "00:00-24:00");
  r.max_per_day = 1;
  const auto t = type_of(30, 30);
  const auto now = at("2026-05-01T00:00:00Z");
  // 2026-06-01T20:00Z is 2 June 01:30 in Kolkata: it fills 2 June, not 1 June.
  const std::vector<busy_interval> busy{{at("2026-06-01T20:00:00Z"), at("2026-06-01T20:30:00Z"), minutes{0}, minutes{0}, true}};
  BOOST_TEST(!check_slot(r, t, busy, at("2026-06-01T12:00:00Z"), now).has_value());  // 1 June 17:30 IST
  BOOST_TEST((check_slot(r, t, busy, at("2026-06-02T12:00:00Z"), now) == slot_refusal::daily_limit));
  r.max_per_day = 0;
  r.max_per_week = 1;  // ISO week Monday 1 June – Sunday 7 June
  BOOST_TEST((check_slot(r, t, busy, at("2026-06-07T12:00:00Z"), now) == slot_refusal::weekly_limit));
  BOOST_TEST(!check_slot(r, t, busy, at("2026-06-07T19:00:00Z"), now).has_value());  // Monday 8 June 00:30 IST
  // Holds occupy time but do not count toward limits.
  r.max_per_week = 1;
  const std::vector<busy_interval> hold{{at("2026-06-03T10:00:00Z"), at("2026-06-03T10:30:00Z"), minutes{0}, minutes{0}, false}};
  BOOST_TEST(!check_slot(r, t, hold, at("2026-06-04T12:00:00Z"), now).has_value());
  BOOST_TEST((check_slot(r, t, hold, at("2026-06-03T10:00:00Z"), now) == slot_refusal::overlap));
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(whole_years)

// For every day of 2026 and 2027 in each zone: a 09:00-17:00 window always yields 16 half-hour
// slots starting at 09:00 local; a 00:00-24:00 window yields exactly as many slots as the local
// day has half hours (46/50 on US change days, 47/49 on Lord Howe's, ...); no instant appears
// twice; every slot starts and ends on its local day.
BOOST_AUTO_TEST_CASE(property_every_day_of_two_years) {
  for (const std::string zone_name :
       {"America/New_York", "Europe/Berlin", "Australia/Lord_Howe", "Asia/Kolkata", "Pacific/Chatham"}) {
    BOOST_TEST_CONTEXT(zone_name) {
      const auto* zone = find_zone(zone_name);
      BOOST_TEST_REQUIRE(zone != nullptr);
      const auto from = at("2026-01-01T00:00:00Z") - date::days(2);
      const auto to = at("2028-01-01T00:00:00Z") + date::days(2);
      const auto office = bookable_slots(every_day(zone_name, "09:00-17:00"), type_of(30, 30, 1000), {}, from, to, long_ago);
      const auto all_day = bookable_slots(every_day(zone_name, "00:00-24:00"), type_of(30, 30, 1000), {}, from, to, long_ago);

      std::map<date::local_days, std::vector<timestamp>> office_by_day, all_by_day;
      for (auto s : office) office_by_day[local_day_of(*zone, s)].push_back(s);
      for (auto s : all_day) all_by_day[local_day_of(*zone, s)].push_back(s);
      BOOST_TEST(std::set<timestamp>(office.begin(), office.end()).size() == office.size());
      BOOST_TEST(std::set<timestamp>(all_day.begin(), all_day.end()).size() == all_day.size());

      int unusual_days = 0;
      const date::local_days first{date::year{2026} / 1 / 1};
      const date::local_days last{date::year{2027} / 12 / 31};
      for (auto day = first; day <= last; day += date::days(1)) {
        const auto& o = office_by_day[day];
        BOOST_TEST_REQUIRE(o.size() == 16u, date::format("%F", day));
        BOOST_TEST(date::format("%R", zone->to_local(std::chrono::time_point_cast<std::chrono::seconds>(o.front()))) ==
                   "09:00");
        // The day's real length from the tz database, independently of the engine.
        const auto midnight = zone->to_sys(day, date::choose::earliest);
        const auto next_midnight = zone->to_sys(day + date::days(1), date::choose::earliest);
        const auto length = std::chrono::duration_cast<minutes>(next_midnight - midnight);
        if (length != minutes{24 * 60}) ++unusual_days;
        const auto& a = all_by_day[day];
        BOOST_TEST(a.size() == static_cast<std::size_t>(length / minutes{30}), date::format("%F", day));
        for (auto s : a) {
          BOOST_TEST((s >= midnight));
          BOOST_TEST((s + minutes{30} <= next_midnight));
        }
      }
      BOOST_TEST(unusual_days == (zone_name == "Asia/Kolkata" ? 0 : 4));
    }
  }
}

BOOST_AUTO_TEST_SUITE_END()
