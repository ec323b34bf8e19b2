// gateway/json_writer: the text it writes is byte for byte boost::json::serialize's for the same
// values in the same order, whatever the strings hold, and parses back to them.
#define BOOST_TEST_MODULE json_writer_test
#include "gateway/json_writer.hpp"

#include <boost/json.hpp>
#include <boost/test/unit_test.hpp>
#include <cstdint>
#include <limits>
#include <optional>
#include <string>
#include <vector>

using coachd::gateway::json_writer;
namespace json = boost::json;

namespace {

std::vector<std::string> tricky_strings() {
  std::vector<std::string> out = {"",
                                  "plain",
                                  "quote \" and backslash \\ and slash /",
                                  "tab\tnewline\ncarriage\rbackspace\bformfeed\f",
                                  "ü 山田太郎 👩‍💻 — “typographic”",
                                  "\\u0041 is not an escape here",
                                  "ends with a backslash\\",
                                  "\x7f delete is not a control character in JSON"};
  std::string controls;
  for (int c = 0; c < 0x20; ++c) controls.push_back(static_cast<char>(c));
  out.push_back(controls);
  std::string all_ascii;
  for (int c = 1; c < 0x80; ++c) all_ascii.push_back(static_cast<char>(c));
  out.push_back(all_ascii);
  out.push_back(std::string("embedded\0nul", 12));
  return out;
}

}  // namespace

BOOST_AUTO_TEST_CASE(strings_are_escaped_exactly_as_boost_json_escapes_them) {
  for (const auto& s : tricky_strings()) {
    json_writer w;
    w.value(s);
    BOOST_TEST(w.text() == json::serialize(json::value(json::string_view(s))));
    BOOST_TEST(json::parse(w.text()).as_string() == json::string_view(s));
  }
}

BOOST_AUTO_TEST_CASE(an_escape_is_found_at_every_position_of_every_length) {
  // The scan skips 16 bytes (SSE2) or 8 bytes at a time: every position relative to those
  // blocks, with plain ASCII and multi-byte UTF-8 around it (bytes above 0x7f, and the space just
  // above the control characters, must never look like an escape).
  const std::vector<std::string> fillers = {"a", "\xc3\xbc", "\x7f", "~", "\xe5\xb1\xb1", " "};
  const std::vector<std::string> escapes = {"\"", "\\", "\n", std::string(1, '\x01'), std::string(1, '\0'),
                                            std::string(1, '\x1f')};
  int checked = 0;
  for (const auto& filler : fillers) {
    for (std::size_t length = 0; length <= 40; ++length) {
      std::string plain;
      while (plain.size() < length) plain += filler;
      json_writer w;
      w.value(plain);
      BOOST_TEST(w.text() == json::serialize(json::value(json::string_view(plain))));
      for (std::size_t at = 0; at <= plain.size(); ++at) {
        for (const auto& escape : escapes) {
          const std::string text = plain.substr(0, at) + escape + plain.substr(at);
          json_writer one;
          one.value(text);
          BOOST_TEST(one.text() == json::serialize(json::value(json::string_view(text))), "length " << length << " at " << at);
          ++checked;
        }
      }
    }
  }
  BOOST_TEST(checked > 5000);
}

BOOST_AUTO_TEST_CASE(a_list_body_matches_the_dom_it_replaces) {
  const auto strings = tricky_strings();
  json_writer w;
  json::array items;
  w.begin_object().key("items").begin_array();
  for (std::size_t i = 0; i < strings.size(); ++i) {
    const std::optional<std::string> maybe = i % 2 ? std::optional<std::string>{strings[i]} : std::nullopt;
    w.begin_object()
        .member("id", "row-" + std::to_string(i))
        .member("text", strings[i])
        .member("maybe", maybe)
        .member("n", static_cast<std::int64_t>(i) - 5)
        .member("flag", i % 3 == 0)
        .key("nested")
        .begin_array()
        .end_array()
        .key("empty")
        .begin_object()
        .end_object()
        .end_object();
    json::object o{{"id", "row-" + std::to_string(i)}, {"text", strings[i]}};
    o["maybe"] = maybe ? json::value(*maybe) : json::value(nullptr);
    o["n"] = static_cast<std::int64_t>(i) - 5;
    o["flag"] = i % 3 == 0;
    o["nested"] = json::array{};
    o["empty"] = json::object{};
    items.push_back(std::move(o));
  }
  w.end_array().member("next_cursor", std::optional<std::string>{}).end_object();
  json::object body{{"items", std::move(items)}};
  body["next_cursor"] = nullptr;
  BOOST_TEST(w.text() == json::serialize(body));

  json_writer empty;
  empty.begin_object().key("items").begin_array().end_array().member("next_cursor", std::string("c")).end_object();
  BOOST_TEST(empty.text() == R"({"items":[],"next_cursor":"c"})");
}

BOOST_AUTO_TEST_CASE(numbers_cover_the_whole_range) {
  json_writer w;
  w.begin_array()
      .value(std::int64_t{0})
      .value(std::numeric_limits<std::int64_t>::min())
      .value(std::numeric_limits<std::int64_t>::max())
      .null()
      .end_array();
  BOOST_TEST(w.text() == json::serialize(json::array{0, std::numeric_limits<std::int64_t>::min(),
                                                     std::numeric_limits<std::int64_t>::max(), nullptr}));
}
