#include "gateway/identity.hpp"

#include "gateway/session_cache.hpp"

#include <algorithm>
#include <array>
#include <boost/beast/http.hpp>
#include <cstdlib>

#include "gateway/command_bridge.hpp"
#include "gateway/routes.hpp"
#include "infra/crypto.hpp"

namespace coachd::gateway {

namespace http = boost::beast::http;

identity_settings identity_settings_from_environment() {
  identity_settings settings;
  auto env = [](const char* name) -> const char* {
    const char* v = std::getenv(name);
    return (v != nullptr && *v != '\0') ? v : nullptr;
  };
  if (auto v = env("COACHD_MAIL_FROM")) settings.mail_from = v;
  if (auto v = env("COACHD_TOTP_ISSUER")) settings.totp_issuer = v;
  return settings;
}

namespace {

/// Common passwords of 10 or more characters (shorter ones fail the length rule anyway), from
/// the most frequent entries of public breach corpora; compared case-insensitively.
constexpr std::array<std::string_view, 60> common_passwords = {
    "1234567890",   "12345678910",  "123456789a",   "0123456789",   "1234567890a",  "1q2w3e4r5t",
    "1q2w3e4r5t6y", "qwertyuiop",   "qwertyuiop1",  "qwerty12345",  "qwerty123456", "password12",
    "password123",  "password1234", "password!1",   "passw0rd123",  "iloveyou12",   "iloveyou123",
    "1qaz2wsx3edc", "zaq12wsxcde3", "asdfghjkl1",   "asdfghjkl;",   "zxcvbnm123",   "abcdefghij",
    "abc1234567",   "abcd123456",   "a123456789",   "princess12",   "sunshine12",   "football12",
    "football123",  "baseball12",   "basketball",   "letmein123",   "welcome123",   "welcome1234",
    "trustno1234",  "monkey1234",   "dragon1234",   "master1234",   "superman12",   "starwars12",
    "michael123",   "charlie123",   "1111111111",   "0000000000",   "9876543210",   "1122334455",
    "1234512345",   "123123123a",   "qazwsxedcrfv", "changeme123",  "administrator", "adminadmin",
    "computer12",   "internet12",   "whatever12",   "chocolate1",   "pokemon123",   "liverpool1"};

std::string lower(std::string_view text) {
  std::string out(text);
  for (auto& ch : out) {
    if (ch >= 'A' && ch <= 'Z') ch = static_cast<char>(ch - 'A' + 'a');
  }
  return out;
}

}  // namespace

std::optional<error> check_password_rules(std::string_view password, std::string_view email, const char* field) {
  // Length in code points, so a passphrase in any script counts what the person typed.
  std::size_t length = 0;
  for (unsigned char c : password) length += (c & 0xc0) != 0x80;
  if (length < 10) return make_error(errc::invalid, "the password must have at least 10 characters", {field});
  if (password.size() > 200) return make_error(errc::invalid, "the password must have at most 200 bytes", {field});
  const std::string folded = lower(password);
  if (folded == lower(email)) {
    return make_error(errc::invalid, "the password must not be the e-mail address", {field});
  }
  if (std::find(common_passwords.begin(), common_passwords.end(), folded) != common_passwords.end()) {
    return make_error(errc::invalid, "the password is one of the most common passwords; choose another", {field});
  }
  return std::nullopt;
}

response too_many_requests(const request_context& ctx, std::chrono::seconds retry_after) {
  auto res = problem_response(
      make_error(errc::rate_limited, "too many attempts; try again in " + std::to_string(retry_after.count()) + " s"),
      ctx.req);
  res.set(http::field::retry_after, std::to_string(retry_after.count()));
  return res;
}

std::optional<account_record> find_account(pqxx::connection_base& c, bool by_email, const std::string& key) {
  pqxx::read_transaction tx(c);
  auto rows = tx.exec_params(std::string("SELECT a.account_id::text, a.role, a.email, a.display_name, "
                                         "COALESCE(c.password_hash, a.password_hash), "
                                         "COALESCE(c.email_verified, false), COALESCE(c.mfa_enabled, false), "
                                         "c.totp_secret FROM accounts a LEFT JOIN account_credentials c "
                                         "USING (account_id) WHERE ") +
                                 (by_email ? "a.email = $1" : "a.account_id = $1::uuid"),
                             key);
  if (rows.empty()) return std::nullopt;
  const auto& row = rows[0];
  account_record a{row[0].as<std::string>(), row[1].as<std::string>(), row[2].as<std::string>(),
                   row[3].as<std::string>()};
  if (!row[4].is_null()) a.password_hash = row[4].as<std::string>();
  a.email_verified = row[5].as<bool>();
  a.mfa_enabled = row[6].as<bool>();
  if (!row[7].is_null()) a.totp_secret = row[7].as<std::string>();
  return a;
}

command account_command(const request_context& ctx, const services& s, const std::string& email,
                        command_body body) {
  command cmd;
  cmd.id = new_uuid();
  cmd.stream = account_stream_for(s, email);
  cmd.actor = actor_of(ctx);
  cmd.correlation_id = ctx.request_id.empty() ? cmd.id : ctx.request_id;
  cmd.causation_id = cmd.correlation_id;
  cmd.issued_at = now_utc();
  cmd.body = std::move(body);
  return cmd;
}

boost::asio::awaitable<result<command_outcome>> record(const request_context& ctx, services& s,
                                                       const std::string& email, command_body body) {
  command cmd = account_command(ctx, s, email, std::move(body));
  co_return co_await execute(*s.processor, std::move(cmd));
}

void forget_sessions(services& s, const std::string& account_id) {
  if (s.sessions != nullptr) s.sessions->evict_account(account_id);
}

std::size_t end_sessions(pqxx::connection_base& c, const std::string& account_id, const std::string& keep) {
  pqxx::work tx(c);
  auto r = tx.exec_params("DELETE FROM auth_sessions WHERE account_id = $1::uuid AND token_hash <> $2", account_id,
                          keep);
  tx.commit();
  return static_cast<std::size_t>(r.affected_rows());
}

std::string user_agent_of(const request_context& ctx) {
  if (auto ua = ctx.req.find(http::field::user_agent); ua != ctx.req.end()) {
    return std::string(ua->value().substr(0, 512));
  }
  return {};
}

}  // namespace coachd::gateway
