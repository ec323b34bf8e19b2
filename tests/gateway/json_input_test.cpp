// Request bodies: simdjson parsing, the declarative schema, and the errors it reports.
#define BOOST_TEST_MODULE json_input_test
#include "gateway/json_input.hpp"

#include <boost/test/unit_test.hpp>
#include <ostream>
#include <string>
#include <vector>

using namespace coachd;
using namespace coachd::gateway;

namespace coachd {
// Lets Boost.Test print error codes in failed comparisons.
std::ostream& boost_test_print_type(std::ostream& os, errc code) {
  return os << "errc(" << static_cast<int>(code) << ")";
}
}  // namespace coachd

namespace {

const json_schema& intake_schema() {
  static const json_schema schema{
      json_field::string("name").max_length(20),
      json_field::email("email"),
      json_field::string("phone").optional().max_length(40),
      json_field::integer("sessions", 1, 52).optional(),
      json_field::boolean("consent"),
      json_field::string_array("goals").optional().max_items(3).max_length(30),
      json_field::string("notes").optional().multiline().max_length(200),
      json_field::string("format").optional().one_of({"online", "in_person"}),
  };
  return schema;
}

bool has_field(const error& e, const std::string& field) {
  return std::find(e.fields.begin(), e.fields.end(), field) != e.fields.end();
}

bool mentions(const error& e, const std::string& text) {
  return e.detail.find(text) != std::string::npos;
}

std::string nested(std::size_t depth, std::string_view open, std::string_view close) {
  std::string s;
  for (std::size_t i = 0; i < depth; ++i) s += open;
  for (std::size_t i = 0; i < depth; ++i) s += close;
  return s;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(json_input_valid)

BOOST_AUTO_TEST_CASE(fields_are_typed_trimmed_and_normalized) {
  const auto in = parse_json_object(R"({
    "name": "  Ada Lovelace ",
    "email": " Ada@Example.COM ",
    "sessions": 12,
    "consent": true,
    "goals": [" focus ", "sleep"],
    "notes": "line one\nline two",
    "format": "online"
  })",
                                    intake_schema());
  BOOST_REQUIRE_MESSAGE(in.ok(), (in.ok() ? "" : in.err().detail));
  BOOST_TEST(in->string("name") == "Ada Lovelace");
  BOOST_TEST(in->string("email") == "Ada@example.com");
  BOOST_TEST(in->integer("sessions") == 12);
  BOOST_TEST(in->boolean("consent"));
  BOOST_TEST(in->strings("goals") == (std::vector<std::string>{"focus", "sleep"}));
  BOOST_TEST(in->string("notes") == "line one\nline two");
  BOOST_TEST(in->find_string("phone") == nullptr);
  BOOST_TEST(!in->has("phone"));
  BOOST_TEST(in->has("format"));
  BOOST_TEST(in->names().size() == 7u);
}

BOOST_AUTO_TEST_CASE(optional_fields_may_be_absent_or_null) {
  const auto in = parse_json_object(
      R"({"name":"Bo","email":"bo@x.io","consent":false,"phone":null,"sessions":null})",
      intake_schema());
  BOOST_REQUIRE_MESSAGE(in.ok(), (in.ok() ? "" : in.err().detail));
  BOOST_TEST(!in->has("phone"));
  BOOST_TEST(in->is_null("phone"));
  BOOST_TEST(!in->is_null("goals"));
  BOOST_TEST(!in->find_integer("sessions").has_value());
  BOOST_TEST(in->strings("goals").empty());
  BOOST_TEST(in->find_boolean("consent").value() == false);
}

BOOST_AUTO_TEST_CASE(escaped_keys_and_values_are_decoded) {
  const auto in = parse_json_object(
      R"({"na\u006de":"Caf\u00e9 \"A\"","email":"a@b.co","consent":true})", intake_schema());
  BOOST_REQUIRE_MESSAGE(in.ok(), (in.ok() ? "" : in.err().detail));
  BOOST_TEST(in->string("name") == "Caf\xc3\xa9 \"A\"");
}

BOOST_AUTO_TEST_CASE(lengths_count_code_points) {
  // 20 code points, 40 bytes.
  std::string name;
  for (int i = 0; i < 20; ++i) name += "\xc3\xa9";
  auto in = parse_json_object(R"({"name":")" + name + R"(","email":"a@b.co","consent":true})",
                              intake_schema());
  BOOST_TEST(in.ok());
  in = parse_json_object(R"({"name":")" + name + R"(x","email":"a@b.co","consent":true})",
                         intake_schema());
  BOOST_REQUIRE(!in.ok());
  BOOST_TEST(in.err().code == errc::invalid);
  BOOST_TEST(has_field(in.err(), "name"));
  BOOST_TEST(mentions(in.err(), "at most 20 characters"));
}

BOOST_AUTO_TEST_CASE(nested_objects_and_object_arrays) {
  const json_schema invoice{
      json_field::object(
          "billing", json_schema{json_field::string("city"), json_field::string("zip").optional()}),
      json_field::object_array("lines",
                               json_schema{json_field::string("description"),
                                           json_field::integer("amount_cents", 0, 1'000'000)})
          .min_items(1),
  };
  auto in = parse_json_object(
      R"({"billing":{"city":"Oslo"},"lines":[{"description":"Session","amount_cents":9000},
          {"description":"Workbook","amount_cents":1500}]})",
      invoice);
  BOOST_REQUIRE_MESSAGE(in.ok(), (in.ok() ? "" : in.err().detail));
  BOOST_TEST(in->object("billing").string("city") == "Oslo");
  BOOST_TEST(in->object("billing").find_string("zip") == nullptr);
  BOOST_REQUIRE_EQUAL(in->objects("lines").size(), 2u);
  BOOST_TEST(in->objects("lines")[1].integer("amount_cents") == 1500);

  in = parse_json_object(
      R"({"billing":{"town":"Oslo"},"lines":[{"description":"ok","amount_cents":1},
          {"description":"","amount_cents":-5}, 7]})",
      invoice);
  BOOST_REQUIRE(!in.ok());
  BOOST_TEST(in.err().code == errc::invalid);
  BOOST_TEST(has_field(in.err(), "billing.town"));
  BOOST_TEST(has_field(in.err(), "billing.city"));
  BOOST_TEST(has_field(in.err(), "lines[1].description"));
  BOOST_TEST(has_field(in.err(), "lines[1].amount_cents"));
  BOOST_TEST(has_field(in.err(), "lines[2]"));

  in = parse_json_object(R"({"billing":{"city":"x"},"lines":[]})", invoice);
  BOOST_REQUIRE(!in.ok());
  BOOST_TEST(has_field(in.err(), "lines"));
  BOOST_TEST(mentions(in.err(), "at least 1 items"));
}

BOOST_AUTO_TEST_CASE(asking_for_an_undeclared_or_mistyped_field_is_a_programmer_error) {
  const auto in =
      parse_json_object(R"({"name":"A","email":"a@b.co","consent":true})", intake_schema());
  BOOST_REQUIRE(in.ok());
  BOOST_CHECK_THROW(in->string("phone"), std::logic_error);     // optional and absent
  BOOST_CHECK_THROW(in->integer("name"), std::logic_error);     // wrong type
  BOOST_CHECK_THROW(in->boolean("nothing"), std::logic_error);  // not declared
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(json_input_malformed)

BOOST_AUTO_TEST_CASE(syntax_errors_are_400_with_a_location) {
  const std::vector<std::string> bodies{
      R"({"name": "x",})",
      R"({"name" "x"})",
      R"({"name": tru})",
      R"({"name": nul, "email": "a@b.co"})",
      R"({"name": "x")",
      R"({"name": "unterminated})",
      R"({"consent": 01})",
      R"({"sessions": 1.})",
      R"({"name": "x"} trailing)",
      R"({"name": "x"}})",
      R"({} {})",
      "{\"name\": \"bad \xff utf8\"}",
      R"({"name": "bad escape \q"})",
      R"({"zzz": [1, 2 3]})",                // inside an unknown field
      R"({"zzz": {"deep": [true, fals]}})",  // ditto, deeper
      R"({"goals": ["a", ]})",
      R"([1, 2)",
      R"("just a string" 1)",
      R"(true false)",
      R"(12 13)",
      R"({"zzz": 1.5e})",
      R"({"zzz": -})",
      R"({"zzz": 00})",
  };
  for (const auto& body : bodies) {
    const auto in = parse_json_object(body, intake_schema());
    BOOST_REQUIRE_MESSAGE(!in.ok(), body);
    BOOST_TEST(in.err().code == errc::malformed, body << " -> " << in.err().detail);
    BOOST_TEST((mentions(in.err(), "JSON") || mentions(in.err(), "content")), in.err().detail);
  }
}

BOOST_AUTO_TEST_CASE(big_numbers_are_valid_json) {
  // Beyond 64 bits simdjson cannot hold them, but they are JSON: not a 400.
  BOOST_TEST(validate_json(R"({"n": 123456789012345678901234567890, "m": -1e400})").ok());
  BOOST_TEST(validate_json("123456789012345678901234567890").ok());
}

BOOST_AUTO_TEST_CASE(location_names_line_and_column) {
  const auto in = parse_json_object("{\n  \"name\": \"x\",\n  \"email\": tru\n}", intake_schema());
  BOOST_REQUIRE(!in.ok());
  BOOST_TEST(in.err().code == errc::malformed);
  BOOST_TEST(mentions(in.err(), "line 3"), in.err().detail);
}

BOOST_AUTO_TEST_CASE(empty_body_is_malformed) {
  for (const char* body : {"", "   \n"}) {
    const auto in = parse_json_object(body, intake_schema());
    BOOST_REQUIRE(!in.ok());
    BOOST_TEST(in.err().code == errc::malformed);
  }
}

BOOST_AUTO_TEST_CASE(depth_limit_is_a_400) {
  // The root counts as depth 1: 32 levels pass, 33 do not.
  BOOST_TEST(validate_json(nested(32, "[", "]")).ok());
  auto r = validate_json(nested(33, "[", "]"));
  BOOST_REQUIRE(!r.ok());
  BOOST_TEST(r.err().code == errc::malformed);
  BOOST_TEST(mentions(r.err(), "deeper than 32"));

  // Inside a schema'd object, under an unknown field: the depth error wins over field issues.
  const auto body = R"({"zzz":)" + nested(40, "{\"a\":", "}") + "}";
  const auto in = parse_json_object(body, intake_schema());
  BOOST_REQUIRE(!in.ok());
  BOOST_TEST(in.err().code == errc::malformed);
  BOOST_TEST(mentions(in.err(), "deeper than 32"));

  // A smaller limit applies too.
  json_limits tight;
  tight.max_depth = 2;
  BOOST_TEST(validate_json(R"({"a":[1]})", tight).ok());
  BOOST_TEST(!validate_json(R"({"a":[[1]]})", tight).ok());
  BOOST_TEST(!parse_json_object(R"({"goals":[["x"]]})", intake_schema(), tight).ok());
}

BOOST_AUTO_TEST_CASE(huge_document_of_nesting_does_not_overflow) {
  const auto r = validate_json(nested(100000, "[", "]"));
  BOOST_REQUIRE(!r.ok());
  BOOST_TEST(r.err().code == errc::malformed);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(json_input_invalid)

BOOST_AUTO_TEST_CASE(every_offending_field_is_reported) {
  const auto in = parse_json_object(
      R"({"nme":"Ada","email":5,"sessions":"many","consent":"yes","extra":{"a":[1]},
          "goals":["ok", 3, ""],"format":"phone"})",
      intake_schema());
  BOOST_REQUIRE(!in.ok());
  const auto& e = in.err();
  BOOST_TEST(e.code == errc::invalid);
  for (const char* field :
       {"nme", "email", "sessions", "consent", "extra", "goals[1]", "goals[2]", "format", "name"}) {
    BOOST_TEST(has_field(e, field), field << " in " << e.detail);
  }
  BOOST_TEST(e.fields.size() == 9u);
  BOOST_TEST(mentions(e, "nme: is not a known field"));
  BOOST_TEST(mentions(e, "email: expected an e-mail address (string), got a number"));
  BOOST_TEST(mentions(e, "sessions: expected an integer, got a string"));
  BOOST_TEST(mentions(e, "consent: expected a boolean, got a string"));
  BOOST_TEST(mentions(e, "goals[1]: expected a string, got a number"));
  BOOST_TEST(mentions(e, "goals[2]: must not be empty"));
  BOOST_TEST(mentions(e, "format: must be one of: online, in_person"));
  BOOST_TEST(mentions(e, "name: is required"));
}

BOOST_AUTO_TEST_CASE(missing_fields_are_named) {
  const auto in = parse_json_object("{}", intake_schema());
  BOOST_REQUIRE(!in.ok());
  BOOST_TEST(in.err().code == errc::invalid);
  BOOST_TEST(in.err().fields == (std::vector<std::string>{"name", "email", "consent"}));
}

BOOST_AUTO_TEST_CASE(root_must_be_an_object) {
  for (const char* body :
       {"[]", "\"text\"", "42", "true", "null", "123456789012345678901234567890"}) {
    const auto in = parse_json_object(body, intake_schema());
    BOOST_REQUIRE_MESSAGE(!in.ok(), body);
    BOOST_TEST(in.err().code == errc::invalid, body);
    BOOST_TEST(mentions(in.err(), "must be a JSON object"));
  }
}

BOOST_AUTO_TEST_CASE(null_for_a_required_field_and_duplicates) {
  const auto in = parse_json_object(
      R"({"name":null,"email":"a@b.co","email":"c@d.co","consent":true})", intake_schema());
  BOOST_REQUIRE(!in.ok());
  BOOST_TEST(mentions(in.err(), "name: must not be null"));
  BOOST_TEST(mentions(in.err(), "email: appears more than once"));
}

BOOST_AUTO_TEST_CASE(integers_are_exact_and_in_range) {
  auto sessions = [](const std::string& value) {
    return parse_json_object(
        R"({"name":"A","email":"a@b.co","consent":true,"sessions":)" + value + "}",
        intake_schema());
  };
  BOOST_TEST(sessions("1").ok());
  BOOST_TEST(sessions("52").ok());
  BOOST_TEST(sessions("-0").ok() == false);  // -0 is 0, below the minimum
  for (const char* bad : {"0", "53", "-1", "1.5", "1e1", "2.0", "9223372036854775808",
                          "123456789012345678901234567890"}) {
    const auto in = sessions(bad);
    BOOST_REQUIRE_MESSAGE(!in.ok(), bad);
    BOOST_TEST(in.err().code == errc::invalid, bad << " -> " << in.err().detail);
    BOOST_TEST(has_field(in.err(), "sessions"), bad);
  }
  BOOST_TEST(mentions(sessions("1.5").err(), "expected an integer"));
  BOOST_TEST(mentions(sessions("53").err(), "between 1 and 52"));
}

BOOST_AUTO_TEST_CASE(single_line_strings_refuse_control_characters) {
  auto with_name = [](const std::string& json_name) {
    return parse_json_object(R"({"email":"a@b.co","consent":true,"name":)" + json_name + "}",
                             intake_schema());
  };
  BOOST_TEST(!with_name(R"("two\nlines")").ok());
  BOOST_TEST(!with_name(R"("nul\u0000byte")").ok());
  BOOST_TEST(!with_name(R"("   ")").ok());        // empty after trimming
  BOOST_TEST(with_name(R"("  padded\n")").ok());  // trailing newline is trimmed
  BOOST_TEST(
      !parse_json_object(R"({"name":"A","email":"a@b.co","consent":true,"notes":"bell\u0007"})",
                         intake_schema())
           .ok());
}

BOOST_AUTO_TEST_CASE(string_array_item_count_is_bounded) {
  const auto in = parse_json_object(
      R"({"name":"A","email":"a@b.co","consent":true,"goals":["a","b","c","d"]})", intake_schema());
  BOOST_REQUIRE(!in.ok());
  BOOST_TEST(has_field(in.err(), "goals"));
  BOOST_TEST(mentions(in.err(), "at most 3 items"));
}

BOOST_AUTO_TEST_CASE(email_addresses_are_checked_and_normalized) {
  const std::vector<std::pair<std::string, std::string>> good{
      {"ada@example.com", "ada@example.com"},
      {"  Ada.L+tag@Mail.Example.ORG ", "Ada.L+tag@mail.example.org"},
      {"a@b.co", "a@b.co"},
      {"o'neil@x-y.example", "o'neil@x-y.example"},
  };
  for (const auto& [in, out] : good) {
    const auto n = normalize_email(in);
    BOOST_REQUIRE_MESSAGE(n.has_value(), in);
    BOOST_TEST(*n == out);
  }
  const std::vector<std::string> bad{
      "",
      "plain",
      "@example.com",
      "a@",
      "a@b",
      "a@@b.com",
      "a b@example.com",
      "a@exa mple.com",
      "a@.example.com",
      "a@example.com.",
      "a@example..com",
      ".a@example.com",
      "a.@example.com",
      "a..b@example.com",
      "a@-x.com",
      "a@x-.com",
      "a@x_y.com",
      "a(b)@example.com",
      "a\t@example.com",
      std::string(65, 'a') + "@example.com",
      "a@" + std::string(250, 'b') + ".com",
  };
  for (const auto& address : bad) BOOST_TEST(!normalize_email(address).has_value(), address);

  const auto in =
      parse_json_object(R"({"name":"A","email":"not-an-email","consent":true})", intake_schema());
  BOOST_REQUIRE(!in.ok());
  BOOST_TEST(mentions(in.err(), "email: must be an e-mail address"));
}

BOOST_AUTO_TEST_CASE(body_needs_the_json_content_type) {
  request req{boost::beast::http::verb::post, "/x", 11};
  req.body() = R"({"name":"A","email":"a@b.co","consent":true})";
  auto in = parse_json_body(req, intake_schema());
  BOOST_REQUIRE(!in.ok());
  BOOST_TEST(in.err().code == errc::malformed);
  req.set(boost::beast::http::field::content_type, "text/plain");
  BOOST_TEST(!parse_json_body(req, intake_schema()).ok());
  req.set(boost::beast::http::field::content_type, "Application/JSON; charset=utf-8");
  BOOST_TEST(parse_json_body(req, intake_schema()).ok());
  req.set(boost::beast::http::field::content_type, "application/merge-patch+json");
  BOOST_TEST(parse_json_body(req, intake_schema()).ok());
}

BOOST_AUTO_TEST_CASE(schema_declaring_a_field_twice_is_a_programmer_error) {
  BOOST_CHECK_THROW((json_schema{json_field::string("a"), json_field::integer("a")}),
                    std::invalid_argument);
  BOOST_CHECK_THROW(json_field::integer("n", 5, 1), std::invalid_argument);
}

BOOST_AUTO_TEST_SUITE_END()
