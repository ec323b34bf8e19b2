#include <boost/beast/http.hpp>
#include <boost/json.hpp>

#include "gateway/auth.hpp"
#include "gateway/command_bridge.hpp"
#include "gateway/json_input.hpp"
#include "gateway/routes.hpp"
#include "infra/crypto.hpp"
#include "infra/password.hpp"

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

struct account_row {
  std::string account_id, role, email, display_name;
  std::optional<std::string> password_hash;
};

std::optional<account_row> account_by(pqxx::connection& c, const char* column, const std::string& value) {
  pqxx::read_transaction tx(c);
  auto rows = tx.exec_params(std::string("SELECT account_id::text, role, email, display_name, password_hash "
                                         "FROM accounts WHERE ") + column + " = $1",
                             value);
  if (rows.empty()) return std::nullopt;
  account_row a{rows[0][0].as<std::string>(), rows[0][1].as<std::string>(), rows[0][2].as<std::string>(),
                rows[0][3].as<std::string>(), std::nullopt};
  if (!rows[0][4].is_null()) a.password_hash = rows[0][4].as<std::string>();
  return a;
}

json::object account_json(const account_row& a) {
  return {{"id", a.account_id}, {"role", a.role}, {"email", a.email}, {"display_name", a.display_name}};
}

}  // namespace

void add_auth_routes(router& r, services& s) {
  r.add({http::verb::post, "/api/v1/auth/sign-up", "signUp",
         "Create an account (coach or client) with e-mail and password; one account per address",
         access::anonymous, true},
        [&s](request_context& ctx) -> awaitable<response> {
          static const json_schema schema{
              json_field::email("email"),
              json_field::string("password").min_length(10).max_length(200),
              json_field::string("display_name").max_length(200),
              json_field::string("role").one_of({"coach", "client"}),
          };
          auto in = parse_json_body(ctx.req, schema);
          if (!in) co_return problem_response(in.err(), ctx.req);
          const std::string identity = *email_identity(in->string("email"));
          if (in->string("password") == identity) {
            co_return problem_response(
                make_error(errc::invalid, "the password must not be the e-mail address", {"password"}), ctx.req);
          }
          const std::string account_id = new_entity_id(ctx, "account");
          const std::string hash = hash_password(in->string("password"));
          auto cmd = command_from_request(ctx, account_stream_for(s, identity),
                                          register_account{account_id, in->string("role"), identity,
                                                           in->string("display_name"), hash, now_utc()});
          if (!cmd) co_return problem_response(cmd.err(), ctx.req);
          auto outcome = co_await execute(*s.processor, std::move(cmd.value()));
          if (!outcome) co_return problem_response(outcome.err(), ctx.req);
          co_return command_response(ctx, http::status::created, outcome.value(),
                                     {{"id", account_id}, {"role", in->string("role")}});
        });

  r.add({http::verb::post, "/api/v1/auth/sign-in", "signIn",
         "Sign in with e-mail and password: a session cookie and the same token as a bearer token",
         access::anonymous, true},
        [&s](request_context& ctx) -> awaitable<response> {
          static const json_schema schema{json_field::email("email"), json_field::string("password").max_length(200)};
          auto in = parse_json_body(ctx.req, schema);
          if (!in) co_return problem_response(in.err(), ctx.req);
          if (auto wait = co_await await_read_model(ctx, s, "accounts")) co_return std::move(*wait);
          const std::string identity = *email_identity(in->string("email"));
          const std::string password = in->string("password");
          std::string user_agent;
          if (auto ua = ctx.req.find(http::field::user_agent); ua != ctx.req.end()) user_agent = ua->value();
          struct outcome {
            std::optional<account_row> account;
            new_session session;
          };
          auto done = co_await s.pool->run([&](pqxx::connection& c) {
            outcome o;
            auto account = account_by(c, "email", identity);
            // An unknown address costs as much as a wrong password: no probing by timing.
            const bool ok = account && account->password_hash ? verify_password(*account->password_hash, password)
                                                              : (verify_dummy_password(password), false);
            if (!ok) return o;
            o.session = create_session(c, s.settings, account->account_id, account->role, user_agent);
            o.account = std::move(account);
            return o;
          });
          if (!done.account) {
            co_return problem_response(make_error(errc::unauthenticated, "the e-mail address or the password is wrong"),
                                       ctx.req);
          }
          json::object body{{"token", done.session.token},
                            {"token_type", "Bearer"},
                            {"csrf_token", done.session.csrf_token},
                            {"expires_at", done.session.expires_at},
                            {"account", account_json(*done.account)}};
          auto res = json_response(http::status::ok, json::value(std::move(body)), ctx.req);
          res.set(http::field::set_cookie, session_cookie_header(s.settings, done.session.token));
          res.set(http::field::cache_control, "no-store");
          co_return res;
        });

  r.add({http::verb::post, "/api/v1/auth/sign-out", "signOut", "End the caller's session", access::signed_in, true},
        [&s](request_context& ctx) -> awaitable<response> {
          const std::string hash = caller(ctx)->token_hash;
          co_await s.pool->run([&](pqxx::connection& c) {
            pqxx::work tx(c);
            tx.exec_params("DELETE FROM auth_sessions WHERE token_hash = $1", hash);
            tx.commit();
          });
          auto res = empty_response(http::status::no_content, ctx.req);
          res.set(http::field::set_cookie, session_cookie_header(s.settings, ""));
          co_return res;
        });

  r.add({http::verb::get, "/api/v1/me", "getMe", "The signed-in account", access::signed_in, false},
        [&s](request_context& ctx) -> awaitable<response> {
          const std::string id = caller(ctx)->account_id;
          auto account = co_await s.pool->run([&](pqxx::connection& c) { return account_by(c, "account_id", id); });
          if (!account) {
            co_return problem_response(make_error(errc::not_found, "the account no longer exists"), ctx.req);
          }
          co_return json_response(http::status::ok, json::value(account_json(*account)), ctx.req);
        });
}

}  // namespace coachd::gateway
