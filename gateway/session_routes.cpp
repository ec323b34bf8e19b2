#include <boost/beast/http.hpp>
#include <boost/json.hpp>

#include "gateway/auth.hpp"
#include "gateway/command_bridge.hpp"
#include "gateway/identity.hpp"
#include "infra/crypto.hpp"

namespace coachd::gateway {

namespace http = boost::beast::http;
namespace json = boost::json;
using boost::asio::awaitable;

void add_session_routes(router& r, services& s, std::shared_ptr<identity_context>) {
  r.add({http::verb::get, "/api/v1/auth/sessions", "listSignInSessions",
         "The caller's live sessions (created, last seen, user agent), newest first", access::signed_in, false,
         "caller"},
        [&s](request_context& ctx) -> awaitable<response> {
          const principal who = *caller(ctx);
          const auto idle = std::chrono::duration_cast<std::chrono::seconds>(s.settings.session_idle).count();
          auto body = co_await s.pool->run([&](pqxx::connection& c) {
            pqxx::read_transaction tx(c);
            auto rows = tx.exec_params(
                "SELECT session_id::text, token_hash = $2, user_agent, ip_address, "
                "to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"'), "
                "to_char(last_seen_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"'), "
                "to_char(LEAST(expires_at, last_seen_at + make_interval(secs => $3)) AT TIME ZONE 'UTC', "
                "'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"') "
                "FROM auth_sessions WHERE account_id = $1::uuid AND expires_at > now() "
                "AND last_seen_at > now() - make_interval(secs => $3) ORDER BY created_at DESC LIMIT 200",
                who.account_id, who.token_hash, idle);
            json::array items;
            for (const auto& row : rows) {
              items.push_back(json::object{{"id", row[0].as<std::string>()},
                                           {"current", row[1].as<bool>()},
                                           {"user_agent", row[2].as<std::string>()},
                                           {"ip_address", row[3].as<std::string>()},
                                           {"created_at", row[4].as<std::string>()},
                                           {"last_seen_at", row[5].as<std::string>()},
                                           {"expires_at", row[6].as<std::string>()}});
            }
            return json::object{{"items", std::move(items)}};
          });
          co_return json_response(http::status::ok, json::value(std::move(body)), ctx.req);
        });

  r.add({http::verb::delete_, "/api/v1/auth/sessions/{id}", "revokeSignInSession",
         "Revoke one of the caller's sessions (another account's: 404)", access::signed_in, true, "auth_session:id"},
        [&s](request_context& ctx) -> awaitable<response> {
          const principal who = *caller(ctx);
          const std::string session_id(ctx.param("id"));
          if (!is_uuid(session_id)) {
            co_return problem_response(make_error(errc::not_found, "session '" + session_id + "' does not exist"),
                                       ctx.req);
          }
          auto account = co_await s.pool->run([&](pqxx::connection& c) -> std::optional<account_record> {
            pqxx::work tx(c);
            auto r = tx.exec_params("DELETE FROM auth_sessions WHERE session_id = $1::uuid AND account_id = $2::uuid",
                                    session_id, who.account_id);
            tx.commit();
            if (r.affected_rows() == 0) return std::nullopt;
            return find_account(c, false, who.account_id);
          });
          forget_sessions(s, who.account_id);
          if (!account) {
            co_return problem_response(make_error(errc::not_found, "session '" + session_id + "' does not exist"),
                                       ctx.req);
          }
          command_body body_7 = record_session_revoked{who.account_id, session_id, "revoked", now_utc()};
          auto audited = co_await record(ctx, s, account->email, std::move(body_7));
          if (!audited) co_return problem_response(audited.err(), ctx.req);
          co_return empty_response(http::status::no_content, ctx.req);
        });

  r.add({http::verb::delete_, "/api/v1/auth/sessions", "revokeOtherSignInSessions",
         "Revoke every session of the caller except the current one", access::signed_in, true, "caller"},
        [&s](request_context& ctx) -> awaitable<response> {
          const principal who = *caller(ctx);
          struct outcome {
            std::vector<std::string> ended;
            std::optional<account_record> account;
          };
          auto done = co_await s.pool->run([&](pqxx::connection& c) {
            outcome o;
            pqxx::work tx(c);
            auto rows = tx.exec_params(
                "DELETE FROM auth_sessions WHERE account_id = $1::uuid AND token_hash <> $2 RETURNING session_id::text",
                who.account_id, who.token_hash);
            tx.commit();
            for (const auto& row : rows) o.ended.push_back(row[0].as<std::string>());
            o.account = find_account(c, false, who.account_id);
            return o;
          });
          forget_sessions(s, who.account_id);
          if (done.account) {
            for (const auto& ended : done.ended) {
              command_body body_8 = record_session_revoked{who.account_id, ended, "revoked", now_utc()};
              auto audited = co_await record(ctx, s, done.account->email, std::move(body_8));
              if (!audited) co_return problem_response(audited.err(), ctx.req);
            }
          }
          co_return json_response(http::status::ok,
                                  json::value(json::object{{"revoked", static_cast<std::int64_t>(done.ended.size())}}),
                                  ctx.req);
        });
}

}  // namespace coachd::gateway
