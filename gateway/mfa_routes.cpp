#include <boost/beast/http.hpp>
#include <boost/json.hpp>
#include <sodium.h>

#include "gateway/auth.hpp"
#include "gateway/command_bridge.hpp"
#include "gateway/identity.hpp"
#include "gateway/json_input.hpp"
#include "infra/crypto.hpp"
#include "infra/totp.hpp"

namespace coachd::gateway {

namespace http = boost::beast::http;
namespace json = boost::json;
using boost::asio::awaitable;

namespace {

std::int64_t unix_now() {
  return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

bool code_matches(const std::optional<std::string>& base32_secret, const std::string& code) {
  if (!base32_secret) return false;
  auto key = base32_decode(*base32_secret);
  return key && verify_totp(*key, code, unix_now()).has_value();
}

/// A recovery code as shown: 10 base32 characters in two groups ("ABCDE-FGHIJ").
std::string random_bytes(std::size_t n) {
  init_sodium();
  std::string bytes(n, '\0');
  randombytes_buf(bytes.data(), bytes.size());
  return bytes;
}

std::string new_recovery_code() {
  const std::string raw = base32_encode(random_bytes(7)).substr(0, 10);
  return raw.substr(0, 5) + "-" + raw.substr(5);
}

}  // namespace

std::string recovery_code_hash(std::string_view code) {
  std::string canonical;
  for (char ch : code) {
    if (ch == '-' || ch == ' ') continue;
    if (ch >= 'a' && ch <= 'z') ch = static_cast<char>(ch - 'a' + 'A');
    canonical += ch;
  }
  return token_hash_hex(canonical);
}

void add_mfa_routes(router& r, services& s, std::shared_ptr<identity_context> id) {
  r.add({http::verb::post, "/api/v1/auth/mfa/totp", "enrollTotp",
         "Start TOTP enrollment: a new secret and its otpauth:// URI (confirm with a code to turn MFA on)",
         access::signed_in, true, "caller"},
        [&s, id](request_context& ctx) -> awaitable<response> {
          const principal who = *caller(ctx);
          const std::string secret = base32_encode(random_bytes(20));
          auto account = co_await s.pool->run([&](pqxx::connection& c) -> std::optional<account_record> {
            auto found = find_account(c, false, who.account_id);
            if (!found || found->mfa_enabled) return found;
            pqxx::work tx(c);
            tx.exec_params(
                "INSERT INTO mfa_enrollments (account_id, secret, created_at) VALUES ($1::uuid, $2, now()) "
                "ON CONFLICT (account_id) DO UPDATE SET secret = EXCLUDED.secret, created_at = EXCLUDED.created_at",
                who.account_id, secret);
            tx.commit();
            return found;
          });
          if (!account) co_return problem_response(make_error(errc::not_found, "the account no longer exists"), ctx.req);
          if (account->mfa_enabled) {
            co_return problem_response(
                make_error(errc::conflict, "two-factor authentication is already on", {}, "mfa-enabled"), ctx.req);
          }
          auto res = json_response(
              http::status::created,
              json::value(json::object{{"secret", secret},
                                       {"otpauth_uri", totp_uri(id->settings.totp_issuer, account->email, secret)},
                                       {"algorithm", "SHA1"},
                                       {"digits", 6},
                                       {"period", 30}}),
              ctx.req);
          res.set(http::field::cache_control, "no-store");
          co_return res;
        });

  r.add({http::verb::post, "/api/v1/auth/mfa/totp/confirm", "confirmTotp",
         "Turn TOTP on with a code from the enrolled secret; answers the recovery codes (shown once)",
         access::signed_in, true, "caller"},
        [&s, id](request_context& ctx) -> awaitable<response> {
          static const json_schema schema{json_field::string("code").max_length(10)};
          auto in = parse_json_body(ctx.req, schema);
          if (!in) co_return problem_response(in.err(), ctx.req);
          const principal who = *caller(ctx);
          if (auto wait = id->limiter.check("mfa/account/" + who.account_id, id->settings.mfa_account)) {
            co_return too_many_requests(ctx, *wait);
          }
          struct pending {
            std::optional<account_record> account;
            std::optional<std::string> secret;
          };
          auto found = co_await s.pool->run([&](pqxx::connection& c) {
            pending p;
            p.account = find_account(c, false, who.account_id);
            pqxx::read_transaction tx(c);
            auto rows = tx.exec_params(
                "SELECT secret FROM mfa_enrollments WHERE account_id = $1::uuid AND created_at > now() - interval "
                "'1 hour'",
                who.account_id);
            if (!rows.empty()) p.secret = rows[0][0].as<std::string>();
            return p;
          });
          if (!found.account) {
            co_return problem_response(make_error(errc::not_found, "the account no longer exists"), ctx.req);
          }
          if (!found.secret) {
            co_return problem_response(make_error(errc::conflict,
                                                  "no TOTP enrollment in progress: POST /api/v1/auth/mfa/totp first",
                                                  {}, "no-enrollment"),
                                       ctx.req);
          }
          if (!code_matches(found.secret, in->string("code"))) {
            id->limiter.take("mfa/account/" + who.account_id, id->settings.mfa_account);
            co_return problem_response(make_error(errc::invalid, "the code does not match the secret", {"code"}),
                                       ctx.req);
          }
          json::array codes;
          std::vector<std::string> hashes;
          for (int i = 0; i < 10; ++i) {
            const std::string code = new_recovery_code();
            codes.push_back(json::value(code));
            hashes.push_back(recovery_code_hash(code));
          }
          command_body body_14 = enable_mfa{who.account_id, *found.secret, hashes, now_utc()};
          auto enabled = co_await record(ctx, s, found.account->email, std::move(body_14));
          if (!enabled) co_return problem_response(enabled.err(), ctx.req);
          co_await s.pool->run([&](pqxx::connection& c) {
            pqxx::work tx(c);
            tx.exec_params("DELETE FROM mfa_enrollments WHERE account_id = $1::uuid", who.account_id);
            tx.commit();
          });
          auto res = command_response(ctx, http::status::ok, enabled.value(),
                                      {{"mfa_enabled", true}, {"recovery_codes", std::move(codes)}});
          res.set(http::field::cache_control, "no-store");
          co_return res;
        });

  r.add({http::verb::post, "/api/v1/auth/mfa/totp/disable", "disableTotp",
         "Turn TOTP off with a fresh code from the authenticator", access::signed_in, true, "caller"},
        [&s, id](request_context& ctx) -> awaitable<response> {
          static const json_schema schema{json_field::string("code").max_length(10)};
          auto in = parse_json_body(ctx.req, schema);
          if (!in) co_return problem_response(in.err(), ctx.req);
          const principal who = *caller(ctx);
          if (auto wait = id->limiter.check("mfa/account/" + who.account_id, id->settings.mfa_account)) {
            co_return too_many_requests(ctx, *wait);
          }
          auto account =
              co_await s.pool->run([&](pqxx::connection& c) { return find_account(c, false, who.account_id); });
          if (!account) co_return problem_response(make_error(errc::not_found, "the account no longer exists"), ctx.req);
          if (!account->mfa_enabled) {
            co_return problem_response(
                make_error(errc::conflict, "two-factor authentication is not on", {}, "mfa-disabled"), ctx.req);
          }
          if (!code_matches(account->totp_secret, in->string("code"))) {
            id->limiter.take("mfa/account/" + who.account_id, id->settings.mfa_account);
            co_return problem_response(make_error(errc::invalid, "the code is wrong", {"code"}), ctx.req);
          }
          command_body body_15 = disable_mfa{who.account_id, now_utc()};
          auto disabled = co_await record(ctx, s, account->email, std::move(body_15));
          if (!disabled) co_return problem_response(disabled.err(), ctx.req);
          co_return command_response(ctx, http::status::ok, disabled.value(), {{"mfa_enabled", false}});
        });
}

}  // namespace coachd::gateway
