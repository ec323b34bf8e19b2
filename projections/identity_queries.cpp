#include "projections/identity_queries.hpp"

namespace coachd {

namespace {

// One statement for every filter combination: each condition is off when its parameter is null.
// It runs unprepared (libpq's unnamed statement), which PostgreSQL plans with the values bound, so
// the conditions that are off fold away and the planner picks audit_events_by_account, _by_type
// or _by_time for the ones that are on. Prepared, it would get the generic plan PostgreSQL caches
// after five runs, which keeps every "$n IS NULL OR …" and cannot choose an index by filter.
constexpr const char* audit_list_sql =
    "SELECT event_id, type, account_id::text, "
    "to_char(occurred_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"'), details::text "
    "FROM audit_events WHERE ($1::uuid IS NULL OR account_id = $1::uuid) "
    "AND ($2::text IS NULL OR type = $2) "
    "AND ($3::timestamptz IS NULL OR occurred_at >= $3::timestamptz) "
    "AND ($4::timestamptz IS NULL OR occurred_at < $4::timestamptz) "
    "AND ($5::timestamptz IS NULL OR (occurred_at, event_id) < ($5::timestamptz, $6::text)) "
    "ORDER BY audit_events.occurred_at DESC, audit_events.event_id DESC LIMIT $7";

}  // namespace

void prepare_identity_queries(pqxx::connection_base& connection) {
  // The session check of every authenticated request (gateway/auth.cpp): one round trip.
  connection.prepare("auth_session_lookup",
                     "SELECT account_id::text, role, csrf_token, session_id::text, "
                     "last_seen_at < now() - interval '1 minute', "
                     "extract(epoch FROM least(expires_at, last_seen_at + make_interval(secs => $2))) "
                     "FROM auth_sessions WHERE token_hash = $1 "
                     "AND expires_at > now() AND last_seen_at > now() - make_interval(secs => $2)");
  connection.prepare("auth_session_touch",
                     "UPDATE auth_sessions SET last_seen_at = now() "
                     "FROM (SELECT set_config('synchronous_commit', 'off', true)) AS async_commit "
                     "WHERE token_hash = $1");
}

result<page<audit_entry>> list_audit(pqxx::connection_base& connection, const audit_filter& filter) {
  std::optional<std::string> after_time, after_id;
  if (filter.cursor) {
    auto decoded = decode_cursor(*filter.cursor);
    if (!decoded) return make_error(errc::invalid, "cursor is not one this API returned", {"cursor"});
    after_time = decoded->first;
    after_id = decoded->second;
  }
  pqxx::nontransaction tx(connection);  // one statement: atomic on its own, one round trip
  auto rows = tx.exec_params(audit_list_sql, filter.account_id, filter.type, filter.since, filter.until,
                               after_time, after_id, filter.limit + 1);
  page<audit_entry> out;
  for (const auto& row : rows) {
    if (static_cast<int>(out.items.size()) == filter.limit) {
      const auto& last = out.items.back();
      out.next_cursor = encode_cursor(last.occurred_at, last.event_id);
      break;
    }
    out.items.push_back(audit_entry{row[0].as<std::string>(), row[1].as<std::string>(), row[2].as<std::string>(),
                                    row[3].as<std::string>(), row[4].as<std::string>()});
  }
  return out;
}

}  // namespace coachd
