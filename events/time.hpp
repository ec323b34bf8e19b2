#pragma once
/// Instants as coachd stores them: UTC, millisecond precision, written as RFC 3339.

#include <chrono>
#include <optional>
#include <string>
#include <string_view>

namespace coachd {

/// A UTC instant with millisecond precision.
using timestamp = std::chrono::sys_time<std::chrono::milliseconds>;

/// "2026-11-21T09:00:00.000Z".
std::string format_rfc3339(timestamp t);

/// Writes `value` as `width` decimal digits, zero-padded, into `out` (the lowest `width` digits
/// of a larger value).
inline void put_digits(char* out, unsigned value, int width) {
  for (int i = width - 1; i >= 0; --i) {
    out[i] = static_cast<char>('0' + value % 10);
    value /= 10;
  }
}

/// Writes "YYYY-MM-DDTHH:MM:SS" (19 characters, a year below 10000) into `out`.
inline void put_date_time(char* out, unsigned year, unsigned month, unsigned day, unsigned hours, unsigned minutes,
                          unsigned seconds) {
  put_digits(out, year, 4);
  out[4] = '-';
  put_digits(out + 5, month, 2);
  out[7] = '-';
  put_digits(out + 8, day, 2);
  out[10] = 'T';
  put_digits(out + 11, hours, 2);
  out[13] = ':';
  put_digits(out + 14, minutes, 2);
  out[16] = ':';
  put_digits(out + 17, seconds, 2);
}

/// Parses RFC 3339 date-times: "2026-11-21T09:00:00Z", with optional fraction (kept to ms) and
/// a "Z" or "+hh:mm"/"-hh:mm" offset. Returns nullopt for anything else (including invalid dates).
std::optional<timestamp> parse_rfc3339(std::string_view text);

/// The current time from the system clock (infra and the gateway only: aggregates get time
/// in their commands).
timestamp now_utc();

}  // namespace coachd
