#include "projections/reminders.hpp"

#include <date/tz.h>

#include <iostream>
#include <stdexcept>

#include "infra/crypto.hpp"
#include "infra/mail_outbox.hpp"
#include "infra/thread_name.hpp"

namespace coachd {

namespace {

/// "2026-06-04 11:00 (Europe/Berlin)": the start in the client's zone, UTC when they have none or
/// when it is one this tz database does not know (a stored name must never block reminders).
std::string local_time_text(timestamp start, const std::string& zone_name) {
  const auto seconds = std::chrono::time_point_cast<std::chrono::seconds>(start);
  if (!zone_name.empty()) {
    try {
      const auto* zone = date::locate_zone(zone_name);
      return date::format("%Y-%m-%d %H:%M", date::make_zoned(zone, seconds)) + " (" + zone_name + ")";
    } catch (const std::runtime_error&) {
      // fall through to UTC
    }
  }
  return date::format("%Y-%m-%d %H:%M", seconds) + " (UTC)";
}

}  // namespace

reminders_projector::reminders_projector()
    : booked_("reminders_booked", "session_reminders",
              {{"session_id", "uuid"},
               {"coach_id", "uuid"},
               {"client_account_id", "uuid"},
               {"session_start", "timestamptz"},
               {"sequence", "integer"}},
              "ON CONFLICT (session_id) DO NOTHING") {}

void reminders_projector::prepare(pqxx::connection_base& c) {
  booked_.prepare(c);
  // A new time is a new reminder: unsent again (whether or not the old one went out).
  c.prepare("reminders_rescheduled",
            "UPDATE session_reminders SET session_start = $2::timestamptz, sequence = $3, sent_at = NULL "
            "WHERE session_id = $1");
  c.prepare("reminders_removed", "DELETE FROM session_reminders WHERE session_id = $1");
}

void reminders_projector::apply(pqxx::work& tx, const stored_event&, const domain_event& event) {
  if (const auto* e = std::get_if<session_booked>(&event)) {
    booked_.add({e->session_id, e->coach_id, e->client_account_id, format_rfc3339(e->start), std::string("0")});
    return;
  }
  booked_.flush(tx);  // reminders of sessions booked before this event go first
  if (const auto* e = std::get_if<session_rescheduled>(&event)) {
    tx.exec_prepared("reminders_rescheduled", e->session_id, format_rfc3339(e->start), e->sequence);
  } else if (const auto* e = std::get_if<session_cancelled>(&event)) {
    tx.exec_prepared("reminders_removed", e->session_id);
  } else if (const auto* e = std::get_if<session_completed>(&event)) {
    tx.exec_prepared("reminders_removed", e->session_id);
  } else if (const auto* e = std::get_if<session_no_show_marked>(&event)) {
    tx.exec_prepared("reminders_removed", e->session_id);
  }
}

reminder_dispatcher::reminder_dispatcher(std::string conninfo, reminder_options options)
    : conninfo_(std::move(conninfo)), options_(std::move(options)) {
  if (options_.lead <= std::chrono::minutes::zero() || options_.lead > max_reminder_lead) {
    throw std::invalid_argument("the reminder lead time must be from 1 to " +
                                std::to_string(max_reminder_lead.count()) + " minutes (30 days), got " +
                                std::to_string(options_.lead.count()));
  }
}

reminder_dispatcher::~reminder_dispatcher() { stop(); }

void reminder_dispatcher::start() {
  if (thread_.joinable()) return;
  stopping_ = false;
  thread_ = std::thread([this] { run(); });
}

void reminder_dispatcher::stop() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
}

std::size_t reminder_dispatcher::dispatch_once() {
  pqxx::connection c(conninfo_);
  return dispatch(c);
}

std::size_t reminder_dispatcher::dispatch(pqxx::connection& connection) {
  pqxx::work tx(connection);
  // Unsent, starting within the lead time and not yet started, for sessions the sessions read
  // model also shows live at that start; claimed so that concurrent dispatchers skip them.
  auto due = tx.exec_params(
      "SELECT r.session_id::text, r.sequence, r.client_account_id::text, a.email, a.display_name, s.title, "
      "to_char(r.session_start AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI \"UTC\"'), s.location, p.timezone, "
      "(extract(epoch FROM r.session_start) * 1000)::bigint "
      "FROM session_reminders r "
      "JOIN sessions s ON s.session_id = r.session_id AND s.status IN ('booked', 'confirmed') "
      "AND s.start_at = r.session_start "
      "LEFT JOIN accounts a ON a.account_id = r.client_account_id "
      "LEFT JOIN account_preferences p ON p.account_id = r.client_account_id "
      "WHERE r.sent_at IS NULL AND r.session_start > now() AND r.session_start <= now() + make_interval(mins => $1) "
      "ORDER BY r.session_start LIMIT 50 FOR UPDATE OF r SKIP LOCKED",
      static_cast<int>(options_.lead.count()));
  std::size_t sent = 0;
  for (const auto& row : due) {
    const std::string session_id = row[0].as<std::string>();
    // The key's start is minute-precise UTC text, as since the first release: ids stay stable.
    const std::string key = session_id + "/" + row[1].as<std::string>() + "/" + row[6].as<std::string>();
    const std::string reminder_id = uuid_from_name(id_namespace, key);
    const std::string title = row[5].as<std::string>();
    const timestamp start{std::chrono::milliseconds(row[9].as<std::int64_t>())};
    const std::string local = local_time_text(start, row[8].is_null() ? std::string() : row[8].as<std::string>());
    const std::string text = "Reminder: \"" + title + "\" starts " + local + ".";
    if (!row[3].is_null()) {
      mail_message mail;
      mail.id = reminder_id;
      mail.from = options_.mail_from;
      mail.to = row[3].as<std::string>();
      mail.subject = "Reminder: " + title + " at " + local;
      mail.text_body = "Hello " + (row[4].is_null() ? std::string() : row[4].as<std::string>()) + ",\n\n" + text +
                       "\n" + (row[7].as<std::string>().empty() ? "" : "Where: " + row[7].as<std::string>() + "\n") +
                       "\nYour sessions: " + options_.portal_url + "\n";
      mail.extra_headers.emplace_back("Auto-Submitted", "auto-generated");
      mail_outbox::enqueue(tx, mail);
    }
    tx.exec_params(
        "INSERT INTO notifications (notification_id, account_id, kind, subject_id, body, created_at) "
        "VALUES ($1, $2, 'session-reminder', $3, $4, now()) ON CONFLICT (notification_id) DO NOTHING",
        reminder_id, row[2].as<std::string>(), session_id, text);
    tx.exec_params("UPDATE session_reminders SET sent_at = now() WHERE session_id = $1", session_id);
    ++sent;
  }
  tx.commit();
  return sent;
}

void reminder_dispatcher::run() {
  name_this_thread("reminders");
  std::unique_ptr<pqxx::connection> connection;
  while (!stopping_) {
    try {
      if (!connection) connection = std::make_unique<pqxx::connection>(conninfo_);
      while (!stopping_ && dispatch(*connection) > 0) {
      }
    } catch (const std::exception& e) {
      // A lost connection or a failed batch: nothing of the batch committed; retry later.
      std::cerr << "reminders: " << e.what() << "\n";
      connection.reset();
    }
    std::unique_lock lock(mutex_);
    wake_.wait_for(lock, options_.poll_interval, [this] { return stopping_.load(); });
  }
}

}  // namespace coachd
