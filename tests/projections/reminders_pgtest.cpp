// Session reminders (projections/reminders.hpp) against a real PostgreSQL: the reminders and
// sessions projectors fed schedule events, and dispatchers sending what is due into the mail
// outbox and the notifications table. Each property has its own case:
//   (a) a cancelled (completed, no-show) session gets no reminder, even when it was due, also
//       while the reminders model has not applied the cancellation yet;
//   (b) each reminder is sent exactly once across dispatcher restarts, a rebuilt reminders model,
//       and with several dispatchers running concurrently;
//   (c) after a reschedule the reminder for the old time is never sent and the new one once;
// plus the lead time applied when the dispatcher looks (a changed setting reaches pending rows).

// The test module's entry point. When <boost/test/unit_test.hpp> already came in through the
// precompiled header, a BOOST_TEST_MODULE defined here is too late to generate main().
#ifdef BOOST_TEST_UNIT_TEST_HPP_071894GER
#include <boost/test/unit_test.hpp>
bool init_unit_test() {
  boost::unit_test::framework::master_test_suite().p_name.value = "reminders";
  return true;
}
int main(int argc, char* argv[]) {
  return boost::unit_test::unit_test_main(&init_unit_test, argc, argv);
}
#else
#define BOOST_TEST_MODULE reminders
#include <boost/test/unit_test.hpp>
#endif

#include <atomic>
#include <chrono>
#include <pqxx/pqxx>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "infra/crypto.hpp"
#include "infra/mail_outbox.hpp"
#include "projections/migrations.hpp"
#include "projections/reminders.hpp"
#include "projections/sessions_projector.hpp"
#include "tests/support/pg_test_db.hpp"

using namespace coachd;
using namespace std::chrono_literals;

namespace {

/// A fresh database with the read models, one coach and one client, and both projectors on
/// one connection; events are applied to each projector separately, so a test can let one lag.
struct schedule_db {
  test::test_database db;
  pqxx::connection connection{db.conninfo()};
  sessions_projector sessions;
  reminders_projector reminders;
  const std::string coach_id = new_uuid();
  const std::string client_id = new_uuid();

  schedule_db() {
    apply_migrations(connection);
    mail_outbox::ensure_schema(connection);
    sessions.prepare(connection);
    reminders.prepare(connection);
    pqxx::work tx(connection);
    tx.exec_params(
        "INSERT INTO accounts (account_id, email, role, display_name, registered_at) VALUES "
        "($1, 'casey@example.org', 'coach', 'Casey Coach', now()), ($2, 'ada@example.org', "
        "'client', 'Ada', now())",
        coach_id, client_id);
    tx.commit();
  }

  void apply(projector& target, const domain_event& event) {
    pqxx::work tx(connection);
    target.begin_batch();  // as the runner does around a batch's events
    target.apply(tx, stored_event{}, event);
    target.end_batch(tx);
    tx.commit();
  }
  void apply_both(const domain_event& event) {
    apply(sessions, event);
    apply(reminders, event);
  }

  session_booked booked(timestamp start, const std::string& title) const {
    session_booked e;
    e.coach_id = coach_id;
    e.session_id = new_uuid();
    e.client_account_id = client_id;
    e.title = personal{title};
    e.start = start;
    e.end = start + 1h;
    e.location = "https://meet.example/room";
    e.booked_by = coach_id;
    e.booked_at = now_utc();
    return e;
  }
  /// Books a session (both projectors) and returns its id.
  std::string book(timestamp start, const std::string& title) {
    const auto e = booked(start, title);
    apply_both(e);
    return e.session_id;
  }
  session_rescheduled rescheduled(const std::string& session_id, timestamp start,
                                  std::int64_t sequence) const {
    return session_rescheduled{coach_id, session_id, start,    start + 1h,
                               sequence, coach_id,   now_utc()};
  }
  session_cancelled cancelled(const std::string& session_id, std::int64_t sequence) const {
    return session_cancelled{coach_id, session_id,         coach_id, false,
                             sequence, personal{"Travel"}, now_utc()};
  }

  std::int64_t count(const std::string& sql) {
    pqxx::read_transaction tx(connection);
    return tx.exec(sql)[0][0].as<std::int64_t>();
  }
  std::int64_t mails_about(const std::string& title) {
    pqxx::read_transaction tx(connection);
    return tx
        .exec_params("SELECT count(*) FROM mail_outbox WHERE subject LIKE $1",
                     "Reminder: " + title + " at %")[0][0]
        .as<std::int64_t>();
  }
  std::int64_t notifications_of(const std::string& session_id) {
    pqxx::read_transaction tx(connection);
    return tx
        .exec_params(
            "SELECT count(*) FROM notifications WHERE subject_id = $1 AND kind = "
            "'session-reminder'",
            session_id)[0][0]
        .as<std::int64_t>();
  }
  std::vector<std::string> mail_subjects() {
    pqxx::read_transaction tx(connection);
    std::vector<std::string> out;
    for (const auto& r : tx.exec("SELECT subject FROM mail_outbox ORDER BY subject"))
      out.push_back(r[0].as<std::string>());
    return out;
  }
};

reminder_options with_lead(std::chrono::minutes lead) {
  reminder_options o;
  o.lead = lead;
  o.poll_interval = 10ms;
  return o;
}

/// "HH:MM" of a time in UTC, as the reminder text shows it to a client without a zone.
std::string utc_hh_mm(timestamp t) { return format_rfc3339(t).substr(11, 5); }

}  // namespace

// (a) -----------------------------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(a_cancelled_session_gets_no_reminder_even_when_it_was_due) {
  schedule_db s;
  const auto start = now_utc() + 2h;  // inside the 24 h lead: due as soon as it is booked
  const std::string cancelled_id = s.book(start, "Cancelled call");
  const std::string completed_id = s.book(start + 2h, "Completed call");
  const std::string no_show_id = s.book(start + 4h, "No-show call");
  const std::string kept_id = s.book(start + 6h, "Kept call");
  s.apply_both(s.cancelled(cancelled_id, 1));
  s.apply_both(session_completed{s.coach_id, completed_id, now_utc()});
  s.apply_both(session_no_show_marked{s.coach_id, no_show_id, now_utc()});

  reminder_dispatcher dispatcher(s.db.conninfo(), with_lead(24h));
  BOOST_TEST(dispatcher.dispatch_once() == 1u);  // the kept one only
  BOOST_TEST(dispatcher.dispatch_once() == 0u);
  for (const auto* title : {"Cancelled call", "Completed call", "No-show call"}) {
    BOOST_TEST(s.mails_about(title) == 0, title);
  }
  for (const auto& id : {cancelled_id, completed_id, no_show_id})
    BOOST_TEST(s.notifications_of(id) == 0);
  BOOST_TEST(s.mails_about("Kept call") == 1);
  BOOST_TEST(s.notifications_of(kept_id) == 1);
  BOOST_TEST(s.count("SELECT count(*) FROM session_reminders") == 1);  // the removed rows are gone
}

BOOST_AUTO_TEST_CASE(
    a_cancellation_only_the_sessions_model_has_applied_already_stops_the_reminder) {
  // The two projectors run independently: the reminders one may still show the session live
  // when the sessions one has applied the cancellation. The dispatcher must not send then.
  schedule_db s;
  const auto e = s.booked(now_utc() + 3h, "Racing cancellation");
  s.apply_both(e);
  s.apply(s.sessions, s.cancelled(e.session_id, 1));  // the reminders projector lags behind

  reminder_dispatcher dispatcher(s.db.conninfo(), with_lead(24h));
  BOOST_TEST(dispatcher.dispatch_once() == 0u);
  BOOST_TEST(s.mails_about("Racing cancellation") == 0);
  BOOST_TEST(s.notifications_of(e.session_id) == 0);

  s.apply(s.reminders, s.cancelled(e.session_id, 1));  // it catches up: the row goes
  BOOST_TEST(dispatcher.dispatch_once() == 0u);
  BOOST_TEST(s.count("SELECT count(*) FROM session_reminders") == 0);
  BOOST_TEST(s.count("SELECT count(*) FROM mail_outbox") == 0);
  BOOST_TEST(s.count("SELECT count(*) FROM notifications") == 0);
}

BOOST_AUTO_TEST_CASE(a_session_that_already_started_gets_no_late_reminder) {
  schedule_db s;
  const std::string id = s.book(now_utc() - 5min, "Already running");
  reminder_dispatcher dispatcher(s.db.conninfo(), with_lead(24h));
  BOOST_TEST(dispatcher.dispatch_once() == 0u);
  BOOST_TEST(s.notifications_of(id) == 0);
}

// (b) -----------------------------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(b_each_reminder_is_sent_once_across_dispatcher_restarts_and_a_rebuilt_model) {
  schedule_db s;
  constexpr int n = 30;
  std::vector<std::string> ids;
  for (int i = 0; i < n; ++i)
    ids.push_back(s.book(now_utc() + 1h + std::chrono::minutes(i), "Restart " + std::to_string(i)));

  {
    reminder_dispatcher first(s.db.conninfo(), with_lead(24h));
    BOOST_TEST(first.dispatch_once() == static_cast<std::size_t>(n));
  }  // "crash": the dispatcher is gone
  {
    reminder_dispatcher second(s.db.conninfo(), with_lead(24h));
    BOOST_TEST(second.dispatch_once() == 0u);
  }
  // Background dispatchers started and stopped again and again find nothing to send.
  for (int round = 0; round < 5; ++round) {
    reminder_dispatcher background(s.db.conninfo(), with_lead(24h));
    background.start();
    std::this_thread::sleep_for(30ms);
    background.stop();
  }
  BOOST_TEST(s.count("SELECT count(*) FROM mail_outbox") == n);
  BOOST_TEST(s.count("SELECT count(*) FROM notifications") == n);
  for (const auto& id : ids) BOOST_TEST(s.notifications_of(id) == 1);

  // A rebuild of the reminders model (coachctl projections rebuild reminders) replays the
  // bookings into an empty table, so every row is unsent again: the dispatcher goes through them,
  // but the ids derive from (session, sequence, start), so no second mail or notification exists.
  {
    pqxx::work tx(s.connection);
    tx.exec("UPDATE session_reminders SET sent_at = NULL");
    tx.commit();
  }
  reminder_dispatcher after_rebuild(s.db.conninfo(), with_lead(24h));
  BOOST_TEST(after_rebuild.dispatch_once() == static_cast<std::size_t>(n));
  BOOST_TEST(after_rebuild.dispatch_once() == 0u);
  BOOST_TEST(s.count("SELECT count(*) FROM mail_outbox") == n);
  BOOST_TEST(s.count("SELECT count(*) FROM notifications") == n);
}

BOOST_AUTO_TEST_CASE(b_concurrent_dispatchers_claim_each_reminder_exactly_once) {
  schedule_db s;
  constexpr int n = 240;  // several batches of 50 for every dispatcher to contend for
  for (int i = 0; i < n; ++i)
    s.book(now_utc() + 1h + std::chrono::seconds(i * 7), "Concurrent " + std::to_string(i));

  // Four dispatchers (each with its own connections) race; what each reports sending is
  // summed. A reminder claimed twice would make the sum exceed n even though the outbox and
  // the notifications table would hide the duplicate behind their primary keys.
  constexpr int dispatchers = 4;
  std::atomic<std::size_t> claimed{0};
  std::atomic<bool> go{false};
  std::vector<std::thread> threads;
  for (int d = 0; d < dispatchers; ++d) {
    threads.emplace_back([&] {
      reminder_dispatcher dispatcher(s.db.conninfo(), with_lead(24h));
      while (!go) std::this_thread::yield();
      const auto deadline = std::chrono::steady_clock::now() + 120s;
      int idle_rounds = 0;
      while (idle_rounds < 3 && std::chrono::steady_clock::now() < deadline) {
        const auto sent = dispatcher.dispatch_once();
        claimed += sent;
        idle_rounds = sent == 0 ? idle_rounds + 1 : 0;
      }
    });
  }
  go = true;
  for (auto& t : threads) t.join();
  BOOST_TEST(claimed.load() == static_cast<std::size_t>(n));
  BOOST_TEST(s.count("SELECT count(*) FROM session_reminders WHERE sent_at IS NULL") == 0);
  BOOST_TEST(s.count("SELECT count(*) FROM mail_outbox") == n);
  BOOST_TEST(s.count("SELECT count(*) FROM notifications") == n);
  BOOST_TEST(s.count("SELECT count(DISTINCT subject_id) FROM notifications") == n);
}

BOOST_AUTO_TEST_CASE(b_two_background_dispatchers_and_a_restart_send_every_reminder_once) {
  schedule_db s;
  constexpr int n = 120;
  for (int i = 0; i < n; ++i)
    s.book(now_utc() + 2h + std::chrono::seconds(i * 11), "Background " + std::to_string(i));
  auto one = std::make_unique<reminder_dispatcher>(s.db.conninfo(), with_lead(24h));
  auto two = std::make_unique<reminder_dispatcher>(s.db.conninfo(), with_lead(24h));
  one->start();
  two->start();
  std::this_thread::sleep_for(20ms);
  one->stop();  // a restart of one while the other keeps going
  one = std::make_unique<reminder_dispatcher>(s.db.conninfo(), with_lead(24h));
  one->start();
  const auto deadline = std::chrono::steady_clock::now() + 60s;
  while (s.count("SELECT count(*) FROM session_reminders WHERE sent_at IS NULL") > 0 &&
         std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(20ms);
  }
  one->stop();
  two->stop();
  BOOST_TEST(s.count("SELECT count(*) FROM session_reminders WHERE sent_at IS NULL") == 0);
  BOOST_TEST(s.count("SELECT count(*) FROM mail_outbox") == n);
  BOOST_TEST(s.count("SELECT count(*) FROM notifications") == n);
  BOOST_TEST(s.count("SELECT count(DISTINCT subject_id) FROM notifications") == n);
}

// (c) -----------------------------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(
    c_a_reschedule_before_the_reminder_went_out_means_only_the_new_time_is_reminded) {
  schedule_db s;
  const auto old_start = now_utc() + 2h;   // due at once under the 24 h lead
  const auto new_start = now_utc() + 50h;  // not due yet
  const std::string id = s.book(old_start, "Moved call");
  s.apply_both(s.rescheduled(id, new_start, 1));

  reminder_dispatcher dispatcher(s.db.conninfo(), with_lead(24h));
  BOOST_TEST(dispatcher.dispatch_once() == 0u);  // the old time is never reminded
  BOOST_TEST(s.mails_about("Moved call") == 0);
  BOOST_TEST(s.notifications_of(id) == 0);

  // Moved again, into the lead window: exactly one reminder, naming the new time.
  const auto final_start = now_utc() + 5h;
  s.apply_both(s.rescheduled(id, final_start, 2));
  BOOST_TEST(dispatcher.dispatch_once() == 1u);
  BOOST_TEST(dispatcher.dispatch_once() == 0u);
  reminder_dispatcher restarted(s.db.conninfo(), with_lead(24h));
  BOOST_TEST(restarted.dispatch_once() == 0u);
  const auto subjects = s.mail_subjects();
  BOOST_TEST_REQUIRE(subjects.size() == 1u);
  BOOST_TEST(subjects[0].find(utc_hh_mm(final_start)) != std::string::npos, subjects[0]);
  BOOST_TEST(subjects[0].find(utc_hh_mm(old_start)) == std::string::npos, subjects[0]);
  BOOST_TEST(s.notifications_of(id) == 1);
}

BOOST_AUTO_TEST_CASE(c_a_reschedule_after_the_reminder_went_out_sends_one_for_the_new_time) {
  schedule_db s;
  const auto old_start = now_utc() + 2h;
  const std::string id = s.book(old_start, "Sent then moved");
  reminder_dispatcher dispatcher(s.db.conninfo(), with_lead(24h));
  BOOST_TEST(dispatcher.dispatch_once() == 1u);

  const auto new_start = now_utc() + 7h;
  s.apply_both(s.rescheduled(id, new_start, 1));
  BOOST_TEST(dispatcher.dispatch_once() == 1u);
  BOOST_TEST(dispatcher.dispatch_once() == 0u);
  const auto subjects = s.mail_subjects();
  BOOST_TEST_REQUIRE(subjects.size() == 2u);
  int naming_old = 0, naming_new = 0;
  for (const auto& subject : subjects) {
    if (subject.find(utc_hh_mm(old_start)) != std::string::npos) ++naming_old;
    if (subject.find(utc_hh_mm(new_start)) != std::string::npos) ++naming_new;
  }
  BOOST_TEST(naming_old == 1);  // the one that went out before the move, never again
  BOOST_TEST(naming_new == 1);
  BOOST_TEST(s.notifications_of(id) == 2);
}

BOOST_AUTO_TEST_CASE(c_a_reschedule_only_one_model_has_applied_waits_until_both_agree) {
  schedule_db s;
  const auto old_start = now_utc() + 2h;
  const auto new_start = now_utc() + 3h;
  const auto e = s.booked(old_start, "Half moved");
  s.apply_both(e);
  reminder_dispatcher dispatcher(s.db.conninfo(), with_lead(24h));

  // The reminders model has the new time, the sessions model still the old one: nothing yet.
  s.apply(s.reminders, s.rescheduled(e.session_id, new_start, 1));
  BOOST_TEST(dispatcher.dispatch_once() == 0u);
  // Now the other way round for a second session: the sessions model moved, reminders not.
  const auto f = s.booked(now_utc() + 4h, "Other half moved");
  s.apply_both(f);
  s.apply(s.sessions, s.rescheduled(f.session_id, now_utc() + 80h, 1));
  BOOST_TEST(dispatcher.dispatch_once() == 0u);  // the old time of f is not reminded
  BOOST_TEST(s.count("SELECT count(*) FROM mail_outbox") == 0);

  s.apply(s.sessions, s.rescheduled(e.session_id, new_start, 1));
  BOOST_TEST(dispatcher.dispatch_once() == 1u);
  const auto subjects = s.mail_subjects();
  BOOST_TEST_REQUIRE(subjects.size() == 1u);
  BOOST_TEST(subjects[0].find("Half moved") != std::string::npos);
  BOOST_TEST(subjects[0].find(utc_hh_mm(new_start)) != std::string::npos, subjects[0]);
}

// Lead time ------------------------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(the_lead_time_is_the_dispatchers_and_applies_to_pending_reminders) {
  schedule_db s;
  const std::string id = s.book(now_utc() + 3h, "Lead check");
  reminder_dispatcher one_hour(s.db.conninfo(), with_lead(60min));
  BOOST_TEST(one_hour.dispatch_once() == 0u);  // 3 h away, 1 h lead: not yet
  reminder_dispatcher four_hours(s.db.conninfo(), with_lead(240min));
  BOOST_TEST(four_hours.dispatch_once() == 1u);  // the same row, a longer lead: due now
  BOOST_TEST(s.notifications_of(id) == 1);

  BOOST_CHECK_THROW(reminder_dispatcher(s.db.conninfo(), with_lead(0min)), std::invalid_argument);
  BOOST_CHECK_THROW(reminder_dispatcher(s.db.conninfo(), with_lead(-5min)), std::invalid_argument);
  BOOST_CHECK_THROW(reminder_dispatcher(s.db.conninfo(), with_lead(max_reminder_lead + 1min)),
                    std::invalid_argument);
  BOOST_CHECK_NO_THROW(reminder_dispatcher(s.db.conninfo(), with_lead(max_reminder_lead)));
}

BOOST_AUTO_TEST_CASE(the_text_is_in_the_clients_zone_and_an_unknown_stored_zone_falls_back_to_utc) {
  schedule_db s;
  const auto start =
      *parse_rfc3339(format_rfc3339(now_utc() + 2h).substr(0, 14) + "00:00Z");  // on the hour
  {
    pqxx::work tx(s.connection);
    tx.exec_params(
        "INSERT INTO account_preferences (account_id, timezone, updated_at) VALUES ($1, "
        "'Asia/Kolkata', now())",
        s.client_id);
    tx.commit();
  }
  s.book(start, "Zoned");
  reminder_dispatcher dispatcher(s.db.conninfo(), with_lead(24h));
  BOOST_TEST(dispatcher.dispatch_once() == 1u);
  auto subjects = s.mail_subjects();
  BOOST_TEST_REQUIRE(subjects.size() == 1u);
  // Kolkata is UTC+05:30 all year: the minutes are :30.
  BOOST_TEST(subjects[0].find(":30 (Asia/Kolkata)") != std::string::npos, subjects[0]);

  // A stored name this tz database does not know must not block any reminder.
  {
    pqxx::work tx(s.connection);
    tx.exec_params(
        "UPDATE account_preferences SET timezone = 'Mars/Olympus_Mons' WHERE account_id = $1",
        s.client_id);
    tx.commit();
  }
  s.book(start + 3h, "Unzoned");
  BOOST_TEST(dispatcher.dispatch_once() == 1u);
  BOOST_TEST(s.mails_about("Unzoned") == 1);
  subjects = s.mail_subjects();
  bool utc = false;
  for (const auto& subject : subjects) {
    if (subject.find("Unzoned") != std::string::npos)
      utc = subject.find(utc_hh_mm(start + 3h) + " (UTC)") != std::string::npos;
  }
  BOOST_TEST(utc);
}
