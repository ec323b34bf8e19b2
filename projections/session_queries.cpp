#include "projections/session_queries.hpp"

#include "projections/read_queries.hpp"

namespace coachd {

namespace {

constexpr std::string_view find_statement = "sessions_find";

constexpr const char* rfc3339 = "'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"'";

std::string iso(const std::string& column) {
  return "to_char(" + column + " AT TIME ZONE 'UTC', " + rfc3339 + ")";
}

std::string session_columns() {
  return "session_id::text, coach_id::text, client_account_id::text, session_type_id::text, "
         "title, " +
         iso("start_at") + ", " + iso("end_at") +
         ", location, status, sequence, late_cancellation, " + iso("booked_at") + ", " +
         iso("updated_at");
}

constexpr const char* type_columns =
    "coach_id::text, session_type_id::text, name, duration_minutes, buffer_before_minutes, "
    "buffer_after_minutes, "
    "min_notice_minutes, horizon_days, slot_interval_minutes, price_cents, currency, location, "
    "(extract(epoch FROM defined_at) * 1000)::bigint";

session_view to_session(const pg_row& r) {
  session_view v;
  v.session_id = r[0].as<std::string>();
  v.coach_id = r[1].as<std::string>();
  v.client_account_id = r[2].as<std::string>();
  if (!r[3].is_null()) v.session_type_id = r[3].as<std::string>();
  v.title = r[4].as<std::string>();
  v.start_at = r[5].as<std::string>();
  v.end_at = r[6].as<std::string>();
  v.location = r[7].as<std::string>();
  v.status = r[8].as<std::string>();
  v.sequence = r[9].as<std::int64_t>();
  v.late_cancellation = r[10].as<bool>();
  v.booked_at = r[11].as<std::string>();
  v.updated_at = r[12].as<std::string>();
  return v;
}

timestamp from_millis(const pqxx::field& f) {
  return timestamp(std::chrono::milliseconds(f.as<std::int64_t>()));
}

session_type_defined to_type(const pqxx::row& r) {
  session_type_defined t;
  t.coach_id = r[0].as<std::string>();
  t.session_type_id = r[1].as<std::string>();
  t.name = r[2].as<std::string>();
  t.duration_minutes = r[3].as<std::int64_t>();
  t.buffer_before_minutes = r[4].as<std::int64_t>();
  t.buffer_after_minutes = r[5].as<std::int64_t>();
  t.min_notice_minutes = r[6].as<std::int64_t>();
  t.horizon_days = r[7].as<std::int64_t>();
  t.slot_interval_minutes = r[8].as<std::int64_t>();
  t.price_cents = r[9].as<std::int64_t>();
  t.currency = r[10].as<std::string>();
  t.location = r[11].as<std::string>();
  t.defined_at = from_millis(r[12]);
  return t;
}

/// Our text[] elements never hold a line break, so array_to_string with "\n" is lossless.
std::vector<std::string> lines(const pqxx::field& f) {
  std::vector<std::string> out;
  const std::string text = f.as<std::string>();
  std::size_t start = 0;
  while (start < text.size()) {
    auto nl = text.find('\n', start);
    if (nl == std::string::npos) nl = text.size();
    out.push_back(text.substr(start, nl - start));
    start = nl + 1;
  }
  return out;
}

std::string millis_text(timestamp t) { return format_rfc3339(t); }

}  // namespace

std::vector<pg_statement> session_read_statements() {
  std::vector<pg_statement> out{{"sessions_find", "SELECT " + session_columns() + " FROM sessions WHERE session_id = $1"},
                                {"preferences_find", "SELECT timezone FROM account_preferences WHERE account_id = $1"}};
  // A first page and a later one are two statements (see intake_queries.cpp: a cached generic
  // plan keeps a "$n IS NULL OR …" filter). $2 is the request's now; the cancelled list only
  // types it.
  struct list_view {
    const char* name;
    const char* where;
    const char* before_or_after;  // the cursor's comparison
    const char* order;
  };
  const list_view views[] = {
      {"upcoming", "status <> 'cancelled' AND end_at >= $2", ">", "sessions.start_at, sessions.session_id"},
      {"past", "status <> 'cancelled' AND end_at < $2", "<", "sessions.start_at DESC, sessions.session_id DESC"},
      {"cancelled", "status = 'cancelled' AND $2::timestamptz IS NOT NULL", "<", "sessions.start_at DESC, sessions.session_id DESC"}};
  for (const std::string who : {"coach_id", "client_account_id"}) {
    const std::string base = "SELECT " + session_columns() + " FROM sessions WHERE " + who + " = $1 AND ";
    for (const auto& v : views) {
      const std::string name = "sessions_list_" + who + "_" + v.name;
      out.push_back({name, base + v.where + " ORDER BY " + v.order + " LIMIT $3"});
      out.push_back({name + "_after", base + v.where + " AND (start_at, session_id) " + v.before_or_after +
                                          " ($3::timestamptz, $4::uuid) ORDER BY " + v.order + " LIMIT $5"});
    }
  }
  return out;
}

void prepare_session_queries(pqxx::connection_base& c) {
  c.prepare("schedule_availability_find",
            "SELECT coach_id::text, time_zone, array_to_string(weekly, E'\\n'), "
            "array_to_string(overrides, E'\\n'), "
            "array_to_string(blackouts, E'\\n'), max_sessions_per_day, max_sessions_per_week, "
            "cancellation_notice_minutes, late_cancellation, (extract(epoch FROM updated_at) * "
            "1000)::bigint "
            "FROM schedule_availability WHERE coach_id = $1");
  c.prepare("session_types_list",
            std::string("SELECT ") + type_columns +
                " FROM session_types WHERE coach_id = $1 ORDER BY session_types.name, session_types.session_type_id");
  c.prepare("session_types_find",
            std::string("SELECT ") + type_columns +
                " FROM session_types WHERE coach_id = $1 AND session_type_id = $2");
  c.prepare("schedule_busy",
            "SELECT (extract(epoch FROM start_at) * 1000)::bigint, (extract(epoch FROM end_at) * "
            "1000)::bigint, "
            "buffer_before_minutes, buffer_after_minutes, true FROM sessions "
            "WHERE coach_id = $1 AND status <> 'cancelled' AND start_at < $3 AND end_at > $2 "
            "UNION ALL SELECT (extract(epoch FROM start_at) * 1000)::bigint, (extract(epoch FROM "
            "end_at) * 1000)::bigint, "
            "buffer_before_minutes, buffer_after_minutes, false FROM slot_holds WHERE coach_id = "
            "$1 AND expires_at > $4");
  c.prepare(
      "preferences_set",
      "INSERT INTO account_preferences (account_id, timezone, updated_at) VALUES ($1, $2, now()) "
      "ON CONFLICT (account_id) DO UPDATE SET timezone = EXCLUDED.timezone, updated_at = "
      "EXCLUDED.updated_at");
}

std::optional<availability_set> find_availability(pqxx::connection_base& connection,
                                                  const std::string& coach_id) {
  pqxx::nontransaction tx(connection);  // one statement: atomic on its own, one round trip
  auto rows = tx.exec_prepared("schedule_availability_find", coach_id);
  if (rows.empty()) return std::nullopt;
  const auto& r = rows[0];
  availability_set a;
  a.coach_id = r[0].as<std::string>();
  a.time_zone = r[1].as<std::string>();
  a.weekly = lines(r[2]);
  a.overrides = lines(r[3]);
  a.blackouts = lines(r[4]);
  a.max_sessions_per_day = r[5].as<std::int64_t>();
  a.max_sessions_per_week = r[6].as<std::int64_t>();
  a.cancellation_notice_minutes = r[7].as<std::int64_t>();
  a.late_cancellation = r[8].as<std::string>();
  a.set_at = from_millis(r[9]);
  return a;
}

std::vector<session_type_defined> list_session_types(pqxx::connection_base& connection,
                                                     const std::string& coach_id) {
  pqxx::nontransaction tx(connection);  // one statement: atomic on its own, one round trip
  std::vector<session_type_defined> out;
  for (const auto& r : tx.exec_prepared("session_types_list", coach_id)) out.push_back(to_type(r));
  return out;
}

std::optional<session_type_defined> find_session_type(pqxx::connection_base& connection,
                                                      const std::string& coach_id,
                                                      const std::string& session_type_id) {
  pqxx::nontransaction tx(connection);  // one statement: atomic on its own, one round trip
  auto rows = tx.exec_prepared("session_types_find", coach_id, session_type_id);
  if (rows.empty()) return std::nullopt;
  return to_type(rows[0]);
}

std::vector<busy_row> busy_between(pqxx::connection_base& connection, const std::string& coach_id,
                                   timestamp from, timestamp to, timestamp now) {
  pqxx::nontransaction tx(connection);  // one statement: atomic on its own, one round trip
  std::vector<busy_row> out;
  for (const auto& r : tx.exec_prepared("schedule_busy", coach_id, millis_text(from),
                                        millis_text(to), millis_text(now))) {
    out.push_back({from_millis(r[0]), from_millis(r[1]), r[2].as<std::int64_t>(),
                   r[3].as<std::int64_t>(), r[4].as<bool>()});
  }
  return out;
}

boost::asio::awaitable<std::optional<session_view>> find_session(pg_async_pool& db, std::string session_id) {
  pg_params params{std::move(session_id)};
  auto read = read_one<session_view>(db, find_statement, std::move(params), to_session);
  co_return co_await std::move(read);
}

boost::asio::awaitable<result<page<session_view>>> list_sessions(pg_async_pool& db, std::string account_id,
                                                                 bool as_coach, std::string view, timestamp now,
                                                                 std::optional<std::string> cursor, int limit) {
  auto start = start_of_page(cursor);
  if (!start) co_return start.err();
  const bool after = start->after_time.has_value();
  const std::string statement = std::string("sessions_list_") + (as_coach ? "coach_id" : "client_account_id") +
                                "_" + view + (after ? "_after" : "");
  pg_params params{std::move(account_id), millis_text(now)};
  add_page_params(params, *start, limit);
  auto read = read_page<session_view>(db, statement, std::move(params), limit, to_session,
                                      [](const session_view& v) { return std::make_pair(v.start_at, v.session_id); });
  co_return co_await std::move(read);
}

boost::asio::awaitable<std::optional<std::string>> find_timezone_preference(pg_async_pool& db,
                                                                           std::string account_id) {
  auto read = read_one<std::string>(db, "preferences_find", pg_params{std::move(account_id)},
                                    [](const pg_row& r) { return r[0].as<std::string>(); });
  co_return co_await std::move(read);
}

void set_timezone_preference(pqxx::connection_base& connection, const std::string& account_id,
                             const std::string& timezone) {
  pqxx::work tx(connection);
  tx.exec_prepared("preferences_set", account_id, timezone);
  tx.commit();
}

}  // namespace coachd
