#pragma once
/// Session reminders as a durable scheduler driven by events. The reminders projector keeps one
/// pending reminder per live session in `session_reminders` (booked → added, rescheduled →
/// replaced with the new time and unsent again, cancelled / completed / no-show → removed). The
/// dispatcher claims unsent rows whose session starts within the lead time (FOR UPDATE SKIP
/// LOCKED) and, in the same transaction, queues the client's e-mail in the mail outbox, writes
/// an in-app notification and marks the row sent, so each reminder goes out exactly once,
/// across restarts and any number of dispatchers. Ids derive from (session, sequence, start):
/// a reminder for a new time is a new one, and a replayed one is ignored by the outbox.
///
/// The lead time is the dispatcher's alone, applied when it looks for due rows, so a changed
/// setting applies to every pending reminder. A row is sent only while the `sessions` read model
/// agrees that the session is live at that start (booked or confirmed), so a cancellation or a
/// reschedule that one projector has applied and the other not yet never sends a stale reminder.

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <string>
#include <thread>

#include "projections/bulk_insert.hpp"
#include "projections/projector.hpp"

namespace coachd {

/// The longest lead time accepted (--reminder-lead-minutes).
inline constexpr std::chrono::minutes max_reminder_lead{30 * 24 * 60};

/// How the dispatcher sends reminders.
struct reminder_options {
  /// How long before a session its reminder goes out: more than zero, at most max_reminder_lead.
  std::chrono::minutes lead{24 * 60};
  std::string mail_from = "coachd <no-reply@coachd.local>";
  std::string portal_url = "http://127.0.0.1:8080";
  std::chrono::milliseconds poll_interval{1000};
};

/// Keeps `session_reminders`: one row per live session with its start and sequence.
class reminders_projector final : public projector {
 public:
  reminders_projector();
  std::string name() const override { return "reminders"; }
  std::vector<std::string> tables() const override { return {"session_reminders"}; }
  void prepare(pqxx::connection_base& connection) override;
  void apply(pqxx::work& tx, const stored_event& stored, const domain_event& event) override;
  bool handles(std::string_view type) const override {
    return is_one_of<session_booked, session_rescheduled, session_cancelled, session_completed,
                     session_no_show_marked>(type);
  }
  /// The dispatcher acts on its rows at once: a lost cancellation could send a reminder.
  bool durable_commits() const override { return true; }
  void begin_batch() override { booked_.clear(); }
  void set_loading(bool loading) override { booked_.set_loading(loading); }
  void end_batch(pqxx::work& tx) override { booked_.flush(tx); }

 private:
  bulk_insert booked_;  // reminders of the sessions booked in the batch
};

/// Sends due reminders from a background thread (or one batch at a time for tests).
class reminder_dispatcher {
 public:
  /// Throws std::invalid_argument when options.lead is out of range.
  reminder_dispatcher(std::string conninfo, reminder_options options = {});
  ~reminder_dispatcher();  // stop()
  reminder_dispatcher(const reminder_dispatcher&) = delete;
  reminder_dispatcher& operator=(const reminder_dispatcher&) = delete;

  void start();
  void stop();
  /// Sends what is due now in the calling thread; returns how many reminders it sent.
  std::size_t dispatch_once();

  /// The namespace of reminder mail and notification ids (UUIDv5).
  static constexpr const char* id_namespace = "6a1f2c3e-4b5d-4e6f-8a7b-9c0d1e2f3a4b";

 private:
  std::size_t dispatch(pqxx::connection& connection);
  void run();

  std::string conninfo_;
  reminder_options options_;
  std::atomic<bool> stopping_{false};
  std::mutex mutex_;
  std::condition_variable wake_;
  std::thread thread_;
};

}  // namespace coachd
