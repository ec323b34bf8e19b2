#define BOOST_TEST_MODULE mail_outbox
#include <atomic>
#include <boost/test/unit_test.hpp>
#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <pqxx/pqxx>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "infra/mail_outbox.hpp"
#include "tests/support/pg_test_db.hpp"

using namespace coachd;
using namespace std::chrono_literals;
namespace fs = std::filesystem;

namespace {

struct temp_dir {
  fs::path path;
  temp_dir() {
    std::string pattern = (fs::temp_directory_path() / "coachd-outbox-XXXXXX").string();
    BOOST_REQUIRE(::mkdtemp(pattern.data()) != nullptr);
    path = pattern;
  }
  ~temp_dir() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
};

mail_message message_for(const std::string& id) {
  mail_message m;
  m.id = id;
  m.from = "coachd <no-reply@coachd.example>";
  m.to = "Client " + id + " <client-" + id + "@example.com>";
  m.subject = "Your session " + id;
  m.text_body = "Hello,\nyour session " + id + " is confirmed. Grüße!\n";
  m.html_body = "<p>Hello, session " + id + "</p>";
  m.extra_headers = {{"Auto-Submitted", "auto-generated"}};
  return m;
}

// A fresh database with the outbox table.
struct outbox_fixture {
  test::test_database db;
  pqxx::connection connection{db.conninfo()};
  temp_dir mail_dir;

  outbox_fixture() { mail_outbox::ensure_schema(connection); }

  void enqueue(const std::vector<std::string>& ids) {
    pqxx::work tx(connection);
    for (const auto& id : ids) mail_outbox::enqueue(tx, message_for(id));
    tx.commit();
  }

  long long count(const std::string& where) {
    pqxx::nontransaction tx(connection);
    return tx.exec1("SELECT count(*) FROM mail_outbox WHERE " + where)[0].as<long long>();
  }

  pqxx::row row(const std::string& id) {
    pqxx::nontransaction tx(connection);
    return tx.exec_params1(
        "SELECT attempts, sent_at IS NOT NULL AS sent, gave_up_at IS NOT NULL AS gave_up, "
        "coalesce(last_error, '') AS last_error, body IS NULL AS body_cleared, "
        "html_body IS NULL AS html_cleared, next_attempt_at > now() AS deferred "
        "FROM mail_outbox WHERE id = $1",
        id);
  }

  std::size_t eml_files() const {
    std::size_t n = 0;
    if (!fs::exists(mail_dir.path)) return 0;
    for (const auto& e : fs::directory_iterator(mail_dir.path)) {
      BOOST_TEST(e.path().extension() == ".eml");  // no temporary file left behind
      ++n;
    }
    return n;
  }

  // Polls until `done` or the deadline; returns whether it became true.
  template <typename F>
  bool eventually(F done, std::chrono::milliseconds limit = 20s) {
    const auto deadline = std::chrono::steady_clock::now() + limit;
    while (std::chrono::steady_clock::now() < deadline) {
      if (done()) return true;
      std::this_thread::sleep_for(20ms);
    }
    return done();
  }
};

// Counts deliveries per id, then delegates (or fails / waits, as the test asks).
class recording_transport : public mail_transport {
 public:
  explicit recording_transport(mail_transport* next) : next_(next) {}

  void send(const mail_message& message) override {
    {
      std::lock_guard lock(mutex_);
      ++calls_;
      in_flight_ = true;
    }
    started_.notify_all();
    if (delay_ > 0ms) std::this_thread::sleep_for(delay_);
    bool fail = false;
    {
      std::lock_guard lock(mutex_);
      fail = failures_left_[message.id] > 0 || always_fail_;
      if (failures_left_[message.id] > 0) --failures_left_[message.id];
    }
    if (!fail && next_ != nullptr) next_->send(message);
    {
      std::lock_guard lock(mutex_);
      in_flight_ = false;
      if (!fail) ++delivered_[message.id];
    }
    if (fail) throw mail_error("simulated outage of the mail relay");
  }

  void fail_first(const std::string& id, int times) {
    std::lock_guard lock(mutex_);
    failures_left_[id] = times;
  }
  void always_fail() { always_fail_ = true; }
  void delay(std::chrono::milliseconds d) { delay_ = d; }

  std::map<std::string, int> delivered() {
    std::lock_guard lock(mutex_);
    return delivered_;
  }
  int calls() {
    std::lock_guard lock(mutex_);
    return calls_;
  }
  bool in_flight() {
    std::lock_guard lock(mutex_);
    return in_flight_;
  }
  void wait_for_first_call() {
    std::unique_lock lock(mutex_);
    BOOST_REQUIRE(started_.wait_for(lock, 20s, [&] { return calls_ > 0; }));
  }

 private:
  mail_transport* next_;
  std::mutex mutex_;
  std::condition_variable started_;
  std::map<std::string, int> failures_left_;
  std::map<std::string, int> delivered_;
  int calls_ = 0;
  bool in_flight_ = false;
  std::atomic<bool> always_fail_{false};
  std::chrono::milliseconds delay_{0};
};

std::vector<std::string> ids(const std::string& prefix, int n) {
  std::vector<std::string> out;
  for (int i = 0; i < n; ++i) out.push_back(prefix + "-" + std::to_string(i));
  return out;
}

mail_dispatcher_config quick_config() {
  mail_dispatcher_config config;
  config.batch_size = 4;
  config.first_retry = 300ms;
  config.max_retry = 2s;
  config.reconnect_delay = 50ms;
  // Long: a background dispatcher that is fast must have been woken by NOTIFY or its own
  // retry timer, not by polling.
  config.poll_interval = 60s;
  return config;
}

}  // namespace

BOOST_FIXTURE_TEST_SUITE(mail_outbox_suite, outbox_fixture)

BOOST_AUTO_TEST_CASE(enqueue_twice_with_the_same_id_keeps_one_row) {
  {
    pqxx::work tx(connection);
    BOOST_TEST(mail_outbox::enqueue(tx, message_for("welcome-1")));
    tx.commit();
  }
  {
    pqxx::work tx(connection);
    mail_message again = message_for("welcome-1");
    again.subject = "a redelivered trigger";
    BOOST_TEST(!mail_outbox::enqueue(tx, again));
    tx.commit();
  }
  BOOST_TEST(count("true") == 1);
  BOOST_TEST(count("subject = 'Your session welcome-1'") == 1);
  BOOST_TEST(count("to_address = 'client-welcome-1@example.com'") == 1);
  // ensure_schema is idempotent.
  mail_outbox::ensure_schema(connection);
  BOOST_TEST(count("true") == 1);
}

BOOST_AUTO_TEST_CASE(enqueue_rolls_back_with_the_callers_transaction) {
  {
    pqxx::work tx(connection);
    mail_outbox::enqueue(tx, message_for("rolled-back"));
    tx.abort();
  }
  BOOST_TEST(count("true") == 0);
  pqxx::work tx(connection);
  mail_message bad = message_for("bad");
  bad.subject = "x\r\nBcc: victim@example.com";
  BOOST_CHECK_THROW(mail_outbox::enqueue(tx, bad), std::invalid_argument);
}

BOOST_AUTO_TEST_CASE(dispatch_once_sends_each_due_message_once) {
  file_transport files(mail_dir.path);
  recording_transport transport(&files);
  enqueue(ids("m", 10));
  mail_dispatcher dispatcher(db.conninfo(), transport, quick_config());
  std::size_t total = 0;
  for (std::size_t n; (n = dispatcher.dispatch_once()) > 0;) {
    BOOST_TEST(n <= 4u);
    total += n;
  }
  BOOST_TEST(total == 10u);
  BOOST_TEST(dispatcher.dispatch_once() == 0u);
  BOOST_TEST(eml_files() == 10u);
  BOOST_TEST(transport.delivered().size() == 10u);
  BOOST_TEST(count("sent_at IS NOT NULL AND attempts = 1") == 10);
  // Personal content is gone once sent; the record stays.
  BOOST_TEST(count("body IS NULL AND html_body IS NULL AND extra_headers IS NULL "
                   "AND to_header IS NULL") == 10);
  // A redelivered trigger after sending changes nothing.
  enqueue({"m-3"});
  BOOST_TEST(dispatcher.dispatch_once() == 0u);
  BOOST_TEST(eml_files() == 10u);
}

BOOST_AUTO_TEST_CASE(sent_message_keeps_its_message_id_and_creation_date) {
  file_transport files(mail_dir.path);
  enqueue({"dated"});
  mail_dispatcher dispatcher(db.conninfo(), files, quick_config());
  BOOST_TEST(dispatcher.dispatch_once() == 1u);
  std::string eml;
  for (const auto& e : fs::directory_iterator(mail_dir.path)) {
    std::ifstream in(e.path(), std::ios::binary);
    eml.assign(std::istreambuf_iterator<char>(in), {});
  }
  BOOST_TEST(eml.find("Message-ID: <dated@coachd.local>\r\n") != std::string::npos);
  pqxx::nontransaction tx(connection);
  const std::string date =
      tx.exec1(
            "SELECT to_char(created_at AT TIME ZONE 'UTC', 'DD Mon YYYY HH24:MI:SS') "
            "FROM mail_outbox")[0]
          .as<std::string>();
  BOOST_TEST(eml.find(date + " +0000\r\n") != std::string::npos);
  BOOST_TEST(eml.find("Auto-Submitted: auto-generated\r\n") != std::string::npos);
  BOOST_TEST(eml.find("multipart/alternative") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(two_concurrent_dispatchers_send_each_message_exactly_once) {
  file_transport files(mail_dir.path);
  recording_transport transport(&files);
  transport.delay(1ms);
  mail_dispatcher first(db.conninfo(), transport, quick_config());
  mail_dispatcher second(db.conninfo(), transport, quick_config());
  first.start();
  second.start();
  // Enqueued after the start: only NOTIFY can wake them within the test's time.
  std::this_thread::sleep_for(200ms);
  const int total = 120;
  for (int chunk = 0; chunk < 4; ++chunk) enqueue(ids("c" + std::to_string(chunk), total / 4));
  // And a caller running dispatch_once meanwhile, as the CLI might.
  std::size_t by_hand = 0;
  for (int i = 0; i < 5; ++i) by_hand += first.dispatch_once();
  BOOST_TEST(eventually([&] { return count("sent_at IS NOT NULL") == total; }));
  first.stop();
  second.stop();
  BOOST_TEST_MESSAGE("dispatch_once sent " << by_hand);
  const auto delivered = transport.delivered();
  BOOST_TEST(delivered.size() == static_cast<std::size_t>(total));
  for (const auto& [id, times] : delivered) {
    BOOST_TEST_INFO(id);
    BOOST_TEST(times == 1);
  }
  BOOST_TEST(transport.calls() == total);
  BOOST_TEST(eml_files() == static_cast<std::size_t>(total));
  BOOST_TEST(count("attempts = 1") == total);
}

BOOST_AUTO_TEST_CASE(a_failed_send_is_retried_later_and_attempts_are_counted) {
  file_transport files(mail_dir.path);
  recording_transport transport(&files);
  transport.fail_first("flaky", 1);
  enqueue({"flaky"});
  mail_dispatcher dispatcher(db.conninfo(), transport, quick_config());

  BOOST_TEST(dispatcher.dispatch_once() == 1u);
  pqxx::row r = row("flaky");
  BOOST_TEST(r["attempts"].as<int>() == 1);
  BOOST_TEST(!r["sent"].as<bool>());
  BOOST_TEST(!r["gave_up"].as<bool>());
  BOOST_TEST(r["deferred"].as<bool>());
  BOOST_TEST(!r["body_cleared"].as<bool>());
  BOOST_TEST(r["last_error"].as<std::string>().find("simulated outage") != std::string::npos);
  BOOST_TEST(eml_files() == 0u);

  // Not due yet (first retry after 300 ms).
  BOOST_TEST(dispatcher.dispatch_once() == 0u);
  std::this_thread::sleep_for(400ms);
  BOOST_TEST(dispatcher.dispatch_once() == 1u);
  r = row("flaky");
  BOOST_TEST(r["attempts"].as<int>() == 2);
  BOOST_TEST(r["sent"].as<bool>());
  BOOST_TEST(r["body_cleared"].as<bool>());
  BOOST_TEST(r["html_cleared"].as<bool>());
  BOOST_TEST(eml_files() == 1u);
  BOOST_TEST(transport.calls() == 2);
}

BOOST_AUTO_TEST_CASE(background_dispatcher_retries_on_its_own_timer) {
  file_transport files(mail_dir.path);
  recording_transport transport(&files);
  transport.fail_first("retry-me", 2);
  mail_dispatcher dispatcher(db.conninfo(), transport, quick_config());
  dispatcher.start();
  enqueue({"retry-me"});
  // 300 ms, then 600 ms of backoff; the poll interval (60 s) would be far too late.
  BOOST_TEST(eventually([&] { return count("sent_at IS NOT NULL") == 1; }, 10s));
  dispatcher.stop();
  BOOST_TEST(row("retry-me")["attempts"].as<int>() == 3);
  BOOST_TEST(transport.delivered().at("retry-me") == 1);
  BOOST_TEST(eml_files() == 1u);
}

BOOST_AUTO_TEST_CASE(gives_up_after_max_attempts_and_keeps_the_last_error) {
  recording_transport transport(nullptr);
  transport.always_fail();
  enqueue({"doomed"});
  mail_dispatcher_config config = quick_config();
  config.max_attempts = 3;
  config.first_retry = 1ms;
  config.max_retry = 5ms;
  mail_dispatcher dispatcher(db.conninfo(), transport, config);
  BOOST_TEST(eventually(
      [&] {
        dispatcher.dispatch_once();
        return row("doomed")["gave_up"].as<bool>();
      },
      10s));
  std::this_thread::sleep_for(20ms);
  BOOST_TEST(dispatcher.dispatch_once() == 0u);
  const pqxx::row r = row("doomed");
  BOOST_TEST(r["attempts"].as<int>() == 3);
  BOOST_TEST(!r["sent"].as<bool>());
  BOOST_TEST(r["last_error"].as<std::string>().find("simulated outage") != std::string::npos);
  BOOST_TEST(transport.calls() == 3);
}

BOOST_AUTO_TEST_CASE(stop_finishes_the_current_message_and_leaves_the_rest_queued) {
  file_transport files(mail_dir.path);
  recording_transport transport(&files);
  transport.delay(150ms);
  mail_dispatcher_config config = quick_config();
  config.batch_size = 10;
  auto dispatcher = std::make_unique<mail_dispatcher>(db.conninfo(), transport, config);
  enqueue(ids("slow", 10));
  dispatcher->start();
  transport.wait_for_first_call();
  dispatcher->stop();
  BOOST_TEST(!transport.in_flight());
  const int sent_before_stop = transport.calls();
  BOOST_TEST(sent_before_stop >= 1);
  BOOST_TEST(sent_before_stop < 10);
  // What was sent is recorded; the rest is untouched and still due.
  BOOST_TEST(count("sent_at IS NOT NULL") == sent_before_stop);
  BOOST_TEST(count("sent_at IS NULL AND attempts = 0 AND next_attempt_at <= now()") ==
             10 - sent_before_stop);
  dispatcher->stop();  // idempotent
  std::this_thread::sleep_for(200ms);
  BOOST_TEST(transport.calls() == sent_before_stop);  // nothing runs after stop
  dispatcher.reset();

  transport.delay(0ms);
  mail_dispatcher successor(db.conninfo(), transport, config);
  while (successor.dispatch_once() > 0) {
  }
  BOOST_TEST(eml_files() == 10u);
  BOOST_TEST(transport.delivered().size() == 10u);
  for (const auto& [id, times] : transport.delivered()) BOOST_TEST(times == 1);
}

BOOST_AUTO_TEST_CASE(stop_without_start_and_destruction_while_idle_are_clean) {
  file_transport files(mail_dir.path);
  {
    mail_dispatcher idle(db.conninfo(), files, quick_config());
    idle.stop();
  }
  const auto before = std::chrono::steady_clock::now();
  {
    mail_dispatcher running(db.conninfo(), files, quick_config());
    running.start();
    std::this_thread::sleep_for(100ms);
  }  // destructor stops a dispatcher that waits on a 60 s poll
  BOOST_TEST((std::chrono::steady_clock::now() - before < 5s));
}

BOOST_AUTO_TEST_CASE(background_dispatcher_reconnects_after_losing_its_connection) {
  file_transport files(mail_dir.path);
  std::mutex errors_mutex;
  std::vector<std::string> errors;
  mail_dispatcher_config config = quick_config();
  config.on_error = [&](const std::string& e) {
    std::lock_guard lock(errors_mutex);
    errors.push_back(e);
  };
  mail_dispatcher dispatcher(db.conninfo() + " application_name=mail_dispatcher_under_test", files,
                             config);
  dispatcher.start();
  enqueue({"before"});
  BOOST_TEST(eventually([&] { return count("sent_at IS NOT NULL") == 1; }));
  {
    pqxx::nontransaction tx(connection);
    BOOST_TEST(tx.exec1("SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                        "WHERE application_name = 'mail_dispatcher_under_test'")[0]
                   .as<int>() >= 1);
  }
  BOOST_TEST(eventually([&] {
    std::lock_guard lock(errors_mutex);
    return !errors.empty();
  }));
  // Give it time to reconnect and LISTEN again before the NOTIFY.
  BOOST_TEST(eventually([&] {
    pqxx::nontransaction tx(connection);
    return tx.exec1(
                 "SELECT count(*) FROM pg_stat_activity "
                 "WHERE application_name = 'mail_dispatcher_under_test'")[0]
               .as<int>() == 1;
  }));
  std::this_thread::sleep_for(100ms);
  enqueue({"after"});
  BOOST_TEST(eventually([&] { return count("sent_at IS NOT NULL") == 2; }));
  dispatcher.stop();
  BOOST_TEST(eml_files() == 2u);
  std::lock_guard lock(errors_mutex);
  for (const auto& e : errors) BOOST_TEST_MESSAGE("reported: " << e);
}

BOOST_AUTO_TEST_CASE(erasing_a_recipient_blanks_sent_mail_and_cancels_pending_mail) {
  file_transport files(mail_dir.path);
  mail_message first = message_for("e1");
  mail_message second = message_for("e2");
  second.to = first.to;
  {
    pqxx::work tx(connection);
    mail_outbox::enqueue(tx, first);
    tx.commit();
  }
  mail_dispatcher dispatcher(db.conninfo(), files, quick_config());
  BOOST_TEST(dispatcher.dispatch_once() == 1u);
  {
    pqxx::work tx(connection);
    mail_outbox::enqueue(tx, second);
    tx.commit();
  }
  {
    pqxx::work tx(connection);
    BOOST_TEST(mail_outbox::erase_recipient(tx, "CLIENT-e1@example.com") == 2u);
    tx.commit();
  }
  BOOST_TEST(count("to_address LIKE '%e1%' OR subject LIKE '%e1%' OR body IS NOT NULL") == 0);
  BOOST_TEST(dispatcher.dispatch_once() == 0u);
  BOOST_TEST(row("e2")["gave_up"].as<bool>());
  BOOST_TEST(row("e1")["sent"].as<bool>());
  pqxx::work tx(connection);
  BOOST_TEST(!mail_outbox::enqueue(tx, second));  // the id still blocks a redelivery
}

BOOST_AUTO_TEST_SUITE_END()
