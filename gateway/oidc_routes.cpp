#include <boost/beast/http.hpp>
#include <boost/json.hpp>
#include <cstdlib>

#include "gateway/auth.hpp"
#include "gateway/command_bridge.hpp"
#include "gateway/identity.hpp"
#include "gateway/routes.hpp"
#include "infra/crypto.hpp"
#include "infra/oidc.hpp"

namespace coachd::gateway {

namespace http = boost::beast::http;
namespace json = boost::json;
using boost::asio::awaitable;

namespace {

/// The provider from COACHD_OIDC_* (none when COACHD_OIDC_ISSUER is unset).
std::shared_ptr<oidc_client> oidc_from_environment(const services& s) {
  auto env = [](const char* name) -> std::string {
    const char* v = std::getenv(name);
    return v != nullptr ? std::string(v) : std::string();
  };
  oidc_config c;
  c.issuer = env("COACHD_OIDC_ISSUER");
  if (c.issuer.empty()) return nullptr;
  c.client_id = env("COACHD_OIDC_CLIENT_ID");
  c.client_secret = env("COACHD_OIDC_CLIENT_SECRET");
  c.redirect_uri = env("COACHD_OIDC_REDIRECT_URI");
  if (c.redirect_uri.empty()) c.redirect_uri = s.settings.portal_url + "/api/v1/auth/oidc/callback";
  c.allow_insecure_http = env("COACHD_OIDC_ALLOW_HTTP") == "1";
  return std::make_shared<oidc_client>(std::move(c));
}

error not_configured() {
  return make_error(errc::unavailable,
                    "sign-in with an identity provider is not configured (COACHD_OIDC_ISSUER, COACHD_OIDC_CLIENT_ID, "
                    "COACHD_OIDC_CLIENT_SECRET)");
}

}  // namespace

void add_oidc_routes(router& r, services& s, std::shared_ptr<identity_context> id) {
  auto oidc = oidc_from_environment(s);

  r.add({http::verb::get, "/api/v1/auth/oidc/start", "startOidcSignIn",
         "Begin signing in with the identity provider (Google or any OpenID Connect provider): redirects to it "
         "with PKCE, state and nonce",
         access::anonymous, false, "public"},
        [&s, oidc](request_context& ctx) -> awaitable<response> {
          if (!oidc) co_return problem_response(not_configured(), ctx.req);
          auto begun = co_await s.pool->run([&](pqxx::connection& c) -> result<oidc_authorization> {
            auto a = oidc->begin();
            if (!a) return a;
            pqxx::work tx(c);
            tx.exec("DELETE FROM oidc_flows WHERE created_at < now() - interval '10 minutes'");
            tx.exec_params("INSERT INTO oidc_flows (state_hash, nonce, code_verifier) VALUES ($1, $2, $3)",
                           token_hash_hex(a->state), a->nonce, a->code_verifier);
            tx.commit();
            return a;
          });
          if (!begun) co_return problem_response(begun.err(), ctx.req);
          auto res = json_response(http::status::found, json::value(json::object{{"authorization_url", begun->url}}),
                                   ctx.req);
          res.set(http::field::location, begun->url);
          res.set(http::field::cache_control, "no-store");
          co_return res;
        });

  r.add({http::verb::get, "/api/v1/auth/oidc/callback", "finishOidcSignIn",
         "The identity provider's redirect back (?code, ?state): verifies the ID token and signs in the account "
         "with that verified e-mail address (e.g. a client an accepted intake created)",
         access::anonymous, false, "public"},
        [&s, id, oidc](request_context& ctx) -> awaitable<response> {
          if (!oidc) co_return problem_response(not_configured(), ctx.req);
          if (auto wait = id->limiter.take("sign-in/ip/" + ctx.client_address, id->settings.sign_in_ip)) {
            co_return too_many_requests(ctx, *wait);
          }
          if (auto e = ctx.query("error")) {
            co_return problem_response(
                make_error(errc::unauthenticated, "the identity provider refused: " + std::string(*e), {"error"}),
                ctx.req);
          }
          const auto code = ctx.query("code");
          const auto state = ctx.query("state");
          if (!code || code->empty() || code->size() > 2048) {
            co_return problem_response(make_error(errc::invalid, "code is required", {"code"}), ctx.req);
          }
          if (!state || state->empty() || state->size() > 256) {
            co_return problem_response(make_error(errc::invalid, "state is required", {"state"}), ctx.req);
          }
          const std::string code_text(*code), state_hash = token_hash_hex(*state);
          struct flow {
            std::string nonce, verifier;
          };
          // Single use: the flow row is deleted by whoever claims it first.
          auto claimed = co_await s.pool->run([&](pqxx::connection& c) -> std::optional<flow> {
            pqxx::work tx(c);
            auto rows = tx.exec_params(
                "DELETE FROM oidc_flows WHERE state_hash = $1 AND created_at > now() - interval '10 minutes' "
                "RETURNING nonce, code_verifier",
                state_hash);
            tx.commit();
            if (rows.empty()) return std::nullopt;
            return flow{rows[0][0].as<std::string>(), rows[0][1].as<std::string>()};
          });
          if (!claimed) {
            co_return problem_response(make_error(errc::unauthenticated,
                                                  "unknown, expired or already used sign-in (state)", {"state"},
                                                  "oidc-state"),
                                       ctx.req);
          }
          auto verified = co_await s.pool->run(
              [&](pqxx::connection&) { return oidc->finish(code_text, claimed->verifier, claimed->nonce); });
          if (!verified) co_return problem_response(verified.err(), ctx.req);
          const auto identity = email_identity(verified->email);
          if (!identity) {
            co_return problem_response(make_error(errc::unauthenticated, "the provider sent no usable e-mail address"),
                                       ctx.req);
          }
          const std::string user_agent = user_agent_of(ctx);
          struct outcome {
            std::optional<account_record> account;
            new_session session;
          };
          auto done = co_await s.pool->run([&](pqxx::connection& c) {
            outcome o;
            o.account = find_account(c, true, *identity);
            if (o.account) {
              o.session = create_session(c, s.settings, o.account->account_id, o.account->role, user_agent,
                                         ctx.client_address);
            }
            return o;
          });
          if (!done.account) {
            co_return problem_response(
                make_error(errc::forbidden,
                           "no account has this e-mail address: sign up, or ask your coach to accept your intake",
                           {}, "no-account"),
                ctx.req);
          }
          // The provider vouched for the address.
          if (!done.account->email_verified) {
            command_body verify = verify_email{done.account->account_id, now_utc()};
            co_await record(ctx, s, *identity, std::move(verify));
          }
          command_body audit = record_sign_in{done.account->account_id, done.session.session_id, "oidc",
                                              ctx.client_address, user_agent, now_utc()};
          auto audited = co_await record(ctx, s, *identity, std::move(audit));
          if (!audited) co_return problem_response(audited.err(), ctx.req);
          json::object account{{"id", done.account->account_id},
                               {"role", done.account->role},
                               {"email", done.account->email},
                               {"display_name", done.account->display_name}};
          json::object body{{"token", done.session.token},
                            {"token_type", "Bearer"},
                            {"csrf_token", done.session.csrf_token},
                            {"session_id", done.session.session_id},
                            {"expires_at", done.session.expires_at},
                            {"account", std::move(account)}};
          auto res = json_response(http::status::ok, json::value(std::move(body)), ctx.req);
          res.set(http::field::set_cookie, session_cookie_header(s.settings, done.session.token));
          res.set(http::field::cache_control, "no-store");
          co_return res;
        });
}

}  // namespace coachd::gateway
