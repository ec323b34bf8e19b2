#define BOOST_TEST_MODULE pg_key_store
#include <algorithm>
#include <barrier>
#include <boost/test/unit_test.hpp>
#include <chrono>
#include <pqxx/pqxx>
#include <string>
#include <thread>
#include <vector>

#include "infra/pg_key_store.hpp"
#include "tests/support/pg_test_db.hpp"

using namespace coachd;
using namespace std::chrono_literals;

namespace {

// One database for the suite; each test case uses its own subjects.
const std::string& conninfo() {
  static coachd::test::test_database db;
  return db.conninfo();
}

struct stored_row {
  bool exists = false;
  bool key_is_null = false;
  std::size_t key_size = 0;
  bool erased = false;
};

stored_row row_of(const std::string& subject) {
  pqxx::connection conn(conninfo());
  pqxx::nontransaction tx(conn);
  const auto rows = tx.exec_params(
      "SELECT key IS NULL, coalesce(length(key), 0), erased_at IS NOT NULL FROM pii_keys "
      "WHERE subject = $1",
      subject);
  if (rows.empty()) return {};
  return {true, rows[0][0].as<bool>(), rows[0][1].as<std::size_t>(), rows[0][2].as<bool>()};
}

int count_rows(const std::string& like) {
  pqxx::connection conn(conninfo());
  pqxx::nontransaction tx(conn);
  return tx.exec_params("SELECT count(*) FROM pii_keys WHERE subject LIKE $1", like)[0][0]
      .as<int>();
}

pg_key_store_options polling_every_call() {
  pg_key_store_options options;
  options.erasure_poll_interval = 0ms;
  return options;
}

// Waits (bounded) until `store` reports the subject erased.
bool becomes_unreadable(pg_key_store& store, const std::string& subject) {
  const auto deadline = std::chrono::steady_clock::now() + 5s;
  while (std::chrono::steady_clock::now() < deadline) {
    if (!store.key_for_read(subject)) return true;
    std::this_thread::sleep_for(10ms);
  }
  return false;
}

}  // namespace

BOOST_AUTO_TEST_CASE(a_written_key_is_read_back_by_a_fresh_store) {
  pg_key_store writer(conninfo());
  BOOST_TEST(!writer.key_for_read("rw-1").has_value());
  const data_key key = writer.key_for_write("rw-1");
  BOOST_TEST((writer.key_for_write("rw-1") == key));
  BOOST_TEST((writer.key_for_read("rw-1").value() == key));

  pg_key_store reader(conninfo());
  BOOST_TEST(reader.cached_subjects() == 0u);
  BOOST_TEST((reader.key_for_read("rw-1").value() == key));
  BOOST_TEST((reader.key_for_write("rw-1") == key));
  BOOST_TEST((writer.key_for_write("rw-2") != key));

  const auto row = row_of("rw-1");
  BOOST_TEST(row.exists);
  BOOST_TEST(row.key_size == 32u);
  BOOST_TEST(!row.erased);

  // A subject the reader found missing once is looked up again later (no negative caching).
  BOOST_TEST(!reader.key_for_read("rw-3").has_value());
  const data_key third = writer.key_for_write("rw-3");
  BOOST_TEST((reader.key_for_read("rw-3").value() == third));
}

BOOST_AUTO_TEST_CASE(concurrent_writers_agree_on_one_key) {
  pg_key_store a(conninfo());
  pg_key_store b(conninfo());
  constexpr int threads = 8;
  constexpr int subjects = 25;
  std::vector<std::vector<data_key>> seen(subjects, std::vector<data_key>(threads));
  std::barrier start(threads);
  std::vector<std::thread> workers;
  for (int t = 0; t < threads; ++t) {
    workers.emplace_back([&, t] {
      pg_key_store& store = t % 2 == 0 ? a : b;
      for (int s = 0; s < subjects; ++s) {
        start.arrive_and_wait();  // every round starts together, on a subject nobody has yet
        seen[s][t] = store.key_for_write("race-" + std::to_string(s));
      }
    });
  }
  for (auto& w : workers) w.join();
  for (int s = 0; s < subjects; ++s) {
    for (int t = 1; t < threads; ++t) BOOST_TEST((seen[s][t] == seen[s][0]), "subject " << s);
    BOOST_TEST((seen[s][0] != seen[(s + 1) % subjects][0]));
  }
  BOOST_TEST(count_rows("race-%") == subjects);
  pg_key_store fresh(conninfo());
  BOOST_TEST((fresh.key_for_read("race-3").value() == seen[3][0]));
}

BOOST_AUTO_TEST_CASE(erase_shreds_the_key_everywhere) {
  pg_key_store a(conninfo());
  pg_key_store b(conninfo(), polling_every_call());
  pg_key_store c(conninfo());  // default poll interval
  const data_key key = a.key_for_write("erase-1");
  const std::string sealed = seal_field(key, "Ada Lovelace", "test/name/erase-1");
  BOOST_TEST((b.key_for_read("erase-1").value() == key));
  BOOST_TEST((c.key_for_read("erase-1").value() == key));

  a.erase("erase-1");
  BOOST_TEST(!a.key_for_read("erase-1").has_value());
  const auto row = row_of("erase-1");
  BOOST_TEST(row.exists);
  BOOST_TEST(row.key_is_null);
  BOOST_TEST(row.erased);

  // Other stores learn of it from the notification: on every call, or within the interval.
  BOOST_TEST(becomes_unreadable(b, "erase-1"));
  BOOST_TEST(becomes_unreadable(c, "erase-1"));
  // A fresh store reads the table.
  pg_key_store d(conninfo());
  BOOST_TEST(!d.key_for_read("erase-1").has_value());
  // Evicting and reading again still finds it erased.
  c.evict("erase-1");
  BOOST_TEST(!c.key_for_read("erase-1").has_value());

  // Nothing can be written about the subject any more, by any store.
  BOOST_CHECK_THROW(a.key_for_write("erase-1"), subject_erased_error);
  BOOST_CHECK_THROW(b.key_for_write("erase-1"), subject_erased_error);
  BOOST_CHECK_THROW(d.key_for_write("erase-1"), subject_erased_error);
  pg_key_store e(conninfo());
  BOOST_CHECK_THROW(e.key_for_write("erase-1"), subject_erased_error);

  a.erase("erase-1");  // idempotent
  BOOST_TEST(row_of("erase-1").key_is_null);
  BOOST_TEST(!a.key_for_read("erase-1").has_value());
  (void)sealed;  // with no key anywhere, this text can no longer be opened
}

BOOST_AUTO_TEST_CASE(erasing_an_unknown_subject_forbids_a_key_later) {
  pg_key_store a(conninfo());
  a.erase("erase-unknown");
  BOOST_TEST(row_of("erase-unknown").erased);
  BOOST_CHECK_THROW(a.key_for_write("erase-unknown"), subject_erased_error);
  pg_key_store b(conninfo());
  BOOST_CHECK_THROW(b.key_for_write("erase-unknown"), subject_erased_error);
  BOOST_TEST(!b.key_for_read("erase-unknown").has_value());
}

BOOST_AUTO_TEST_CASE(preload_fills_the_cache_in_bulk) {
  pg_key_store writer(conninfo());
  std::vector<std::string> subjects;
  std::vector<data_key> keys;
  // Names that need quoting inside a text[] literal, made through the store.
  for (const std::string& odd :
       {std::string("pre-\"quoted\""), std::string("pre-back\\slash"),
        std::string("pre-{brace},comma"), std::string("pre- space"), std::string("pre-NULL")}) {
    subjects.push_back(odd);
    keys.push_back(writer.key_for_write(odd));
  }
  // Many more, inserted in one statement (one key per row costs a commit each).
  {
    pqxx::connection conn(conninfo());
    pqxx::nontransaction tx(conn);
    const auto rows = tx.exec(
        "INSERT INTO pii_keys (subject, key) "
        "SELECT 'pre-' || i, decode(md5(i || 'a') || md5(i || 'b'), 'hex') "
        "FROM generate_series(0, 11999) AS i RETURNING subject, key");
    for (const auto& row : rows) {
      subjects.push_back(row[0].as<std::string>());
      const pqxx::binarystring key(row[1]);
      BOOST_REQUIRE(key.size() == sizeof(data_key));
      data_key k;
      std::copy_n(key.data(), k.size(), k.begin());
      keys.push_back(k);
    }
  }
  writer.erase("pre-7");

  pg_key_store partial(conninfo());
  std::vector<std::string> wanted(subjects.begin(), subjects.begin() + 10);
  wanted.push_back("pre-never");
  BOOST_TEST(partial.preload(wanted) == 10u);
  BOOST_TEST(partial.cached_subjects() == 10u);
  for (std::size_t i = 0; i < 10; ++i) {
    BOOST_TEST((partial.key_for_read(subjects[i]).value() == keys[i]), subjects[i]);
  }
  // More than one query's worth.
  pg_key_store chunked(conninfo());
  BOOST_TEST(chunked.preload(subjects) == subjects.size());
  BOOST_TEST(chunked.cached_subjects() == subjects.size());

  pg_key_store all(conninfo());
  const std::size_t loaded = all.preload_all();
  BOOST_TEST(loaded >= subjects.size());
  BOOST_TEST(all.cached_subjects() == loaded);
  // From here on the answers can only come from the cache.
  {
    pqxx::connection conn(conninfo());
    pqxx::nontransaction tx(conn);
    tx.exec("DELETE FROM pii_keys WHERE subject LIKE 'pre-%'");
  }
  for (std::size_t i = 0; i < subjects.size(); ++i) {
    if (subjects[i] == "pre-7") continue;
    BOOST_REQUIRE((all.key_for_read(subjects[i]).value() == keys[i]));
    BOOST_REQUIRE((all.key_for_write(subjects[i]) == keys[i]));
  }
  BOOST_TEST(!all.key_for_read("pre-7").has_value());
  BOOST_CHECK_THROW(all.key_for_write("pre-7"), subject_erased_error);
}

BOOST_AUTO_TEST_CASE(master_key_wraps_keys_at_rest) {
  pg_key_store_options wrapped;
  wrapped.master_key = parse_master_key(std::string(64, 'a'));
  pg_key_store a(conninfo(), wrapped);
  const data_key key = a.key_for_write("mk-1");
  BOOST_TEST(row_of("mk-1").key_size == 72u);  // nonce + key + tag

  pg_key_store b(conninfo(), wrapped);
  BOOST_TEST((b.key_for_read("mk-1").value() == key));

  pg_key_store_options other;
  other.master_key = parse_master_key(std::string(64, 'b'));
  pg_key_store wrong(conninfo(), other);
  BOOST_CHECK_THROW(wrong.key_for_read("mk-1"), std::runtime_error);
  BOOST_CHECK_THROW(wrong.key_for_write("mk-1"), std::runtime_error);
  pg_key_store none(conninfo());
  BOOST_CHECK_THROW(none.key_for_read("mk-1"), std::runtime_error);

  // A store with a master key refuses a key stored unwrapped.
  none.key_for_write("mk-plain");
  BOOST_CHECK_THROW(b.key_for_read("mk-plain"), std::runtime_error);

  BOOST_CHECK_THROW(parse_master_key("abc"), std::invalid_argument);
  BOOST_CHECK_THROW(parse_master_key(std::string(64, 'g')), std::invalid_argument);
  BOOST_CHECK_THROW(parse_master_key(std::string(66, 'a')), std::invalid_argument);
}

namespace {

void terminate_other_backends() {
  pqxx::connection admin(conninfo());
  pqxx::nontransaction tx(admin);
  tx.exec(
      "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
      "WHERE datname = current_database() AND pid <> pg_backend_pid()");
}

}  // namespace

BOOST_AUTO_TEST_CASE(deferred_keys_are_stored_at_once_and_flushed_once_per_make_durable) {
  pg_key_store_options options;
  options.new_keys = pg_key_store_options::durability::deferred;
  pg_key_store store(conninfo(), options);
  const auto mark = store.begin_sealing();
  std::vector<data_key> keys;
  for (int i = 0; i < 20; ++i) keys.push_back(store.key_for_write("deferred-" + std::to_string(i)));
  // Made in memory; stored, all in one statement, by make_durable (before anything sealed with
  // them may be written).
  BOOST_TEST(count_rows("deferred-%") == 0);
  BOOST_TEST((store.key_for_write("deferred-3") == keys[3]));  // the same key until then, too
  const auto ticket = store.make_durable(mark);
  BOOST_TEST(count_rows("deferred-%") == 20);
  store.written_durably(ticket);
  // Nothing new since: no further round trip is needed, and another store reads the same keys.
  BOOST_TEST(store.make_durable(store.begin_sealing()) == ticket);
  pg_key_store fresh(conninfo());
  for (int i = 0; i < 20; ++i) BOOST_TEST((fresh.key_for_read("deferred-" + std::to_string(i)).value() == keys[i]));
}

BOOST_AUTO_TEST_CASE(immediate_keys_need_no_make_durable) {
  pg_key_store store(conninfo());
  (void)store.key_for_write("immediate-1");
  BOOST_TEST(row_of("immediate-1").exists);
  BOOST_TEST(store.make_durable(store.begin_sealing()) == 0u);
}

BOOST_AUTO_TEST_CASE(a_connection_lost_before_new_keys_are_durable_fails_the_writer) {
  for (const auto mode : {pg_key_store_options::durability::deferred, pg_key_store_options::durability::shared_wal}) {
    pg_key_store_options options;
    options.new_keys = mode;
    pg_key_store store(conninfo(), options);
    const std::string subject = "lost-" + std::to_string(static_cast<int>(mode));
    const auto mark = store.begin_sealing();
    const data_key key = store.key_for_write(subject);
    terminate_other_backends();
    std::this_thread::sleep_for(100ms);
    // The key never reached the server (or the server may have lost it with the connection):
    // whatever was sealed with it must not be written.
    BOOST_CHECK_THROW(store.make_durable(mark), std::runtime_error);
    // A writer that starts afresh gets a key that is stored, and goes through.
    const auto again = store.begin_sealing();
    const data_key retry = store.key_for_write(subject);
    const auto ticket = store.make_durable(again);
    store.written_durably(ticket);
    pg_key_store fresh(conninfo());
    BOOST_TEST((fresh.key_for_read(subject).value() == retry));
    (void)key;
  }
}

BOOST_AUTO_TEST_CASE(a_key_made_here_while_another_store_stored_one_fails_the_writer) {
  pg_key_store_options options;
  options.new_keys = pg_key_store_options::durability::shared_wal;
  pg_key_store store(conninfo(), options);
  const auto mark = store.begin_sealing();
  const data_key mine = store.key_for_write("raced-1");
  pg_key_store other(conninfo());  // stores its key at once
  const data_key theirs = other.key_for_write("raced-1");
  BOOST_TEST((mine != theirs));
  BOOST_CHECK_THROW(store.make_durable(mark), std::runtime_error);
  // The retry seals with the stored key.
  const auto again = store.begin_sealing();
  BOOST_TEST((store.key_for_write("raced-1") == theirs));
  store.written_durably(store.make_durable(again));
  BOOST_TEST((other.key_for_read("raced-1").value() == theirs));
}

BOOST_AUTO_TEST_CASE(shared_wal_keys_stay_pending_until_a_write_was_durable) {
  pg_key_store_options options;
  options.new_keys = pg_key_store_options::durability::shared_wal;
  pg_key_store store(conninfo(), options);
  const auto mark = store.begin_sealing();
  (void)store.key_for_write("pending-1");
  const auto ticket = store.make_durable(mark);
  BOOST_TEST(ticket > 0u);
  // The caller's write failed: the key is still pending, and the next writer checks again.
  const auto mark2 = store.begin_sealing();
  terminate_other_backends();
  std::this_thread::sleep_for(100ms);
  BOOST_CHECK_THROW(store.make_durable(mark2), std::runtime_error);
  // Once a write after make_durable is durable, nothing is pending.
  const auto mark3 = store.begin_sealing();
  (void)store.key_for_write("pending-2");
  store.written_durably(store.make_durable(mark3));
  terminate_other_backends();
  std::this_thread::sleep_for(100ms);
  BOOST_CHECK_NO_THROW(store.written_durably(store.make_durable(store.begin_sealing())));
}

BOOST_AUTO_TEST_CASE(a_lost_connection_is_replaced) {
  pg_key_store store(conninfo());
  const data_key key = store.key_for_write("conn-1");
  {
    pqxx::connection admin(conninfo());
    pqxx::nontransaction tx(admin);
    tx.exec(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
        "WHERE datname = current_database() AND pid <> pg_backend_pid()");
  }
  std::this_thread::sleep_for(100ms);
  // Not cached: needs the server, through a new connection.
  const data_key other = store.key_for_write("conn-2");
  BOOST_TEST((other != key));
  BOOST_TEST((store.key_for_read("conn-1").value() == key));
  store.erase("conn-1");
  BOOST_TEST(row_of("conn-1").key_is_null);
}
