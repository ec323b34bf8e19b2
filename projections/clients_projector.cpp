#include "projections/clients_projector.hpp"

#include <pqxx/pqxx>

namespace coachd {

void clients_projector::prepare(pqxx::connection_base& connection) {
  connection.prepare("clients_created",
                     "INSERT INTO clients (client_id, coach_id, account_id, intake_id, name, email, phone, goals, created_at) "
                     "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT (client_id) DO NOTHING");
}

void clients_projector::apply(pqxx::work& tx, const stored_event&, const domain_event& event) {
  if (const auto* e = std::get_if<client_profile_created>(&event)) {
    std::optional<std::string> phone;
    if (e->phone) phone = e->phone->value;
    tx.exec_prepared("clients_created", e->client_id, e->coach_id, e->account_id, e->intake_id, e->name.value,
                     e->email.value, phone, e->goals.value, format_rfc3339(e->created_at));
  }
}

}  // namespace coachd
