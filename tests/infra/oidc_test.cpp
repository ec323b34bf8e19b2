// The OpenID Connect relying party (infra/oidc.hpp) against a local provider with its own RSA
// key: discovery, JWKS cached by kid, and every ID-token check (signature, alg, iss, aud, exp,
// nonce, email_verified); plus the whole code flow with PKCE.

#ifdef BOOST_TEST_UNIT_TEST_HPP_071894GER
#include <boost/test/unit_test.hpp>
bool init_unit_test() {
  boost::unit_test::framework::master_test_suite().p_name.value = "oidc";
  return true;
}
int main(int argc, char* argv[]) {
  return boost::unit_test::unit_test_main(&init_unit_test, argc, argv);
}
#else
#define BOOST_TEST_MODULE oidc
#include <boost/test/unit_test.hpp>
#endif

#include "infra/oidc.hpp"
#include "tests/infra/oidc_provider.hpp"

using namespace coachd;
using tamper = test::oidc_provider::tamper;

namespace {

std::int64_t now_s() {
  return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}

oidc_config config_for(const test::oidc_provider& p) {
  oidc_config c;
  c.issuer = p.issuer();
  c.client_id = "coachd-test";
  c.client_secret = "s3cret";
  c.redirect_uri = "http://127.0.0.1:8080/api/v1/auth/oidc/callback";
  c.allow_insecure_http = true;
  return c;
}

}  // namespace

BOOST_AUTO_TEST_CASE(pkce_challenge_matches_rfc7636_appendix_b) {
  BOOST_TEST(pkce_challenge("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk") == "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM");
}

BOOST_AUTO_TEST_CASE(https_is_required_unless_configured_otherwise) {
  test::oidc_provider provider("coachd-test", "s3cret");
  auto c = config_for(provider);
  c.allow_insecure_http = false;
  oidc_client client(c);
  auto begun = client.begin();
  BOOST_TEST_REQUIRE(!begun.ok());
  BOOST_TEST(begun.err().detail.find("https") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(a_good_token_verifies_and_the_jwks_is_cached_by_kid) {
  test::oidc_provider provider("coachd-test", "s3cret");
  oidc_client client(config_for(provider));
  auto id = client.verify_id_token(provider.id_token("n-1", "ada@example.org"), "n-1", now_s());
  BOOST_TEST_REQUIRE(id.ok(), (id.ok() ? "" : id.err().detail));
  BOOST_TEST(id->email == "ada@example.org");
  BOOST_TEST(id->subject == "subject-ada@example.org");
  BOOST_TEST(client.verify_id_token(provider.id_token("n-2", "ada@example.org"), "n-2", now_s()).ok());
  BOOST_TEST(provider.jwks_fetches() == 1);
}

BOOST_AUTO_TEST_CASE(every_bad_token_is_refused) {
  test::oidc_provider provider("coachd-test", "s3cret");
  oidc_client client(config_for(provider));
  const std::pair<tamper, const char*> cases[] = {
      {tamper::forged_signature, "signature"}, {tamper::wrong_audience, "audience"}, {tamper::expired, "expired"},
      {tamper::other_nonce, "nonce"},          {tamper::unverified_email, "verified"}, {tamper::alg_none, "RS256"}};
  for (const auto& [t, why] : cases) {
    BOOST_TEST_CONTEXT("tamper " << why) {
      provider.set_tamper(t);
      auto id = client.verify_id_token(provider.id_token("n-1", "ada@example.org"), "n-1", now_s());
      BOOST_TEST_REQUIRE(!id.ok());
      BOOST_TEST((id.err().code == errc::unauthenticated));
      BOOST_TEST(id.err().detail.find(why) != std::string::npos, id.err().detail);
    }
  }
  provider.set_tamper(tamper::none);
  // Garbage and a token for another issuer's configuration.
  BOOST_TEST(!client.verify_id_token("not.a.token", "n", now_s()).ok());
  BOOST_TEST(!client.verify_id_token("abc", "n", now_s()).ok());
  auto other = config_for(provider);
  other.client_id = "another-client";
  oidc_client wrong_client(other);
  BOOST_TEST(!wrong_client.verify_id_token(provider.id_token("n", "ada@example.org"), "n", now_s()).ok());
}

BOOST_AUTO_TEST_CASE(the_code_flow_with_pkce) {
  test::oidc_provider provider("coachd-test", "s3cret");
  oidc_client client(config_for(provider));
  auto begun = client.begin();
  BOOST_TEST_REQUIRE(begun.ok(), (begun.ok() ? "" : begun.err().detail));
  BOOST_TEST(begun->url.find("code_challenge=" + pkce_challenge(begun->code_verifier)) != std::string::npos);
  auto [code, state] = provider.authorize(begun->url, "ada@example.org");
  BOOST_TEST(state == begun->state);
  // A wrong verifier is refused by the provider; the code is then spent.
  auto wrong = client.finish(code, "not-the-verifier", begun->nonce);
  BOOST_TEST(!wrong.ok());
  auto again = client.begin();
  auto [code2, state2] = provider.authorize(again->url, "ada@example.org");
  auto id = client.finish(code2, again->code_verifier, again->nonce);
  BOOST_TEST_REQUIRE(id.ok(), (id.ok() ? "" : id.err().detail));
  BOOST_TEST(id->email == "ada@example.org");
  // The code cannot be redeemed twice.
  BOOST_TEST(!client.finish(code2, again->code_verifier, again->nonce).ok());
}
