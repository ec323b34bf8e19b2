#include <boost/beast/http.hpp>
#include <boost/json.hpp>

#include "gateway/auth.hpp"
#include "gateway/command_bridge.hpp"
#include "gateway/identity.hpp"
#include "gateway/json_input.hpp"
#include "gateway/routes.hpp"
#include "infra/crypto.hpp"
#include "infra/mail_outbox.hpp"
#include "infra/password.hpp"
#include "infra/totp.hpp"

namespace coachd::gateway {

namespace http = boost::beast::http;
namespace json = boost::json;
using boost::asio::awaitable;

std::optional<std::string> email_identity(std::string_view address) {
  auto normalized = normalize_email(address);
  if (!normalized) return std::nullopt;
  std::string out = *normalized;
  for (auto& ch : out) {
    if (ch >= 'A' && ch <= 'Z') ch = static_cast<char>(ch - 'A' + 'a');
  }
  return out;
}

std::string account_stream_for(const services& s, const std::string& identity) {
  return account_stream(keyed_hash_hex(s.email_key, identity));
}

namespace {

json::object account_json(const account_record& a) {
  return {{"id", a.account_id},
          {"role", a.role},
          {"email", a.email},
          {"display_name", a.display_name},
          {"email_verified", a.email_verified},
          {"mfa_enabled", a.mfa_enabled}};
}

/// Session settings that may come from the environment (minutes / hours).
void apply_session_environment(gateway_settings& settings) {
  if (const char* v = std::getenv("COACHD_SESSION_IDLE_MINUTES"); v != nullptr && *v != '\0') {
    settings.session_idle = std::chrono::minutes(std::stoi(v));
  }
  if (const char* v = std::getenv("COACHD_SESSION_ABSOLUTE_HOURS"); v != nullptr && *v != '\0') {
    settings.session_absolute = std::chrono::hours(std::stoi(v));
  }
}

/// Waits (bounded) for both read models sign-in consults when the request names a token.
awaitable<std::optional<response>> await_identity_models(request_context& ctx, services& s) {
  if (auto wait = co_await await_read_model(ctx, s, "accounts")) co_return wait;
  if (s.runners.count("identity") != 0) {
    if (auto wait = co_await await_read_model(ctx, s, "identity")) co_return wait;
  }
  co_return std::nullopt;
}

}  // namespace

void add_auth_routes(router& r, services& s) {
  apply_session_environment(s.settings);
  auto id = std::make_shared<identity_context>(s);
  id->settings = identity_settings_from_environment();

  r.add({http::verb::post, "/api/v1/auth/sign-up", "signUp",
         "Create an account (coach or client) with e-mail and password; a verification link is mailed",
         access::anonymous, true, "public"},
        [&s, id](request_context& ctx) -> awaitable<response> {
          static const json_schema schema{
              json_field::email("email"),
              json_field::string("password").max_length(200),
              json_field::string("display_name").max_length(200),
              json_field::string("role").one_of({"coach", "client"}),
          };
          if (auto wait = id->limiter.take("sign-up/ip/" + ctx.client_address, id->settings.sign_up_ip)) {
            co_return too_many_requests(ctx, *wait);
          }
          auto in = parse_json_body(ctx.req, schema);
          if (!in) co_return problem_response(in.err(), ctx.req);
          const std::string identity = *email_identity(in->string("email"));
          if (auto bad = check_password_rules(in->string("password"), identity)) {
            co_return problem_response(*bad, ctx.req);
          }
          const std::string account_id = new_entity_id(ctx, "account");
          const std::string hash = hash_password(in->string("password"));
          auto cmd = command_from_request(ctx, account_stream_for(s, identity),
                                          register_account{account_id, in->string("role"), identity,
                                                           in->string("display_name"), hash, now_utc()});
          if (!cmd) co_return problem_response(cmd.err(), ctx.req);
          auto outcome = co_await execute(*s.processor, std::move(cmd.value()));
          if (!outcome) co_return problem_response(outcome.err(), ctx.req);
          if (!outcome->replayed) {
            // The verification link: a single-use token, stored hashed, mailed through the outbox.
            const std::string token = random_token(32);
            mail_message mail;
            mail.id = uuid_from_name("9c7e55d2-3b1a-4f0e-8d6c-2a4b9e1f7c30", "verify/" + account_id + "/" + token);
            mail.from = id->settings.mail_from;
            mail.to = identity;
            mail.subject = "Confirm your e-mail address";
            mail.text_body = "Hello " + in->string("display_name") +
                             ",\n\nplease confirm that this is your e-mail address by opening this link:\n\n" +
                             s.settings.portal_url + "/verify-email?token=" + token +
                             "\n\nThe link works once and expires in 48 hours. If you did not sign up, ignore "
                             "this message.\n";
            mail.extra_headers.emplace_back("Auto-Submitted", "auto-generated");
            const auto ttl = std::chrono::duration_cast<std::chrono::seconds>(id->settings.verification_ttl).count();
            co_await s.pool->run([&](pqxx::connection& c) {
              pqxx::work tx(c);
              tx.exec_params(
                  "INSERT INTO email_verifications (token_hash, account_id, expires_at) "
                  "VALUES ($1, $2, now() + make_interval(secs => $3))",
                  token_hash_hex(token), account_id, ttl);
              mail_outbox::enqueue(tx, mail);
              tx.commit();
            });
          }
          co_return command_response(ctx, http::status::created, outcome.value(),
                                     {{"id", account_id}, {"role", in->string("role")}, {"email_verified", false}});
        });

  r.add({http::verb::post, "/api/v1/auth/verify-email", "verifyEmail",
         "Confirm an e-mail address with the single-use token from the sign-up mail", access::anonymous, true,
         "public"},
        [&s](request_context& ctx) -> awaitable<response> {
          static const json_schema schema{json_field::string("token").max_length(128)};
          auto in = parse_json_body(ctx.req, schema);
          if (!in) co_return problem_response(in.err(), ctx.req);
          const std::string hash = token_hash_hex(in->string("token"));
          auto account = co_await s.pool->run([&](pqxx::connection& c) -> std::optional<account_record> {
            pqxx::read_transaction tx(c);
            auto rows = tx.exec_params(
                "SELECT account_id::text FROM email_verifications WHERE token_hash = $1 AND expires_at > now()", hash);
            if (rows.empty()) return std::nullopt;
            const std::string account_id = rows[0][0].as<std::string>();
            tx.commit();
            return find_account(c, false, account_id);
          });
          if (!account) {
            co_return problem_response(
                make_error(errc::invalid, "the verification link is not valid, was used already or expired", {"token"},
                           "invalid-token"),
                ctx.req);
          }
          command_body body_1 = verify_email{account->account_id, now_utc()};
          auto outcome = co_await record(ctx, s, account->email, std::move(body_1));
          if (!outcome) co_return problem_response(outcome.err(), ctx.req);
          co_await s.pool->run([&](pqxx::connection& c) {
            pqxx::work tx(c);
            tx.exec_params("DELETE FROM email_verifications WHERE account_id = $1::uuid", account->account_id);
            tx.commit();
          });
          co_return command_response(ctx, http::status::ok, outcome.value(),
                                     {{"id", account->account_id}, {"email_verified", true}});
        });

  r.add({http::verb::post, "/api/v1/auth/sign-in", "signIn",
         "Sign in with e-mail and password (and a TOTP or recovery code when MFA is on): a session cookie and "
         "the same token as a bearer token",
         access::anonymous, true, "public"},
        [&s, id](request_context& ctx) -> awaitable<response> {
          static const json_schema schema{json_field::email("email"), json_field::string("password").max_length(200),
                                          json_field::string("totp_code").optional().max_length(10),
                                          json_field::string("recovery_code").optional().max_length(64)};
          if (auto wait = id->limiter.take("sign-in/ip/" + ctx.client_address, id->settings.sign_in_ip)) {
            co_return too_many_requests(ctx, *wait);
          }
          auto in = parse_json_body(ctx.req, schema);
          if (!in) co_return problem_response(in.err(), ctx.req);
          if (auto wait = co_await await_identity_models(ctx, s)) co_return std::move(*wait);
          const std::string identity = *email_identity(in->string("email"));
          const std::string account_key = "sign-in/account/" + identity;
          // Repeated failures slow the account down (the bucket refills, so never for good).
          if (auto wait = id->limiter.check(account_key, id->settings.sign_in_account)) {
            co_return too_many_requests(ctx, *wait);
          }
          const std::string password = in->string("password");
          auto account = co_await s.pool->run([&](pqxx::connection& c) {
            auto found = find_account(c, true, identity);
            // An unknown address costs as much as a wrong password: no probing by timing.
            const bool ok = found && found->password_hash ? verify_password(*found->password_hash, password)
                                                          : (verify_dummy_password(password), false);
            return ok ? found : std::nullopt;
          });
          if (!account) {
            id->limiter.take(account_key, id->settings.sign_in_account);
            // Record the failure on the account when the address has one.
            auto known = co_await s.pool->run([&](pqxx::connection& c) { return find_account(c, true, identity); });
            if (known) {
              command_body body_2 = record_sign_in_failure{known->account_id, "password", ctx.client_address, now_utc()};
              co_await record(ctx, s, identity, std::move(body_2));
            }
            co_return problem_response(make_error(errc::unauthenticated, "the e-mail address or the password is wrong"),
                                       ctx.req);
          }
          std::string method = "password";
          if (account->mfa_enabled) {
            const std::string* code = in->find_string("totp_code");
            const std::string* recovery = in->find_string("recovery_code");
            if ((code == nullptr || code->empty()) && (recovery == nullptr || recovery->empty())) {
              co_return problem_response(
                  make_error(errc::unauthenticated,
                             "this account has two-factor authentication: send totp_code (or a recovery_code)",
                             {"totp_code"}, "mfa-required"),
                  ctx.req);
            }
            bool ok = false;
            if (code != nullptr && !code->empty()) {
              auto key = account->totp_secret ? base32_decode(*account->totp_secret) : std::nullopt;
              const auto now_s = std::chrono::duration_cast<std::chrono::seconds>(
                                     std::chrono::system_clock::now().time_since_epoch())
                                     .count();
              ok = key && verify_totp(*key, *code, now_s).has_value();
              method = "password+totp";
            } else {
              command_body body_3 = use_recovery_code{account->account_id, recovery_code_hash(*recovery), now_utc()};
              auto used = co_await record(ctx, s, identity, std::move(body_3));
              ok = used.ok();
              method = "password+recovery-code";
            }
            if (!ok) {
              id->limiter.take(account_key, id->settings.sign_in_account);
              command_body body_4 = record_sign_in_failure{account->account_id, "mfa-code", ctx.client_address, now_utc()};
              co_await record(ctx, s, identity, std::move(body_4));
              co_return problem_response(
                  make_error(errc::unauthenticated, "the two-factor code is wrong or was used already",
                             {code != nullptr && !code->empty() ? "totp_code" : "recovery_code"}, "mfa-code-wrong"),
                  ctx.req);
            }
          }
          id->limiter.reset(account_key);
          const std::string user_agent = user_agent_of(ctx);
          auto session = co_await s.pool->run([&](pqxx::connection& c) {
            return create_session(c, s.settings, account->account_id, account->role, user_agent, ctx.client_address);
          });
          command_body body_5 = record_sign_in{account->account_id, session.session_id, method, ctx.client_address, user_agent, now_utc()};
          auto audited = co_await record(ctx, s, identity, std::move(body_5));
          if (!audited) co_return problem_response(audited.err(), ctx.req);
          json::object body{{"token", session.token},
                            {"token_type", "Bearer"},
                            {"csrf_token", session.csrf_token},
                            {"session_id", session.session_id},
                            {"expires_at", session.expires_at},
                            {"account", account_json(*account)}};
          auto res = json_response(http::status::ok, json::value(std::move(body)), ctx.req);
          res.set(http::field::set_cookie, session_cookie_header(s.settings, session.token));
          res.set(http::field::cache_control, "no-store");
          co_return res;
        });

  r.add({http::verb::post, "/api/v1/auth/sign-out", "signOut", "End the caller's session", access::signed_in, true,
         "caller"},
        [&s](request_context& ctx) -> awaitable<response> {
          const principal who = *caller(ctx);
          auto account = co_await s.pool->run([&](pqxx::connection& c) {
            pqxx::work tx(c);
            tx.exec_params("DELETE FROM auth_sessions WHERE token_hash = $1", who.token_hash);
            tx.commit();
            return find_account(c, false, who.account_id);
          });
          forget_sessions(s, who.account_id);
          if (account) {
            command_body body_6 = record_session_revoked{who.account_id, who.session_id, "sign-out", now_utc()};
            co_await record(ctx, s, account->email, std::move(body_6));
          }
          auto res = empty_response(http::status::no_content, ctx.req);
          res.set(http::field::set_cookie, session_cookie_header(s.settings, ""));
          co_return res;
        });

  r.add({http::verb::get, "/api/v1/me", "getMe", "The signed-in account", access::signed_in, false, "caller"},
        [&s](request_context& ctx) -> awaitable<response> {
          if (auto wait = co_await await_identity_models(ctx, s)) co_return std::move(*wait);
          const std::string account_id = caller(ctx)->account_id;
          auto account =
              co_await s.pool->run([&](pqxx::connection& c) { return find_account(c, false, account_id); });
          if (!account) {
            co_return problem_response(make_error(errc::not_found, "the account no longer exists"), ctx.req);
          }
          co_return json_response(http::status::ok, json::value(account_json(*account)), ctx.req);
        });

  add_session_routes(r, s, id);
  add_password_routes(r, s, id);
  add_mfa_routes(r, s, id);
  add_audit_routes(r, s, id);
  add_oidc_routes(r, s, id);
}

}  // namespace coachd::gateway
