#pragma once
/// Subscribable calendar feeds (table `calendar_feeds`, migration 021): at most one per account,
/// found by the hash of its URL token; and the sessions a feed shows. The caller makes the token
/// and hashes it (gateway/calendar_feed_routes.cpp); nothing here ever sees a token in clear.

#include <optional>
#include <pqxx/pqxx>
#include <string>
#include <vector>

#include "events/time.hpp"

namespace coachd {

/// How far back a feed reaches, and how many sessions it holds at most (the earliest first).
inline constexpr int calendar_feed_past_days = 90;
inline constexpr int calendar_feed_max_sessions = 1000;

/// What the account's owner may see about their feed (never the token).
struct calendar_feed_info {
  std::string created_at;                   // RFC 3339 UTC
  std::optional<std::string> last_used_at;  // RFC 3339 UTC; null until a calendar app fetched it
};

/// One session as a feed shows it to one account (times RFC 3339 UTC).
struct calendar_feed_entry {
  std::string session_id, title, start_at, end_at, updated_at, location, status;
  std::int64_t sequence = 0;
  std::string
      counterpart_name;  // the client for the coach, the coach for the client; "" if unknown
};

/// Prepares the statements below on a connection (the pool does it for each of its own).
void prepare_calendar_feed_queries(pqxx::connection_base& connection);

/// Creates the account's feed, or replaces it (the old token stops working at once); returns
/// its creation time.
std::string replace_calendar_feed(pqxx::connection_base& connection, const std::string& account_id,
                                  const std::string& token_hash);

/// The account's feed, if it has one.
std::optional<calendar_feed_info> find_calendar_feed(pqxx::connection_base& connection,
                                                     const std::string& account_id);

/// Deletes the account's feed tokens (revocation, and erasure of the account); whether there was
/// one.
bool revoke_calendar_feed(pqxx::connection_base& connection, const std::string& account_id);

/// The account a token hash belongs to, if any; records the use (at most once a minute, without
/// waiting for the disk: a lost touch only makes last_used_at a little older).
std::optional<std::string> use_calendar_feed(pqxx::connection_base& connection,
                                             const std::string& token_hash);

/// The sessions an account coaches or attends that start at or after `since`, cancelled ones
/// included, earliest first, at most `limit`.
std::vector<calendar_feed_entry> calendar_feed_sessions(pqxx::connection_base& connection,
                                                        const std::string& account_id,
                                                        timestamp since, int limit);

}  // namespace coachd
