#pragma once
/// The coach schedule aggregate (stream "schedule-<coach_id>"): decides every change of a
/// coach's availability and session types, every hold, booking, reschedule, cancellation,
/// confirmation, completion and no-show. One stream per coach, decided one command at a time,
/// so a coach cannot be double-booked by construction.

#include <boost/describe/class.hpp>
#include <boost/describe/enum.hpp>
#include <concepts>
#include <map>
#include <set>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "aggregates/availability.hpp"
#include "aggregates/decision.hpp"
#include "events/schedule_events.hpp"

namespace coachd {

/// Stream id of a coach's schedule.
std::string schedule_stream(std::string_view coach_id);

/// The coach replaces their availability settings.
struct set_availability {
  std::string coach_id;
  std::string acting_account_id;
  availability_rules rules;
  std::int64_t cancellation_notice_minutes = 0;
  std::string late_cancellation = "refuse";  // "refuse" | "flag"
  timestamp at;
};

/// The coach creates or changes a session type.
struct define_session_type {
  std::string coach_id;
  std::string acting_account_id;
  std::string session_type_id;
  std::string name;
  booking_rules rules;
  std::int64_t price_cents = 0;
  std::string currency = "EUR";
  std::string location;
  timestamp at;
};

/// Someone in checkout reserves a slot of a session type for `hold_for`.
struct hold_slot {
  std::string coach_id;
  std::string hold_id;
  std::string session_type_id;
  std::string held_by;
  timestamp start;
  minutes hold_for{10};
  timestamp at;
};

/// A client books a slot of a session type (optionally consuming their hold), or the coach
/// (booked_by == coach_id) books directly for a client with a title, time and duration.
struct book_session {
  std::string coach_id;
  std::string session_id;
  std::string booked_by;
  std::string client_account_id;
  std::optional<std::string> session_type_id;
  std::optional<std::string> hold_id;
  std::string title;
  timestamp start;
  std::optional<minutes> duration;  // direct bookings without a session type
  std::optional<std::string> location;
  timestamp at;
};

/// The coach or the session's client moves it.
struct reschedule_session {
  std::string coach_id;
  std::string session_id;
  std::string by_account;
  timestamp start;
  timestamp at;
};

/// The coach or the session's client cancels it (a client under the notice policy).
struct cancel_session {
  std::string coach_id;
  std::string session_id;
  std::string by_account;
  std::string reason;
  timestamp at;
};

/// The client confirms attendance.
struct confirm_session {
  std::string coach_id;
  std::string session_id;
  std::string by_account;
  timestamp at;
};

/// The coach marks the session held.
struct complete_session {
  std::string coach_id;
  std::string session_id;
  std::string by_account;
  timestamp at;
};

/// The coach records that the client did not come.
struct mark_no_show {
  std::string coach_id;
  std::string session_id;
  std::string by_account;
  timestamp at;
};

enum class session_status { booked, confirmed, completed, no_show, cancelled };
BOOST_DESCRIBE_ENUM(session_status, booked, confirmed, completed, no_show, cancelled)

/// One session on the coach's schedule.
struct scheduled_session {
  std::string client_account_id;
  std::optional<std::string> session_type_id;
  timestamp start, end;
  std::int64_t buffer_before_minutes = 0, buffer_after_minutes = 0;
  session_status status = session_status::booked;
  std::int64_t sequence = 0;
};
BOOST_DESCRIBE_STRUCT(scheduled_session, (),
                      (client_account_id, session_type_id, start, end, buffer_before_minutes,
                       buffer_after_minutes, status, sequence))

/// A hold that has not been consumed (it may have expired).
struct slot_hold {
  std::string session_type_id;
  std::string held_by;
  timestamp start, end, expires_at;
  std::int64_t buffer_before_minutes = 0, buffer_after_minutes = 0;
};
BOOST_DESCRIBE_STRUCT(slot_hold, (),
                      (session_type_id, held_by, start, end, expires_at, buffer_before_minutes,
                       buffer_after_minutes))

/// The schedule's sessions ordered by start time, derived from its `sessions` (and not
/// snapshotted): a decision looks only at the sessions near the slot it decides on, not at every
/// session the coach ever had.
///
/// A vector sorted by start, not a tree: a booking's decision searches it once, and a search in
/// a few contiguous cache lines beats one that misses the cache at every node of a
/// `std::multimap` (the tree walk was most of a booking's decision in the bench). Sessions are
/// mostly booked later than the ones before them, so an insert rarely moves much.
struct session_time_index {
  using entry = const std::pair<const std::string, scheduled_session>*;  // a node of `sessions`
  std::vector<std::pair<timestamp, entry>> by_start;  // sorted by start; equal starts in insertion order
  std::chrono::milliseconds longest{0};  // the longest span indexed, buffers included

  session_time_index() = default;
  // A copy would point into another state's sessions: it starts empty and is rebuilt.
  session_time_index(const session_time_index&) {}
  session_time_index& operator=(const session_time_index&) {
    by_start.clear();
    longest = {};
    return *this;
  }
  session_time_index(session_time_index&&) = default;
  session_time_index& operator=(session_time_index&&) = default;
};

/// What a schedule's decisions depend on. Settings are kept as their events (plain, described
/// types, so the processor can snapshot the state) and turned into rules when deciding.
struct coach_schedule_state {
  std::string coach_id;
  std::optional<availability_set> availability;  // none until the coach publishes it
  std::map<std::string, session_type_defined> types;
  std::map<std::string, scheduled_session> sessions;
  std::map<std::string, slot_hold> holds;
  // Kept by evolve; rebuilt from `sessions` when it does not match them (a decoded snapshot).
  mutable session_time_index by_time;
};
BOOST_DESCRIBE_STRUCT(coach_schedule_state, (), (coach_id, availability, types, sessions, holds))
template <>
inline constexpr std::size_t derived_member_count<coach_schedule_state> = 1;  // by_time

/// The time the schedule's sessions and active holds occupy at `now`, leaving out one session
/// (a reschedule) and the holds of one account (its own holds never block it). With `near` (a
/// slot being decided on), only the sessions that can matter to it: those that could overlap
/// it, buffers included, or fall in its local day or ISO week (eight days either side).
std::vector<busy_interval> busy_times(const coach_schedule_state& s, timestamp now,
                                      const std::string& except_session = {},
                                      const std::string& except_holder = {},
                                      std::optional<std::pair<timestamp, timestamp>> near = std::nullopt);

namespace coach_schedule {
decision decide(const set_availability& c, const coach_schedule_state& s);
decision decide(const define_session_type& c, const coach_schedule_state& s);
decision decide(const hold_slot& c, const coach_schedule_state& s);
decision decide(const book_session& c, const coach_schedule_state& s);
decision decide(const reschedule_session& c, const coach_schedule_state& s);
decision decide(const cancel_session& c, const coach_schedule_state& s);
decision decide(const confirm_session& c, const coach_schedule_state& s);
decision decide(const complete_session& c, const coach_schedule_state& s);
decision decide(const mark_no_show& c, const coach_schedule_state& s);
void evolve(coach_schedule_state& s, const availability_set& e);
void evolve(coach_schedule_state& s, const session_type_defined& e);
void evolve(coach_schedule_state& s, const slot_held& e);
void evolve(coach_schedule_state& s, const session_booked& e);
void evolve(coach_schedule_state& s, const session_rescheduled& e);
void evolve(coach_schedule_state& s, const session_cancelled& e);
void evolve(coach_schedule_state& s, const session_confirmed& e);
void evolve(coach_schedule_state& s, const session_completed& e);
void evolve(coach_schedule_state& s, const session_no_show_marked& e);
}  // namespace coach_schedule

/// The commands and events of this aggregate (for the handler's routing).
template <typename T>
concept is_schedule_command =
    std::same_as<T, set_availability> || std::same_as<T, define_session_type> || std::same_as<T, hold_slot> ||
    std::same_as<T, book_session> || std::same_as<T, reschedule_session> || std::same_as<T, cancel_session> ||
    std::same_as<T, confirm_session> || std::same_as<T, complete_session> || std::same_as<T, mark_no_show>;
template <typename T>
concept is_schedule_event =
    std::same_as<T, availability_set> || std::same_as<T, session_type_defined> || std::same_as<T, slot_held> ||
    std::same_as<T, session_booked> || std::same_as<T, session_rescheduled> || std::same_as<T, session_cancelled> ||
    std::same_as<T, session_confirmed> || std::same_as<T, session_completed> ||
    std::same_as<T, session_no_show_marked>;

/// The rules an availability_set event carries (unparseable entries are skipped).
availability_rules rules_of(const availability_set& e);
/// A session type's booking rules from its event.
booking_rules rules_of(const session_type_defined& e);

}  // namespace coachd
