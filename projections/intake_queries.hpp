#pragma once
/// Queries on the intakes read model. Every query is scoped to one coach.

#include <optional>
#include <pqxx/pqxx>
#include <string>

#include "events/errors.hpp"
#include "projections/paging.hpp"

namespace coachd {

/// An intake as the coach sees it.
struct intake_view {
  std::string intake_id, coach_id, status, name, email, goals, message, submitted_at;
  std::optional<std::string> phone, notes, client_id, decided_at;
};

/// Prepares the statements below on a pooled connection.
void prepare_intake_queries(pqxx::connection_base& connection);

/// A coach's intakes, newest first, optionally of one status ("pending", "accepted",
/// "declined"); `limit` rows from after `cursor`. A bad cursor is an errc::invalid.
result<page<intake_view>> list_intakes(pqxx::connection_base& connection, const std::string& coach_id,
                                       const std::optional<std::string>& status,
                                       const std::optional<std::string>& cursor, int limit);

/// One intake, if it exists and belongs to the coach.
std::optional<intake_view> find_intake(pqxx::connection_base& connection, const std::string& coach_id,
                                       const std::string& intake_id);

}  // namespace coachd
