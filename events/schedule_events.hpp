#pragma once
/// Events of the coach schedule aggregate (stream "schedule-<coach_id>"): the coach's
/// availability settings, session types, holds and every session's life from booking to
/// completion. Availability rules travel in their text forms (see aggregates/availability.hpp:
/// "mon 09:00-12:00", "2026-12-24 off", "2026-12-20..2026-12-31"), so any consumer can read them.

#include <boost/describe/class.hpp>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "events/event_meta.hpp"
#include "events/personal.hpp"
#include "events/time.hpp"

namespace coachd {

/// The coach replaced their availability settings as a whole.
struct availability_set {
  std::string coach_id;
  std::string time_zone;                 // IANA name, e.g. "Europe/Berlin"
  std::vector<std::string> weekly;       // "mon 09:00-12:00"
  std::vector<std::string> overrides;    // "2026-12-24 10:00-12:00" or "2026-12-24 off"
  std::vector<std::string> blackouts;    // "2026-12-20..2026-12-31" (local dates, inclusive)
  std::int64_t max_sessions_per_day = 0;   // 0: no limit
  std::int64_t max_sessions_per_week = 0;  // 0: no limit (ISO weeks, Monday first)
  std::int64_t cancellation_notice_minutes = 0;
  std::string late_cancellation;  // "refuse" | "flag"
  timestamp set_at;
  bool operator==(const availability_set&) const = default;
};
BOOST_DESCRIBE_STRUCT(availability_set, (),
                      (coach_id, time_zone, weekly, overrides, blackouts, max_sessions_per_day,
                       max_sessions_per_week, cancellation_notice_minutes, late_cancellation, set_at))

/// The coach created or changed a session type (what clients can book).
struct session_type_defined {
  std::string coach_id;
  std::string session_type_id;
  std::string name;
  std::int64_t duration_minutes = 0;
  std::int64_t buffer_before_minutes = 0;
  std::int64_t buffer_after_minutes = 0;
  std::int64_t min_notice_minutes = 0;
  std::int64_t horizon_days = 0;
  std::int64_t slot_interval_minutes = 0;
  std::int64_t price_cents = 0;
  std::string currency;
  std::string location;  // meeting link or place
  timestamp defined_at;
  bool operator==(const session_type_defined&) const = default;
};
BOOST_DESCRIBE_STRUCT(session_type_defined, (),
                      (coach_id, session_type_id, name, duration_minutes, buffer_before_minutes,
                       buffer_after_minutes, min_notice_minutes, horizon_days, slot_interval_minutes,
                       price_cents, currency, location, defined_at))

/// A slot is reserved for a while so that a person in checkout does not race another.
struct slot_held {
  std::string coach_id;
  std::string hold_id;
  std::string session_type_id;
  std::string held_by;  // account id
  timestamp start;
  timestamp end;
  timestamp expires_at;
  timestamp held_at;
  bool operator==(const slot_held&) const = default;
};
BOOST_DESCRIBE_STRUCT(slot_held, (),
                      (coach_id, hold_id, session_type_id, held_by, start, end, expires_at, held_at))

/// A session was booked: by a client from a slot, or by the coach directly.
struct session_booked {
  std::string coach_id;
  std::string session_id;
  std::string client_account_id;
  std::optional<std::string> session_type_id;
  std::optional<std::string> hold_id;  // the hold it consumed
  /// The coach's own title for this session: free text about the client, so personal (sealed
  /// with the session's key). Empty when none was given, and then no key is made at all.
  personal title;
  /// What the session is called when it has no title of its own: its session type's name at
  /// booking time, or "Session". Not personal (the coach's product name).
  std::string type_name;
  timestamp start;
  timestamp end;
  std::int64_t buffer_before_minutes = 0;
  std::int64_t buffer_after_minutes = 0;
  std::string location;
  std::string booked_by;  // account id
  timestamp booked_at;
  std::string data_subject() const { return "session:" + session_id; }
  bool operator==(const session_booked&) const = default;
};
BOOST_DESCRIBE_STRUCT(session_booked, (),
                      (coach_id, session_id, client_account_id, session_type_id, hold_id, title,
                       type_name, start, end, buffer_before_minutes, buffer_after_minutes, location, booked_by,
                       booked_at))

/// A session moved to a new time; `sequence` counts its changes (the .ics SEQUENCE).
struct session_rescheduled {
  std::string coach_id;
  std::string session_id;
  timestamp start;
  timestamp end;
  std::int64_t sequence = 0;
  std::string rescheduled_by;
  timestamp rescheduled_at;
  bool operator==(const session_rescheduled&) const = default;
};
BOOST_DESCRIBE_STRUCT(session_rescheduled, (),
                      (coach_id, session_id, start, end, sequence, rescheduled_by, rescheduled_at))

/// A session was cancelled; `late` when a client cancelled inside the coach's notice period
/// under a "flag" policy.
struct session_cancelled {
  std::string coach_id;
  std::string session_id;
  std::string cancelled_by;
  bool late = false;
  std::int64_t sequence = 0;
  personal reason;
  timestamp cancelled_at;
  std::string data_subject() const { return "session:" + session_id; }
  bool operator==(const session_cancelled&) const = default;
};
BOOST_DESCRIBE_STRUCT(session_cancelled, (),
                      (coach_id, session_id, cancelled_by, late, sequence, reason, cancelled_at))

/// The client confirmed they will attend.
struct session_confirmed {
  std::string coach_id;
  std::string session_id;
  timestamp confirmed_at;
  bool operator==(const session_confirmed&) const = default;
};
BOOST_DESCRIBE_STRUCT(session_confirmed, (), (coach_id, session_id, confirmed_at))

/// The coach marked the session as held.
struct session_completed {
  std::string coach_id;
  std::string session_id;
  timestamp completed_at;
  bool operator==(const session_completed&) const = default;
};
BOOST_DESCRIBE_STRUCT(session_completed, (), (coach_id, session_id, completed_at))

/// The coach recorded that the client did not show up.
struct session_no_show_marked {
  std::string coach_id;
  std::string session_id;
  timestamp marked_at;
  bool operator==(const session_no_show_marked&) const = default;
};
BOOST_DESCRIBE_STRUCT(session_no_show_marked, (), (coach_id, session_id, marked_at))

}  // namespace coachd

COACHD_EVENT_META(coachd::availability_set, "AvailabilitySet", 1, "/coachd/schedule")
COACHD_EVENT_META(coachd::session_type_defined, "SessionTypeDefined", 1, "/coachd/schedule")
COACHD_EVENT_META(coachd::slot_held, "SlotHeld", 1, "/coachd/schedule")
// Version 2: `title` holds only a title given at booking; `type_name` the name to fall back on.
COACHD_EVENT_META(coachd::session_booked, "SessionBooked", 2, "/coachd/schedule")
COACHD_EVENT_META(coachd::session_rescheduled, "SessionRescheduled", 1, "/coachd/schedule")
COACHD_EVENT_META(coachd::session_cancelled, "SessionCancelled", 1, "/coachd/schedule")
COACHD_EVENT_META(coachd::session_confirmed, "SessionConfirmed", 1, "/coachd/schedule")
COACHD_EVENT_META(coachd::session_completed, "SessionCompleted", 1, "/coachd/schedule")
COACHD_EVENT_META(coachd::session_no_show_marked, "SessionNoShowMarked", 1, "/coachd/schedule")
