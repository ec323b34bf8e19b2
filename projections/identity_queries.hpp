#pragma once
/// Queries of the identity read models: the security audit trail for administrators.

#include <optional>
#include <pqxx/pqxx>
#include <string>

#include "events/errors.hpp"
#include "projections/paging.hpp"

namespace coachd {

/// One entry of the audit trail.
struct audit_entry {
  std::string event_id, type, account_id, occurred_at, details_json;
};

/// Filters of the audit list (all optional).
struct audit_filter {
  std::optional<std::string> account_id, type, since, until, cursor;
  int limit = 50;
};

/// Prepares the statements the queries use on a pool connection.
void prepare_identity_queries(pqxx::connection_base& connection);

/// The audit trail, newest first, by cursor; an error for a malformed cursor.
result<page<audit_entry>> list_audit(pqxx::connection_base& connection, const audit_filter& filter);

}  // namespace coachd
