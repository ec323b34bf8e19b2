// The read-model list queries (intakes, clients, sessions) on a pg_async_pool: every shape of a
// list (filter or not, first page or a later one) pages through exactly the rows SQL orders, and
// each statement's generic plan — the one PostgreSQL caches for a prepared statement after five
// runs — walks an index in order instead of sorting a coach's rows.

// The test module's entry point. When <boost/test/unit_test.hpp> already came in through the
// precompiled header, a BOOST_TEST_MODULE defined here is too late to generate main().
#ifdef BOOST_TEST_UNIT_TEST_HPP_071894GER
#include <boost/test/unit_test.hpp>
bool init_unit_test() {
  boost::unit_test::framework::master_test_suite().p_name.value = "read_queries";
  return true;
}
int main(int argc, char* argv[]) { return boost::unit_test::unit_test_main(&init_unit_test, argc, argv); }
#else
#define BOOST_TEST_MODULE read_queries
#include <boost/test/unit_test.hpp>
#endif

#include <boost/asio.hpp>
#include <memory>
#include <optional>
#include <pqxx/pqxx>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "events/time.hpp"
#include "infra/pg_async.hpp"
#include "projections/client_queries.hpp"
#include "projections/intake_queries.hpp"
#include "projections/migrations.hpp"
#include "projections/session_queries.hpp"
#include "tests/support/async_pool.hpp"
#include "tests/support/pg_test_db.hpp"

using namespace coachd;
namespace asio = boost::asio;

namespace {

constexpr const char* coach = "c0000000-0000-0000-0000-000000000001";
constexpr const char* client_account = "a0000000-0000-0000-0000-000000000001";
const timestamp now = *parse_rfc3339("2026-12-07T12:00:00Z");

std::vector<pg_statement> all_statements() {
  std::vector<pg_statement> out;
  for (auto list : {intake_statements(), client_statements(), session_read_statements()}) {
    out.insert(out.end(), list.begin(), list.end());
  }
  return out;
}

/// A list's page, or the list's error thrown (co_spawn's future needs a default-constructible value).
template <typename T>
asio::awaitable<page<T>> unwrap(asio::awaitable<result<page<T>>> list) {
  auto listed = co_await std::move(list);
  if (!listed) throw std::runtime_error(listed.err().detail);
  co_return std::move(listed.value());
}

/// A database with one busy coach among many small ones (the skew a cached plan must survive).
struct skewed_database : test::test_database {
  skewed_database() {
    pqxx::connection c(conninfo());
    apply_migrations(c);
    pqxx::work tx(c);
    // Submitted times repeat (every 7th pair shares one), so the id breaks ties across pages.
    tx.exec(std::string("INSERT INTO intakes (intake_id, coach_id, status, name, email, goals, message, submitted_at) "
                        "SELECT gen_random_uuid(), '") +
            coach +
            "', (ARRAY['pending', 'accepted', 'declined'])[1 + i % 3], 'n' || i, 'e', 'g', 'm', "
            "timestamptz '2026-01-01' + ((i / 2) || ' minutes')::interval FROM generate_series(1, 1500) i");
    tx.exec(
        "INSERT INTO intakes (intake_id, coach_id, status, name, email, goals, message, submitted_at) "
        "SELECT gen_random_uuid(), md5('coach' || (i % 60))::uuid, 'pending', 'n', 'e', 'g', 'm', "
        "timestamptz '2026-01-01' + (i || ' minutes')::interval FROM generate_series(1, 2400) i");
    tx.exec(std::string("INSERT INTO clients (client_id, coach_id, account_id, name, email, goals, created_at) "
                        "SELECT gen_random_uuid(), '") +
            coach + "', gen_random_uuid(), 'n' || i, 'e', 'g', timestamptz '2026-01-01' + ((i / 2) || ' minutes')::interval "
                    "FROM generate_series(1, 400) i");
    tx.exec(
        "INSERT INTO clients (client_id, coach_id, account_id, name, email, goals, created_at) "
        "SELECT gen_random_uuid(), md5('coach' || (i % 60))::uuid, gen_random_uuid(), 'n', 'e', 'g', "
        "timestamptz '2026-01-01' + (i || ' minutes')::interval FROM generate_series(1, 1200) i");
    // Sessions either side of `now`, a tenth cancelled; half of them with one client.
    tx.exec(std::string("INSERT INTO sessions (session_id, coach_id, client_account_id, title, start_at, end_at, "
                        "buffer_before_minutes, buffer_after_minutes, location, status, booked_at, updated_at) "
                        "SELECT gen_random_uuid(), '") +
            coach + "', CASE WHEN i % 2 = 0 THEN '" + client_account +
            "'::uuid ELSE gen_random_uuid() END, 't', "
            "timestamptz '2026-11-01' + ((i / 2) || ' hours')::interval, "
            "timestamptz '2026-11-01' + ((i / 2) || ' hours')::interval + interval '50 minutes', 0, 0, 'l', "
            "CASE WHEN i % 10 = 0 THEN 'cancelled' ELSE 'booked' END, now(), now() FROM generate_series(1, 3000) i");
    tx.exec(
        "INSERT INTO sessions (session_id, coach_id, client_account_id, title, start_at, end_at, "
        "buffer_before_minutes, buffer_after_minutes, location, status, booked_at, updated_at) "
        "SELECT gen_random_uuid(), md5('coach' || (i % 60))::uuid, gen_random_uuid(), 't', "
        "timestamptz '2026-10-01' + (i || ' hours')::interval, "
        "timestamptz '2026-10-01' + (i || ' hours')::interval + interval '50 minutes', 0, 0, 'l', 'booked', now(), now() "
        "FROM generate_series(1, 3000) i");
    tx.exec("ANALYZE intakes, clients, sessions");
    tx.commit();
  }
};

/// That database and a pool over it on two threads.
struct fixture {
  skewed_database db;
  test::async_pool async{db.conninfo(), 2, all_statements()};
  pg_async_pool* pool = &async.pool();

  template <typename T>
  T run(asio::awaitable<T> a) {
    return async.run(std::move(a));
  }

  std::vector<std::string> ids(const std::string& sql) {
    pqxx::connection c(db.conninfo());
    pqxx::work tx(c);
    std::vector<std::string> out;
    for (const auto& r : tx.exec(sql)) out.push_back(r[0].c_str());
    return out;
  }

  /// Every page of a list, `limit` at a time, through the cursors it hands out.
  template <typename List, typename Id>
  std::vector<std::string> walk(List list, int limit, Id id) {
    std::vector<std::string> out;
    std::optional<std::string> cursor;
    for (int pages = 0;; ++pages) {
      BOOST_REQUIRE(pages < 10000);
      auto page = run(unwrap(list(cursor, limit)));
      BOOST_REQUIRE(static_cast<int>(page.items.size()) <= limit);
      for (const auto& item : page.items) out.emplace_back(id(item));
      if (!page.next_cursor) break;
      BOOST_REQUIRE(static_cast<int>(page.items.size()) == limit);
      cursor = page.next_cursor;
    }
    return out;
  }
};

}  // namespace

BOOST_FIXTURE_TEST_SUITE(read_queries, fixture)

BOOST_AUTO_TEST_CASE(every_shape_of_a_list_pages_through_exactly_the_rows_in_order) {
  const std::string where = std::string("coach_id = '") + coach + "'";
  for (const auto& status : {std::optional<std::string>{}, std::optional<std::string>{"pending"},
                                                  std::optional<std::string>{"declined"}}) {
    const auto expected = ids("SELECT intake_id::text FROM intakes WHERE " + where +
                              (status ? " AND status = '" + *status + "'" : std::string()) +
                              " ORDER BY submitted_at DESC, intake_id DESC");
    BOOST_REQUIRE(expected.size() >= 500u);
    for (const int limit : {7, 100}) {
      const auto walked = walk(
          [&](std::optional<std::string> cursor, int n) { return list_intakes(*pool, coach, status, cursor, n); },
          limit, [](const intake_view& v) { return v.intake_id; });
      BOOST_TEST(walked == expected, "intakes, status " << status.value_or("any") << ", limit " << limit);
    }
  }

  const auto clients = ids("SELECT client_id::text FROM clients WHERE " + where + " ORDER BY created_at, client_id");
  BOOST_REQUIRE(clients.size() == 400u);
  BOOST_TEST(walk([&](std::optional<std::string> cursor, int n) { return list_clients(*pool, coach, cursor, n); }, 13,
                  [](const client_view& v) { return v.client_id; }) == clients);

  const std::string at = "timestamptz '" + format_rfc3339(now) + "'";
  struct view {
    const char* name;
    std::string where, order;
  };
  const view views[] = {{"upcoming", "status <> 'cancelled' AND end_at >= " + at, "start_at, session_id"},
                        {"past", "status <> 'cancelled' AND end_at < " + at, "start_at DESC, session_id DESC"},
                        {"cancelled", "status = 'cancelled'", "start_at DESC, session_id DESC"}};
  for (const bool as_coach : {true, false}) {
    const std::string account = as_coach ? coach : client_account;
    for (const auto& v : views) {
      const auto expected =
          ids("SELECT session_id::text FROM sessions WHERE " +
              std::string(as_coach ? "coach_id" : "client_account_id") + " = '" + account + "' AND " + v.where +
              " ORDER BY " + v.order);
      BOOST_REQUIRE(!expected.empty());
      const auto walked = walk(
          [&](std::optional<std::string> cursor, int n) {
            return list_sessions(*pool, account, as_coach, v.name, now, cursor, n);
          },
          9, [](const session_view& s) { return s.session_id; });
      BOOST_TEST(walked == expected, "sessions " << v.name << (as_coach ? " as coach" : " as client"));
    }
  }
}

BOOST_AUTO_TEST_CASE(the_cached_generic_plan_of_every_list_walks_an_index_in_order) {
  pqxx::connection c(db.conninfo());
  pqxx::work tx(c);
  tx.exec("SET plan_cache_mode = force_generic_plan");
  int checked = 0;
  for (const auto& statement : all_statements()) {
    if (statement.name.find("_list") == std::string::npos) continue;
    tx.exec("PREPARE probe AS " + statement.sql);
    // Any values will do: a generic plan does not look at them.
    std::string args;
    for (const auto& t : tx.exec("SELECT unnest(parameter_types)::text FROM pg_prepared_statements WHERE name = 'probe'")) {
      const std::string type = t[0].c_str();
      std::string value = "'21'";
      if (type == "uuid") value = "'00000000-0000-0000-0000-000000000000'";
      if (type == "text") value = "'pending'";
      if (type == "timestamp with time zone") value = "'2026-12-07T12:00:00Z'";
      args += (args.empty() ? "" : ", ") + value;
    }
    std::string plan;
    for (const auto& line : tx.exec("EXPLAIN EXECUTE probe(" + args + ")")) plan += std::string(line[0].c_str()) + "\n";
    tx.exec("DEALLOCATE probe");
    BOOST_TEST(plan.find("Sort") == std::string::npos, statement.name << " sorts:\n" << plan);
    BOOST_TEST(plan.find("Index") != std::string::npos, statement.name << " reads no index:\n" << plan);
    ++checked;
  }
  BOOST_TEST(checked == 4 + 2 + 12);  // intakes (status or not, first or later page), clients, sessions
}

BOOST_AUTO_TEST_CASE(one_row_is_viewed_through_the_result_it_came_in) {
  // The views point into libpq's result: it must outlive the coroutine that read it (ASan runs
  // this suite), and a row of another coach or none at all is not found.
  const auto id = ids(std::string("SELECT intake_id::text FROM intakes WHERE coach_id = '") + coach +
                      "' AND name = 'n7'")
                      .at(0);
  auto found = run(find_intake(*pool, coach, id));
  BOOST_REQUIRE(found.has_value());
  BOOST_TEST((*found)->intake_id == id);
  BOOST_TEST((*found)->name == "n7");
  BOOST_TEST((*found)->coach_id == coach);
  BOOST_TEST(!(*found)->phone.has_value());
  const auto copy = *found;  // a copy shares the result
  found.reset();
  BOOST_TEST(copy->message == "m");
  BOOST_TEST(!run(find_intake(*pool, "00000000-0000-0000-0000-000000000000", id)).has_value());

  const auto client = ids(std::string("SELECT client_id::text FROM clients WHERE coach_id = '") + coach +
                          "' AND name = 'n3'")
                          .at(0);
  const auto c = run(find_client(*pool, coach, client));
  BOOST_REQUIRE(c.has_value());
  BOOST_TEST((*c)->client_id == client);
  BOOST_TEST((*c)->goals == "g");
  BOOST_TEST(!run(find_client(*pool, coach, id)).has_value());
}

BOOST_AUTO_TEST_CASE(a_client_is_shown_by_name_then_email_then_id) {
  client_view v;
  v.client_id = "0123456789ab-cdef";
  v.name = "Ada Lovelace";
  v.email = "ada@example.org";
  std::string fallback;
  BOOST_TEST(client_display_name(v, fallback) == "Ada Lovelace");
  v.name = " \t\r\n";
  BOOST_TEST(client_display_name(v, fallback) == "ada@example.org");
  v.email = "";
  BOOST_TEST(client_display_name(v, fallback) == "Client #01234567");
}

BOOST_AUTO_TEST_SUITE_END()
