// The iCalendar writer (gateway/ics.hpp), checked by parsing its output with libical: UID,
// DTSTAMP, DTSTART/DTEND in UTC, SEQUENCE, METHOD:CANCEL with STATUS:CANCELLED, TEXT escaping,
// and folding at 75 octets on UTF-8 boundaries. Links libical (PkgConfig::LIBICAL).

// The test module's entry point. When <boost/test/unit_test.hpp> already came in through the
// precompiled header, a BOOST_TEST_MODULE defined here is too late to generate main().
#ifdef BOOST_TEST_UNIT_TEST_HPP_071894GER
#include <boost/test/unit_test.hpp>
bool init_unit_test() {
  boost::unit_test::framework::master_test_suite().p_name.value = "ics";
  return true;
}
int main(int argc, char* argv[]) {
  return boost::unit_test::unit_test_main(&init_unit_test, argc, argv);
}
#else
#define BOOST_TEST_MODULE ics
#include <boost/test/unit_test.hpp>
#endif

#include <libical/ical.h>

#include <memory>
#include <sstream>
#include <string>

#include "gateway/ics.hpp"

using namespace coachd;
using namespace coachd::gateway;

namespace {

timestamp at(std::string_view text) { return *parse_rfc3339(text); }

struct component_deleter {
  void operator()(icalcomponent* c) const { icalcomponent_free(c); }
};
using component = std::unique_ptr<icalcomponent, component_deleter>;

ics_event sample() {
  ics_event e;
  e.uid = "0b3c5a8e-2d1f-4c7e-9a6b-1f2e3d4c5b6a@coachd";
  e.summary = "Coaching; with Zoë, Jürgen & 日本語 — a long title that needs folding at seventy-five octets";
  e.description = "Line one\nLine two, with a comma; and a semicolon \\ backslash";
  e.location = "https://meet.example/room?id=1,2";
  e.start = at("2026-03-29T00:30:00Z");
  e.end = at("2026-03-29T01:30:00Z");
  e.stamp = at("2026-03-01T12:00:00Z");
  e.sequence = 3;
  return e;
}

std::string utc_of(icaltimetype t) {
  BOOST_TEST(icaltime_is_utc(t));
  return icaltime_as_ical_string(t);
}

}  // namespace

BOOST_AUTO_TEST_CASE(libical_reads_back_every_field) {
  const std::string text = write_ics(sample());
  component cal(icalparser_parse_string(text.c_str()));
  BOOST_TEST_REQUIRE(cal != nullptr);
  BOOST_TEST(icalcomponent_get_method(cal.get()) == ICAL_METHOD_PUBLISH);
  icalcomponent* ev = icalcomponent_get_first_component(cal.get(), ICAL_VEVENT_COMPONENT);
  BOOST_TEST_REQUIRE(ev != nullptr);
  BOOST_TEST(std::string(icalcomponent_get_uid(ev)) == sample().uid);
  BOOST_TEST(std::string(icalcomponent_get_summary(ev)) == sample().summary);
  BOOST_TEST(std::string(icalcomponent_get_description(ev)) == sample().description);
  BOOST_TEST(std::string(icalcomponent_get_location(ev)) == sample().location);
  BOOST_TEST(icalcomponent_get_sequence(ev) == 3);
  BOOST_TEST(utc_of(icalcomponent_get_dtstart(ev)) == "20260329T003000Z");
  BOOST_TEST(utc_of(icalcomponent_get_dtend(ev)) == "20260329T013000Z");
  BOOST_TEST(utc_of(icalcomponent_get_dtstamp(ev)) == "20260301T120000Z");
  BOOST_TEST(icalcomponent_get_status(ev) == ICAL_STATUS_CONFIRMED);
}

BOOST_AUTO_TEST_CASE(cancelled_is_method_cancel_and_status_cancelled) {
  auto e = sample();
  e.cancelled = true;
  e.sequence = 4;
  component cal(icalparser_parse_string(write_ics(e).c_str()));
  BOOST_TEST_REQUIRE(cal != nullptr);
  BOOST_TEST(icalcomponent_get_method(cal.get()) == ICAL_METHOD_CANCEL);
  icalcomponent* ev = icalcomponent_get_first_component(cal.get(), ICAL_VEVENT_COMPONENT);
  BOOST_TEST(icalcomponent_get_status(ev) == ICAL_STATUS_CANCELLED);
  BOOST_TEST(icalcomponent_get_sequence(ev) == 4);
}

BOOST_AUTO_TEST_CASE(lines_fold_at_75_octets_on_utf8_boundaries) {
  // Every physical line at most 75 octets (plus CRLF); no line starts with a UTF-8
  // continuation byte; unfolding gives back the logical line.
  for (const std::string& title : {std::string(200, 'a'), std::string("ü") + std::string(300, 'x'),
                                   [] {
                                     std::string s;
                                     for (int i = 0; i < 80; ++i) s += "日";
                                     return s;
                                   }(),
                                   [] {
                                     std::string s;
                                     for (int i = 0; i < 50; ++i) s += "a😀";
                                     return s;
                                   }()}) {
    const std::string line = "SUMMARY:" + title;
    const std::string folded = ics_fold(line);
    std::string physical, unfolded;
    bool first = true;
    std::size_t count = 0;
    std::size_t pos = 0;
    while (pos < folded.size()) {
      const auto crlf = folded.find("\r\n", pos);
      BOOST_TEST_REQUIRE(crlf != std::string::npos);
      physical = folded.substr(pos, crlf - pos);
      pos = crlf + 2;
      ++count;
      BOOST_TEST(physical.size() <= 75u);
      if (!first) {
        BOOST_TEST_REQUIRE(physical.size() >= 2u);
        BOOST_TEST(physical[0] == ' ');
        BOOST_TEST((static_cast<unsigned char>(physical[1]) & 0xC0) != 0x80);
        unfolded += physical.substr(1);
      } else {
        unfolded += physical;
      }
      first = false;
    }
    BOOST_TEST(count > 1u);
    BOOST_TEST(unfolded == line);
    // And libical agrees.
    ics_event e = sample();
    e.summary = title;
    component cal(icalparser_parse_string(write_ics(e).c_str()));
    icalcomponent* ev = icalcomponent_get_first_component(cal.get(), ICAL_VEVENT_COMPONENT);
    BOOST_TEST(std::string(icalcomponent_get_summary(ev)) == title);
  }
}

BOOST_AUTO_TEST_CASE(text_is_escaped) {
  BOOST_TEST(ics_escape_text("a,b;c\\d\ne\r\nf") == "a\\,b\\;c\\\\d\\ne\\nf");
  BOOST_TEST(ics_utc(at("2026-11-01T06:00:00.999Z")) == "20261101T060000Z");
}
