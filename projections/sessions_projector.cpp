#include "projections/sessions_projector.hpp"

#include <pqxx/pqxx>

#include "infra/pg_array.hpp"

namespace coachd {

namespace {

/// A text[] literal for PostgreSQL.
std::string text_array(const std::vector<std::string>& items) {
  pg_array_literal out;
  for (const auto& item : items) out.add_text(item);
  return out.str();
}

}  // namespace

sessions_projector::sessions_projector()
    : booked_("sessions_booked", "sessions",
              {{"session_id", "uuid"},
               {"coach_id", "uuid"},
               {"client_account_id", "uuid"},
               {"session_type_id", "uuid"},
               {"title", "text"},
               {"start_at", "timestamptz"},
               {"end_at", "timestamptz"},
               {"buffer_before_minutes", "integer"},
               {"buffer_after_minutes", "integer"},
               {"location", "text"},
               {"status", "text"},
               {"booked_at", "timestamptz"},
               {"updated_at", "timestamptz"}},
              "ON CONFLICT (session_id) DO NOTHING") {}

void sessions_projector::prepare(pqxx::connection_base& c) {
  booked_.prepare(c);
  c.prepare("sessions_availability",
            "INSERT INTO schedule_availability (coach_id, time_zone, weekly, overrides, blackouts, max_sessions_per_day, "
            "max_sessions_per_week, cancellation_notice_minutes, late_cancellation, updated_at) "
            "VALUES ($1, $2, $3::text[], $4::text[], $5::text[], $6, $7, $8, $9, $10) ON CONFLICT (coach_id) DO UPDATE SET "
            "time_zone = EXCLUDED.time_zone, weekly = EXCLUDED.weekly, overrides = EXCLUDED.overrides, "
            "blackouts = EXCLUDED.blackouts, max_sessions_per_day = EXCLUDED.max_sessions_per_day, "
            "max_sessions_per_week = EXCLUDED.max_sessions_per_week, "
            "cancellation_notice_minutes = EXCLUDED.cancellation_notice_minutes, "
            "late_cancellation = EXCLUDED.late_cancellation, updated_at = EXCLUDED.updated_at");
  c.prepare("sessions_type",
            "INSERT INTO session_types (session_type_id, coach_id, name, duration_minutes, buffer_before_minutes, "
            "buffer_after_minutes, min_notice_minutes, horizon_days, slot_interval_minutes, price_cents, currency, "
            "location, defined_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13) "
            "ON CONFLICT (session_type_id) DO UPDATE SET name = EXCLUDED.name, "
            "duration_minutes = EXCLUDED.duration_minutes, buffer_before_minutes = EXCLUDED.buffer_before_minutes, "
            "buffer_after_minutes = EXCLUDED.buffer_after_minutes, min_notice_minutes = EXCLUDED.min_notice_minutes, "
            "horizon_days = EXCLUDED.horizon_days, slot_interval_minutes = EXCLUDED.slot_interval_minutes, "
            "price_cents = EXCLUDED.price_cents, currency = EXCLUDED.currency, location = EXCLUDED.location, "
            "defined_at = EXCLUDED.defined_at WHERE session_types.coach_id = EXCLUDED.coach_id");
  c.prepare("sessions_hold",
            "INSERT INTO slot_holds (hold_id, coach_id, session_type_id, held_by, start_at, end_at, "
            "buffer_before_minutes, buffer_after_minutes, expires_at) "
            "SELECT $1::uuid, $2::uuid, $3::uuid, $4::uuid, $5::timestamptz, $6::timestamptz, "
            "COALESCE(t.buffer_before_minutes, 0), COALESCE(t.buffer_after_minutes, 0), $7::timestamptz "
            "FROM (SELECT 1) one LEFT JOIN session_types t ON t.session_type_id = $3 "
            "ON CONFLICT (hold_id) DO NOTHING");
  // Expired holds are pruned as time (carried by events) passes.
  c.prepare("sessions_prune_holds", "DELETE FROM slot_holds WHERE coach_id = $1 AND expires_at <= $2");
  c.prepare("sessions_drop_hold", "DELETE FROM slot_holds WHERE hold_id = $1");
  c.prepare("sessions_rescheduled",
            "UPDATE sessions SET start_at = $2, end_at = $3, sequence = $4, updated_at = $5 WHERE session_id = $1");
  c.prepare("sessions_cancelled",
            "UPDATE sessions SET status = 'cancelled', sequence = $2, late_cancellation = $3, updated_at = $4 "
            "WHERE session_id = $1");
  c.prepare("sessions_status", "UPDATE sessions SET status = $2, updated_at = $3 WHERE session_id = $1");
}

void sessions_projector::apply(pqxx::work& tx, const stored_event&, const domain_event& event) {
  if (const auto* e = std::get_if<session_booked>(&event)) {
    // (The hold is another table's row: dropping it needs no order with the gathered rows.)
    if (e->hold_id) tx.exec_prepared("sessions_drop_hold", *e->hold_id);
    const std::string booked_at = format_rfc3339(e->booked_at);
    booked_.add({e->session_id, e->coach_id, e->client_account_id, e->session_type_id,
                 e->title.erased            ? std::string("(erased)")
                 : e->title.value.empty() ? e->type_name
                                          : e->title.value,
                 format_rfc3339(e->start),
                 format_rfc3339(e->end), std::to_string(e->buffer_before_minutes),
                 std::to_string(e->buffer_after_minutes), e->location, std::string("booked"), booked_at, booked_at});
    return;
  }
  booked_.flush(tx);  // sessions booked before this event go first
  if (const auto* e = std::get_if<availability_set>(&event)) {
    tx.exec_prepared("sessions_availability", e->coach_id, e->time_zone, text_array(e->weekly),
                     text_array(e->overrides), text_array(e->blackouts), e->max_sessions_per_day,
                     e->max_sessions_per_week, e->cancellation_notice_minutes, e->late_cancellation,
                     format_rfc3339(e->set_at));
  } else if (const auto* e = std::get_if<session_type_defined>(&event)) {
    tx.exec_prepared("sessions_type", e->session_type_id, e->coach_id, e->name, e->duration_minutes,
                     e->buffer_before_minutes, e->buffer_after_minutes, e->min_notice_minutes, e->horizon_days,
                     e->slot_interval_minutes, e->price_cents, e->currency, e->location, format_rfc3339(e->defined_at));
  } else if (const auto* e = std::get_if<slot_held>(&event)) {
    tx.exec_prepared("sessions_prune_holds", e->coach_id, format_rfc3339(e->held_at));
    tx.exec_prepared("sessions_hold", e->hold_id, e->coach_id, e->session_type_id, e->held_by,
                     format_rfc3339(e->start), format_rfc3339(e->end), format_rfc3339(e->expires_at));
  } else if (const auto* e = std::get_if<session_rescheduled>(&event)) {
    tx.exec_prepared("sessions_rescheduled", e->session_id, format_rfc3339(e->start), format_rfc3339(e->end),
                     e->sequence, format_rfc3339(e->rescheduled_at));
  } else if (const auto* e = std::get_if<session_cancelled>(&event)) {
    tx.exec_prepared("sessions_cancelled", e->session_id, e->sequence, e->late, format_rfc3339(e->cancelled_at));
  } else if (const auto* e = std::get_if<session_confirmed>(&event)) {
    tx.exec_prepared("sessions_status", e->session_id, std::string("confirmed"), format_rfc3339(e->confirmed_at));
  } else if (const auto* e = std::get_if<session_completed>(&event)) {
    tx.exec_prepared("sessions_status", e->session_id, std::string("completed"), format_rfc3339(e->completed_at));
  } else if (const auto* e = std::get_if<session_no_show_marked>(&event)) {
    tx.exec_prepared("sessions_status", e->session_id, std::string("no_show"), format_rfc3339(e->marked_at));
  }
}

}  // namespace coachd
