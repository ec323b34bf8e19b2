// Scheduling: a coach's availability settings and session types, public slots, holds,
// booking, the session lifecycle (reschedule, cancel, confirm, complete, no-show), session lists
// and detail in the viewer's time zone, .ics downloads, and the viewer's time-zone preference.

#include <date/tz.h>

#include <boost/beast/http.hpp>
#include <boost/json.hpp>
#include <charconv>

#include "aggregates/coach_schedule.hpp"
#include "gateway/auth.hpp"
#include "gateway/command_bridge.hpp"
#include "gateway/ics.hpp"
#include "gateway/json_input.hpp"
#include "gateway/json_writer.hpp"
#include "gateway/local_time.hpp"
#include "gateway/request_params.hpp"
#include "gateway/routes.hpp"
#include "infra/crypto.hpp"
#include "projections/session_queries.hpp"

namespace coachd::gateway {

namespace http = boost::beast::http;
namespace json = boost::json;
using boost::asio::awaitable;

namespace {

/// Longest range the slots query answers.
constexpr date::days max_slot_range{92};
/// How long a hold reserves its slot.
constexpr minutes hold_duration{10};



/// An RFC 3339 instant from a field; 422 naming the field otherwise.
result<timestamp> instant(std::string_view text, const std::string& field) {
  auto t = parse_rfc3339(text);
  if (!t) {
    return make_error(errc::invalid, field + " must be an RFC 3339 date-time such as 2026-06-04T09:00:00Z", {field});
  }
  return *t;
}

/// A time zone from a field; 422 naming the field otherwise.
result<const date::time_zone*> zone_named(std::string_view name, const std::string& field) {
  const auto* z = find_zone(name);
  if (z == nullptr) {
    return make_error(errc::invalid, field + " '" + std::string(name) + "' is not an IANA time zone", {field},
                      "unknown-time-zone");
  }
  return z;
}

std::string utc_text(timestamp t) { return format_rfc3339(t); }

/// A session as its participants see it, times also in `zone` (written straight into the body,
/// see json_writer).
void write_session(json_writer& w, const session_view& v, const date::time_zone* zone) {
  w.begin_object()
      .member("id", v.session_id)
      .member("coach_id", v.coach_id)
      .member("client_account_id", v.client_account_id)
      .member("title", v.title)
      .member("start", v.start_at)
      .member("end", v.end_at)
      .member("time_zone", zone->name())
      .member("location", v.location)
      .member("status", v.status)
      .member("sequence", v.sequence)
      .member("late_cancellation", v.late_cancellation)
      .member("booked_at", v.booked_at)
      .member("session_type_id", v.session_type_id);
  if (auto s = parse_rfc3339(v.start_at)) w.member("local_start", local_rfc3339(zone, *s));
  if (auto e = parse_rfc3339(v.end_at)) w.member("local_end", local_rfc3339(zone, *e));
  w.end_object();
}

json::object type_json(const session_type_defined& t) {
  return json::object{{"id", t.session_type_id},
                      {"coach_id", t.coach_id},
                      {"name", t.name},
                      {"duration_minutes", t.duration_minutes},
                      {"buffer_before_minutes", t.buffer_before_minutes},
                      {"buffer_after_minutes", t.buffer_after_minutes},
                      {"min_notice_minutes", t.min_notice_minutes},
                      {"horizon_days", t.horizon_days},
                      {"slot_interval_minutes", t.slot_interval_minutes},
                      {"price_cents", t.price_cents},
                      {"currency", t.currency},
                      {"location", t.location}};
}

json::object availability_json(const availability_set& a) {
  json::array weekly, overrides, blackouts;
  for (const auto& text : a.weekly) {
    if (auto w = parse_weekly_window(text)) {
      static const char* names[] = {"sunday", "monday", "tuesday", "wednesday", "thursday", "friday", "saturday"};
      weekly.push_back(json::object{{"day", names[w->weekday % 7]},
                                    {"start", format_wall_time(w->window.start)},
                                    {"end", format_wall_time(w->window.end)}});
    }
  }
  for (const auto& text : a.overrides) {
    if (auto o = parse_date_override(text)) {
      json::array windows;
      for (const auto& w : o->windows) {
        windows.push_back(json::object{{"start", format_wall_time(w.start)}, {"end", format_wall_time(w.end)}});
      }
      overrides.push_back(json::object{{"date", text.substr(0, 10)}, {"windows", std::move(windows)}});
    }
  }
  for (const auto& text : a.blackouts) {
    blackouts.push_back(json::object{{"from", text.substr(0, 10)}, {"to", text.substr(12)}});
  }
  return json::object{{"coach_id", a.coach_id},
                      {"time_zone", a.time_zone},
                      {"weekly", std::move(weekly)},
                      {"overrides", std::move(overrides)},
                      {"blackouts", std::move(blackouts)},
                      {"max_sessions_per_day", a.max_sessions_per_day},
                      {"max_sessions_per_week", a.max_sessions_per_week},
                      {"cancellation_notice_minutes", a.cancellation_notice_minutes},
                      {"late_cancellation", a.late_cancellation}};
}

/// A wall-clock window from {start, end}; errors name "<prefix>.start" / "<prefix>.end".
result<wall_window> window_from(const json_fields& f, const std::string& prefix) {
  auto start = parse_wall_time(f.string("start"));
  if (!start) return make_error(errc::invalid, prefix + ".start must be HH:MM (00:00-24:00)", {prefix + ".start"});
  auto end = parse_wall_time(f.string("end"));
  if (!end) return make_error(errc::invalid, prefix + ".end must be HH:MM (00:00-24:00)", {prefix + ".end"});
  if (*end <= *start) return make_error(errc::invalid, prefix + ".end must be after its start", {prefix + ".end"});
  return wall_window{*start, *end};
}

const json_schema& availability_schema() {
  static const json_schema window{json_field::string("start").max_length(5), json_field::string("end").max_length(5)};
  static const json_schema schema{
      json_field::string("time_zone").max_length(64),
      json_field::object_array("weekly",
                               json_schema{json_field::string("day").one_of({"monday", "tuesday", "wednesday",
                                                                             "thursday", "friday", "saturday",
                                                                             "sunday"}),
                                           json_field::string("start").max_length(5),
                                           json_field::string("end").max_length(5)})
          .max_items(70),
      json_field::object_array("overrides", json_schema{json_field::string("date").max_length(10),
                                                        json_field::object_array("windows", window).max_items(10)})
          .optional()
          .max_items(400),
      json_field::object_array("blackouts", json_schema{json_field::string("from").max_length(10),
                                                        json_field::string("to").max_length(10)})
          .optional()
          .max_items(100),
      json_field::integer("max_sessions_per_day", 0, 100).optional(),
      json_field::integer("max_sessions_per_week", 0, 700).optional(),
      json_field::integer("cancellation_notice_minutes", 0, 60 * 24 * 60).optional(),
      json_field::string("late_cancellation").one_of({"refuse", "flag"}).optional(),
  };
  return schema;
}

result<set_availability> availability_command(const json_fields& in, const std::string& coach_id) {
  set_availability c;
  c.coach_id = coach_id;
  c.acting_account_id = coach_id;
  c.rules.time_zone = in.string("time_zone");
  if (find_zone(c.rules.time_zone) == nullptr) {
    return make_error(errc::invalid, "time_zone '" + c.rules.time_zone + "' is not an IANA time zone", {"time_zone"},
                      "unknown-time-zone");
  }
  const auto& weekly = in.objects("weekly");
  for (std::size_t i = 0; i < weekly.size(); ++i) {
    const std::string prefix = "weekly[" + std::to_string(i) + "]";
    auto w = window_from(weekly[i], prefix);
    if (!w) return w.err();
    c.rules.weekly.push_back(weekly_window{*parse_weekday(weekly[i].string("day")), *w});
  }
  const auto& overrides = in.objects("overrides");
  for (std::size_t i = 0; i < overrides.size(); ++i) {
    const std::string prefix = "overrides[" + std::to_string(i) + "]";
    auto day = parse_date(overrides[i].string("date"));
    if (!day) return make_error(errc::invalid, prefix + ".date must be a date YYYY-MM-DD", {prefix + ".date"});
    date_override o{*day, {}};
    const auto& windows = overrides[i].objects("windows");
    for (std::size_t j = 0; j < windows.size(); ++j) {
      auto w = window_from(windows[j], prefix + ".windows[" + std::to_string(j) + "]");
      if (!w) return w.err();
      o.windows.push_back(*w);
    }
    c.rules.overrides.push_back(std::move(o));
  }
  const auto& blackouts = in.objects("blackouts");
  for (std::size_t i = 0; i < blackouts.size(); ++i) {
    const std::string prefix = "blackouts[" + std::to_string(i) + "]";
    auto from = parse_date(blackouts[i].string("from"));
    if (!from) return make_error(errc::invalid, prefix + ".from must be a date YYYY-MM-DD", {prefix + ".from"});
    auto to = parse_date(blackouts[i].string("to"));
    if (!to) return make_error(errc::invalid, prefix + ".to must be a date YYYY-MM-DD", {prefix + ".to"});
    if (*to < *from) return make_error(errc::invalid, prefix + ".to must not be before its from", {prefix + ".to"});
    c.rules.blackouts.push_back({*from, *to});
  }
  c.rules.max_per_day = static_cast<int>(in.find_integer("max_sessions_per_day").value_or(0));
  c.rules.max_per_week = static_cast<int>(in.find_integer("max_sessions_per_week").value_or(0));
  c.cancellation_notice_minutes = in.find_integer("cancellation_notice_minutes").value_or(0);
  if (const auto* l = in.find_string("late_cancellation")) c.late_cancellation = *l;
  if (auto e = validate(c.rules)) return *e;
  return c;
}

const json_schema& session_type_schema() {
  static const json_schema schema{
      json_field::string("name").max_length(200),
      json_field::integer("duration_minutes"),
      json_field::integer("buffer_before_minutes").optional(),
      json_field::integer("buffer_after_minutes").optional(),
      json_field::integer("min_notice_minutes", 0, 60 * 24 * 365).optional(),
      json_field::integer("horizon_days").optional(),
      json_field::integer("slot_interval_minutes").optional(),
      json_field::integer("price_cents", 0, 100'000'000).optional(),
      json_field::string("currency").min_length(3).max_length(3).optional(),
      json_field::string("location").max_length(500).optional(),
  };
  return schema;
}

/// The schedule command of a session-type request (the rules checked here so bad input is a
/// 422 naming the field before anything is submitted).
result<define_session_type> session_type_command(const json_fields& in, const std::string& coach_id,
                                                 const std::string& type_id) {
  define_session_type c;
  c.coach_id = coach_id;
  c.acting_account_id = coach_id;
  c.session_type_id = type_id;
  c.name = in.string("name");
  c.rules.duration = minutes{in.integer("duration_minutes")};
  c.rules.buffer_before = minutes{in.find_integer("buffer_before_minutes").value_or(0)};
  c.rules.buffer_after = minutes{in.find_integer("buffer_after_minutes").value_or(0)};
  c.rules.min_notice = minutes{in.find_integer("min_notice_minutes").value_or(0)};
  c.rules.horizon = std::chrono::days{in.find_integer("horizon_days").value_or(60)};
  c.rules.slot_interval = minutes{in.find_integer("slot_interval_minutes").value_or(c.rules.duration.count())};
  c.price_cents = in.find_integer("price_cents").value_or(0);
  if (const auto* v = in.find_string("currency")) c.currency = *v;
  if (const auto* v = in.find_string("location")) c.location = *v;
  if (auto e = validate(c.rules)) return *e;
  c.at = now_utc();
  return c;
}

/// The viewer's zone: ?tz= if given (422 when unknown), else their preference, else UTC.
awaitable<result<const date::time_zone*>> viewer_zone(request_context& ctx, services& s) {
  if (auto tz = ctx.query("tz")) co_return zone_named(*tz, "tz");
  const principal* who = caller(ctx);
  if (who != nullptr) {
    // On the I/O thread (pg_async), like the list it comes with: no hop to a pool thread.
    auto lookup = find_timezone_preference(*s.reads, who->account_id);
    const auto pref = co_await std::move(lookup);
    if (pref) {
      if (const auto* z = find_zone(*pref)) co_return z;
    }
  }
  co_return find_zone("UTC");
}

/// Submits a schedule command and answers with `body` (plus stream_version and token).
awaitable<response> submit(request_context& ctx, services& s, const std::string& coach_id, command_body body,
                           http::status status, json::object answer) {
  auto cmd = command_from_request(ctx, schedule_stream(coach_id), std::move(body));
  if (!cmd) co_return problem_response(cmd.err(), ctx.req);
  auto outcome = co_await execute(*s.processor, std::move(cmd.value()));
  if (!outcome) co_return problem_response(outcome.err(), ctx.req);
  co_return command_response(ctx, status, outcome.value(), std::move(answer));
}

/// The session named in the path, if the caller takes part in it (404 otherwise).
awaitable<result<session_view>> participant_session(request_context& ctx, services& s) {
  const std::string session_id(ctx.param("id"));
  if (auto e = check_uuid(session_id, "session")) co_return *e;
  auto lookup = find_session(*s.reads, session_id);
  auto found = co_await std::move(lookup);
  const principal* who = caller(ctx);
  if (!found || who == nullptr ||
      (found->coach_id != who->account_id && found->client_account_id != who->account_id)) {
    co_return make_error(errc::not_found, "session '" + session_id + "' does not exist");
  }
  co_return std::move(*found);
}

enum class lifecycle { reschedule, cancel, confirm, complete, no_show };

awaitable<response> session_command(request_context& ctx, services& s, lifecycle what) {
  static const json_schema reschedule_schema{json_field::string("start").max_length(40)};
  static const json_schema cancel_schema{json_field::string("reason").optional().multiline().max_length(2000)};
  static const json_schema empty_schema{};
  if (auto wait = co_await await_read_model(ctx, s, "sessions")) co_return std::move(*wait);
  const json_schema& schema = what == lifecycle::reschedule ? reschedule_schema
                              : what == lifecycle::cancel   ? cancel_schema
                                                            : empty_schema;
  // Ownership first: a session that is not the caller's is 404 whatever the body says.
  auto session = co_await participant_session(ctx, s);
  if (!session) co_return problem_response(session.err(), ctx.req);
  std::optional<json_fields> in;
  if (what == lifecycle::reschedule || !ctx.req.body().empty()) {
    auto parsed = parse_json_body(ctx.req, schema);
    if (!parsed) co_return problem_response(parsed.err(), ctx.req);
    in = std::move(parsed.value());
  }
  const std::string by = caller(ctx)->account_id;
  const auto now = now_utc();
  command_body body;
  std::string status_after;
  json::object answer{{"id", session->session_id}};
  switch (what) {
    case lifecycle::reschedule: {
      auto start = instant(in->string("start"), "start");
      if (!start) co_return problem_response(start.err(), ctx.req);
      body = reschedule_session{session->coach_id, session->session_id, by, *start, now};
      answer["start"] = utc_text(*start);
      status_after = session->status;
      break;
    }
    case lifecycle::cancel: {
      std::string reason;
      if (in) {
        if (const auto* r = in->find_string("reason")) reason = *r;
      }
      body = cancel_session{session->coach_id, session->session_id, by, reason, now};
      status_after = "cancelled";
      break;
    }
    case lifecycle::confirm:
      body = confirm_session{session->coach_id, session->session_id, by, now};
      status_after = "confirmed";
      break;
    case lifecycle::complete:
      body = complete_session{session->coach_id, session->session_id, by, now};
      status_after = "completed";
      break;
    case lifecycle::no_show:
      body = mark_no_show{session->coach_id, session->session_id, by, now};
      status_after = "no_show";
      break;
  }
  answer["status"] = status_after;
  co_return co_await submit(ctx, s, session->coach_id, std::move(body), http::status::ok, std::move(answer));
}

}  // namespace

void add_schedule_routes(router& r, services& s) {
  r.add({http::verb::put, "/api/v1/me/availability", "setAvailability",
         "Replace the coach's availability: weekly windows in their IANA zone, date overrides, blackouts, limits, "
         "cancellation notice",
         access::coach, true, "caller"},
        [&s](request_context& ctx) -> awaitable<response> {
          auto in = parse_json_body(ctx.req, availability_schema());
          if (!in) co_return problem_response(in.err(), ctx.req);
          const std::string coach_id = caller(ctx)->account_id;
          auto c = availability_command(*in, coach_id);
          if (!c) co_return problem_response(c.err(), ctx.req);
          c->at = now_utc();
          command_body body = std::move(c.value());
          json::object answer{{"coach_id", coach_id}, {"time_zone", in->string("time_zone")}};
          co_return co_await submit(ctx, s, coach_id, std::move(body), http::status::ok, std::move(answer));
        });

  r.add({http::verb::get, "/api/v1/coaches/{coach}/availability", "getAvailability",
         "A coach's published availability settings (public)", access::anonymous, false, "public"},
        [&s](request_context& ctx) -> awaitable<response> {
          if (auto wait = co_await await_read_model(ctx, s, "sessions")) co_return std::move(*wait);
          const std::string coach_id(ctx.param("coach"));
          if (auto e = check_uuid(coach_id, "coach")) co_return problem_response(*e, ctx.req);
          auto found = co_await s.pool->run([&](pqxx::connection& c) { return find_availability(c, coach_id); });
          if (!found) {
            co_return problem_response(
                make_error(errc::not_found, "coach '" + coach_id + "' has not published availability"), ctx.req);
          }
          co_return json_response(http::status::ok, json::value(availability_json(*found)), ctx.req);
        });

  r.add({http::verb::post, "/api/v1/me/session-types", "createSessionType",
         "Create a session type (duration, buffers, notice, horizon, slot interval, price, location)", access::coach,
         true, "caller"},
        [&s](request_context& ctx) -> awaitable<response> {
          auto in = parse_json_body(ctx.req, session_type_schema());
          if (!in) co_return problem_response(in.err(), ctx.req);
          const std::string coach_id = caller(ctx)->account_id;
          const std::string type_id = new_entity_id(ctx, "session-type");
          auto c = session_type_command(*in, coach_id, type_id);
          if (!c) co_return problem_response(c.err(), ctx.req);
          json::object answer{{"id", type_id}, {"name", c->name}};
          command_body body = std::move(c.value());
          auto res = co_await submit(ctx, s, coach_id, std::move(body), http::status::created, std::move(answer));
          if (res.result() == http::status::created) {
            res.set(http::field::location, "/api/v1/coaches/" + coach_id + "/session-types");
          }
          co_return res;
        });

  r.add({http::verb::put, "/api/v1/me/session-types/{id}", "updateSessionType", "Change one of the coach's session types",
         access::coach, true, "caller"},
        [&s](request_context& ctx) -> awaitable<response> {
          const std::string type_id(ctx.param("id"));
          if (auto e = check_uuid(type_id, "session type")) co_return problem_response(*e, ctx.req);
          auto in = parse_json_body(ctx.req, session_type_schema());
          if (!in) co_return problem_response(in.err(), ctx.req);
          const std::string coach_id = caller(ctx)->account_id;
          auto c = session_type_command(*in, coach_id, type_id);
          if (!c) co_return problem_response(c.err(), ctx.req);
          // Only the caller's own types can be changed (another coach's id: 404).
          if (auto wait = co_await await_read_model(ctx, s, "sessions")) co_return std::move(*wait);
          const bool mine = co_await s.pool->run(
              [&](pqxx::connection& conn) { return find_session_type(conn, coach_id, type_id).has_value(); });
          if (!mine) {
            co_return problem_response(make_error(errc::not_found, "session type '" + type_id + "' does not exist"),
                                       ctx.req);
          }
          json::object answer{{"id", type_id}, {"name", c->name}};
          command_body body = std::move(c.value());
          co_return co_await submit(ctx, s, coach_id, std::move(body), http::status::ok, std::move(answer));
        });

  r.add({http::verb::get, "/api/v1/coaches/{coach}/session-types", "listSessionTypes",
         "A coach's session types (public)", access::anonymous, false, "public"},
        [&s](request_context& ctx) -> awaitable<response> {
          if (auto wait = co_await await_read_model(ctx, s, "sessions")) co_return std::move(*wait);
          const std::string coach_id(ctx.param("coach"));
          if (auto e = check_uuid(coach_id, "coach")) co_return problem_response(*e, ctx.req);
          auto types = co_await s.pool->run([&](pqxx::connection& c) { return list_session_types(c, coach_id); });
          json::array items;
          for (const auto& t : types) items.push_back(type_json(t));
          co_return json_response(http::status::ok, json::value(json::object{{"items", std::move(items)}}), ctx.req);
        });

  r.add({http::verb::get, "/api/v1/coaches/{coach}/slots", "listSlots",
         "Bookable start times of a session type in [from, to) (at most 92 days), in UTC and in ?tz (public)",
         access::anonymous, false, "public"},
        [&s](request_context& ctx) -> awaitable<response> {
          if (auto wait = co_await await_read_model(ctx, s, "sessions")) co_return std::move(*wait);
          const std::string coach_id(ctx.param("coach"));
          if (auto e = check_uuid(coach_id, "coach")) co_return problem_response(*e, ctx.req);
          auto type_param = ctx.query("type");
          if (!type_param || !is_uuid(*type_param)) {
            co_return problem_response(make_error(errc::invalid, "type must be the id of one of the coach's session types",
                                                  {"type"}),
                                       ctx.req);
          }
          const std::string type_id(*type_param);
          auto from_param = ctx.query("from");
          auto to_param = ctx.query("to");
          if (!from_param) co_return problem_response(make_error(errc::invalid, "from is required", {"from"}), ctx.req);
          if (!to_param) co_return problem_response(make_error(errc::invalid, "to is required", {"to"}), ctx.req);
          auto from = instant(*from_param, "from");
          if (!from) co_return problem_response(from.err(), ctx.req);
          auto to = instant(*to_param, "to");
          if (!to) co_return problem_response(to.err(), ctx.req);
          if (*to <= *from) {
            co_return problem_response(make_error(errc::invalid, "to must be after from", {"to"}), ctx.req);
          }
          if (*to - *from > max_slot_range) {
            co_return problem_response(make_error(errc::invalid, "the range from..to must not exceed 92 days", {"to"}),
                                       ctx.req);
          }
          const date::time_zone* view_zone = nullptr;
          if (auto tz = ctx.query("tz")) {
            auto z = zone_named(*tz, "tz");
            if (!z) co_return problem_response(z.err(), ctx.req);
            view_zone = *z;
          }
          const auto now = now_utc();
          const timestamp busy_from = *from - date::days(9);
          const timestamp busy_to = *to + date::days(9);
          struct loaded {
            std::optional<availability_set> availability;
            std::optional<session_type_defined> type;
            std::vector<busy_row> busy;
          };
          auto data = co_await s.pool->run([&](pqxx::connection& c) {
            loaded l;
            l.availability = find_availability(c, coach_id);
            l.type = find_session_type(c, coach_id, type_id);
            if (l.availability && l.type) l.busy = busy_between(c, coach_id, busy_from, busy_to, now);
            return l;
          });
          if (!data.type) {
            co_return problem_response(
                make_error(errc::invalid, "type '" + type_id + "' is not one of the coach's session types", {"type"},
                           "unknown-session-type"),
                ctx.req);
          }
          json::array items;
          const auto duration = minutes{data.type->duration_minutes};
          std::string coach_zone = "UTC";
          if (data.availability) {
            coach_zone = data.availability->time_zone;
            std::vector<busy_interval> busy;
            for (const auto& b : data.busy) {
              busy.push_back({b.start, b.end, minutes{b.buffer_before_minutes}, minutes{b.buffer_after_minutes},
                              b.is_session});
            }
            for (auto slot : bookable_slots(rules_of(*data.availability), rules_of(*data.type), busy, *from, *to, now)) {
              json::object o{{"start", utc_text(slot)}, {"end", utc_text(slot + duration)}};
              if (view_zone == nullptr) view_zone = find_zone(coach_zone);
              o["local_start"] = local_rfc3339(view_zone, slot);
              o["local_end"] = local_rfc3339(view_zone, slot + duration);
              items.push_back(std::move(o));
            }
          }
          if (view_zone == nullptr) view_zone = find_zone(coach_zone);
          json::object body{{"coach_id", coach_id},
                            {"type", type_id},
                            {"coach_time_zone", coach_zone},
                            {"time_zone", std::string(view_zone->name())},
                            {"slots", std::move(items)}};
          co_return json_response(http::status::ok, json::value(std::move(body)), ctx.req);
        });

  r.add({http::verb::post, "/api/v1/coaches/{coach}/holds", "holdSlot",
         "Reserve a slot for 10 minutes while the caller checks out", access::signed_in, true, "caller"},
        [&s](request_context& ctx) -> awaitable<response> {
          static const json_schema schema{json_field::string("type").max_length(36),
                                          json_field::string("start").max_length(40)};
          const std::string coach_id(ctx.param("coach"));
          if (auto e = check_uuid(coach_id, "coach")) co_return problem_response(*e, ctx.req);
          auto in = parse_json_body(ctx.req, schema);
          if (!in) co_return problem_response(in.err(), ctx.req);
          auto start = instant(in->string("start"), "start");
          if (!start) co_return problem_response(start.err(), ctx.req);
          const std::string hold_id = new_entity_id(ctx, "hold");
          const auto now = now_utc();
          json::object answer{{"id", hold_id}, {"start", utc_text(*start)}, {"expires_at", utc_text(now + hold_duration)}};
          command_body body =
              hold_slot{coach_id, hold_id, in->string("type"), caller(ctx)->account_id, *start, hold_duration, now};
          co_return co_await submit(ctx, s, coach_id, std::move(body), http::status::created, std::move(answer));
        });

  r.add({http::verb::post, "/api/v1/coaches/{coach}/sessions", "bookSession",
         "Book a session: a client books a slot of a session type (optionally with their hold); the coach books "
         "directly for a client with a title, start, duration and meeting link",
         access::signed_in, true, "caller"},
        [&s](request_context& ctx) -> awaitable<response> {
          static const json_schema schema{
              json_field::string("type").max_length(36).optional(),
              json_field::string("start").max_length(40),
              json_field::string("hold_id").max_length(36).optional(),
              json_field::string("client_account_id").max_length(36).optional(),
              json_field::string("title").max_length(200).optional(),
              json_field::integer("duration_minutes").optional(),
              json_field::string("meeting_link").max_length(500).optional(),
          };
          const std::string coach_id(ctx.param("coach"));
          if (auto e = check_uuid(coach_id, "coach")) co_return problem_response(*e, ctx.req);
          auto in = parse_json_body(ctx.req, schema);
          if (!in) co_return problem_response(in.err(), ctx.req);
          auto start = instant(in->string("start"), "start");
          if (!start) co_return problem_response(start.err(), ctx.req);
          const principal* who = caller(ctx);
          book_session c;
          c.coach_id = coach_id;
          c.session_id = new_entity_id(ctx, "session");
          c.booked_by = who->account_id;
          c.start = *start;
          c.at = now_utc();
          if (const auto* t = in->find_string("type"); t && !t->empty()) c.session_type_id = *t;
          if (const auto* h = in->find_string("hold_id"); h && !h->empty()) c.hold_id = *h;
          if (const auto* t = in->find_string("title")) c.title = *t;
          if (const auto* m = in->find_string("meeting_link"); m && !m->empty()) c.location = *m;
          if (who->account_id == coach_id) {
            const auto* client = in->find_string("client_account_id");
            if (client == nullptr || !is_uuid(*client)) {
              co_return problem_response(
                  make_error(errc::invalid, "client_account_id is required when the coach books", {"client_account_id"}),
                  ctx.req);
            }
            c.client_account_id = *client;
            if (auto d = in->find_integer("duration_minutes")) {
              if (*d < 1 || *d > 1440) {
                co_return problem_response(
                    make_error(errc::invalid, "duration_minutes must be from 1 to 1440", {"duration_minutes"}), ctx.req);
              }
              c.duration = minutes{*d};
            } else if (!c.session_type_id) {
              co_return problem_response(
                  make_error(errc::invalid, "duration_minutes (or type) is required when the coach books",
                             {"duration_minutes"}),
                  ctx.req);
            }
          } else {
            if (who->role != "client") {
              co_return problem_response(make_error(errc::forbidden, "only clients book a coach's slots"), ctx.req);
            }
            if (!c.session_type_id) {
              co_return problem_response(make_error(errc::invalid, "type is required", {"type"}), ctx.req);
            }
            for (const char* field : {"client_account_id", "duration_minutes", "title", "meeting_link"}) {
              if (in->has(field)) {
                co_return problem_response(
                    make_error(errc::invalid, std::string(field) + " is set by the coach's session type", {field}),
                    ctx.req);
              }
            }
            c.client_account_id = who->account_id;
          }
          const std::string session_id = c.session_id;
          json::object answer{{"id", session_id}, {"coach_id", coach_id}, {"start", utc_text(*start)}, {"status", "booked"}};
          command_body body = std::move(c);
          auto res = co_await submit(ctx, s, coach_id, std::move(body), http::status::created, std::move(answer));
          if (res.result() == http::status::created) res.set(http::field::location, "/api/v1/sessions/" + session_id);
          co_return res;
        });

  r.add({http::verb::get, "/api/v1/sessions", "listSessions",
         "The caller's sessions (?view=upcoming|past|cancelled, ?tz, ?cursor, ?limit), times in their zone",
         access::signed_in, false, "caller"},
        [&s](request_context& ctx) -> awaitable<response> {
          if (auto wait = co_await await_read_model(ctx, s, "sessions")) co_return std::move(*wait);
          std::string view = "upcoming";
          if (auto v = ctx.query("view")) {
            if (*v != "upcoming" && *v != "past" && *v != "cancelled") {
              co_return problem_response(make_error(errc::invalid, "view must be upcoming, past or cancelled", {"view"}),
                                         ctx.req);
            }
            view = std::string(*v);
          }
          std::optional<std::string> cursor;
          if (auto v = ctx.query("cursor")) cursor = std::string(*v);
          auto limit = page_limit(ctx);
          if (!limit) co_return problem_response(limit.err(), ctx.req);
          auto zone = co_await viewer_zone(ctx, s);
          if (!zone) co_return problem_response(zone.err(), ctx.req);
          const principal* who = caller(ctx);
          const std::string account_id = who->account_id;
          const bool as_coach = who->role == "coach";
          const auto now = now_utc();
          auto listing = list_sessions(*s.reads, account_id, as_coach, view, now, cursor, *limit);
          auto listed = co_await std::move(listing);
          if (!listed) co_return problem_response(listed.err(), ctx.req);
          json_writer w(256 + 512 * listed->items.size());
          w.begin_object().key("items").begin_array();
          for (const auto& v : listed->items) write_session(w, v, *zone);
          w.end_array().member("time_zone", (*zone)->name()).member("next_cursor", listed->next_cursor).end_object();
          co_return json_response(http::status::ok, w.take(), ctx.req);
        });

  r.add({http::verb::get, "/api/v1/sessions/{id}", "getSession", "One session of the caller's, in their zone",
         access::signed_in, false, "session:id"},
        [&s](request_context& ctx) -> awaitable<response> {
          if (auto wait = co_await await_read_model(ctx, s, "sessions")) co_return std::move(*wait);
          auto zone = co_await viewer_zone(ctx, s);
          if (!zone) co_return problem_response(zone.err(), ctx.req);
          auto session = co_await participant_session(ctx, s);
          if (!session) co_return problem_response(session.err(), ctx.req);
          json_writer w;
          write_session(w, *session, *zone);
          co_return json_response(http::status::ok, w.take(), ctx.req);
        });

  r.add({http::verb::get, "/api/v1/sessions/{id}.ics", "getSessionCalendar",
         "One session as an iCalendar (RFC 5545) file", access::signed_in, false, "session:id"},
        [&s](request_context& ctx) -> awaitable<response> {
          if (auto wait = co_await await_read_model(ctx, s, "sessions")) co_return std::move(*wait);
          auto session = co_await participant_session(ctx, s);
          if (!session) co_return problem_response(session.err(), ctx.req);
          ics_event e;
          e.uid = session->session_id + "@coachd";
          e.summary = session->title;
          e.location = session->location;
          e.start = *parse_rfc3339(session->start_at);
          e.end = *parse_rfc3339(session->end_at);
          e.stamp = *parse_rfc3339(session->updated_at);
          e.sequence = session->sequence;
          e.cancelled = session->status == "cancelled";
          auto res = text_response(http::status::ok, write_ics(e), "text/calendar; charset=utf-8", ctx.req);
          res.set(http::field::content_disposition, "attachment; filename=\"session-" + session->session_id + ".ics\"");
          co_return res;
        });

  r.add({http::verb::post, "/api/v1/sessions/{id}/reschedule", "rescheduleSession",
         "Move a session to a new start (the coach, or its client within the rules)", access::signed_in, true, "session:id"},
        [&s](request_context& ctx) { return session_command(ctx, s, lifecycle::reschedule); });
  r.add({http::verb::post, "/api/v1/sessions/{id}/cancel", "cancelSession",
         "Cancel a session (a client inside the cancellation notice is refused or flagged per the coach's setting)",
         access::signed_in, true, "session:id"},
        [&s](request_context& ctx) { return session_command(ctx, s, lifecycle::cancel); });
  r.add({http::verb::post, "/api/v1/sessions/{id}/confirm", "confirmSession", "The client confirms attendance",
         access::client, true, "session:id"},
        [&s](request_context& ctx) { return session_command(ctx, s, lifecycle::confirm); });
  r.add({http::verb::post, "/api/v1/sessions/{id}/complete", "completeSession", "The coach marks the session held",
         access::coach, true, "session:id"},
        [&s](request_context& ctx) { return session_command(ctx, s, lifecycle::complete); });
  r.add({http::verb::post, "/api/v1/sessions/{id}/no-show", "markNoShow", "The coach records a no-show",
         access::coach, true, "session:id"},
        [&s](request_context& ctx) { return session_command(ctx, s, lifecycle::no_show); });

  r.add({http::verb::put, "/api/v1/me/preferences", "setPreferences",
         "The caller's preferences: the IANA time zone session times are shown in", access::signed_in, true, "caller"},
        [&s](request_context& ctx) -> awaitable<response> {
          static const json_schema schema{json_field::string("timezone").max_length(64)};
          auto in = parse_json_body(ctx.req, schema);
          if (!in) co_return problem_response(in.err(), ctx.req);
          const std::string tz = in->string("timezone");
          auto zone = zone_named(tz, "timezone");
          if (!zone) co_return problem_response(zone.err(), ctx.req);
          const std::string account_id = caller(ctx)->account_id;
          co_await s.pool->run([&](pqxx::connection& c) {
            set_timezone_preference(c, account_id, tz);
            return true;
          });
          co_return json_response(http::status::ok, json::value(json::object{{"timezone", tz}}), ctx.req);
        });
}

}  // namespace coachd::gateway
