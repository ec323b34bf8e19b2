#include "aggregates/coach_schedule.hpp"

#include <algorithm>

namespace coachd {

std::string schedule_stream(std::string_view coach_id) { return "schedule-" + std::string(coach_id); }

namespace {

using std::chrono::days;

bool active(session_status s) { return s == session_status::booked || s == session_status::confirmed; }

std::string status_word(session_status s) {
  switch (s) {
    case session_status::booked: return "booked";
    case session_status::confirmed: return "confirmed";
    case session_status::completed: return "completed";
    case session_status::no_show: return "marked as a no-show";
    case session_status::cancelled: return "cancelled";
  }
  return "closed";
}

/// The refusal as a problem: state conflicts (taken, limits) are 409, the rest 422, each with
/// its own reason and the field "start".
error refusal_error(slot_refusal r) {
  const bool conflict =
      r == slot_refusal::overlap || r == slot_refusal::daily_limit || r == slot_refusal::weekly_limit;
  return make_error(conflict ? errc::conflict : errc::invalid, describe(r), {"start"}, std::string(reason_of(r)));
}

std::optional<error> check_coach(const std::string& acting, const coach_schedule_state& s, const std::string& coach_id) {
  if (acting != coach_id) {
    return make_error(errc::forbidden, "only the coach can change their own schedule settings");
  }
  (void)s;
  return std::nullopt;
}

/// The session for a participant (the coach or its client); anyone else gets "not found" so
/// ids cannot be probed.
result<const scheduled_session*> find_for(const coach_schedule_state& s, const std::string& coach_id,
                                          const std::string& session_id, const std::string& by) {
  auto it = s.sessions.find(session_id);
  if (it == s.sessions.end() || (by != coach_id && by != it->second.client_account_id)) {
    return make_error(errc::not_found, "session '" + session_id + "' does not exist", {}, "no-session");
  }
  return &it->second;
}

std::optional<error> check_active(const scheduled_session& session, const std::string& session_id) {
  if (active(session.status)) return std::nullopt;
  return make_error(errc::conflict, "session " + session_id + " is " + status_word(session.status),
                    {}, session.status == session_status::cancelled ? "session-cancelled" : "session-closed");
}

}  // namespace

namespace {

std::chrono::milliseconds span_of(const scheduled_session& session) {
  return session.end - session.start + minutes{session.buffer_before_minutes} + minutes{session.buffer_after_minutes};
}

bool starts_before(const std::pair<timestamp, session_time_index::entry>& a, timestamp t) { return a.first < t; }
bool starts_after(timestamp t, const std::pair<timestamp, session_time_index::entry>& a) { return t < a.first; }

void index_session(const coach_schedule_state& s, const std::map<std::string, scheduled_session>::value_type& node) {
  auto& v = s.by_time.by_start;
  v.insert(std::upper_bound(v.begin(), v.end(), node.second.start, starts_after), {node.second.start, &node});
  s.by_time.longest = std::max(s.by_time.longest, span_of(node.second));
}

void unindex_session(const coach_schedule_state& s, const std::map<std::string, scheduled_session>::value_type& node) {
  auto& v = s.by_time.by_start;
  for (auto it = std::lower_bound(v.begin(), v.end(), node.second.start, starts_before);
       it != v.end() && it->first == node.second.start; ++it) {
    if (it->second == &node) {
      v.erase(it);
      return;
    }
  }
}

/// The index, rebuilt when it does not hold exactly the sessions (a decoded or copied state).
const session_time_index& time_index(const coach_schedule_state& s) {
  if (s.by_time.by_start.size() != s.sessions.size()) {
    s.by_time = session_time_index{};
    auto& v = s.by_time.by_start;
    v.reserve(s.sessions.size());
    for (const auto& node : s.sessions) {
      v.emplace_back(node.second.start, &node);
      s.by_time.longest = std::max(s.by_time.longest, span_of(node.second));
    }
    std::stable_sort(v.begin(), v.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
  }
  return s.by_time;
}

}  // namespace

std::vector<busy_interval> busy_times(const coach_schedule_state& s, timestamp now, const std::string& except_session,
                                      const std::string& except_holder,
                                      std::optional<std::pair<timestamp, timestamp>> near) {
  std::vector<busy_interval> busy;
  // Past sessions matter only for this week's limits: eight days back is enough.
  const auto since = now - days(8);
  auto add = [&](const std::string& id, const scheduled_session& session) {
    if (session.status == session_status::cancelled || id == except_session || session.end < since) return;
    busy.push_back({session.start, session.end, minutes{session.buffer_before_minutes},
                    minutes{session.buffer_after_minutes}, true});
  };
  if (near) {
    // A session matters to the slot if it could overlap it with both sides' buffers (it then
    // starts within the longest span of it) or, when the coach limits sessions per day or week,
    // shares its local day or ISO week (it then starts within eight days of it).
    const auto& index = time_index(s);
    const bool limited =
        s.availability && (s.availability->max_sessions_per_day > 0 || s.availability->max_sessions_per_week > 0);
    const auto margin = (limited ? std::chrono::milliseconds(days(8)) : std::chrono::milliseconds(0)) + index.longest +
                        (near->second - near->first);
    const timestamp from = near->first - margin;
    const timestamp to = near->second + margin;
    for (auto it = std::lower_bound(index.by_start.begin(), index.by_start.end(), from, starts_before);
         it != index.by_start.end() && it->first < to; ++it) {
      add(it->second->first, it->second->second);
    }
  } else {
    for (const auto& [id, session] : s.sessions) add(id, session);
  }
  for (const auto& [id, hold] : s.holds) {
    if (hold.expires_at <= now || (!except_holder.empty() && hold.held_by == except_holder)) continue;
    busy.push_back({hold.start, hold.end, minutes{hold.buffer_before_minutes}, minutes{hold.buffer_after_minutes}, false});
  }
  return busy;
}

availability_rules rules_of(const availability_set& e) {
  availability_rules r;
  r.time_zone = e.time_zone;
  for (const auto& w : e.weekly) {
    if (auto p = parse_weekly_window(w)) r.weekly.push_back(*p);
  }
  for (const auto& o : e.overrides) {
    if (auto p = parse_date_override(o)) r.overrides.push_back(*p);
  }
  for (const auto& b : e.blackouts) {
    if (auto p = parse_blackout(b)) r.blackouts.push_back(*p);
  }
  r.max_per_day = static_cast<int>(e.max_sessions_per_day);
  r.max_per_week = static_cast<int>(e.max_sessions_per_week);
  return r;
}

booking_rules rules_of(const session_type_defined& e) {
  booking_rules r;
  r.duration = minutes{e.duration_minutes};
  r.buffer_before = minutes{e.buffer_before_minutes};
  r.buffer_after = minutes{e.buffer_after_minutes};
  r.min_notice = minutes{e.min_notice_minutes};
  r.horizon = days{e.horizon_days};
  r.slot_interval = minutes{e.slot_interval_minutes};
  return r;
}

namespace coach_schedule {

decision decide(const set_availability& c, const coach_schedule_state& s) {
  if (auto e = check_coach(c.acting_account_id, s, c.coach_id)) return *e;
  if (auto e = validate(c.rules)) return *e;
  if (c.cancellation_notice_minutes < 0) {
    return make_error(errc::invalid, "cancellation_notice_minutes must not be negative", {"cancellation_notice_minutes"});
  }
  if (c.late_cancellation != "refuse" && c.late_cancellation != "flag") {
    return make_error(errc::invalid, "late_cancellation must be refuse or flag", {"late_cancellation"});
  }
  availability_set e;
  e.coach_id = c.coach_id;
  e.time_zone = c.rules.time_zone;
  for (const auto& w : c.rules.weekly) e.weekly.push_back(format_weekly_window(w));
  for (const auto& o : c.rules.overrides) e.overrides.push_back(format_date_override(o));
  for (const auto& b : c.rules.blackouts) e.blackouts.push_back(format_blackout(b));
  e.max_sessions_per_day = c.rules.max_per_day;
  e.max_sessions_per_week = c.rules.max_per_week;
  e.cancellation_notice_minutes = c.cancellation_notice_minutes;
  e.late_cancellation = c.late_cancellation;
  e.set_at = c.at;
  return std::vector<domain_event>{std::move(e)};
}

decision decide(const define_session_type& c, const coach_schedule_state& s) {
  if (auto e = check_coach(c.acting_account_id, s, c.coach_id)) return *e;
  if (auto e = validate(c.rules)) return *e;
  if (c.price_cents < 0) return make_error(errc::invalid, "price_cents must not be negative", {"price_cents"});
  return std::vector<domain_event>{session_type_defined{
      c.coach_id, c.session_type_id, c.name, c.rules.duration.count(), c.rules.buffer_before.count(),
      c.rules.buffer_after.count(), c.rules.min_notice.count(), c.rules.horizon.count(), c.rules.slot_interval.count(),
      c.price_cents, c.currency, c.location, c.at}};
}

decision decide(const hold_slot& c, const coach_schedule_state& s) {
  auto type = s.types.find(c.session_type_id);
  if (type == s.types.end()) {
    return make_error(errc::invalid, "session type '" + c.session_type_id + "' does not exist", {"type"},
                      "unknown-session-type");
  }
  if (!s.availability) {
    return make_error(errc::conflict, "the coach has not published availability", {}, "no-availability");
  }
  if (s.holds.contains(c.hold_id)) return make_error(errc::conflict, "hold " + c.hold_id + " exists", {}, "hold-exists");
  const auto t = rules_of(type->second);
  const auto near = std::make_pair(c.start - t.buffer_before, c.start + t.duration + t.buffer_after);
  if (auto r = check_slot(rules_of(*s.availability), t, busy_times(s, c.at, {}, c.held_by, near), c.start, c.at)) {
    return refusal_error(*r);
  }
  return std::vector<domain_event>{slot_held{c.coach_id, c.hold_id, c.session_type_id, c.held_by, c.start,
                                             c.start + t.duration, c.at + c.hold_for, c.at}};
}

decision decide(const book_session& c, const coach_schedule_state& s) {
  if (s.sessions.contains(c.session_id)) {
    return make_error(errc::conflict, "session " + c.session_id + " exists", {}, "session-exists");
  }
  const bool by_coach = c.booked_by == c.coach_id;
  const session_type_defined* type = nullptr;
  if (c.session_type_id) {
    auto it = s.types.find(*c.session_type_id);
    if (it == s.types.end()) {
      return make_error(errc::invalid, "session type '" + *c.session_type_id + "' does not exist", {"type"},
                        "unknown-session-type");
    }
    type = &it->second;
  }
  if (c.client_account_id.empty()) {
    return make_error(errc::invalid, "a session needs a client", {"client_account_id"});
  }
  // Only a title given here is personal; without one the session is called by its type.
  const std::string type_name = type != nullptr ? type->name : "Session";
  const booking_rules type_rules = type != nullptr ? rules_of(*type) : booking_rules{};
  const availability_rules availability = s.availability ? rules_of(*s.availability) : availability_rules{};
  const std::string location = c.location ? *c.location : type != nullptr ? type->location : std::string();

  if (by_coach) {
    // The coach books directly: any time outside their own windows, but never over another
    // session, a blackout or a limit.
    minutes duration = type != nullptr ? type_rules.duration : minutes{0};
    if (c.duration) duration = *c.duration;
    if (duration <= minutes{0} || duration > minutes{24 * 60}) {
      return make_error(errc::invalid, "duration_minutes must be from 1 to 1440", {"duration_minutes"});
    }
    const minutes before = type != nullptr ? type_rules.buffer_before : minutes{0};
    const minutes after = type != nullptr ? type_rules.buffer_after : minutes{0};
    const auto near = std::make_pair(c.start - before, c.start + duration + after);
    if (auto r = check_direct(availability, busy_times(s, c.at, {}, c.booked_by, near), c.start, c.start + duration,
                              before, after, c.at)) {
      return refusal_error(*r);
    }
    return std::vector<domain_event>{session_booked{c.coach_id, c.session_id, c.client_account_id,
                                                    c.session_type_id, std::nullopt, personal{c.title}, type_name, c.start,
                                                    c.start + duration, before.count(), after.count(), location,
                                                    c.booked_by, c.at}};
  }

  // A client books a slot.
  if (type == nullptr) {
    return make_error(errc::invalid, "a client books a slot of a session type", {"type"}, "unknown-session-type");
  }
  if (c.booked_by != c.client_account_id) {
    return make_error(errc::forbidden, "a client books for themselves only", {"client_account_id"});
  }
  if (!s.availability) {
    return make_error(errc::conflict, "the coach has not published availability", {}, "no-availability");
  }
  if (c.hold_id) {
    auto hold = s.holds.find(*c.hold_id);
    if (hold == s.holds.end() || hold->second.held_by != c.booked_by) {
      return make_error(errc::conflict, "hold '" + *c.hold_id + "' does not exist or was used", {"hold_id"},
                        "hold-not-found");
    }
    if (hold->second.expires_at <= c.at) {
      return make_error(errc::conflict, "hold '" + *c.hold_id + "' expired", {"hold_id"}, "hold-expired");
    }
    if (hold->second.start != c.start || hold->second.session_type_id != *c.session_type_id) {
      return make_error(errc::conflict, "hold '" + *c.hold_id + "' is for another slot", {"hold_id"},
                        "hold-mismatch");
    }
  }
  const auto& rules = type_rules;
  const auto near = std::make_pair(c.start - rules.buffer_before, c.start + rules.duration + rules.buffer_after);
  if (auto r = check_slot(availability, rules, busy_times(s, c.at, {}, c.booked_by, near), c.start, c.at)) {
    return refusal_error(*r);
  }
  return std::vector<domain_event>{session_booked{c.coach_id, c.session_id, c.client_account_id, c.session_type_id,
                                                  c.hold_id, personal{c.title}, type_name, c.start, c.start + rules.duration,
                                                  rules.buffer_before.count(), rules.buffer_after.count(), location,
                                                  c.booked_by, c.at}};
}

decision decide(const reschedule_session& c, const coach_schedule_state& s) {
  auto found = find_for(s, c.coach_id, c.session_id, c.by_account);
  if (!found) return found.err();
  const auto& session = **found;
  if (auto e = check_active(session, c.session_id)) return *e;
  const bool by_coach = c.by_account == c.coach_id;
  const auto duration = session.end - session.start;
  const auto near = std::make_pair(c.start - minutes{session.buffer_before_minutes},
                                   c.start + duration + minutes{session.buffer_after_minutes});
  const auto busy = busy_times(s, c.at, c.session_id, c.by_account, near);
  const availability_rules availability = s.availability ? rules_of(*s.availability) : availability_rules{};
  const minutes notice{s.availability ? s.availability->cancellation_notice_minutes : 0};
  if (!by_coach) {
    if (c.at > session.start - notice) {
      return make_error(errc::conflict, "the session starts within the coach's cancellation notice; it cannot be moved now",
                        {}, "reschedule-too-late");
    }
    auto type = session.session_type_id ? s.types.find(*session.session_type_id) : s.types.end();
    if (type == s.types.end()) {
      return make_error(errc::forbidden, "only the coach can move a session they booked directly");
    }
    if (auto r = check_slot(availability, rules_of(type->second), busy, c.start, c.at)) return refusal_error(*r);
  } else if (auto r = check_direct(availability, busy, c.start, c.start + duration,
                                   minutes{session.buffer_before_minutes}, minutes{session.buffer_after_minutes},
                                   c.at)) {
    return refusal_error(*r);
  }
  return std::vector<domain_event>{session_rescheduled{c.coach_id, c.session_id, c.start,
                                                       c.start + std::chrono::duration_cast<std::chrono::milliseconds>(duration),
                                                       session.sequence + 1, c.by_account, c.at}};
}

decision decide(const cancel_session& c, const coach_schedule_state& s) {
  auto found = find_for(s, c.coach_id, c.session_id, c.by_account);
  if (!found) return found.err();
  const auto& session = **found;
  if (auto e = check_active(session, c.session_id)) return *e;
  bool late = false;
  const std::int64_t notice = s.availability ? s.availability->cancellation_notice_minutes : 0;
  const bool refuse_late = !s.availability || s.availability->late_cancellation != "flag";
  if (c.by_account != c.coach_id && c.at > session.start - minutes{notice}) {
    if (refuse_late) {
      return make_error(errc::conflict,
                        "the session starts within the coach's cancellation notice of " +
                            std::to_string(notice) + " minutes; it cannot be cancelled now",
                        {}, "cancellation-too-late");
    }
    late = true;
  }
  return std::vector<domain_event>{session_cancelled{c.coach_id, c.session_id, c.by_account, late,
                                                     session.sequence + 1, personal{c.reason}, c.at}};
}

decision decide(const confirm_session& c, const coach_schedule_state& s) {
  auto found = find_for(s, c.coach_id, c.session_id, c.by_account);
  if (!found) return found.err();
  const auto& session = **found;
  if (c.by_account != session.client_account_id) {
    return make_error(errc::forbidden, "only the session's client confirms attendance");
  }
  if (session.status == session_status::confirmed) {
    return make_error(errc::conflict, "session " + c.session_id + " is already confirmed", {}, "already-confirmed");
  }
  if (auto e = check_active(session, c.session_id)) return *e;
  if (c.at >= session.end) {
    return make_error(errc::conflict, "session " + c.session_id + " is over", {}, "session-over");
  }
  return std::vector<domain_event>{session_confirmed{c.coach_id, c.session_id, c.at}};
}

namespace {
result<const scheduled_session*> coach_closes(const coach_schedule_state& s, const std::string& coach_id,
                                              const std::string& session_id, const std::string& by, timestamp at) {
  auto found = find_for(s, coach_id, session_id, by);
  if (!found) return found.err();
  if (by != coach_id) return make_error(errc::forbidden, "only the coach records how a session went");
  if (auto e = check_active(**found, session_id)) return *e;
  if (at < (*found)->start) {
    return make_error(errc::conflict, "session " + session_id + " has not started yet", {}, "session-not-started");
  }
  return found;
}
}  // namespace

decision decide(const complete_session& c, const coach_schedule_state& s) {
  auto found = coach_closes(s, c.coach_id, c.session_id, c.by_account, c.at);
  if (!found) return found.err();
  return std::vector<domain_event>{session_completed{c.coach_id, c.session_id, c.at}};
}

decision decide(const mark_no_show& c, const coach_schedule_state& s) {
  auto found = coach_closes(s, c.coach_id, c.session_id, c.by_account, c.at);
  if (!found) return found.err();
  return std::vector<domain_event>{session_no_show_marked{c.coach_id, c.session_id, c.at}};
}

void evolve(coach_schedule_state& s, const availability_set& e) {
  s.coach_id = e.coach_id;
  s.availability = e;
}

void evolve(coach_schedule_state& s, const session_type_defined& e) {
  s.coach_id = e.coach_id;
  s.types[e.session_type_id] = e;
}

void evolve(coach_schedule_state& s, const slot_held& e) {
  s.coach_id = e.coach_id;
  // Expired holds are forgotten as time (carried by events) passes.
  std::erase_if(s.holds, [&](const auto& h) { return h.second.expires_at <= e.held_at; });
  std::int64_t before = 0, after = 0;
  if (auto t = s.types.find(e.session_type_id); t != s.types.end()) {
    before = t->second.buffer_before_minutes;
    after = t->second.buffer_after_minutes;
  }
  s.holds[e.hold_id] = slot_hold{e.session_type_id, e.held_by, e.start, e.end, e.expires_at, before, after};
}

void evolve(coach_schedule_state& s, const session_booked& e) {
  s.coach_id = e.coach_id;
  if (e.hold_id) s.holds.erase(*e.hold_id);
  scheduled_session session;
  session.client_account_id = e.client_account_id;
  session.session_type_id = e.session_type_id;
  session.start = e.start;
  session.end = e.end;
  session.buffer_before_minutes = e.buffer_before_minutes;
  session.buffer_after_minutes = e.buffer_after_minutes;
  auto [node, fresh] = s.sessions.try_emplace(e.session_id, session);
  if (!fresh) {
    unindex_session(s, *node);
    node->second = session;
  }
  index_session(s, *node);
}

void evolve(coach_schedule_state& s, const session_rescheduled& e) {
  auto it = s.sessions.find(e.session_id);
  if (it == s.sessions.end()) return;
  unindex_session(s, *it);
  it->second.start = e.start;
  it->second.end = e.end;
  it->second.sequence = e.sequence;
  index_session(s, *it);
}

void evolve(coach_schedule_state& s, const session_cancelled& e) {
  auto it = s.sessions.find(e.session_id);
  if (it == s.sessions.end()) return;
  it->second.status = session_status::cancelled;
  it->second.sequence = e.sequence;
}

void evolve(coach_schedule_state& s, const session_confirmed& e) {
  if (auto it = s.sessions.find(e.session_id); it != s.sessions.end()) it->second.status = session_status::confirmed;
}

void evolve(coach_schedule_state& s, const session_completed& e) {
  if (auto it = s.sessions.find(e.session_id); it != s.sessions.end()) it->second.status = session_status::completed;
}

void evolve(coach_schedule_state& s, const session_no_show_marked& e) {
  if (auto it = s.sessions.find(e.session_id); it != s.sessions.end()) it->second.status = session_status::no_show;
}

}  // namespace coach_schedule
}  // namespace coachd
