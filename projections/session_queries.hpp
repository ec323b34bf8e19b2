#pragma once
/// Queries on the scheduling read model: what the slots query needs (a coach's settings, one
/// session type, busy times), session types, sessions for their coach and client, and the
/// viewer's time-zone preference.

#include <boost/asio/awaitable.hpp>
#include <optional>
#include <pqxx/pqxx>
#include <string>
#include <vector>

#include "events/errors.hpp"
#include "events/schedule_events.hpp"
#include "infra/pg_async.hpp"
#include "projections/paging.hpp"

namespace coachd {

/// A session as its coach and client see it (times RFC 3339 UTC).
struct session_view {
  std::string session_id, coach_id, client_account_id;
  std::optional<std::string> session_type_id;
  std::string title, start_at, end_at, location, status;
  std::int64_t sequence = 0;
  bool late_cancellation = false;
  std::string booked_at, updated_at;
};

/// Time a coach is busy with (a session or an active hold).
struct busy_row {
  timestamp start, end;
  std::int64_t buffer_before_minutes = 0, buffer_after_minutes = 0;
  bool is_session = true;
};

/// Prepares the statements below on a pooled connection (all but the sessions' reads).
void prepare_session_queries(pqxx::connection_base& connection);
/// The statements of find_session and list_sessions, for a pg_async_pool.
std::vector<pg_statement> session_read_statements();

/// The coach's availability settings, as last set (in their event's shape).
std::optional<availability_set> find_availability(pqxx::connection_base& connection, const std::string& coach_id);

/// A coach's session types, by name.
std::vector<session_type_defined> list_session_types(pqxx::connection_base& connection, const std::string& coach_id);
/// One of a coach's session types.
std::optional<session_type_defined> find_session_type(pqxx::connection_base& connection, const std::string& coach_id,
                                                      const std::string& session_type_id);

/// Sessions (not cancelled) overlapping [from, to) and holds active at `now`.
std::vector<busy_row> busy_between(pqxx::connection_base& connection, const std::string& coach_id, timestamp from,
                                   timestamp to, timestamp now);

/// One session, whoever asks (the caller checks that they take part in it).
boost::asio::awaitable<std::optional<session_view>> find_session(pg_async_pool& db, std::string session_id);

/// The sessions of an account (as coach or as client): "upcoming" (not cancelled, not over,
/// soonest first), "past" (not cancelled, over, latest first) or "cancelled" (latest first).
boost::asio::awaitable<result<page<session_view>>> list_sessions(pg_async_pool& db, std::string account_id,
                                                                 bool as_coach, std::string view, timestamp now,
                                                                 std::optional<std::string> cursor, int limit);

/// The account's time-zone preference, if set.
boost::asio::awaitable<std::optional<std::string>> find_timezone_preference(pg_async_pool& db,
                                                                           std::string account_id);
/// Sets it.
void set_timezone_preference(pqxx::connection_base& connection, const std::string& account_id,
                             const std::string& timezone);

}  // namespace coachd
