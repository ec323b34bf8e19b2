#pragma once
/// iCalendar (RFC 5545) output for sessions: one VEVENT per session with a stable UID,
/// DTSTAMP, DTSTART/DTEND in UTC, SEQUENCE (raised on every reschedule), STATUS:CANCELLED (and
/// METHOD:CANCEL for a single cancelled session), TEXT values escaped and content lines folded
/// at 75 octets without splitting a UTF-8 character.

#include <string>
#include <string_view>
#include <vector>

#include "events/time.hpp"

namespace coachd::gateway {

/// One session as a calendar event.
struct ics_event {
  std::string uid;  // stable per session ("<session_id>@coachd")
  std::string summary;
  std::string description;
  std::string location;
  timestamp start, end, stamp;
  std::int64_t sequence = 0;
  bool cancelled = false;
};

/// A calendar with one event: METHOD:CANCEL when it is cancelled, METHOD:PUBLISH otherwise.
std::string write_ics(const ics_event& event);
/// A calendar (feed) with every event, METHOD:PUBLISH; cancelled ones carry STATUS:CANCELLED.
std::string write_ics_feed(const std::vector<ics_event>& events, std::string_view calendar_name);

/// A TEXT value escaped (backslash, semicolon, comma, line breaks).
std::string ics_escape_text(std::string_view text);
/// One content line folded at 75 octets (CRLF + space), never inside a UTF-8 sequence; ends
/// with CRLF.
std::string ics_fold(std::string_view line);
/// "20260604T080000Z".
std::string ics_utc(timestamp t);

}  // namespace coachd::gateway
