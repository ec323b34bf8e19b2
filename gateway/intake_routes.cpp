#include <boost/beast/http.hpp>
#include <boost/json.hpp>
#include <charconv>

#include "gateway/auth.hpp"
#include "gateway/command_bridge.hpp"
#include "gateway/json_input.hpp"
#include "gateway/json_writer.hpp"
#include "gateway/request_params.hpp"
#include "gateway/routes.hpp"
#include "infra/crypto.hpp"
#include "projections/intake_queries.hpp"

namespace coachd::gateway {

namespace http = boost::beast::http;
namespace json = boost::json;
using boost::asio::awaitable;

namespace {

void write_intake(json_writer& w, const intake_view& v) {
  w.begin_object()
      .member("id", v.intake_id)
      .member("coach_id", v.coach_id)
      .member("status", v.status)
      .member("name", v.name)
      .member("email", v.email)
      .member("goals", v.goals)
      .member("message", v.message)
      .member("submitted_at", v.submitted_at)
      .member("phone", v.phone)
      .member("notes", v.notes)
      .member("client_id", v.client_id)
      .member("decided_at", v.decided_at)
      .end_object();
}

awaitable<response> decide_intake(request_context& ctx, services& s, bool accept) {
  static const json_schema schema{json_field::string("notes").optional().multiline().max_length(5000)};
  const auto* who = caller(ctx);
  const std::string intake_id(ctx.param("id"));
  if (auto e = check_uuid(intake_id, "intake")) co_return problem_response(*e, ctx.req);
  std::string notes;
  if (!ctx.req.body().empty()) {
    auto in = parse_json_body(ctx.req, schema);
    if (!in) co_return problem_response(in.err(), ctx.req);
    if (const auto* n = in->find_string("notes")) notes = *n;
  }
  command_body body;
  if (accept) {
    // The client id is derived from the intake, so accepting is naturally idempotent.
    body = accept_intake{intake_id, who->account_id,
                         uuid_from_name("b1f6c0de-7a55-4d9b-8c2e-0c0ac4ed1e11", intake_id), notes, now_utc()};
  } else {
    body = decline_intake{intake_id, who->account_id, notes, now_utc()};
  }
  auto cmd = command_from_request(ctx, intake_stream(intake_id), std::move(body));
  if (!cmd) co_return problem_response(cmd.err(), ctx.req);
  auto outcome = co_await execute(*s.processor, std::move(cmd.value()));
  if (!outcome) co_return problem_response(outcome.err(), ctx.req);
  json::object o{{"id", intake_id}, {"status", accept ? "accepted" : "declined"}};
  if (accept) o["client_id"] = uuid_from_name("b1f6c0de-7a55-4d9b-8c2e-0c0ac4ed1e11", intake_id);
  co_return command_response(ctx, http::status::ok, outcome.value(), std::move(o));
}

}  // namespace

void add_intake_routes(router& r, services& s) {
  r.add({http::verb::post, "/api/v1/coaches/{coach}/intakes", "submitIntake",
         "Submit a coach's public intake form (no sign-in)", access::anonymous, true},
        [&s](request_context& ctx) -> awaitable<response> {
          static const json_schema schema{
              json_field::string("name").max_length(200),
              json_field::email("email"),
              json_field::string("phone").optional().max_length(40),
              json_field::string("goals").multiline().max_length(5000),
              json_field::string("message").multiline().max_length(10000),
          };
          const std::string coach_id(ctx.param("coach"));
          if (auto e = check_uuid(coach_id, "coach")) co_return problem_response(*e, ctx.req);
          auto in = parse_json_body(ctx.req, schema);
          if (!in) co_return problem_response(in.err(), ctx.req);
          // On the I/O thread (pg_async): a hop to a blocking pool thread and back cost more
          // than the lookup itself.
          auto coach_check = is_coach(*s.reads, coach_id);
          const bool coach_exists = co_await std::move(coach_check);
          if (!coach_exists) {
            co_return problem_response(make_error(errc::not_found, "coach '" + coach_id + "' does not exist"), ctx.req);
          }
          const std::string intake_id = new_entity_id(ctx, "intake");
          std::optional<std::string> phone;
          if (const auto* p = in->find_string("phone"); p && !p->empty()) phone = *p;
          auto cmd = command_from_request(
              ctx, intake_stream(intake_id),
              submit_intake{intake_id, coach_id, in->string("name"), *email_identity(in->string("email")), phone,
                            in->string("goals"), in->string("message"), now_utc()});
          if (!cmd) co_return problem_response(cmd.err(), ctx.req);
          auto outcome = co_await execute(*s.processor, std::move(cmd.value()));
          if (!outcome) co_return problem_response(outcome.err(), ctx.req);
          auto res = command_response(ctx, http::status::created, outcome.value(),
                                      {{"id", intake_id}, {"status", "pending"}});
          res.set(http::field::location, "/api/v1/intakes/" + intake_id);
          co_return res;
        });

  r.add({http::verb::get, "/api/v1/intakes", "listIntakes",
         "List the coach's intakes, newest first (?status=pending|accepted|declined, ?cursor, ?limit)",
         access::coach, false},
        [&s](request_context& ctx) -> awaitable<response> {
          if (auto wait = co_await await_read_model(ctx, s, "intakes")) co_return std::move(*wait);
          std::optional<std::string> status, cursor;
          if (auto v = ctx.query("status")) {
            if (*v != "pending" && *v != "accepted" && *v != "declined") {
              co_return problem_response(
                  make_error(errc::invalid, "status must be pending, accepted or declined", {"status"}), ctx.req);
            }
            status = std::string(*v);
          }
          if (auto v = ctx.query("cursor")) cursor = std::string(*v);
          auto limit = page_limit(ctx);
          if (!limit) co_return problem_response(limit.err(), ctx.req);
          const std::string coach_id = caller(ctx)->account_id;
          auto listing = list_intakes(*s.reads, coach_id, status, cursor, *limit);
          auto listed = co_await std::move(listing);
          if (!listed) co_return problem_response(listed.err(), ctx.req);
          json_writer w(512 + 512 * listed->items.size());
          w.begin_object().key("items").begin_array();
          for (const auto& v : listed->items) write_intake(w, v);
          w.end_array().member("next_cursor", listed->next_cursor).end_object();
          co_return json_response(http::status::ok, w.take(), ctx.req);
        });

  r.add({http::verb::get, "/api/v1/intakes/{id}", "getIntake", "One of the coach's intakes", access::coach, false},
        [&s](request_context& ctx) -> awaitable<response> {
          if (auto wait = co_await await_read_model(ctx, s, "intakes")) co_return std::move(*wait);
          const std::string intake_id(ctx.param("id"));
          if (auto e = check_uuid(intake_id, "intake")) co_return problem_response(*e, ctx.req);
          const std::string coach_id = caller(ctx)->account_id;
          auto lookup = find_intake(*s.reads, coach_id, intake_id);
          auto found = co_await std::move(lookup);
          if (!found) {
            co_return problem_response(make_error(errc::not_found, "intake '" + intake_id + "' does not exist"),
                                       ctx.req);
          }
          json_writer w;
          write_intake(w, **found);
          co_return json_response(http::status::ok, w.take(), ctx.req);
        });

  r.add({http::verb::post, "/api/v1/intakes/{id}/accept", "acceptIntake",
         "Accept an intake: the applicant becomes a client and gets a welcome e-mail", access::coach, true},
        [&s](request_context& ctx) { return decide_intake(ctx, s, true); });

  r.add({http::verb::post, "/api/v1/intakes/{id}/decline", "declineIntake", "Decline an intake", access::coach,
         true},
        [&s](request_context& ctx) { return decide_intake(ctx, s, false); });
}

}  // namespace coachd::gateway
