#include "projections/intakes_projector.hpp"

#include <pqxx/pqxx>

namespace coachd {

namespace {
std::optional<std::string> optional_value(const std::optional<personal>& p) {
  if (!p) return std::nullopt;
  return p->value;
}
}  // namespace

void intakes_projector::prepare(pqxx::connection_base& connection) {
  connection.prepare("intakes_submitted",
                     "INSERT INTO intakes (intake_id, coach_id, status, name, email, phone, goals, message, submitted_at) "
                     "VALUES ($1, $2, 'pending', $3, $4, $5, $6, $7, $8) ON CONFLICT (intake_id) DO NOTHING");
  connection.prepare("intakes_accepted",
                     "UPDATE intakes SET status = 'accepted', notes = $2, client_id = $3, decided_at = $4 "
                     "WHERE intake_id = $1");
  connection.prepare("intakes_declined",
                     "UPDATE intakes SET status = 'declined', notes = $2, decided_at = $3 WHERE intake_id = $1");
}

void intakes_projector::apply(pqxx::work& tx, const stored_event&, const domain_event& event) {
  if (const auto* e = std::get_if<intake_submitted>(&event)) {
    tx.exec_prepared("intakes_submitted", e->intake_id, e->coach_id, e->name.value, e->email.value,
                     optional_value(e->phone), e->goals.value, e->message.value,
                     format_rfc3339(e->submitted_at));
  } else if (const auto* e = std::get_if<intake_accepted>(&event)) {
    tx.exec_prepared("intakes_accepted", e->intake_id, e->notes.value, e->client_id,
                     format_rfc3339(e->accepted_at));
  } else if (const auto* e = std::get_if<intake_declined>(&event)) {
    tx.exec_prepared("intakes_declined", e->intake_id, e->notes.value, format_rfc3339(e->declined_at));
  }
}

}  // namespace coachd
