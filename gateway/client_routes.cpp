#include <boost/beast/http.hpp>
#include <boost/json.hpp>
#include <charconv>

#include "gateway/auth.hpp"
#include "gateway/command_bridge.hpp"
#include "gateway/json_writer.hpp"
#include "gateway/request_params.hpp"
#include "gateway/routes.hpp"
#include "infra/crypto.hpp"
#include "projections/client_queries.hpp"

namespace coachd::gateway {

namespace http = boost::beast::http;
namespace json = boost::json;
using boost::asio::awaitable;

namespace {

void write_client(json_writer& w, const client_view& v, bool full) {
  std::string fallback;
  w.begin_object()
      .member("id", v.client_id)
      .member("display_name", client_display_name(v, fallback))
      .member("name", v.name)
      .member("email", v.email)
      .member("created_at", v.created_at);
  if (full) {
    w.member("coach_id", v.coach_id)
        .member("account_id", v.account_id)
        .member("phone", v.phone)
        .member("goals", v.goals)
        .member("intake_id", v.intake_id);
  }
  w.end_object();
}

}  // namespace

void add_client_routes(router& r, services& s) {
  r.add({http::verb::get, "/api/v1/clients", "listClients",
         "List the coach's clients, oldest first (?cursor, ?limit)", access::coach, false},
        [&s](request_context& ctx) -> awaitable<response> {
          if (auto wait = co_await await_read_model(ctx, s, "clients")) co_return std::move(*wait);
          std::optional<std::string> cursor;
          if (auto v = ctx.query("cursor")) cursor = std::string(*v);
          auto limit = page_limit(ctx);
          if (!limit) co_return problem_response(limit.err(), ctx.req);
          const std::string coach_id = caller(ctx)->account_id;
          auto listing = list_clients(*s.reads, coach_id, cursor, *limit);
          auto listed = co_await std::move(listing);
          if (!listed) co_return problem_response(listed.err(), ctx.req);
          json_writer w(512 + 256 * listed->items.size());
          w.begin_object().key("items").begin_array();
          for (const auto& v : listed->items) write_client(w, v, false);
          w.end_array().member("next_cursor", listed->next_cursor).end_object();
          co_return json_response(http::status::ok, w.take(), ctx.req);
        });

  r.add({http::verb::get, "/api/v1/clients/{id}", "getClient", "One of the coach's clients, with profile",
         access::coach, false},
        [&s](request_context& ctx) -> awaitable<response> {
          if (auto wait = co_await await_read_model(ctx, s, "clients")) co_return std::move(*wait);
          const std::string client_id(ctx.param("id"));
          const std::string coach_id = caller(ctx)->account_id;
          std::optional<viewed_row<client_view>> found;
          if (is_uuid(client_id)) {
            auto lookup = find_client(*s.reads, coach_id, client_id);
            found = co_await std::move(lookup);
          }
          if (!found) {
            co_return problem_response(make_error(errc::not_found, "client '" + client_id + "' does not exist"),
                                       ctx.req);
          }
          json_writer w;
          write_client(w, **found, true);
          co_return json_response(http::status::ok, w.take(), ctx.req);
        });
}

}  // namespace coachd::gateway
