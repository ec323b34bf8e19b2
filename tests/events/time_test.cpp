// format_rfc3339 (events/time.hpp), which writes its digits by hand, against the snprintf text it
// replaced, and its round trip through parse_rfc3339.

// The test module's entry point. When <boost/test/unit_test.hpp> already came in through the
// precompiled header, a BOOST_TEST_MODULE defined here is too late to generate main().
#ifdef BOOST_TEST_UNIT_TEST_HPP_071894GER
#include <boost/test/unit_test.hpp>
bool init_unit_test() {
  boost::unit_test::framework::master_test_suite().p_name.value = "time";
  return true;
}
int main(int argc, char* argv[]) {
  return boost::unit_test::unit_test_main(&init_unit_test, argc, argv);
}
#else
#define BOOST_TEST_MODULE time
#include <boost/test/unit_test.hpp>
#endif

#include <cstdio>
#include <string>

#include "events/time.hpp"

using namespace coachd;

namespace {

std::string reference(timestamp t) {
  using namespace std::chrono;
  const auto day = floor<days>(t);
  const year_month_day ymd{day};
  const hh_mm_ss<milliseconds> hms{t - day};
  char buf[40];
  std::snprintf(buf, sizeof buf, "%04d-%02u-%02uT%02d:%02d:%02d.%03dZ", static_cast<int>(ymd.year()),
                static_cast<unsigned>(ymd.month()), static_cast<unsigned>(ymd.day()),
                static_cast<int>(hms.hours().count()), static_cast<int>(hms.minutes().count()),
                static_cast<int>(hms.seconds().count()), static_cast<int>(hms.subseconds().count()));
  return buf;
}

}  // namespace

BOOST_AUTO_TEST_CASE(equals_the_snprintf_text_and_parses_back) {
  // Every 7 hours, 13 minutes, 17.389 seconds from 1969 to 2101: every field runs through its range.
  auto t = *parse_rfc3339("1969-12-25T00:00:00.000Z");
  const auto end = *parse_rfc3339("2101-01-01T00:00:00Z");
  std::size_t mismatches = 0, checked = 0;
  for (; t < end; t += std::chrono::milliseconds(7 * 3600000 + 13 * 60000 + 17389)) {
    const auto text = format_rfc3339(t);
    ++checked;
    if (text != reference(t) && ++mismatches <= 5) BOOST_TEST(text == reference(t));
    const auto back = parse_rfc3339(text);
    if ((!back || *back != std::chrono::time_point_cast<std::chrono::milliseconds>(t)) && ++mismatches <= 5) {
      BOOST_TEST(false, text << " does not parse back");
    }
  }
  BOOST_TEST(mismatches == 0u);
  BOOST_TEST_MESSAGE("checked " << checked << " instants");
}

BOOST_AUTO_TEST_CASE(the_edges_of_the_four_digit_years) {
  BOOST_TEST(format_rfc3339(*parse_rfc3339("0000-01-01T00:00:00Z")) == "0000-01-01T00:00:00.000Z");
  BOOST_TEST(format_rfc3339(*parse_rfc3339("9999-12-31T23:59:59.999Z")) == "9999-12-31T23:59:59.999Z");
  const auto after = *parse_rfc3339("9999-12-31T23:59:59.999Z") + std::chrono::milliseconds(1);
  BOOST_TEST(format_rfc3339(after) == reference(after));  // five digits, as snprintf wrote them
  BOOST_TEST(format_rfc3339(after) == "10000-01-01T00:00:00.000Z");
}
