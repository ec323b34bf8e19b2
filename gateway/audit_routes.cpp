#include <boost/beast/http.hpp>
#include <boost/json.hpp>
#include <charconv>

#include "events/time.hpp"
#include "gateway/auth.hpp"
#include "gateway/command_bridge.hpp"
#include "gateway/identity.hpp"
#include "infra/crypto.hpp"
#include "projections/identity_queries.hpp"

namespace coachd::gateway {

namespace http = boost::beast::http;
namespace json = boost::json;
using boost::asio::awaitable;

void add_audit_routes(router& r, services& s, std::shared_ptr<identity_context>) {
  r.add({http::verb::get, "/api/v1/admin/audit", "listAuditEvents",
         "Security events (SignedIn, SignInFailed, PasswordChanged, MfaEnabled, SessionRevoked, …), newest first; "
         "?account_id, ?type, ?since, ?until (RFC 3339), ?cursor, ?limit",
         access::admin, false, "all"},
        [&s](request_context& ctx) -> awaitable<response> {
          if (s.runners.count("identity") != 0) {
            if (auto wait = co_await await_read_model(ctx, s, "identity")) co_return std::move(*wait);
          }
          audit_filter filter;
          if (auto v = ctx.query("account_id")) {
            if (!is_uuid(*v)) {
              co_return problem_response(make_error(errc::invalid, "account_id must be a UUID", {"account_id"}),
                                         ctx.req);
            }
            filter.account_id = std::string(*v);
          }
          if (auto v = ctx.query("type")) {
            if (v->empty() || v->size() > 64) {
              co_return problem_response(make_error(errc::invalid, "type must be an event type name", {"type"}),
                                         ctx.req);
            }
            filter.type = std::string(*v);
          }
          for (const char* bound : {"since", "until"}) {
            if (auto v = ctx.query(bound)) {
              if (!parse_rfc3339(*v)) {
                co_return problem_response(
                    make_error(errc::invalid, std::string(bound) + " must be an RFC 3339 time", {bound}), ctx.req);
              }
              (std::string_view(bound) == "since" ? filter.since : filter.until) = std::string(*v);
            }
          }
          if (auto v = ctx.query("cursor")) filter.cursor = std::string(*v);
          if (auto v = ctx.query("limit")) {
            int n = 0;
            auto [end, ec] = std::from_chars(v->data(), v->data() + v->size(), n);
            if (ec != std::errc() || end != v->data() + v->size() || n < 1 || n > 200) {
              co_return problem_response(make_error(errc::invalid, "limit must be an integer from 1 to 200", {"limit"}),
                                         ctx.req);
            }
            filter.limit = n;
          }
          auto listed = co_await s.pool->run([&](pqxx::connection& c) { return list_audit(c, filter); });
          if (!listed) co_return problem_response(listed.err(), ctx.req);
          json::array items;
          for (const auto& e : listed->items) {
            items.push_back(json::object{{"id", e.event_id},
                                         {"type", e.type},
                                         {"account_id", e.account_id},
                                         {"occurred_at", e.occurred_at},
                                         {"details", json::parse(e.details_json)}});
          }
          json::object body{{"items", std::move(items)}};
          body["next_cursor"] = listed->next_cursor ? json::value(*listed->next_cursor) : json::value(nullptr);
          co_return json_response(http::status::ok, json::value(std::move(body)), ctx.req);
        });
}

}  // namespace coachd::gateway
