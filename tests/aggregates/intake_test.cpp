// The intake aggregate (aggregates/intake.hpp) as a table: given events, when a command, then
// the events it produces or the error that refuses it.

// The test module's entry point. When <boost/test/unit_test.hpp> already came in through the
// precompiled header, a BOOST_TEST_MODULE defined here is too late to generate main().
#ifdef BOOST_TEST_UNIT_TEST_HPP_071894GER
#include <boost/test/unit_test.hpp>
bool init_unit_test() {
  boost::unit_test::framework::master_test_suite().p_name.value = "intake";
  return true;
}
int main(int argc, char* argv[]) {
  return boost::unit_test::unit_test_main(&init_unit_test, argc, argv);
}
#else
#define BOOST_TEST_MODULE intake
#include <boost/test/unit_test.hpp>
#endif

#include <optional>
#include <stdexcept>
#include <string>
#include <variant>
#include <vector>

#include "aggregates/intake.hpp"

using namespace coachd;

namespace {

template <typename... F>
struct overloaded : F... {
  using F::operator()...;
};

timestamp at(std::string_view text) {
  auto t = parse_rfc3339(text);
  if (!t) throw std::invalid_argument("bad test timestamp " + std::string(text));
  return *t;
}

const timestamp submitted_at = at("2026-11-21T09:00:00Z");
const timestamp decided_at = at("2026-11-22T10:00:00Z");

using intake_command = std::variant<submit_intake, accept_intake, decline_intake>;

/// What a case expects: the events, or an error code and machine-readable reason.
struct refused {
  errc code;
  std::string reason;  // type_suffix; empty when none is expected
};
using expectation = std::variant<std::vector<domain_event>, refused>;

struct intake_case {
  std::string name;
  std::vector<domain_event> given;
  intake_command when;
  expectation then;
};

intake_state fold(const std::vector<domain_event>& events) {
  intake_state state;
  for (const auto& e : events) {
    std::visit(overloaded{
                   [&](const intake_submitted& ev) { intake::evolve(state, ev); },
                   [&](const intake_accepted& ev) { intake::evolve(state, ev); },
                   [&](const intake_declined& ev) { intake::evolve(state, ev); },
                   [&](const auto&) { BOOST_FAIL("not an intake event"); },
               },
               e);
  }
  return state;
}

decision run(const intake_command& c, const intake_state& s) {
  return std::visit([&](const auto& command) { return intake::decide(command, s); }, c);
}

// The story's cast: intake "i-1" for coach "coach-a".
submit_intake submit(std::optional<std::string> phone = std::string("+1 555 0100")) {
  return submit_intake{"i-1", "coach-a",        "Zelda Quuxworth",  "zelda.q@example.org",
                       phone, "Run a marathon", "Found you online", submitted_at};
}

intake_submitted submitted(std::optional<std::string> phone = std::string("+1 555 0100")) {
  std::optional<personal> p;
  if (phone) p = personal{*phone};
  return intake_submitted{"i-1",
                          "coach-a",
                          personal{"Zelda Quuxworth"},
                          personal{"zelda.q@example.org"},
                          p,
                          personal{"Run a marathon"},
                          personal{"Found you online"},
                          submitted_at};
}

accept_intake accept(std::string coach = "coach-a", std::string intake_id = "i-1") {
  return accept_intake{std::move(intake_id), std::move(coach), "client-1", "Mondays at 9",
                       decided_at};
}

intake_accepted accepted(std::optional<std::string> phone = std::string("+1 555 0100")) {
  std::optional<personal> p;
  if (phone) p = personal{*phone};
  return intake_accepted{"i-1",
                         "coach-a",
                         "client-1",
                         personal{"Zelda Quuxworth"},
                         personal{"zelda.q@example.org"},
                         p,
                         personal{"Run a marathon"},
                         personal{"Mondays at 9"},
                         decided_at};
}

decline_intake decline(std::string coach = "coach-a", std::string intake_id = "i-1") {
  return decline_intake{std::move(intake_id), std::move(coach), "Fully booked", decided_at};
}

intake_declined declined() {
  return intake_declined{"i-1", "coach-a", personal{"Fully booked"}, decided_at};
}

std::vector<domain_event> events(std::initializer_list<domain_event> list) { return list; }

const std::vector<intake_case>& cases() {
  static const std::vector<intake_case> table = {
      // Submitting.
      {"submit a new intake", {}, submit(), events({submitted()})},
      {"submit without a phone", {}, submit(std::nullopt), events({submitted(std::nullopt)})},
      {"submit twice", {submitted()}, submit(), refused{errc::conflict, "intake-exists"}},
      {"submit after acceptance",
       {submitted(), accepted()},
       submit(),
       refused{errc::conflict, "intake-exists"}},
      {"submit after decline",
       {submitted(), declined()},
       submit(),
       refused{errc::conflict, "intake-exists"}},

      // Accepting.
      {"accept a pending intake", {submitted()}, accept(), events({accepted()})},
      {"accept carries the absent phone",
       {submitted(std::nullopt)},
       accept(),
       events({accepted(std::nullopt)})},
      {"accept twice",
       {submitted(), accepted()},
       accept(),
       refused{errc::conflict, "intake-already-accepted"}},
      {"accept a declined intake",
       {submitted(), declined()},
       accept(),
       refused{errc::conflict, "intake-already-declined"}},
      {"accept another coach's intake",
       {submitted()},
       accept("coach-b"),
       refused{errc::not_found, ""}},
      {"accept another coach's accepted intake",
       {submitted(), accepted()},
       accept("coach-b"),
       refused{errc::not_found, ""}},
      {"accept an intake that does not exist", {}, accept(), refused{errc::not_found, ""}},

      // Declining.
      {"decline a pending intake", {submitted()}, decline(), events({declined()})},
      {"decline an accepted intake",
       {submitted(), accepted()},
       decline(),
       refused{errc::conflict, "intake-already-accepted"}},
      {"decline twice",
       {submitted(), declined()},
       decline(),
       refused{errc::conflict, "intake-already-declined"}},
      {"decline another coach's intake",
       {submitted()},
       decline("coach-b"),
       refused{errc::not_found, ""}},
      {"decline another coach's declined intake",
       {submitted(), declined()},
       decline("coach-b"),
       refused{errc::not_found, ""}},
      {"decline an intake that does not exist", {}, decline(), refused{errc::not_found, ""}},
  };
  return table;
}

}  // namespace

BOOST_AUTO_TEST_CASE(given_events_when_command_then_events_or_error) {
  for (const auto& c : cases()) {
    BOOST_TEST_CONTEXT(c.name) {
      const auto result = run(c.when, fold(c.given));
      if (const auto* expected = std::get_if<std::vector<domain_event>>(&c.then)) {
        BOOST_REQUIRE_MESSAGE(result.ok(), "refused: " << (result ? "" : result.err().detail));
        BOOST_TEST((result.value() == *expected));
      } else {
        const auto& why = std::get<refused>(c.then);
        BOOST_REQUIRE_MESSAGE(!result.ok(), "was not refused");
        BOOST_TEST((result.err().code == why.code));
        BOOST_TEST(result.err().type_suffix == why.reason);
        BOOST_TEST(!result.err().detail.empty());
      }
    }
  }
}

BOOST_AUTO_TEST_CASE(accepted_event_carries_the_applicants_details) {
  const auto result = intake::decide(accept(), fold({submitted()}));
  BOOST_REQUIRE(result.ok());
  BOOST_REQUIRE(result.value().size() == 1u);
  const auto* e = std::get_if<intake_accepted>(&result.value().front());
  BOOST_REQUIRE(e != nullptr);
  // From the submission, not from the command: onboarding needs nothing but this event.
  BOOST_TEST(e->name.value == "Zelda Quuxworth");
  BOOST_TEST(e->email.value == "zelda.q@example.org");
  BOOST_REQUIRE(e->phone.has_value());
  BOOST_TEST(e->phone->value == "+1 555 0100");
  BOOST_TEST(e->goals.value == "Run a marathon");
  BOOST_TEST(e->coach_id == "coach-a");
  BOOST_TEST(e->client_id == "client-1");
  BOOST_TEST(e->notes.value == "Mondays at 9");
  BOOST_TEST((e->accepted_at == decided_at));
}

BOOST_AUTO_TEST_CASE(not_found_does_not_reveal_whether_the_intake_exists) {
  // Another coach gets the same answer for an existing intake as for a missing one.
  const auto existing = intake::decide(accept("coach-b"), fold({submitted()}));
  const auto missing = intake::decide(accept("coach-b", "i-404"), fold({}));
  BOOST_REQUIRE(!existing.ok());
  BOOST_REQUIRE(!missing.ok());
  BOOST_TEST((existing.err().code == missing.err().code));
  BOOST_TEST(existing.err().type_suffix == missing.err().type_suffix);
}

BOOST_AUTO_TEST_CASE(evolve_tracks_status_and_details) {
  intake_state s = fold({submitted()});
  BOOST_TEST((s.status == intake_status::pending));
  BOOST_TEST(s.intake_id == "i-1");
  BOOST_TEST(s.coach_id == "coach-a");
  BOOST_TEST(s.name.value == "Zelda Quuxworth");
  BOOST_TEST(s.goals.value == "Run a marathon");
  intake::evolve(s, accepted());
  BOOST_TEST((s.status == intake_status::accepted));
  // A decided intake needs no applicant details for any decision: they are not kept.
  BOOST_TEST(s.name.value.empty());
  BOOST_TEST(s.email.value.empty());
  BOOST_TEST(s.goals.value.empty());
  BOOST_TEST(!s.phone.has_value());
  BOOST_TEST(s.coach_id == "coach-a");
  const auto declined_state = fold({submitted(), declined()});
  BOOST_TEST((declined_state.status == intake_status::declined));
  BOOST_TEST(declined_state.name.value.empty());
  BOOST_TEST((fold({}).status == intake_status::none));
}

BOOST_AUTO_TEST_CASE(decide_is_pure) {
  // Same state and command, same answer; the state itself is not changed by deciding.
  const intake_state s = fold({submitted()});
  const auto before = s.status;
  const auto a = intake::decide(accept(), s);
  const auto b = intake::decide(accept(), s);
  BOOST_REQUIRE(a.ok());
  BOOST_REQUIRE(b.ok());
  BOOST_TEST((a.value() == b.value()));
  BOOST_TEST((s.status == before));
}

BOOST_AUTO_TEST_CASE(intake_stream_names_the_intake) {
  BOOST_TEST(intake_stream("abc") == "intake-abc");
  BOOST_TEST(intake_stream("x") != intake_stream("y"));
}
