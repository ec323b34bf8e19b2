#pragma once
/// The slot engine: which start times a coach can be booked at, given their availability
/// (weekly wall-clock windows in their IANA time zone, date overrides, blackout dates, daily and
/// weekly limits counted in that zone), a session type (duration, stacked buffers, notice,
/// horizon, slot interval) and what is already busy (sessions and active holds). Pure: the
/// current time is an argument; time zones come from the system tz database (date/tz).
///
/// Wall-clock rules, decided once here:
/// - A window is converted to instants day by day, so 09:00 stays 09:00 local across DST.
/// - A wall time that does not exist (spring forward) maps to the instant the gap ends; one
///   that occurs twice (fall back) maps to its first occurrence, for window starts and ends
///   alike, so no offered slot lies outside the wall-clock window.
/// - Slots step by the interval in real time from the window's start, so on a transition day
///   slots neither duplicate nor vanish: every instant appears once.

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "events/errors.hpp"
#include "events/time.hpp"

#include <date/date.h>

namespace date {
class time_zone;
}

namespace coachd {

using minutes = std::chrono::minutes;
using date::local_days;

/// A wall-clock range within one day, [start, end) as minutes after local midnight.
struct wall_window {
  minutes start{0};
  minutes end{0};
  bool operator==(const wall_window&) const = default;
};

/// A weekly window: weekday 0 = Sunday … 6 = Saturday.
struct weekly_window {
  unsigned weekday = 0;
  wall_window window;
  bool operator==(const weekly_window&) const = default;
};

/// Different hours on one local date; no windows means the whole day off.
struct date_override {
  date::year_month_day day;
  std::vector<wall_window> windows;
  bool operator==(const date_override&) const = default;
};

/// Local dates [first, last] (inclusive) on which nothing can be booked.
struct blackout_range {
  date::year_month_day first;
  date::year_month_day last;
  bool operator==(const blackout_range&) const = default;
};

/// A coach's availability settings.
struct availability_rules {
  std::string time_zone = "UTC";
  std::vector<weekly_window> weekly;
  std::vector<date_override> overrides;
  std::vector<blackout_range> blackouts;
  int max_per_day = 0;   // 0: no limit
  int max_per_week = 0;  // 0: no limit
};

/// What a session type says about when it can be booked.
struct booking_rules {
  minutes duration{60};
  minutes buffer_before{0};
  minutes buffer_after{0};
  minutes min_notice{0};
  std::chrono::days horizon{60};
  minutes slot_interval{30};
};

/// Something that occupies the coach's time: a session or an active hold, with its buffers.
struct busy_interval {
  timestamp start;
  timestamp end;
  minutes buffer_before{0};
  minutes buffer_after{0};
  bool counts_toward_limits = true;  // sessions do; holds do not
};

/// Why a start time cannot be booked (each is a distinct problem type).
enum class slot_refusal {
  outside_availability,  // not on a window's slot grid, or the session would run past it
  blackout,
  overlap,   // with a session or hold, buffers included
  notice,    // sooner than the minimum notice
  horizon,   // further out than the booking horizon
  in_past,
  daily_limit,
  weekly_limit,
};

/// The problem-type reason slug of a refusal ("slot-overlap", ...).
std::string_view reason_of(slot_refusal r);
/// A sentence for humans.
std::string describe(slot_refusal r);

/// The zone of that IANA name, or null when the tz database has no such zone.
const date::time_zone* find_zone(std::string_view name);

/// Text forms, as events and the API carry them. Each parse gives nullopt for bad text.
std::optional<weekly_window> parse_weekly_window(std::string_view text);   // "mon 09:00-12:00"
std::string format_weekly_window(const weekly_window& w);
std::optional<date_override> parse_date_override(std::string_view text);   // "2026-12-24 10:00-12:00,13:00-15:00" | "2026-12-24 off"
std::string format_date_override(const date_override& o);
std::optional<blackout_range> parse_blackout(std::string_view text);       // "2026-12-20..2026-12-31"
std::string format_blackout(const blackout_range& b);
/// "09:00" (00:00 … 24:00) as minutes after midnight.
std::optional<minutes> parse_wall_time(std::string_view text);
std::string format_wall_time(minutes m);
/// "2026-12-24" as a valid date.
std::optional<date::year_month_day> parse_date(std::string_view text);
/// Weekday names: "sun".."sat" or "sunday".."saturday" (either case) → 0..6.
std::optional<unsigned> parse_weekday(std::string_view text);

/// Checks rules for consistency: the zone exists, every window has start < end, windows of a
/// day do not overlap, limits are not negative, blackouts are ordered. The error names a field.
std::optional<error> validate(const availability_rules& rules);
std::optional<error> validate(const booking_rules& rules);

/// The instant a local wall time in `zone` stands for (see the header comment for gaps and
/// repeats).
timestamp to_instant(const date::time_zone& zone, date::local_time<minutes> wall);

/// The local calendar day of an instant in `zone`.
local_days local_day_of(const date::time_zone& zone, timestamp t);

/// The availability windows of one local day as instants: the override for that date if any,
/// else the weekly windows of its weekday.
std::vector<std::pair<timestamp, timestamp>> windows_on(const availability_rules& rules,
                                                         const date::time_zone& zone, local_days day);

/// Every bookable start time in [from, to), ascending, for a session of `type` at time `now`,
/// given what is already busy.
std::vector<timestamp> bookable_slots(const availability_rules& rules, const booking_rules& type,
                                      const std::vector<busy_interval>& busy, timestamp from,
                                      timestamp to, timestamp now);

/// Whether a client may book a session of `type` starting at `start`: every rule above.
std::optional<slot_refusal> check_slot(const availability_rules& rules, const booking_rules& type,
                                       const std::vector<busy_interval>& busy, timestamp start,
                                       timestamp now);

/// The rules a coach's direct booking must still satisfy (blackouts, overlaps with buffers,
/// limits, not in the past) for a session [start, end).
std::optional<slot_refusal> check_direct(const availability_rules& rules,
                                         const std::vector<busy_interval>& busy, timestamp start,
                                         timestamp end, minutes buffer_before, minutes buffer_after,
                                         timestamp now);

/// Whether [start, end) with its buffers collides with `other` and its buffers (buffers stack:
/// the earlier one's after-buffer plus the later one's before-buffer must fit between them).
bool collides(timestamp start, timestamp end, minutes buffer_before, minutes buffer_after,
              const busy_interval& other);

}  // namespace coachd
