#pragma once
/// Queries on the clients read model, scoped to one coach.

#include <optional>
#include <pqxx/pqxx>
#include <string>

#include "events/errors.hpp"
#include "projections/paging.hpp"

namespace coachd {

/// A client as their coach sees them. `display_name` falls back from the full name to the
/// e-mail address to "Client #<first 8 of the id>".
struct client_view {
  std::string client_id, coach_id, account_id, display_name, name, email, goals, created_at;
  std::optional<std::string> phone, intake_id;
};

void prepare_client_queries(pqxx::connection_base& connection);

/// A coach's clients, oldest first, `limit` rows after `cursor`.
result<page<client_view>> list_clients(pqxx::connection_base& connection, const std::string& coach_id,
                                       const std::optional<std::string>& cursor, int limit);

/// One client, if it exists and belongs to the coach.
std::optional<client_view> find_client(pqxx::connection_base& connection, const std::string& coach_id,
                                       const std::string& client_id);

/// The display rule for a client's name (see client_view).
std::string client_display_name(const std::string& name, const std::string& email, const std::string& client_id);

}  // namespace coachd
