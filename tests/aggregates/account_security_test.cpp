// The account aggregate's security commands (aggregates/account.hpp): e-mail verification,
// password changes, MFA on/off, single-use recovery codes, and the audit records; given events,
// when a command, then the events or the error.

#ifdef BOOST_TEST_UNIT_TEST_HPP_071894GER
#include <boost/test/unit_test.hpp>
bool init_unit_test() {
  boost::unit_test::framework::master_test_suite().p_name.value = "account_security";
  return true;
}
int main(int argc, char* argv[]) {
  return boost::unit_test::unit_test_main(&init_unit_test, argc, argv);
}
#else
#define BOOST_TEST_MODULE account_security
#include <boost/test/unit_test.hpp>
#endif

#include <string>
#include <vector>

#include "aggregates/account.hpp"

using namespace coachd;

namespace {

const std::string id = "7c9e6679-7425-40de-944b-e07fc1f90ae7";
const timestamp t0 = *parse_rfc3339("2026-11-21T09:00:00.000Z");

account_state given(const std::vector<domain_event>& events) {
  account_state s;
  for (const auto& e : events) std::visit([&](const auto& ev) { account::evolve(s, ev); }, e);
  return s;
}

const account_registered registered{id, "coach", personal{"c@example.com"}, personal{"C"}, personal{"$argon2id$x"}, t0};

template <typename C>
std::vector<domain_event> then_events(const C& c, const account_state& s) {
  auto d = account::decide(c, s);
  BOOST_TEST_REQUIRE(d.ok(), (d.ok() ? "" : d.err().detail));
  return d.value();
}

template <typename C>
error then_error(const C& c, const account_state& s) {
  auto d = account::decide(c, s);
  BOOST_TEST_REQUIRE(!d.ok());
  return d.err();
}

}  // namespace

BOOST_AUTO_TEST_CASE(every_command_needs_the_account) {
  const account_state none;
  BOOST_TEST((then_error(verify_email{id, t0}, none).code == errc::not_found));
  BOOST_TEST((then_error(change_password{id, "h", "reset", t0}, none).code == errc::not_found));
  BOOST_TEST((then_error(record_sign_in{id, "s", "password", "ip", "ua", t0}, none).code == errc::not_found));
  BOOST_TEST((then_error(record_sign_in_failure{id, "password", "ip", t0}, none).code == errc::not_found));
  // Another account's id addressed to this stream is refused too.
  BOOST_TEST((then_error(verify_email{"other", t0}, given({registered})).code == errc::not_found));
}

BOOST_AUTO_TEST_CASE(verification_happens_once) {
  auto s = given({registered});
  auto events = then_events(verify_email{id, t0}, s);
  BOOST_TEST_REQUIRE(events.size() == 1u);
  BOOST_TEST((std::get<email_verified>(events[0]) == email_verified{id, t0}));
  s = given({registered, events[0]});
  BOOST_TEST(s.email_verified);
  BOOST_TEST(then_events(verify_email{id, t0}, s).empty());
}

BOOST_AUTO_TEST_CASE(password_changes_carry_the_sealed_hash_and_reason) {
  auto s = given({registered});
  auto events = then_events(change_password{id, "$argon2id$new", "reset", t0}, s);
  BOOST_TEST((std::get<password_changed>(events.at(0)) == password_changed{id, personal{"$argon2id$new"}, "reset", t0}));
  BOOST_TEST((then_error(change_password{id, "h", "whim", t0}, s).fields == std::vector<std::string>{"reason"}));
}

BOOST_AUTO_TEST_CASE(mfa_on_off_and_recovery_codes_work_once) {
  auto s = given({registered});
  BOOST_TEST((then_error(disable_mfa{id, t0}, s).code == errc::conflict));
  BOOST_TEST((then_error(use_recovery_code{id, "a", t0}, s).code == errc::unauthenticated));
  auto on = then_events(enable_mfa{id, "JBSWY3DPEHPK3PXP", {"a", "b"}, t0}, s);
  s = given({registered, on.at(0)});
  BOOST_TEST(s.mfa_enabled);
  BOOST_TEST((then_error(enable_mfa{id, "X", {}, t0}, s).code == errc::conflict));
  auto used = then_events(use_recovery_code{id, "a", t0}, s);
  s = given({registered, on.at(0), used.at(0)});
  BOOST_TEST(then_error(use_recovery_code{id, "a", t0}, s).type_suffix == "recovery-code-invalid");
  BOOST_TEST(then_events(use_recovery_code{id, "b", t0}, s).size() == 1u);
  BOOST_TEST((then_error(use_recovery_code{id, "zzz", t0}, s).code == errc::unauthenticated));
  auto off = then_events(disable_mfa{id, t0}, s);
  s = given({registered, on.at(0), used.at(0), off.at(0)});
  BOOST_TEST(!s.mfa_enabled);
  BOOST_TEST((then_error(use_recovery_code{id, "b", t0}, s).code == errc::unauthenticated));  // codes die with MFA
}

BOOST_AUTO_TEST_CASE(audit_records_seal_addresses_and_agents) {
  const auto s = given({registered});
  auto in = then_events(record_sign_in{id, "sess", "password+totp", "10.0.0.1", "Firefox", t0}, s);
  BOOST_TEST((std::get<signed_in>(in.at(0)) ==
              signed_in{id, "sess", "password+totp", personal{"10.0.0.1"}, personal{"Firefox"}, t0}));
  auto failed = then_events(record_sign_in_failure{id, "password", "10.0.0.2", t0}, s);
  BOOST_TEST(std::get<sign_in_failed>(failed.at(0)).ip_address.value == "10.0.0.2");
  auto revoked = then_events(record_session_revoked{id, "*", "password-reset", t0}, s);
  BOOST_TEST(std::get<session_revoked>(revoked.at(0)).session_id == "*");
  auto reset = then_events(request_password_reset{id, "10.0.0.3", t0}, s);
  BOOST_TEST(std::get<password_reset_requested>(reset.at(0)).ip_address.value == "10.0.0.3");
}
