#include "gateway/ics.hpp"

#include <date/date.h>

namespace coachd::gateway {

namespace {

void event_lines(std::string& out, const ics_event& e) {
  out += ics_fold("BEGIN:VEVENT");
  out += ics_fold("UID:" + ics_escape_text(e.uid));
  out += ics_fold("DTSTAMP:" + ics_utc(e.stamp));
  out += ics_fold("DTSTART:" + ics_utc(e.start));
  out += ics_fold("DTEND:" + ics_utc(e.end));
  out += ics_fold("SEQUENCE:" + std::to_string(e.sequence));
  out += ics_fold("SUMMARY:" + ics_escape_text(e.summary));
  if (!e.description.empty()) out += ics_fold("DESCRIPTION:" + ics_escape_text(e.description));
  if (!e.location.empty()) out += ics_fold("LOCATION:" + ics_escape_text(e.location));
  out += ics_fold(e.cancelled ? "STATUS:CANCELLED" : "STATUS:CONFIRMED");
  out += ics_fold("END:VEVENT");
}

std::string calendar(std::string_view method, std::string_view name, const std::vector<ics_event>& events) {
  std::string out;
  out += ics_fold("BEGIN:VCALENDAR");
  out += ics_fold("VERSION:2.0");
  out += ics_fold("PRODID:-//coachd//sessions//EN");
  out += ics_fold("CALSCALE:GREGORIAN");
  out += ics_fold("METHOD:" + std::string(method));
  if (!name.empty()) out += ics_fold("X-WR-CALNAME:" + ics_escape_text(name));
  for (const auto& e : events) event_lines(out, e);
  out += ics_fold("END:VCALENDAR");
  return out;
}

}  // namespace

std::string ics_escape_text(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (std::size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    switch (c) {
      case '\\': out += "\\\\"; break;
      case ';': out += "\\;"; break;
      case ',': out += "\\,"; break;
      case '\n': out += "\\n"; break;
      case '\r':
        if (i + 1 < text.size() && text[i + 1] == '\n') break;  // CRLF is one line break
        out += "\\n";
        break;
      default:
        // Other control characters are not allowed in TEXT.
        if (static_cast<unsigned char>(c) < 0x20 && c != '\t') break;
        out += c;
    }
  }
  return out;
}

std::string ics_fold(std::string_view line) {
  std::string out;
  std::size_t limit = 75;  // octets on the first line; continuation lines spend one on the space
  while (line.size() > limit) {
    std::size_t cut = limit;
    // Back up to the first byte of a UTF-8 sequence (continuation bytes are 10xxxxxx).
    while (cut > 0 && (static_cast<unsigned char>(line[cut]) & 0xC0) == 0x80) --cut;
    out.append(line.substr(0, cut));
    out += "\r\n ";
    line.remove_prefix(cut);
    limit = 74;
  }
  out.append(line);
  out += "\r\n";
  return out;
}

std::string ics_utc(timestamp t) {
  return date::format("%Y%m%dT%H%M%SZ", std::chrono::time_point_cast<std::chrono::seconds>(t));
}

std::string write_ics(const ics_event& event) {
  return calendar(event.cancelled ? "CANCEL" : "PUBLISH", "", {event});
}

std::string write_ics_feed(const std::vector<ics_event>& events, std::string_view calendar_name) {
  return calendar("PUBLISH", calendar_name, events);
}

}  // namespace coachd::gateway
