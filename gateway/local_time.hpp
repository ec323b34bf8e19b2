#pragma once
/// An instant as local time with its UTC offset, for answers that show a viewer's zone.

#include <string>

#include "events/time.hpp"

namespace date {
class time_zone;
}  // namespace date

namespace coachd::gateway {

/// "2026-06-04T11:00:00+02:00": `t` (to the second, truncated) in `zone`, with the offset in
/// force there at that instant. Byte for byte date::format("%FT%T%Ez", zoned time), which it
/// calls only outside the years 1000 to 9999; inside them it writes the digits itself, at a
/// fraction of the cost (no stream, no locale: a session list formats two of these per row).
std::string local_rfc3339(const date::time_zone* zone, timestamp t);

}  // namespace coachd::gateway
