#pragma once
/// Queries on the intakes read model. Every query is scoped to one coach.

#include <boost/asio/awaitable.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "events/errors.hpp"
#include "infra/pg_async.hpp"
#include "projections/paging.hpp"
#include "projections/read_queries.hpp"

namespace coachd {

/// An intake as the coach sees it: views into the query's result (page::source, viewed_row).
struct intake_view {
  std::string_view intake_id, coach_id, status, name, email, goals, message, submitted_at;
  std::optional<std::string_view> phone, notes, client_id, decided_at;
};

/// The statements below, for a pg_async_pool.
std::vector<pg_statement> intake_statements();

/// A coach's intakes, newest first, optionally of one status ("pending", "accepted",
/// "declined"); `limit` rows from after `cursor`. A bad cursor is an errc::invalid.
boost::asio::awaitable<result<page<intake_view>>> list_intakes(pg_async_pool& db, std::string coach_id,
                                                               std::optional<std::string> status,
                                                               std::optional<std::string> cursor, int limit);

/// Whether `coach_id` is a coach's account (the public intake form takes intakes only for one).
boost::asio::awaitable<bool> is_coach(pg_async_pool& db, std::string coach_id);

/// One intake, if it exists and belongs to the coach.
boost::asio::awaitable<std::optional<viewed_row<intake_view>>> find_intake(pg_async_pool& db, std::string coach_id,
                                                                           std::string intake_id);

}  // namespace coachd
