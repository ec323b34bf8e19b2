// gateway::local_rfc3339 against date::format("%FT%T%Ez", zoned time), which it replaces on the
// session routes: every hour over years in zones with whole-hour, half-hour and 45-minute
// offsets, negative ones with minutes, and daylight saving changes on both hemispheres.

// The test module's entry point. When <boost/test/unit_test.hpp> already came in through the
// precompiled header, a BOOST_TEST_MODULE defined here is too late to generate main().
#ifdef BOOST_TEST_UNIT_TEST_HPP_071894GER
#include <boost/test/unit_test.hpp>
bool init_unit_test() {
  boost::unit_test::framework::master_test_suite().p_name.value = "local_time";
  return true;
}
int main(int argc, char* argv[]) {
  return boost::unit_test::unit_test_main(&init_unit_test, argc, argv);
}
#else
#define BOOST_TEST_MODULE local_time
#include <boost/test/unit_test.hpp>
#endif

#include <date/tz.h>

#include <string>

#include "gateway/local_time.hpp"

using namespace coachd;

namespace {

std::string reference(const date::time_zone* zone, timestamp t) {
  return date::format("%FT%T%Ez", date::make_zoned(zone, std::chrono::time_point_cast<std::chrono::seconds>(t)));
}

}  // namespace

BOOST_AUTO_TEST_CASE(equals_date_format_every_hour_in_zones_of_every_kind) {
  const char* zones[] = {"UTC",           "Europe/Berlin",  "America/New_York", "Asia/Kolkata",
                         "Asia/Kathmandu", "America/St_Johns", "Australia/Lord_Howe", "Pacific/Chatham",
                         "Pacific/Kiritimati", "Pacific/Pago_Pago", "America/Sao_Paulo", "Europe/London"};
  // 2019 to 2031, every hour plus 17 minutes and 42.9 seconds (truncated to the second).
  const auto first = *parse_rfc3339("2019-01-01T00:17:42.900Z");
  std::size_t checked = 0, mismatches = 0;
  for (const char* name : zones) {
    const auto* zone = date::locate_zone(name);
    for (timestamp t = first; t < first + std::chrono::hours(24 * 365 * 12); t += std::chrono::hours(1)) {
      const auto ours = gateway::local_rfc3339(zone, t);
      const auto theirs = reference(zone, t);
      ++checked;
      if (ours != theirs && ++mismatches <= 5) BOOST_TEST(ours == theirs, name << " at " << format_rfc3339(t));
    }
  }
  BOOST_TEST(mismatches == 0u);
  BOOST_TEST_MESSAGE("checked " << checked << " instants");
}

BOOST_AUTO_TEST_CASE(the_second_before_and_after_a_change_of_offset) {
  const auto* berlin = date::locate_zone("Europe/Berlin");
  // 2026-03-29 01:00 UTC: 02:00 CET becomes 03:00 CEST.
  const auto change = *parse_rfc3339("2026-03-29T01:00:00Z");
  BOOST_TEST(gateway::local_rfc3339(berlin, change - std::chrono::seconds(1)) == "2026-03-29T01:59:59+01:00");
  BOOST_TEST(gateway::local_rfc3339(berlin, change) == "2026-03-29T03:00:00+02:00");
  // Outside four-digit years it is date::format's text itself.
  const auto early = *parse_rfc3339("0999-07-01T12:00:00Z");
  BOOST_TEST(gateway::local_rfc3339(berlin, early) == reference(berlin, early));
  const auto* st_johns = date::locate_zone("America/St_Johns");
  BOOST_TEST(gateway::local_rfc3339(st_johns, *parse_rfc3339("2026-01-15T12:00:00.999Z")) ==
             "2026-01-15T08:30:00-03:30");
}
