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

namespace coachd::gateway {

namespace http = boost::beast::http;
namespace json = boost::json;
using boost::asio::awaitable;

void add_password_routes(router& r, services& s, std::shared_ptr<identity_context> id) {
  r.add({http::verb::post, "/api/v1/auth/password-reset", "requestPasswordReset",
         "Mail a single-use password-reset link (valid 1 h); always 202, whether or not the address has an account",
         access::anonymous, true, "public"},
        [&s, id](request_context& ctx) -> awaitable<response> {
          static const json_schema schema{json_field::email("email")};
          if (auto wait = id->limiter.take("reset/ip/" + ctx.client_address, id->settings.reset_ip)) {
            co_return too_many_requests(ctx, *wait);
          }
          auto in = parse_json_body(ctx.req, schema);
          if (!in) co_return problem_response(in.err(), ctx.req);
          const std::string identity = *email_identity(in->string("email"));
          // Limited per address whether or not it has an account, so the answer reveals nothing.
          if (auto wait = id->limiter.take("reset/account/" + identity, id->settings.reset_account)) {
            co_return too_many_requests(ctx, *wait);
          }
          const std::string token = random_token(32);
          const auto ttl = std::chrono::duration_cast<std::chrono::seconds>(id->settings.reset_ttl).count();
          auto account = co_await s.pool->run([&](pqxx::connection& c) -> std::optional<account_record> {
            auto found = find_account(c, true, identity);
            if (!found) return std::nullopt;
            mail_message mail;
            mail.id = new_uuid();
            mail.from = id->settings.mail_from;
            mail.to = identity;
            mail.subject = "Reset your password";
            mail.text_body = "Hello " + found->display_name +
                             ",\n\nsomeone (hopefully you) asked to reset the password of your account. Choose a "
                             "new one here:\n\n" +
                             s.settings.portal_url + "/reset-password?token=" + token +
                             "\n\nThe link works once and expires in one hour. Resetting signs out every session "
                             "of the account. If you did not ask for this, ignore this message.\n";
            mail.extra_headers.emplace_back("Auto-Submitted", "auto-generated");
            pqxx::work tx(c);
            tx.exec_params(
                "INSERT INTO password_resets (token_hash, account_id, email, expires_at) "
                "VALUES ($1, $2::uuid, $3, now() + make_interval(secs => $4))",
                token_hash_hex(token), found->account_id, identity, ttl);
            mail_outbox::enqueue(tx, mail);
            tx.commit();
            return found;
          });
          if (account) {
            command_body body_9 = request_password_reset{account->account_id, ctx.client_address, now_utc()};
            co_await record(ctx, s, identity, std::move(body_9));
          }
          co_return json_response(http::status::accepted,
                                  json::value(json::object{{"status", "accepted"},
                                                           {"detail", "if the address has an account, a reset link "
                                                                      "is on its way"}}),
                                  ctx.req);
        });

  r.add({http::verb::post, "/api/v1/auth/password-reset/confirm", "confirmPasswordReset",
         "Set a new password with the token from the reset mail; ends every session of the account",
         access::anonymous, true, "public"},
        [&s, id](request_context& ctx) -> awaitable<response> {
          static const json_schema schema{json_field::string("token").max_length(128),
                                          json_field::string("password").max_length(200)};
          if (auto wait = id->limiter.take("reset/ip/" + ctx.client_address, id->settings.reset_ip)) {
            co_return too_many_requests(ctx, *wait);
          }
          auto in = parse_json_body(ctx.req, schema);
          if (!in) co_return problem_response(in.err(), ctx.req);
          const std::string hash = token_hash_hex(in->string("token"));
          struct pending {
            std::string account_id, email;
          };
          auto found = co_await s.pool->run([&](pqxx::connection& c) -> std::optional<pending> {
            pqxx::read_transaction tx(c);
            auto rows = tx.exec_params(
                "SELECT account_id::text, email FROM password_resets WHERE token_hash = $1 AND expires_at > now()",
                hash);
            if (rows.empty()) return std::nullopt;
            return pending{rows[0][0].as<std::string>(), rows[0][1].as<std::string>()};
          });
          if (!found) {
            co_return problem_response(make_error(errc::invalid,
                                                  "the reset link is not valid, was used already or expired",
                                                  {"token"}, "invalid-token"),
                                       ctx.req);
          }
          if (auto bad = check_password_rules(in->string("password"), found->email)) {
            co_return problem_response(*bad, ctx.req);
          }
          // Single use: whoever deletes the token row first sets the password.
          const bool claimed = co_await s.pool->run([&](pqxx::connection& c) {
            pqxx::work tx(c);
            auto r = tx.exec_params("DELETE FROM password_resets WHERE token_hash = $1", hash);
            const bool ok = r.affected_rows() > 0;
            // Any other link of the account dies with it.
            tx.exec_params("DELETE FROM password_resets WHERE account_id = $1::uuid", found->account_id);
            tx.commit();
            return ok;
          });
          if (!claimed) {
            co_return problem_response(make_error(errc::invalid, "the reset link was used already", {"token"},
                                                  "invalid-token"),
                                       ctx.req);
          }
          const std::string new_hash = hash_password(in->string("password"));
          command_body body_10 = change_password{found->account_id, new_hash, "reset", now_utc()};
          auto changed = co_await record(ctx, s, found->email, std::move(body_10));
          if (!changed) co_return problem_response(changed.err(), ctx.req);
          const std::size_t ended =
              co_await s.pool->run([&](pqxx::connection& c) { return end_sessions(c, found->account_id); });
          forget_sessions(s, found->account_id);
          if (ended > 0) {
            command_body body_11 = record_session_revoked{found->account_id, "*", "password-reset", now_utc()};
            co_await record(ctx, s, found->email, std::move(body_11));
          }
          co_return command_response(ctx, http::status::ok, changed.value(),
                                     {{"id", found->account_id}, {"sessions_ended", static_cast<std::int64_t>(ended)}});
        });

  r.add({http::verb::post, "/api/v1/auth/password", "changePassword",
         "Change the caller's password (with the current one); ends the caller's other sessions",
         access::signed_in, true, "caller"},
        [&s, id](request_context& ctx) -> awaitable<response> {
          static const json_schema schema{json_field::string("current_password").max_length(200),
                                          json_field::string("new_password").max_length(200)};
          auto in = parse_json_body(ctx.req, schema);
          if (!in) co_return problem_response(in.err(), ctx.req);
          const principal who = *caller(ctx);
          const std::string account_key = "sign-in/account/" + who.account_id;
          if (auto wait = id->limiter.check(account_key, id->settings.sign_in_account)) {
            co_return too_many_requests(ctx, *wait);
          }
          const std::string current = in->string("current_password");
          auto account = co_await s.pool->run([&](pqxx::connection& c) -> std::optional<account_record> {
            auto found = find_account(c, false, who.account_id);
            if (!found || !found->password_hash || !verify_password(*found->password_hash, current)) {
              return std::nullopt;
            }
            return found;
          });
          if (!account) {
            id->limiter.take(account_key, id->settings.sign_in_account);
            co_return problem_response(
                make_error(errc::invalid, "the current password is wrong", {"current_password"}), ctx.req);
          }
          if (auto bad = check_password_rules(in->string("new_password"), account->email, "new_password")) {
            co_return problem_response(*bad, ctx.req);
          }
          const std::string new_hash = hash_password(in->string("new_password"));
          command_body body_12 = change_password{who.account_id, new_hash, "change", now_utc()};
          auto changed = co_await record(ctx, s, account->email, std::move(body_12));
          if (!changed) co_return problem_response(changed.err(), ctx.req);
          const std::size_t ended = co_await s.pool->run(
              [&](pqxx::connection& c) { return end_sessions(c, who.account_id, who.token_hash); });
          forget_sessions(s, who.account_id);
          if (ended > 0) {
            command_body body_13 = record_session_revoked{who.account_id, "*", "password-change", now_utc()};
            co_await record(ctx, s, account->email, std::move(body_13));
          }
          co_return command_response(ctx, http::status::ok, changed.value(),
                                     {{"id", who.account_id}, {"sessions_ended", static_cast<std::int64_t>(ended)}});
        });
}

}  // namespace coachd::gateway
