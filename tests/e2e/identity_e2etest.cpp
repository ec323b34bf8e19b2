// Identity and access over HTTP against an in-process coachd (PostgreSQL log): sign-up with
// password rules and the e-mail verification link, sessions (list, revoke, idle and absolute
// expiry), password reset, TOTP MFA with recovery codes, rate limits, and the audit trail.

#ifdef BOOST_TEST_UNIT_TEST_HPP_071894GER
#include <boost/test/unit_test.hpp>
bool init_unit_test() {
  boost::unit_test::framework::master_test_suite().p_name.value = "identity_e2e";
  return true;
}
int main(int argc, char* argv[]) {
  return boost::unit_test::unit_test_main(&init_unit_test, argc, argv);
}
#else
#define BOOST_TEST_MODULE identity_e2e
#include <boost/test/unit_test.hpp>
#endif

#include <pqxx/pqxx>
#include <regex>

#include "infra/totp.hpp"
#include "tests/infra/oidc_provider.hpp"
#include "tests/e2e/intake_slice.hpp"
#include "tests/support/pg_test_db.hpp"
#include "tests/support/e2e_config.hpp"

using namespace coachd;
namespace json = boost::json;
using test::as_object;
using test::http_call;
using test::http_reply;
using test::str;

namespace {

using headers = std::vector<std::pair<std::string, std::string>>;

/// The text of the newest mail to `to` whose subject contains `subject`, quoted-printable
/// soft line breaks and =3D undone ("" when none arrives within the bounded wait).
std::string wait_for_mail(const std::filesystem::path& dir, const std::string& to, const std::string& subject,
                          std::size_t skip = 0) {
  std::string found;
  test::eventually([&] {
    if (!std::filesystem::exists(dir)) return false;
    std::vector<std::filesystem::path> files;
    for (const auto& f : std::filesystem::directory_iterator(dir)) {
      if (f.path().extension() == ".eml") files.push_back(f.path());
    }
    std::sort(files.begin(), files.end());
    std::size_t seen = 0;
    for (const auto& f : files) {
      std::ifstream in(f);
      std::stringstream text;
      text << in.rdbuf();
      std::string t = text.str();
      if (t.find("To: " + to) == std::string::npos || t.find(subject) == std::string::npos) continue;
      if (seen++ < skip) continue;
      std::string decoded;
      for (std::size_t i = 0; i < t.size(); ++i) {
        if (t.compare(i, 3, "=\r\n") == 0) {
          i += 2;
        } else if (t.compare(i, 3, "=3D") == 0) {
          decoded += '=';
          i += 2;
        } else {
          decoded += t[i];
        }
      }
      found = decoded;
      return true;
    }
    return false;
  });
  return found;
}

std::string token_in(const std::string& mail, const std::string& path) {
  std::smatch m;
  const std::regex re(path + "\\?token=([A-Za-z0-9_-]+)");
  if (!std::regex_search(mail, m, re)) return "";
  return m[1].str();
}

std::string current_code(const std::string& base32_secret) {
  const auto now = std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch())
                       .count();
  return totp_code(*base32_decode(base32_secret), now);
}

headers bearer(const std::string& token) { return {{"Authorization", "Bearer " + token}}; }

struct coachd_under_test {
  test::test_database db;
  std::filesystem::path mail_dir;
  std::unique_ptr<gateway::app> app;
  std::uint16_t port = 0;

  coachd_under_test() {
    mail_dir = test::mail_dir_for(db);
    gateway::app_config config = test::e2e_config(db, mail_dir);
    app = std::make_unique<gateway::app>(config);
    app->start();
    app->seed_demo_accounts();
    port = app->port();
  }
  ~coachd_under_test() {
    app->stop();
    std::filesystem::remove_all(mail_dir);
  }
  void sql(const std::string& statement) {
    pqxx::connection c(db.conninfo());
    pqxx::work tx(c);
    tx.exec(statement);
    tx.commit();
  }
};

}  // namespace

BOOST_AUTO_TEST_CASE(identity_and_access_over_http) {
  coachd_under_test t;
  const auto port = t.port;

  // --- Sign-up: password rules, then the verification link through the outbox. ---
  auto weak = [&](const std::string& password) {
    return http_call(port, "POST", "/api/v1/auth/sign-up",
                     json::serialize(json::object{{"email", "nia@example.org"},
                                                  {"password", password},
                                                  {"display_name", "Nia"},
                                                  {"role", "client"}}));
  };
  for (const std::string bad : {"short pw", "Password123", "nia@example.org", "NIA@example.org"}) {
    auto r = weak(bad);
    BOOST_TEST(r.status == 422, bad << ": " << r.body);
    BOOST_TEST(r.body.find("password") != std::string::npos);
  }
  auto signup = weak("a sturdy passphrase for nia");
  BOOST_TEST_REQUIRE(signup.status == 201, signup.body);
  const std::string nia_id = str(as_object(signup), "id");
  BOOST_TEST(as_object(signup).at("email_verified").as_bool() == false);
  const std::string verify_mail = wait_for_mail(t.mail_dir, "nia@example.org", "Confirm your e-mail address");
  BOOST_TEST_REQUIRE(!verify_mail.empty());
  const std::string verify_token = token_in(verify_mail, "/verify-email");
  BOOST_TEST_REQUIRE(verify_token.size() == 43u);
  auto nia = test::sign_in(port, "nia@example.org", "a sturdy passphrase for nia", signup.header("X-Consistency-Token"));
  BOOST_TEST(as_object(http_call(port, "GET", "/api/v1/me", "", nia.bearer())).at("email_verified").as_bool() == false);
  auto verified = http_call(port, "POST", "/api/v1/auth/verify-email", json::serialize(json::object{{"token", verify_token}}));
  BOOST_TEST_REQUIRE(verified.status == 200, verified.body);
  auto again = http_call(port, "POST", "/api/v1/auth/verify-email", json::serialize(json::object{{"token", verify_token}}));
  BOOST_TEST(again.status == 422);  // single use
  BOOST_TEST(again.body.find("token") != std::string::npos);
  auto me = http_call(port, "GET", "/api/v1/me?after=" + verified.header("X-Consistency-Token"), "", nia.bearer());
  BOOST_TEST(as_object(me).at("email_verified").as_bool() == true);

  // --- Sessions: list, revoke one, revoke all others, idle and absolute expiry. ---
  auto second = http_call(port, "POST", "/api/v1/auth/sign-in",
                          R"({"email":"nia@example.org","password":"a sturdy passphrase for nia"})",
                          {{"User-Agent", "NiaPhone/2.0"}});
  BOOST_TEST_REQUIRE(second.status == 200, second.body);
  const std::string second_token = str(as_object(second), "token");
  const std::string second_id = str(as_object(second), "session_id");
  const std::string set_cookie = second.header("Set-Cookie");
  BOOST_TEST(set_cookie.find("HttpOnly") != std::string::npos);
  BOOST_TEST(set_cookie.find("SameSite=Lax") != std::string::npos);
  auto listed = http_call(port, "GET", "/api/v1/auth/sessions", "", nia.bearer());
  BOOST_TEST_REQUIRE(listed.status == 200, listed.body);
  auto sessions = as_object(listed).at("items").as_array();
  BOOST_TEST(sessions.size() == 2u);
  int current = 0;
  bool saw_phone = false;
  for (const auto& s : sessions) {
    current += s.as_object().at("current").as_bool() ? 1 : 0;
    saw_phone = saw_phone || str(s.as_object(), "user_agent") == "NiaPhone/2.0";
    BOOST_TEST(!str(s.as_object(), "created_at").empty());
    BOOST_TEST(!str(s.as_object(), "last_seen_at").empty());
  }
  BOOST_TEST(current == 1);
  BOOST_TEST(saw_phone);
  BOOST_TEST(listed.body.find(nia.token) == std::string::npos);  // tokens are never shown
  // Another account cannot see or revoke it: 404.
  auto coach = test::sign_in(port, "coach@example.com", "coach-demo-pass-2026");
  BOOST_TEST(http_call(port, "DELETE", "/api/v1/auth/sessions/" + second_id, "", coach.bearer()).status == 404);
  BOOST_TEST(http_call(port, "GET", "/api/v1/me", "", bearer(second_token)).status == 200);
  BOOST_TEST(http_call(port, "DELETE", "/api/v1/auth/sessions/" + second_id, "", nia.bearer()).status == 204);
  BOOST_TEST(http_call(port, "GET", "/api/v1/me", "", bearer(second_token)).status == 401);
  BOOST_TEST(http_call(port, "DELETE", "/api/v1/auth/sessions/" + second_id, "", nia.bearer()).status == 404);
  auto third = test::sign_in(port, "nia@example.org", "a sturdy passphrase for nia");
  auto fourth = test::sign_in(port, "nia@example.org", "a sturdy passphrase for nia");
  auto others = http_call(port, "DELETE", "/api/v1/auth/sessions", "", nia.bearer());
  BOOST_TEST_REQUIRE(others.status == 200, others.body);
  BOOST_TEST(as_object(others).at("revoked").as_int64() == 2);
  BOOST_TEST(http_call(port, "GET", "/api/v1/me", "", third.bearer()).status == 401);
  BOOST_TEST(http_call(port, "GET", "/api/v1/me", "", fourth.bearer()).status == 401);
  BOOST_TEST(http_call(port, "GET", "/api/v1/me", "", nia.bearer()).status == 200);
  // Idle expiry (last seen too long ago) and absolute expiry, whatever the activity.
  auto idle = test::sign_in(port, "nia@example.org", "a sturdy passphrase for nia");
  auto old = test::sign_in(port, "nia@example.org", "a sturdy passphrase for nia");
  t.sql("UPDATE auth_sessions SET last_seen_at = now() - interval '3 days' WHERE session_id IN (SELECT session_id "
        "FROM auth_sessions ORDER BY created_at DESC OFFSET 1 LIMIT 1)");
  t.sql("UPDATE auth_sessions SET expires_at = now() - interval '1 second' WHERE session_id = (SELECT session_id "
        "FROM auth_sessions ORDER BY created_at DESC LIMIT 1)");
  BOOST_TEST(http_call(port, "GET", "/api/v1/me", "", idle.bearer()).status == 401);
  BOOST_TEST(http_call(port, "GET", "/api/v1/me", "", old.bearer()).status == 401);
  {
    pqxx::connection c(t.db.conninfo());
    pqxx::read_transaction tx(c);
    // Tokens are stored hashed only.
    BOOST_TEST(tx.exec_params("SELECT 1 FROM auth_sessions WHERE token_hash = $1", nia.token).empty());
  }

  // --- Password reset: always 202; single-use token; ends every session. ---
  auto unknown = http_call(port, "POST", "/api/v1/auth/password-reset", R"({"email":"nobody@example.org"})");
  BOOST_TEST(unknown.status == 202);
  auto requested = http_call(port, "POST", "/api/v1/auth/password-reset", R"({"email":"Nia@Example.org"})");
  BOOST_TEST(requested.status == 202);
  BOOST_TEST(unknown.body == requested.body);
  const std::string reset_mail = wait_for_mail(t.mail_dir, "nia@example.org", "Reset your password");
  const std::string reset_token = token_in(reset_mail, "/reset-password");
  BOOST_TEST_REQUIRE(reset_token.size() == 43u);
  auto weak_reset = http_call(port, "POST", "/api/v1/auth/password-reset/confirm",
                              json::serialize(json::object{{"token", reset_token}, {"password", "qwertyuiop"}}));
  BOOST_TEST(weak_reset.status == 422);
  auto reset = http_call(port, "POST", "/api/v1/auth/password-reset/confirm",
                         json::serialize(json::object{{"token", reset_token}, {"password", "a brand new passphrase"}}));
  BOOST_TEST_REQUIRE(reset.status == 200, reset.body);
  BOOST_TEST(as_object(reset).at("sessions_ended").as_int64() >= 1);
  BOOST_TEST(http_call(port, "GET", "/api/v1/me", "", nia.bearer()).status == 401);
  auto reused = http_call(port, "POST", "/api/v1/auth/password-reset/confirm",
                          json::serialize(json::object{{"token", reset_token}, {"password", "yet another passphrase"}}));
  BOOST_TEST(reused.status == 422);
  const std::string after_reset = reset.header("X-Consistency-Token");
  BOOST_TEST(http_call(port, "POST", "/api/v1/auth/sign-in",
                       R"({"email":"nia@example.org","password":"a sturdy passphrase for nia"})",
                       {{"X-Consistency-Token", after_reset}})
                 .status == 401);
  nia = test::sign_in(port, "nia@example.org", "a brand new passphrase", after_reset);

  // --- TOTP MFA: enroll, confirm, sign-in asks for the code, recovery codes, disable. ---
  auto enrolled = http_call(port, "POST", "/api/v1/auth/mfa/totp", "", nia.bearer());
  BOOST_TEST_REQUIRE(enrolled.status == 201, enrolled.body);
  const std::string secret = str(as_object(enrolled), "secret");
  BOOST_TEST(str(as_object(enrolled), "otpauth_uri").rfind("otpauth://totp/coachd:nia%40example.org?secret=" + secret, 0) == 0);
  const std::string wrong_code = current_code(secret) == "000000" ? "111111" : "000000";
  BOOST_TEST(http_call(port, "POST", "/api/v1/auth/mfa/totp/confirm", json::serialize(json::object{{"code", wrong_code}}),
                       nia.bearer())
                 .status == 422);
  auto confirmed = http_call(port, "POST", "/api/v1/auth/mfa/totp/confirm",
                             json::serialize(json::object{{"code", current_code(secret)}}), nia.bearer());
  BOOST_TEST_REQUIRE(confirmed.status == 200, confirmed.body);
  auto codes = as_object(confirmed).at("recovery_codes").as_array();
  BOOST_TEST_REQUIRE(codes.size() == 10u);
  const std::string after_mfa = confirmed.header("X-Consistency-Token");
  const std::string nia_login = R"({"email":"nia@example.org","password":"a brand new passphrase")";
  auto asks = http_call(port, "POST", "/api/v1/auth/sign-in", nia_login + "}", {{"X-Consistency-Token", after_mfa}});
  BOOST_TEST(asks.status == 401);
  BOOST_TEST(asks.body.find("mfa-required") != std::string::npos);
  auto with_code = http_call(port, "POST", "/api/v1/auth/sign-in",
                             nia_login + R"(,"totp_code":")" + current_code(secret) + "\"}");
  BOOST_TEST(with_code.status == 200, with_code.body);
  const std::string recovery = json::value_to<std::string>(codes[0]);
  auto with_recovery =
      http_call(port, "POST", "/api/v1/auth/sign-in", nia_login + R"(,"recovery_code":")" + recovery + "\"}");
  BOOST_TEST(with_recovery.status == 200, with_recovery.body);
  auto recovery_again =
      http_call(port, "POST", "/api/v1/auth/sign-in", nia_login + R"(,"recovery_code":")" + recovery + "\"}");
  BOOST_TEST(recovery_again.status == 401);  // single use
  BOOST_TEST(http_call(port, "POST", "/api/v1/auth/mfa/totp/disable", json::serialize(json::object{{"code", wrong_code}}),
                       nia.bearer())
                 .status == 422);
  auto disabled = http_call(port, "POST", "/api/v1/auth/mfa/totp/disable",
                            json::serialize(json::object{{"code", current_code(secret)}}), nia.bearer());
  BOOST_TEST_REQUIRE(disabled.status == 200, disabled.body);
  BOOST_TEST(http_call(port, "POST", "/api/v1/auth/sign-in", nia_login + "}",
                       {{"X-Consistency-Token", disabled.header("X-Consistency-Token")}})
                 .status == 200);

  // --- Rate limits: failures slow one account down (429 + Retry-After, even with the right
  // password); a reset address is limited; so is one IP. ---
  http_reply limited;
  int attempts = 0;
  while (attempts < 10) {
    ++attempts;
    limited = http_call(port, "POST", "/api/v1/auth/sign-in", R"({"email":"nia@example.org","password":"not my password"})");
    if (limited.status == 429) break;
    BOOST_TEST(limited.status == 401);
  }
  BOOST_TEST_REQUIRE(limited.status == 429);
  BOOST_TEST(attempts == 6);  // five failures allowed
  BOOST_TEST(std::stoi(limited.header("Retry-After")) >= 1);
  BOOST_TEST(http_call(port, "POST", "/api/v1/auth/sign-in", nia_login + "}").status == 429);
  // Another account from the same address is unaffected.
  BOOST_TEST(http_call(port, "POST", "/api/v1/auth/sign-in",
                       R"({"email":"client@example.com","password":"client-demo-pass-2026"})")
                 .status == 200);
  int reset_429 = 0;
  for (int i = 0; i < 5; ++i) {
    if (http_call(port, "POST", "/api/v1/auth/password-reset", R"({"email":"someone@example.org"})").status == 429) {
      ++reset_429;
    }
  }
  BOOST_TEST(reset_429 >= 2);  // three links per address, then one every five minutes

  // --- Audit trail: admin only, filtered. ---
  auto admin = test::sign_in(port, "admin@example.com", "admin-demo-pass-2026");
  BOOST_TEST(http_call(port, "GET", "/api/v1/admin/audit").status == 401);
  BOOST_TEST(http_call(port, "GET", "/api/v1/admin/audit", "", coach.bearer()).status == 403);
  std::set<std::string> types;
  BOOST_TEST(test::eventually([&] {
    auto audit = http_call(port, "GET", "/api/v1/admin/audit?limit=200&account_id=" + nia_id, "", admin.bearer());
    if (audit.status != 200) return false;
    types.clear();
    const auto listed_audit = as_object(audit);
    for (const auto& e : listed_audit.at("items").as_array()) {
      if (str(e.as_object(), "account_id") != nia_id) return false;
      types.insert(str(e.as_object(), "type"));
    }
    return types.count("SignInFailed") == 1 && types.count("MfaDisabled") == 1;
  }));
  for (const char* type : {"AccountRegistered", "EmailVerified", "SignedIn", "SignInFailed", "SessionRevoked",
                           "PasswordResetRequested", "PasswordChanged", "MfaEnabled", "RecoveryCodeUsed",
                           "MfaDisabled"}) {
    BOOST_TEST(types.count(type) == 1, "audit has " << type);
  }
  auto failures = http_call(port, "GET", "/api/v1/admin/audit?type=SignInFailed&limit=2", "", admin.bearer());
  BOOST_TEST_REQUIRE(failures.status == 200, failures.body);
  auto page1 = as_object(failures);
  BOOST_TEST(page1.at("items").as_array().size() == 2u);
  for (const auto& e : page1.at("items").as_array()) BOOST_TEST(str(e.as_object(), "type") == "SignInFailed");
  auto page2 = http_call(port, "GET", "/api/v1/admin/audit?type=SignInFailed&limit=2&cursor=" + str(page1, "next_cursor"),
                         "", admin.bearer());
  BOOST_TEST(page2.status == 200);
  BOOST_TEST(http_call(port, "GET", "/api/v1/admin/audit?since=yesterday", "", admin.bearer()).status == 422);

  // The log holds the audit events but no address or user agent in clear.
  {
    pqxx::connection c(t.db.conninfo());
    pqxx::read_transaction tx(c);
    std::string raw;
    for (const auto& row : tx.exec("SELECT e::text FROM coachd_log.events e")) raw += row[0].as<std::string>();
    BOOST_TEST(raw.find("SignedIn") != std::string::npos);
    BOOST_TEST(raw.find("NiaPhone") == std::string::npos);
    BOOST_TEST(raw.find("nia@example.org") == std::string::npos);
    BOOST_TEST(raw.find(secret) == std::string::npos);
  }

  // One IP is limited too (sign-in attempts for many addresses).
  bool ip_limited = false;
  for (int i = 0; i < 40 && !ip_limited; ++i) {
    auto r = http_call(port, "POST", "/api/v1/auth/sign-in",
                       R"({"email":"probe)" + std::to_string(i) + R"(@example.org","password":"whatever it is"})");
    ip_limited = r.status == 429 && !r.header("Retry-After").empty();
  }
  BOOST_TEST(ip_limited);
}

BOOST_AUTO_TEST_CASE(sign_in_with_an_openid_connect_provider) {
  // A local provider on loopback with its own RSA key; coachd is configured for it like for
  // Google (issuer, client id, secret), with plain http allowed for the test only.
  test::oidc_provider provider("coachd-e2e", "e2e-secret");
  ::setenv("COACHD_OIDC_ISSUER", provider.issuer().c_str(), 1);
  ::setenv("COACHD_OIDC_CLIENT_ID", "coachd-e2e", 1);
  ::setenv("COACHD_OIDC_CLIENT_SECRET", "e2e-secret", 1);
  ::setenv("COACHD_OIDC_ALLOW_HTTP", "1", 1);
  coachd_under_test t;
  ::unsetenv("COACHD_OIDC_ISSUER");
  const auto port = t.port;

  // The coach accepts Ada's intake: onboarding creates her client account (no password); the
  // welcome mail tells her to sign in with Google, which this does.
  auto coach = test::sign_in(port, "coach@example.com", "coach-demo-pass-2026");
  auto submitted = http_call(port, "POST", "/api/v1/coaches/" + coach.account_id + "/intakes",
                             R"({"name":"Ada Lovelace","email":"ada@example.org","goals":"g","message":"m"})");
  BOOST_TEST_REQUIRE(submitted.status == 201, submitted.body);
  auto accepted = http_call(port, "POST", "/api/v1/intakes/" + str(as_object(submitted), "id") + "/accept", "{}",
                            coach.bearer());
  BOOST_TEST_REQUIRE(accepted.status == 200, accepted.body);
  BOOST_TEST_REQUIRE(test::eventually([&] {
    pqxx::connection c(t.db.conninfo());
    pqxx::read_transaction tx(c);
    return !tx.exec("SELECT 1 FROM accounts WHERE email = 'ada@example.org'").empty();
  }));

  auto start = [&] {
    auto r = http_call(port, "GET", "/api/v1/auth/oidc/start");
    BOOST_TEST_REQUIRE(r.status == 302, r.body);
    const std::string location = r.header("Location");
    BOOST_TEST(location.rfind(provider.issuer() + "/authorize?", 0) == 0);
    BOOST_TEST(location.find("code_challenge_method=S256") != std::string::npos);
    BOOST_TEST(location.find("nonce=") != std::string::npos);
    return location;
  };
  auto callback = [&](const std::string& code, const std::string& state) {
    return http_call(port, "GET", "/api/v1/auth/oidc/callback?code=" + code + "&state=" + state);
  };

  // The happy path: Ada is signed in as the client the intake created.
  auto [code, state] = provider.authorize(start(), "ada@example.org");
  auto signed_in = callback(code, state);
  BOOST_TEST_REQUIRE(signed_in.status == 200, signed_in.body);
  const auto session = as_object(signed_in);
  BOOST_TEST(str(session.at("account").as_object(), "role") == "client");
  BOOST_TEST(signed_in.header("Set-Cookie").find("HttpOnly") != std::string::npos);
  auto me = http_call(port, "GET", "/api/v1/me", "", {{"Authorization", "Bearer " + str(session, "token")}});
  BOOST_TEST_REQUIRE(me.status == 200);
  BOOST_TEST(str(as_object(me), "email") == "ada@example.org");
  // The same redirect again (a replayed state) is refused.
  BOOST_TEST(callback(code, state).status == 401);
  BOOST_TEST(callback("whatever", "never-issued-state").status == 401);

  // Each bad ID token is refused: forged signature, wrong audience, expired, a nonce from
  // another sign-in (a replayed token), an address the provider has not verified.
  for (const auto bad : {test::oidc_provider::tamper::forged_signature, test::oidc_provider::tamper::wrong_audience,
                         test::oidc_provider::tamper::expired, test::oidc_provider::tamper::other_nonce,
                         test::oidc_provider::tamper::unverified_email, test::oidc_provider::tamper::alg_none}) {
    auto [c, s] = provider.authorize(start(), "ada@example.org");
    provider.set_tamper(bad);
    auto refused = callback(c, s);
    provider.set_tamper(test::oidc_provider::tamper::none);
    BOOST_TEST(refused.status == 401, static_cast<int>(bad) << ": " << refused.status << " " << refused.body);
    BOOST_TEST(refused.header("Set-Cookie").empty());
  }
  // A verified address without an account is not signed in.
  auto [c2, s2] = provider.authorize(start(), "stranger@example.org");
  BOOST_TEST(callback(c2, s2).status == 403);
}

BOOST_AUTO_TEST_CASE(oidc_unconfigured_is_503) {
  coachd_under_test t;
  auto r = http_call(t.port, "GET", "/api/v1/auth/oidc/start");
  BOOST_TEST(r.status == 503);
  BOOST_TEST(r.body.find("COACHD_OIDC_ISSUER") != std::string::npos);
}
