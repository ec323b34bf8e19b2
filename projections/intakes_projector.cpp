#include "projections/intakes_projector.hpp"

#include <pqxx/pqxx>

namespace coachd {

namespace {
std::optional<std::string> optional_value(const std::optional<personal>& p) {
  if (!p) return std::nullopt;
  return p->value;
}
}  // namespace

intakes_projector::intakes_projector()
    : submitted_("intakes_submitted", "intakes",
                 {{"intake_id", "uuid"},
                  {"coach_id", "uuid"},
                  {"status", "text"},
                  {"name", "text"},
                  {"email", "text"},
                  {"phone", "text"},
                  {"goals", "text"},
                  {"message", "text"},
                  {"submitted_at", "timestamptz"}},
                 "ON CONFLICT (intake_id) DO NOTHING") {}

void intakes_projector::prepare(pqxx::connection_base& connection) {
  submitted_.prepare(connection);
  connection.prepare("intakes_accepted",
                     "UPDATE intakes SET status = 'accepted', notes = $2, client_id = $3, decided_at = $4 "
                     "WHERE intake_id = $1");
  connection.prepare("intakes_declined",
                     "UPDATE intakes SET status = 'declined', notes = $2, decided_at = $3 WHERE intake_id = $1");
}

void intakes_projector::apply(pqxx::work& tx, const stored_event&, const domain_event& event) {
  if (const auto* e = std::get_if<intake_submitted>(&event)) {
    submitted_.add({e->intake_id, e->coach_id, std::string("pending"), e->name.value, e->email.value,
                    optional_value(e->phone), e->goals.value, e->message.value, format_rfc3339(e->submitted_at)});
    return;
  }
  submitted_.flush(tx);  // rows before this event go first
  if (const auto* e = std::get_if<intake_accepted>(&event)) {
    tx.exec_prepared("intakes_accepted", e->intake_id, e->notes.value, e->client_id,
                     format_rfc3339(e->accepted_at));
  } else if (const auto* e = std::get_if<intake_declined>(&event)) {
    tx.exec_prepared("intakes_declined", e->intake_id, e->notes.value, format_rfc3339(e->declined_at));
  }
}

}  // namespace coachd
