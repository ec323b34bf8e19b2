#include "projections/calendar_feed_queries.hpp"

namespace coachd {

namespace {

std::string iso(const std::string& column) {
  return "to_char(" + column + " AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"')";
}

}  // namespace

void prepare_calendar_feed_queries(pqxx::connection_base& c) {
  c.prepare(
      "calendar_feed_replace",
      "INSERT INTO calendar_feeds (account_id, token_hash, created_at) VALUES ($1, $2, now()) "
      "ON CONFLICT (account_id) DO UPDATE SET token_hash = EXCLUDED.token_hash, "
      "created_at = EXCLUDED.created_at, last_used_at = NULL RETURNING " +
          iso("created_at"));
  c.prepare("calendar_feed_find", "SELECT " + iso("created_at") + ", " + iso("last_used_at") +
                                      " FROM calendar_feeds WHERE account_id = $1");
  c.prepare("calendar_feed_revoke", "DELETE FROM calendar_feeds WHERE account_id = $1");
  c.prepare(
      "calendar_feed_owner",
      "SELECT account_id::text, last_used_at IS NULL OR last_used_at < now() - interval '1 minute' "
      "FROM calendar_feeds WHERE token_hash = $1");
  c.prepare("calendar_feed_touch",
            "UPDATE calendar_feeds SET last_used_at = now() WHERE token_hash = $1");
  c.prepare(
      "calendar_feed_sessions",
      "SELECT f.session_id::text, f.title, " + iso("f.start_at") + ", " + iso("f.end_at") + ", " +
          iso("f.updated_at") +
          ", f.location, f.status, f.sequence, COALESCE(a.display_name, '') FROM ("
          // Each branch is served by its index (sessions_by_coach, sessions_by_client) and
          // stops at the limit; an account never coaches itself, so they do not overlap.
          "(SELECT session_id, title, start_at, end_at, updated_at, location, status, sequence, "
          "client_account_id AS counterpart FROM sessions WHERE coach_id = $1 AND start_at >= $2 "
          "ORDER BY start_at, session_id LIMIT $3) UNION ALL "
          "(SELECT session_id, title, start_at, end_at, updated_at, location, status, sequence, "
          "coach_id AS counterpart FROM sessions WHERE client_account_id = $1 AND coach_id <> $1 "
          "AND start_at >= $2 ORDER BY start_at, session_id LIMIT $3)) f "
          "LEFT JOIN accounts a ON a.account_id = f.counterpart ORDER BY f.start_at, f.session_id "
          "LIMIT $3");
}

std::string replace_calendar_feed(pqxx::connection_base& connection, const std::string& account_id,
                                  const std::string& token_hash) {
  pqxx::work tx(connection);
  auto row = tx.exec_prepared1("calendar_feed_replace", account_id, token_hash);
  tx.commit();
  return row[0].as<std::string>();
}

std::optional<calendar_feed_info> find_calendar_feed(pqxx::connection_base& connection,
                                                     const std::string& account_id) {
  pqxx::nontransaction tx(connection);  // one statement: atomic on its own, one round trip
  auto rows = tx.exec_prepared("calendar_feed_find", account_id);
  if (rows.empty()) return std::nullopt;
  calendar_feed_info info{rows[0][0].as<std::string>(), std::nullopt};
  if (!rows[0][1].is_null()) info.last_used_at = rows[0][1].as<std::string>();
  return info;
}

bool revoke_calendar_feed(pqxx::connection_base& connection, const std::string& account_id) {
  pqxx::work tx(connection);
  auto r = tx.exec_prepared("calendar_feed_revoke", account_id);
  tx.commit();
  return r.affected_rows() > 0;
}

std::optional<std::string> use_calendar_feed(pqxx::connection_base& connection,
                                             const std::string& token_hash) {
  pqxx::work tx(connection);
  auto rows = tx.exec_prepared("calendar_feed_owner", token_hash);
  if (rows.empty()) {
    tx.commit();
    return std::nullopt;
  }
  if (rows[0][1].as<bool>()) {
    tx.exec("SET LOCAL synchronous_commit = off");
    tx.exec_prepared("calendar_feed_touch", token_hash);
  }
  tx.commit();
  return rows[0][0].as<std::string>();
}

std::vector<calendar_feed_entry> calendar_feed_sessions(pqxx::connection_base& connection,
                                                        const std::string& account_id,
                                                        timestamp since, int limit) {
  pqxx::nontransaction tx(connection);  // one statement: atomic on its own, one round trip
  std::vector<calendar_feed_entry> out;
  for (const auto& r :
       tx.exec_prepared("calendar_feed_sessions", account_id, format_rfc3339(since), limit)) {
    calendar_feed_entry e;
    e.session_id = r[0].as<std::string>();
    e.title = r[1].as<std::string>();
    e.start_at = r[2].as<std::string>();
    e.end_at = r[3].as<std::string>();
    e.updated_at = r[4].as<std::string>();
    e.location = r[5].as<std::string>();
    e.status = r[6].as<std::string>();
    e.sequence = r[7].as<std::int64_t>();
    e.counterpart_name = r[8].as<std::string>();
    out.push_back(std::move(e));
  }
  return out;
}

}  // namespace coachd
