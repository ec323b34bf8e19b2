#pragma once
/// Queries on the clients read model, scoped to one coach.

#include <boost/asio/awaitable.hpp>
#include <optional>
#include <string>
#include <vector>

#include "events/errors.hpp"
#include "infra/pg_async.hpp"
#include "projections/paging.hpp"

namespace coachd {

/// A client as their coach sees them. `display_name` falls back from the full name to the
/// e-mail address to "Client #<first 8 of the id>".
struct client_view {
  std::string client_id, coach_id, account_id, display_name, name, email, goals, created_at;
  std::optional<std::string> phone, intake_id;
};

/// The statements below, for a pg_async_pool.
std::vector<pg_statement> client_statements();

/// A coach's clients, oldest first, `limit` rows after `cursor`.
boost::asio::awaitable<result<page<client_view>>> list_clients(pg_async_pool& db, std::string coach_id,
                                                               std::optional<std::string> cursor, int limit);

/// One client, if it exists and belongs to the coach.
boost::asio::awaitable<std::optional<client_view>> find_client(pg_async_pool& db, std::string coach_id,
                                                               std::string client_id);

/// The display rule for a client's name (see client_view).
std::string client_display_name(const std::string& name, const std::string& email, const std::string& client_id);

}  // namespace coachd
