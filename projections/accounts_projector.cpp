#include "projections/accounts_projector.hpp"

#include <pqxx/pqxx>

namespace coachd {

void accounts_projector::prepare(pqxx::connection_base& connection) {
  connection.prepare("accounts_registered",
                     "INSERT INTO accounts (account_id, email, role, display_name, password_hash, registered_at) "
                     "VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (account_id) DO NOTHING");
}

void accounts_projector::apply(pqxx::work& tx, const stored_event&, const domain_event& event) {
  if (const auto* e = std::get_if<account_registered>(&event)) {
    std::optional<std::string> hash;
    if (e->password_hash && !e->password_hash->erased) hash = e->password_hash->value;
    tx.exec_prepared("accounts_registered", e->account_id, e->email.value, e->role, e->display_name.value,
                     hash, format_rfc3339(e->registered_at));
  }
}

}  // namespace coachd
