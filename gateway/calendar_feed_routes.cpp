// Subscribable calendar feeds: the signed-in user creates (or rotates), inspects and revokes a
// secret feed URL, and a calendar app fetches every session of theirs from it without sending
// any header. The URL's token is the only credential: 256-bit random, shown once, stored hashed.

#include <boost/beast/http.hpp>
#include <boost/json.hpp>

#include "gateway/auth.hpp"
#include "gateway/ics.hpp"
#include "gateway/json_input.hpp"
#include "gateway/routes.hpp"
#include "infra/crypto.hpp"
#include "projections/calendar_feed_queries.hpp"

namespace coachd::gateway {

namespace http = boost::beast::http;
namespace json = boost::json;
using boost::asio::awaitable;

namespace {

constexpr const char* feed_path_prefix = "/api/v1/calendar/";

/// Whether `token` can be a feed token at all (base64url, as random_token makes them): anything
/// else is answered without a database lookup.
bool token_shaped(std::string_view token) {
  if (token.size() < 32 || token.size() > 128) return false;
  for (const char c : token) {
    const bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                    c == '-' || c == '_';
    if (!ok) return false;
  }
  return true;
}

/// One answer for every token that opens nothing, so an answer never tells whether a token
/// existed once (revoked, replaced) or never did.
response no_feed(const request_context& ctx) {
  return problem_response(
      make_error(errc::not_found,
                 "there is no calendar feed at this address; its owner can create a new one "
                 "with POST /api/v1/me/calendar-feed"),
      ctx.req);
}

ics_event event_of(const calendar_feed_entry& e) {
  ics_event out;
  out.uid = e.session_id + "@coachd";  // the same UID as the session's own .ics
  out.summary = e.title;
  if (!e.counterpart_name.empty()) out.description = "With " + e.counterpart_name;
  out.location = e.location;
  out.start = *parse_rfc3339(e.start_at);
  out.end = *parse_rfc3339(e.end_at);
  out.stamp = *parse_rfc3339(e.updated_at);
  out.sequence = e.sequence;
  out.cancelled = e.status == "cancelled";
  return out;
}

std::string portal_base(const services& s) {
  std::string base = s.settings.portal_url;
  while (!base.empty() && base.back() == '/') base.pop_back();
  return base;
}

}  // namespace

void add_calendar_feed_routes(router& r, services& s) {
  r.add({http::verb::post, "/api/v1/me/calendar-feed", "createCalendarFeed",
         "Create the caller's subscribable calendar feed, or replace it (the old URL stops "
         "working); the URL is "
         "shown only in this answer",
         access::signed_in, true, "caller"},
        [&s](request_context& ctx) -> awaitable<response> {
          static const json_schema no_fields{};
          if (!ctx.req.body().empty()) {
            auto in = parse_json_body(ctx.req, no_fields);
            if (!in) co_return problem_response(in.err(), ctx.req);
          }
          const std::string account_id = caller(ctx)->account_id;
          const std::string token = random_token(32);
          const std::string hash = token_hash_hex(token);
          const std::string created_at = co_await s.pool->run(
              [&](pqxx::connection& c) { return replace_calendar_feed(c, account_id, hash); });
          json::object body{{"url", portal_base(s) + feed_path_prefix + token + ".ics"},
                            {"created_at", created_at},
                            {"past_days", calendar_feed_past_days},
                            {"max_sessions", calendar_feed_max_sessions}};
          auto res = json_response(http::status::created, json::value(std::move(body)), ctx.req);
          res.set(http::field::location, "/api/v1/me/calendar-feed");
          res.set(http::field::cache_control, "no-store");  // the answer holds a credential
          co_return res;
        });

  r.add({http::verb::get, "/api/v1/me/calendar-feed", "getCalendarFeed",
         "Whether the caller has a calendar feed, when it was created and last fetched (never its "
         "URL)",
         access::signed_in, false, "caller"},
        [&s](request_context& ctx) -> awaitable<response> {
          const std::string account_id = caller(ctx)->account_id;
          auto found = co_await s.pool->run(
              [&](pqxx::connection& c) { return find_calendar_feed(c, account_id); });
          json::object body{
              {"exists", found.has_value()}, {"created_at", nullptr}, {"last_used_at", nullptr}};
          if (found) {
            body["created_at"] = found->created_at;
            if (found->last_used_at) body["last_used_at"] = *found->last_used_at;
          }
          co_return json_response(http::status::ok, json::value(std::move(body)), ctx.req);
        });

  r.add({http::verb::delete_, "/api/v1/me/calendar-feed", "revokeCalendarFeed",
         "Revoke the caller's calendar feed: its URL answers 404 from now on (204 also when there "
         "was none)",
         access::signed_in, true, "caller"},
        [&s](request_context& ctx) -> awaitable<response> {
          const std::string account_id = caller(ctx)->account_id;
          co_await s.pool->run(
              [&](pqxx::connection& c) { return revoke_calendar_feed(c, account_id); });
          co_return empty_response(http::status::no_content, ctx.req);
        });

  r.add({http::verb::get, "/api/v1/calendar/{feed_token}.ics", "getCalendarFeedIcs",
         "The feed itself, for calendar apps: every session the token's owner coaches or attends "
         "from 90 days ago "
         "on (at most 1000, earliest first), cancelled ones with STATUS:CANCELLED; the token is "
         "the credential",
         access::anonymous, false, "public"},
        [&s](request_context& ctx) -> awaitable<response> {
          const std::string token(ctx.param("feed_token"));
          if (!token_shaped(token)) co_return no_feed(ctx);
          const std::string hash = token_hash_hex(token);
          const timestamp since = now_utc() - std::chrono::hours(24 * calendar_feed_past_days);
          struct loaded {
            std::optional<std::string> owner;
            std::vector<calendar_feed_entry> sessions;
          };
          auto data = co_await s.pool->run([&](pqxx::connection& c) {
            loaded l;
            l.owner = use_calendar_feed(c, hash);
            if (l.owner)
              l.sessions = calendar_feed_sessions(c, *l.owner, since, calendar_feed_max_sessions);
            return l;
          });
          if (!data.owner) co_return no_feed(ctx);
          std::vector<ics_event> events;
          events.reserve(data.sessions.size());
          for (const auto& e : data.sessions) events.push_back(event_of(e));
          auto res = text_response(http::status::ok, write_ics_feed(events, "coachd sessions"),
                                   "text/calendar; charset=utf-8", ctx.req);
          res.set(http::field::cache_control, "no-store");
          res.set(http::field::content_disposition, "inline; filename=\"coachd.ics\"");
          co_return res;
        });
}

}  // namespace coachd::gateway
