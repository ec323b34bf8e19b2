#pragma once
/// Queries on the clients read model, scoped to one coach.

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

/// A client as their coach sees them: views into the query's result (page::source, viewed_row).
struct client_view {
  std::string_view client_id, coach_id, account_id, name, email, goals, created_at;
  std::optional<std::string_view> phone, intake_id;
};

/// The statements below, for a pg_async_pool.
std::vector<pg_statement> client_statements();

/// A coach's clients, oldest first, `limit` rows after `cursor`.
boost::asio::awaitable<result<page<client_view>>> list_clients(pg_async_pool& db, std::string coach_id,
                                                               std::optional<std::string> cursor, int limit);

/// One client, if it exists and belongs to the coach.
boost::asio::awaitable<std::optional<viewed_row<client_view>>> find_client(pg_async_pool& db, std::string coach_id,
                                                                           std::string client_id);

/// The name a client is shown by: the full name, else the e-mail address, else
/// "Client #<first 8 of the id>" (that one is built in `fallback`, which the answer then views).
std::string_view client_display_name(const client_view& v, std::string& fallback);

}  // namespace coachd
