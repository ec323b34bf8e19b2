// The account aggregate (aggregates/account.hpp), and the client aggregate
// (aggregates/client.hpp) beside it, as tables: given events, when a command, then the events
// it produces or the error that refuses it.

// The test module's entry point. When <boost/test/unit_test.hpp> already came in through the
// precompiled header, a BOOST_TEST_MODULE defined here is too late to generate main().
#ifdef BOOST_TEST_UNIT_TEST_HPP_071894GER
#include <boost/test/unit_test.hpp>
bool init_unit_test() {
  boost::unit_test::framework::master_test_suite().p_name.value = "account";
  return true;
}
int main(int argc, char* argv[]) {
  return boost::unit_test::unit_test_main(&init_unit_test, argc, argv);
}
#else
#define BOOST_TEST_MODULE account
#include <boost/test/unit_test.hpp>
#endif

#include <optional>
#include <stdexcept>
#include <string>
#include <variant>
#include <vector>

#include "aggregates/account.hpp"
#include "aggregates/client.hpp"

using namespace coachd;

namespace {

timestamp at(std::string_view text) {
  auto t = parse_rfc3339(text);
  if (!t) throw std::invalid_argument("bad test timestamp " + std::string(text));
  return *t;
}

const timestamp registered_at = at("2026-11-21T09:00:00Z");

/// What a case expects: the events, or an error code, reason and offending fields.
struct refused {
  errc code;
  std::string reason;
  std::vector<std::string> fields;
};
using expectation = std::variant<std::vector<domain_event>, refused>;

template <typename Decision>
void check(const std::string& name, const Decision& result, const expectation& then) {
  BOOST_TEST_CONTEXT(name) {
    if (const auto* expected = std::get_if<std::vector<domain_event>>(&then)) {
      BOOST_REQUIRE_MESSAGE(result.ok(), "refused: " << (result ? "" : result.err().detail));
      BOOST_TEST((result.value() == *expected));
    } else {
      const auto& why = std::get<refused>(then);
      BOOST_REQUIRE_MESSAGE(!result.ok(), "was not refused");
      BOOST_TEST((result.err().code == why.code));
      BOOST_TEST(result.err().type_suffix == why.reason);
      BOOST_TEST(result.err().fields == why.fields, boost::test_tools::per_element());
      BOOST_TEST(!result.err().detail.empty());
    }
  }
}

std::vector<domain_event> events(std::initializer_list<domain_event> list) { return list; }

// --- accounts --------------------------------------------------------------------------------

register_account registration(std::string role = "client",
                              std::optional<std::string> hash = std::string("$argon2id$v=19$h")) {
  return register_account{"acct-1",          std::move(role), "zelda.q@example.org",
                          "Zelda Quuxworth", std::move(hash), registered_at};
}

account_registered registered(std::string role = "client",
                              std::optional<std::string> hash = std::string("$argon2id$v=19$h")) {
  std::optional<personal> h;
  if (hash) h = personal{*hash};
  return account_registered{
      "acct-1", std::move(role), personal{"zelda.q@example.org"}, personal{"Zelda Quuxworth"},
      h,        registered_at};
}

account_state fold_account(const std::vector<domain_event>& given) {
  account_state s;
  for (const auto& e : given) account::evolve(s, std::get<account_registered>(e));
  return s;
}

struct account_case {
  std::string name;
  std::vector<domain_event> given;
  register_account when;
  expectation then;
};

// --- clients ---------------------------------------------------------------------------------

create_client_profile profile(std::optional<std::string> phone = std::string("+1 555 0100"),
                              std::optional<std::string> intake = std::string("i-1")) {
  return create_client_profile{"client-1",        "coach-a",         "acct-1",
                               std::move(intake), "Zelda Quuxworth", "zelda.q@example.org",
                               std::move(phone),  "Run a marathon",  registered_at};
}

client_profile_created profile_created(
    std::optional<std::string> phone = std::string("+1 555 0100"),
    std::optional<std::string> intake = std::string("i-1")) {
  std::optional<personal> p;
  if (phone) p = personal{*phone};
  return client_profile_created{"client-1",
                                "coach-a",
                                "acct-1",
                                std::move(intake),
                                personal{"Zelda Quuxworth"},
                                personal{"zelda.q@example.org"},
                                p,
                                personal{"Run a marathon"},
                                registered_at};
}

client_state fold_client(const std::vector<domain_event>& given) {
  client_state s;
  for (const auto& e : given) client::evolve(s, std::get<client_profile_created>(e));
  return s;
}

struct client_case {
  std::string name;
  std::vector<domain_event> given;
  create_client_profile when;
  expectation then;
};

}  // namespace

BOOST_AUTO_TEST_SUITE(account_aggregate)

BOOST_AUTO_TEST_CASE(given_events_when_register_then_events_or_error) {
  const std::vector<account_case> table = {
      {"register a client", {}, registration(), events({registered()})},
      {"register a coach", {}, registration("coach"), events({registered("coach")})},
      {"register an admin", {}, registration("admin"), events({registered("admin")})},
      {"register without a password (onboarding)",
       {},
       registration("client", std::nullopt),
       events({registered("client", std::nullopt)})},
      {"register twice",
       {registered()},
       registration(),
       refused{errc::conflict, "email-taken", {"email"}}},
      {"register twice with another role",
       {registered("coach")},
       registration("client"),
       refused{errc::conflict, "email-taken", {"email"}}},
      {"unknown role", {}, registration("superuser"), refused{errc::invalid, "", {"role"}}},
      {"empty role", {}, registration(""), refused{errc::invalid, "", {"role"}}},
      {"role is case-sensitive", {}, registration("Coach"), refused{errc::invalid, "", {"role"}}},
      {"role with spaces", {}, registration(" coach"), refused{errc::invalid, "", {"role"}}},
  };
  for (const auto& c : table) check(c.name, account::decide(c.when, fold_account(c.given)), c.then);
}

BOOST_AUTO_TEST_CASE(registered_event_marks_personal_data_as_personal) {
  const auto result = account::decide(registration(), account_state{});
  BOOST_REQUIRE(result.ok());
  const auto& e = std::get<account_registered>(result.value().at(0));
  BOOST_TEST(e.email.value == "zelda.q@example.org");
  BOOST_TEST(e.display_name.value == "Zelda Quuxworth");
  BOOST_REQUIRE(e.password_hash.has_value());
  BOOST_TEST(e.password_hash->value == "$argon2id$v=19$h");
  BOOST_TEST(e.data_subject() == "account:acct-1");
}

BOOST_AUTO_TEST_CASE(evolve_records_the_account) {
  const auto s = fold_account({registered("coach")});
  BOOST_TEST(s.exists);
  BOOST_TEST(s.account_id == "acct-1");
  BOOST_TEST(s.role == "coach");
  BOOST_TEST(!fold_account({}).exists);
}

BOOST_AUTO_TEST_CASE(account_stream_is_keyed_by_the_address_hash) {
  BOOST_TEST(account_stream("00ff") == "account-00ff");
  BOOST_TEST(account_stream("a") != account_stream("b"));
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(client_aggregate)

BOOST_AUTO_TEST_CASE(given_events_when_create_profile_then_events_or_error) {
  const std::vector<client_case> table = {
      {"create a profile", {}, profile(), events({profile_created()})},
      {"create without phone or intake",
       {},
       profile(std::nullopt, std::nullopt),
       events({profile_created(std::nullopt, std::nullopt)})},
      {"create twice",
       {profile_created()},
       profile(),
       refused{errc::conflict, "client-exists", {}}},
      {"create twice with other details",
       {profile_created()},
       profile(std::nullopt, std::nullopt),
       refused{errc::conflict, "client-exists", {}}},
  };
  for (const auto& c : table) check(c.name, client::decide(c.when, fold_client(c.given)), c.then);
}

BOOST_AUTO_TEST_CASE(profile_is_sealed_with_the_clients_account_key) {
  const auto result = client::decide(profile(), client_state{});
  BOOST_REQUIRE(result.ok());
  const auto& e = std::get<client_profile_created>(result.value().at(0));
  BOOST_TEST(e.data_subject() == "account:acct-1");
}

BOOST_AUTO_TEST_CASE(evolve_records_the_client) {
  const auto s = fold_client({profile_created()});
  BOOST_TEST(s.exists);
  BOOST_TEST(s.client_id == "client-1");
  BOOST_TEST(s.coach_id == "coach-a");
  BOOST_TEST(s.account_id == "acct-1");
  BOOST_TEST(client_stream("client-1") == "client-client-1");
}

BOOST_AUTO_TEST_SUITE_END()
