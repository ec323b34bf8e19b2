#include "gateway/local_time.hpp"

#include <date/tz.h>

namespace coachd::gateway {

std::string local_rfc3339(const date::time_zone* zone, timestamp t) {
  const auto utc = std::chrono::time_point_cast<std::chrono::seconds>(t);
  const auto offset = zone->get_info(utc).offset;  // the zone's rule at that instant
  const auto local = utc + offset;
  const auto day = std::chrono::floor<date::days>(local);
  const date::year_month_day ymd{day};
  const date::hh_mm_ss<std::chrono::seconds> time{local - day};
  const long offset_minutes = std::chrono::duration_cast<std::chrono::minutes>(offset).count();
  const auto magnitude = static_cast<unsigned>(offset_minutes < 0 ? -offset_minutes : offset_minutes);
  const int y = static_cast<int>(ymd.year());
  if (y < 1000 || y > 9999) {
    return date::format("%FT%T%Ez", date::make_zoned(zone, utc));
  }
  std::string out(25, '\0');  // 2026-06-04T11:00:00+02:00
  char* p = out.data();
  put_date_time(p, static_cast<unsigned>(y), static_cast<unsigned>(ymd.month()), static_cast<unsigned>(ymd.day()),
                static_cast<unsigned>(time.hours().count()), static_cast<unsigned>(time.minutes().count()),
                static_cast<unsigned>(time.seconds().count()));
  p[19] = offset_minutes < 0 ? '-' : '+';
  put_digits(p + 20, magnitude / 60, 2);
  p[22] = ':';
  put_digits(p + 23, magnitude % 60, 2);
  return out;
}

}  // namespace coachd::gateway
