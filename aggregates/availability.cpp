#include "aggregates/availability.hpp"

#include <date/tz.h>

#include <algorithm>
#include <array>
#include <charconv>
#include <map>

namespace coachd {

namespace {

using std::chrono::milliseconds;

constexpr std::array<std::string_view, 7> short_days{"sun", "mon", "tue", "wed", "thu", "fri", "sat"};
constexpr std::array<std::string_view, 7> long_days{"sunday",   "monday", "tuesday", "wednesday",
                                                    "thursday", "friday", "saturday"};

std::optional<int> parse_digits(std::string_view text) {
  if (text.empty()) return std::nullopt;
  int v = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec != std::errc() || end != text.data() + text.size()) return std::nullopt;
  for (char c : text) {
    if (c < '0' || c > '9') return std::nullopt;
  }
  return v;
}

std::string two(int v) {
  std::string s = std::to_string(v);
  return s.size() < 2 ? "0" + s : s;
}

std::string format_date(const date::year_month_day& d) {
  return std::to_string(int(d.year())) + "-" + two(int(unsigned(d.month()))) + "-" + two(int(unsigned(d.day())));
}

/// "09:00-12:00".
std::optional<wall_window> parse_range(std::string_view text) {
  const auto dash = text.find('-');
  if (dash == std::string_view::npos) return std::nullopt;
  auto start = parse_wall_time(text.substr(0, dash));
  auto end = parse_wall_time(text.substr(dash + 1));
  if (!start || !end) return std::nullopt;
  return wall_window{*start, *end};
}

std::string format_range(const wall_window& w) { return format_wall_time(w.start) + "-" + format_wall_time(w.end); }

/// Checks one day's windows: each well-formed, none overlapping another.
std::optional<error> check_windows(std::vector<wall_window> windows, const std::string& field) {
  for (const auto& w : windows) {
    if (w.start < minutes{0} || w.end > minutes{24 * 60} || w.start >= w.end) {
      return make_error(errc::invalid, field + ": a window must start before it ends, within 00:00-24:00 (got " +
                                           format_range(w) + ")",
                        {field});
    }
  }
  std::sort(windows.begin(), windows.end(), [](auto& a, auto& b) { return a.start < b.start; });
  for (std::size_t i = 1; i < windows.size(); ++i) {
    if (windows[i].start < windows[i - 1].end) {
      return make_error(errc::invalid,
                        field + ": windows " + format_range(windows[i - 1]) + " and " + format_range(windows[i]) +
                            " overlap",
                        {field});
    }
  }
  return std::nullopt;
}

local_days iso_week_start(local_days day) {
  const auto wd = date::weekday(day).iso_encoding();  // Monday 1 … Sunday 7
  return day - date::days(wd - 1);
}

/// Instants of the blackout ranges in the coach's zone.
std::vector<std::pair<timestamp, timestamp>> blackout_instants(const availability_rules& rules,
                                                               const date::time_zone& zone) {
  std::vector<std::pair<timestamp, timestamp>> out;
  for (const auto& b : rules.blackouts) {
    const auto first = local_days(b.first);
    const auto after_last = local_days(b.last) + date::days(1);
    out.emplace_back(to_instant(zone, date::local_time<minutes>(first)),
                     to_instant(zone, date::local_time<minutes>(after_last)));
  }
  return out;
}

/// Sessions per local day and per ISO week in the coach's zone.
struct limit_counts {
  std::map<local_days, int> per_day;
  std::map<local_days, int> per_week;
};

limit_counts count_sessions(const date::time_zone& zone, const std::vector<busy_interval>& busy) {
  limit_counts c;
  for (const auto& b : busy) {
    if (!b.counts_toward_limits) continue;
    const auto day = local_day_of(zone, b.start);
    ++c.per_day[day];
    ++c.per_week[iso_week_start(day)];
  }
  return c;
}

int count_at(const std::map<local_days, int>& m, local_days key) {
  auto it = m.find(key);
  return it == m.end() ? 0 : it->second;
}

/// The rules every booking shares, given precomputed blackouts and counts.
std::optional<slot_refusal> common_checks(const availability_rules& rules, const date::time_zone& zone,
                                          const std::vector<std::pair<timestamp, timestamp>>& blackouts,
                                          const limit_counts& counts, const std::vector<busy_interval>& busy,
                                          timestamp start, timestamp end, minutes before, minutes after) {
  for (const auto& [b0, b1] : blackouts) {
    if (start < b1 && b0 < end) return slot_refusal::blackout;
  }
  if (rules.max_per_day > 0 || rules.max_per_week > 0) {
    const auto day = local_day_of(zone, start);
    if (rules.max_per_day > 0 && count_at(counts.per_day, day) >= rules.max_per_day) {
      return slot_refusal::daily_limit;
    }
    if (rules.max_per_week > 0 && count_at(counts.per_week, iso_week_start(day)) >= rules.max_per_week) {
      return slot_refusal::weekly_limit;
    }
  }
  for (const auto& b : busy) {
    if (collides(start, end, before, after, b)) return slot_refusal::overlap;
  }
  return std::nullopt;
}

}  // namespace

std::string_view reason_of(slot_refusal r) {
  switch (r) {
    case slot_refusal::outside_availability: return "slot-outside-availability";
    case slot_refusal::blackout: return "slot-in-blackout";
    case slot_refusal::overlap: return "slot-taken";
    case slot_refusal::notice: return "slot-inside-minimum-notice";
    case slot_refusal::horizon: return "slot-beyond-horizon";
    case slot_refusal::in_past: return "slot-in-past";
    case slot_refusal::daily_limit: return "daily-limit-reached";
    case slot_refusal::weekly_limit: return "weekly-limit-reached";
  }
  return "slot-refused";
}

std::string describe(slot_refusal r) {
  switch (r) {
    case slot_refusal::outside_availability:
      return "the start is not a slot of the coach's availability (or the session would run past its window)";
    case slot_refusal::blackout: return "the coach is unavailable (blackout) at that time";
    case slot_refusal::overlap:
      return "the time overlaps another session or hold of the coach, buffers included";
    case slot_refusal::notice: return "the start is sooner than the minimum notice of this session type";
    case slot_refusal::horizon: return "the start is further out than this session type can be booked";
    case slot_refusal::in_past: return "the start is in the past";
    case slot_refusal::daily_limit: return "the coach's maximum number of sessions that day is reached";
    case slot_refusal::weekly_limit: return "the coach's maximum number of sessions that week is reached";
  }
  return "the slot cannot be booked";
}

const date::time_zone* find_zone(std::string_view name) {
  if (name.empty() || name.size() > 64) return nullptr;
  try {
    return date::locate_zone(name);
  } catch (const std::exception&) {
    return nullptr;
  }
}

std::optional<minutes> parse_wall_time(std::string_view text) {
  if (text.size() != 5 || text[2] != ':') return std::nullopt;
  auto h = parse_digits(text.substr(0, 2));
  auto m = parse_digits(text.substr(3, 2));
  if (!h || !m || *h > 24 || *m > 59 || (*h == 24 && *m != 0)) return std::nullopt;
  return minutes{*h * 60 + *m};
}

std::string format_wall_time(minutes m) {
  return two(int(m.count() / 60)) + ":" + two(int(m.count() % 60));
}

std::optional<date::year_month_day> parse_date(std::string_view text) {
  if (text.size() != 10 || text[4] != '-' || text[7] != '-') return std::nullopt;
  auto y = parse_digits(text.substr(0, 4));
  auto m = parse_digits(text.substr(5, 2));
  auto d = parse_digits(text.substr(8, 2));
  if (!y || !m || !d) return std::nullopt;
  date::year_month_day ymd{date::year(*y), date::month(unsigned(*m)), date::day(unsigned(*d))};
  if (!ymd.ok()) return std::nullopt;
  return ymd;
}

std::optional<unsigned> parse_weekday(std::string_view text) {
  std::string lower(text);
  for (auto& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  for (unsigned i = 0; i < 7; ++i) {
    if (lower == short_days[i] || lower == long_days[i]) return i;
  }
  return std::nullopt;
}

std::optional<weekly_window> parse_weekly_window(std::string_view text) {
  const auto space = text.find(' ');
  if (space == std::string_view::npos) return std::nullopt;
  auto day = parse_weekday(text.substr(0, space));
  auto range = parse_range(text.substr(space + 1));
  if (!day || !range) return std::nullopt;
  return weekly_window{*day, *range};
}

std::string format_weekly_window(const weekly_window& w) {
  return std::string(short_days[w.weekday % 7]) + " " + format_range(w.window);
}

std::optional<date_override> parse_date_override(std::string_view text) {
  const auto space = text.find(' ');
  if (space == std::string_view::npos) return std::nullopt;
  auto day = parse_date(text.substr(0, space));
  if (!day) return std::nullopt;
  date_override o{*day, {}};
  std::string_view rest = text.substr(space + 1);
  if (rest == "off") return o;
  while (!rest.empty()) {
    const auto comma = rest.find(',');
    auto range = parse_range(rest.substr(0, comma));
    if (!range) return std::nullopt;
    o.windows.push_back(*range);
    if (comma == std::string_view::npos) break;
    rest = rest.substr(comma + 1);
    if (rest.empty()) return std::nullopt;
  }
  if (o.windows.empty()) return std::nullopt;
  return o;
}

std::string format_date_override(const date_override& o) {
  std::string s = format_date(o.day) + " ";
  if (o.windows.empty()) return s + "off";
  for (std::size_t i = 0; i < o.windows.size(); ++i) {
    if (i > 0) s += ",";
    s += format_range(o.windows[i]);
  }
  return s;
}

std::optional<blackout_range> parse_blackout(std::string_view text) {
  const auto dots = text.find("..");
  if (dots == std::string_view::npos) return std::nullopt;
  auto first = parse_date(text.substr(0, dots));
  auto last = parse_date(text.substr(dots + 2));
  if (!first || !last) return std::nullopt;
  return blackout_range{*first, *last};
}

std::string format_blackout(const blackout_range& b) { return format_date(b.first) + ".." + format_date(b.last); }

std::optional<error> validate(const availability_rules& rules) {
  if (find_zone(rules.time_zone) == nullptr) {
    return make_error(errc::invalid, "time_zone '" + rules.time_zone + "' is not an IANA time zone", {"time_zone"},
                      "unknown-time-zone");
  }
  for (unsigned day = 0; day < 7; ++day) {
    std::vector<wall_window> windows;
    for (const auto& w : rules.weekly) {
      if (w.weekday == day) windows.push_back(w.window);
    }
    if (auto e = check_windows(windows, "weekly")) return e;
  }
  for (std::size_t i = 0; i < rules.overrides.size(); ++i) {
    const std::string field = "overrides[" + std::to_string(i) + "]";
    if (auto e = check_windows(rules.overrides[i].windows, field)) return e;
    for (std::size_t j = 0; j < i; ++j) {
      if (rules.overrides[j].day == rules.overrides[i].day) {
        return make_error(errc::invalid, field + ": the date " + format_date(rules.overrides[i].day) +
                                             " has two overrides",
                          {field});
      }
    }
  }
  for (std::size_t i = 0; i < rules.blackouts.size(); ++i) {
    if (rules.blackouts[i].last < rules.blackouts[i].first) {
      const std::string field = "blackouts[" + std::to_string(i) + "]";
      return make_error(errc::invalid, field + ": the last day is before the first", {field});
    }
  }
  if (rules.max_per_day < 0) {
    return make_error(errc::invalid, "max_sessions_per_day must not be negative", {"max_sessions_per_day"});
  }
  if (rules.max_per_week < 0) {
    return make_error(errc::invalid, "max_sessions_per_week must not be negative", {"max_sessions_per_week"});
  }
  return std::nullopt;
}

std::optional<error> validate(const booking_rules& r) {
  const minutes day{24 * 60};
  if (r.duration <= minutes{0} || r.duration > day) {
    return make_error(errc::invalid, "duration_minutes must be from 1 to 1440", {"duration_minutes"});
  }
  if (r.buffer_before < minutes{0} || r.buffer_before > day) {
    return make_error(errc::invalid, "buffer_before_minutes must be from 0 to 1440", {"buffer_before_minutes"});
  }
  if (r.buffer_after < minutes{0} || r.buffer_after > day) {
    return make_error(errc::invalid, "buffer_after_minutes must be from 0 to 1440", {"buffer_after_minutes"});
  }
  if (r.min_notice < minutes{0}) {
    return make_error(errc::invalid, "min_notice_minutes must not be negative", {"min_notice_minutes"});
  }
  if (r.horizon < date::days{1} || r.horizon > date::days{730}) {
    return make_error(errc::invalid, "horizon_days must be from 1 to 730", {"horizon_days"});
  }
  if (r.slot_interval <= minutes{0} || r.slot_interval > day) {
    return make_error(errc::invalid, "slot_interval_minutes must be from 1 to 1440", {"slot_interval_minutes"});
  }
  return std::nullopt;
}

timestamp to_instant(const date::time_zone& zone, date::local_time<minutes> wall) {
  const auto info = zone.get_info(wall);
  switch (info.result) {
    case date::local_info::nonexistent:
      // Inside a spring-forward gap: the first instant after it.
      return std::chrono::time_point_cast<milliseconds>(info.first.end);
    case date::local_info::unique:
    case date::local_info::ambiguous:
    default:
      // A repeated wall time: its first occurrence (info.first).
      return timestamp(std::chrono::duration_cast<milliseconds>(wall.time_since_epoch() - info.first.offset));
  }
}

local_days local_day_of(const date::time_zone& zone, timestamp t) {
  return date::floor<date::days>(zone.to_local(t));
}

std::vector<std::pair<timestamp, timestamp>> windows_on(const availability_rules& rules, const date::time_zone& zone,
                                                         local_days day) {
  std::vector<wall_window> walls;
  const date::year_month_day ymd(day);
  bool overridden = false;
  for (const auto& o : rules.overrides) {
    if (o.day == ymd) {
      walls = o.windows;
      overridden = true;
      break;
    }
  }
  if (!overridden) {
    const unsigned wd = date::weekday(day).c_encoding();
    for (const auto& w : rules.weekly) {
      if (w.weekday == wd) walls.push_back(w.window);
    }
  }
  std::vector<std::pair<timestamp, timestamp>> out;
  for (const auto& w : walls) {
    const auto start = to_instant(zone, date::local_time<minutes>(day) + w.start);
    const auto end = to_instant(zone, date::local_time<minutes>(day) + w.end);
    if (start < end) out.emplace_back(start, end);
  }
  std::sort(out.begin(), out.end());
  return out;
}

bool collides(timestamp start, timestamp end, minutes buffer_before, minutes buffer_after, const busy_interval& other) {
  return start - buffer_before < other.end + other.buffer_after && other.start - other.buffer_before < end + buffer_after;
}

std::vector<timestamp> bookable_slots(const availability_rules& rules, const booking_rules& type,
                                      const std::vector<busy_interval>& busy, timestamp from, timestamp to,
                                      timestamp now) {
  std::vector<timestamp> slots;
  const auto* zone = find_zone(rules.time_zone);
  if (zone == nullptr || from >= to || type.slot_interval <= minutes{0} || type.duration <= minutes{0}) return slots;
  const auto earliest = std::max(now + type.min_notice, now);
  const auto latest = now + type.horizon;
  const auto blackouts = blackout_instants(rules, *zone);
  const auto counts = count_sessions(*zone, busy);
  const auto last_day = local_day_of(*zone, to) + date::days(1);
  for (auto day = local_day_of(*zone, from) - date::days(1); day <= last_day; day += date::days(1)) {
    for (const auto& [window_start, window_end] : windows_on(rules, *zone, day)) {
      for (auto s = window_start; s + type.duration <= window_end; s += type.slot_interval) {
        if (s < from || s >= to || s < earliest || s > latest) continue;
        if (common_checks(rules, *zone, blackouts, counts, busy, s, s + type.duration, type.buffer_before,
                          type.buffer_after)) {
          continue;
        }
        slots.push_back(s);
      }
    }
  }
  std::sort(slots.begin(), slots.end());
  slots.erase(std::unique(slots.begin(), slots.end()), slots.end());
  return slots;
}

std::optional<slot_refusal> check_slot(const availability_rules& rules, const booking_rules& type,
                                       const std::vector<busy_interval>& busy, timestamp start, timestamp now) {
  const auto* zone = find_zone(rules.time_zone);
  if (zone == nullptr) return slot_refusal::outside_availability;
  if (start < now) return slot_refusal::in_past;
  if (start < now + type.min_notice) return slot_refusal::notice;
  if (start > now + type.horizon) return slot_refusal::horizon;
  const auto end = start + type.duration;
  bool on_grid = false;
  const auto day = local_day_of(*zone, start);
  for (auto d = day - date::days(1); d <= day + date::days(1) && !on_grid; d += date::days(1)) {
    for (const auto& [window_start, window_end] : windows_on(rules, *zone, d)) {
      if (start >= window_start && end <= window_end && (start - window_start) % type.slot_interval == milliseconds{0}) {
        on_grid = true;
        break;
      }
    }
  }
  if (!on_grid) return slot_refusal::outside_availability;
  return common_checks(rules, *zone, blackout_instants(rules, *zone), count_sessions(*zone, busy), busy, start, end,
                       type.buffer_before, type.buffer_after);
}

std::optional<slot_refusal> check_direct(const availability_rules& rules, const std::vector<busy_interval>& busy,
                                         timestamp start, timestamp end, minutes buffer_before, minutes buffer_after,
                                         timestamp now) {
  if (start < now) return slot_refusal::in_past;
  const auto* zone = find_zone(rules.time_zone);
  if (zone == nullptr) zone = date::locate_zone("UTC");
  return common_checks(rules, *zone, blackout_instants(rules, *zone), count_sessions(*zone, busy), busy, start, end,
                       buffer_before, buffer_after);
}

}  // namespace coachd
