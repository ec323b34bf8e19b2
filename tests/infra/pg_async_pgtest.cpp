#define BOOST_TEST_MODULE pg_async
#include <atomic>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_future.hpp>
#include <boost/test/unit_test.hpp>
#include <chrono>
#include <functional>
#include <future>
#include <pqxx/pqxx>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "infra/pg_async.hpp"
#include "tests/support/async_pool.hpp"
#include "tests/support/pg_test_db.hpp"

using namespace coachd;
using namespace std::chrono_literals;
namespace asio = boost::asio;

namespace {

std::vector<pg_statement> statements() {
  return {
      {"echo", "SELECT $1::text AS t, $2::int AS n, $3::bool AS b, NULL::text AS nothing"},
      {"series", "SELECT g::text FROM generate_series(1, $1::int) g"},
      {"divide", "SELECT 10 / $1::int"},
      {"sleep_echo", "SELECT pg_sleep($1::float8 / 1000), $2::int"},
      {"backend", "SELECT pg_backend_pid()"},
      {"insert", "INSERT INTO things(v) SELECT generate_series(1, $1::int)"},
      {"broken", "SELECT no_such_column FROM pg_class WHERE $1::int = 1"},
      {"stamp", "SELECT $1::int, transaction_timestamp()::text, pg_backend_pid()"},
  };
}

/// A pool on an io_context with two threads (as coachd's gateway).
struct fixture {
  test::test_database db;
  test::async_pool async;
  asio::io_context& io = async.io();
  pg_async_pool* pool = &async.pool();

  explicit fixture(std::size_t size = 3, std::string conninfo = {})
      : async(conninfo.empty() ? db.conninfo() : conninfo, size, statements()) {}

  template <typename T>
  T run(asio::awaitable<T> a) {
    return async.run(std::move(a));
  }
};

/// `exec` racing a timer: the timer's expiry cancels the statement.
asio::awaitable<pg_rows> exec_within(pg_async_pool& pool, std::string name, pg_params params,
                                     std::chrono::milliseconds limit) {
  using namespace asio::experimental::awaitable_operators;
  asio::steady_timer deadline(co_await asio::this_coro::executor, limit);
  auto call = pool.exec(name, std::move(params)) || deadline.async_wait(asio::use_awaitable);
  auto outcome = co_await std::move(call);
  if (outcome.index() == 1) throw std::runtime_error("deadline");
  co_return std::move(std::get<0>(outcome));
}

constexpr std::string_view sleep_echo = "sleep_echo";

/// One caller: its own number back through a 5 ms statement; notes how many connections exist.
asio::awaitable<void> echo_and_count(pg_async_pool& pool, int i, std::atomic<int>& right,
                                     std::atomic<std::size_t>& most_open) {
  // Named, not temporaries of the co_await expression (GCC 12 mishandles those).
  pg_params params{std::string("5"), std::to_string(i)};
  auto call = pool.exec(sleep_echo, std::move(params));
  auto rows = co_await std::move(call);
  if (rows[0][1].as<int>() == i) ++right;
  const auto open = pool.open_connections();
  auto seen = most_open.load();
  while (open > seen && !most_open.compare_exchange_weak(seen, open)) {
  }
}

}  // namespace

BOOST_AUTO_TEST_CASE(rows_values_and_nulls_come_back_as_sent) {
  fixture f;
  auto rows = f.run(f.pool->exec(
      "echo", {std::string("grüße, 'quoted'"), std::string("-42"), std::string("true")}));
  BOOST_REQUIRE_EQUAL(rows.size(), 1u);
  BOOST_TEST(rows[0][0].as<std::string>() == "grüße, 'quoted'");
  BOOST_TEST(rows[0][1].as<int>() == -42);
  BOOST_TEST(rows[0][2].as<bool>());
  BOOST_TEST(rows[0][3].is_null());
  BOOST_CHECK_THROW(rows[0][3].as<std::string>(), std::domain_error);
  BOOST_TEST(rows[0].size() == 4);

  auto nulls = f.run(f.pool->exec("echo", {std::nullopt, std::nullopt, std::nullopt}));
  BOOST_TEST(nulls[0][0].is_null());
  BOOST_TEST(nulls[0][1].is_null());

  auto many = f.run(f.pool->exec("series", {std::string("1000")}));
  BOOST_REQUIRE_EQUAL(many.size(), 1000u);
  int expected = 1;
  for (const auto& row : many) BOOST_TEST(row[0].as<int>() == expected++);

  auto none = f.run(f.pool->exec("series", {std::string("0")}));
  BOOST_TEST(none.empty());
  BOOST_CHECK_THROW(f.run(f.pool->exec("no_such_statement", {})), std::invalid_argument);
}

BOOST_AUTO_TEST_CASE(writes_are_refused_because_a_batch_shares_one_transaction) {
  fixture f;
  pqxx::connection c(f.db.conninfo());
  pqxx::nontransaction(c).exec0("CREATE TABLE things (v int)");
  try {
    f.run(f.pool->exec("insert", {std::string("7")}));
    BOOST_FAIL("a write went through a read-only pool");
  } catch (const pg_error& e) {
    BOOST_TEST(e.sqlstate() == "25006");  // read_only_sql_transaction
  }
  BOOST_TEST(pqxx::nontransaction(c).exec1("SELECT count(*) FROM things")[0].as<int>() == 0);
  BOOST_TEST(f.run(f.pool->exec("divide", {std::string("5")}))[0][0].as<int>() == 2);
}

namespace {

/// Starts `n` calls at once, the i-th of the statement and parameters `what(i)` names (a literal:
/// exec keeps the name's view until its coroutine runs).
std::vector<std::future<pg_rows>> start_calls(
    fixture& f, int n, const std::function<std::pair<const char*, pg_params>(int)>& what) {
  std::vector<std::future<pg_rows>> calls;
  for (int i = 0; i < n; ++i) {
    auto [name, params] = what(i);
    calls.push_back(asio::co_spawn(asio::make_strand(f.io), f.pool->exec(name, std::move(params)),
                                   asio::use_future));
  }
  return calls;
}

}  // namespace

BOOST_AUTO_TEST_CASE(calls_made_together_go_to_postgresql_together_and_get_their_own_answers) {
  // Twenty calls made while the pool's only connection opens: one batch behind one Sync, so
  // PostgreSQL runs them in one implicit transaction (one transaction_timestamp).
  fixture f(1);
  auto calls = start_calls(
      f, 20, [](int i) { return std::make_pair("stamp", pg_params{std::to_string(i)}); });
  std::set<std::string> stamps;
  std::set<int> backends;
  for (int i = 0; i < 20; ++i) {
    auto rows = calls[static_cast<std::size_t>(i)].get();
    BOOST_TEST(rows[0][0].as<int>() == i);
    stamps.insert(rows[0][1].as<std::string>());
    backends.insert(rows[0][2].as<int>());
  }
  BOOST_TEST(stamps.size() == 1u);
  BOOST_TEST(backends.size() == 1u);
  BOOST_TEST(f.pool->open_connections() == 1u);
}

BOOST_AUTO_TEST_CASE(a_statement_refused_in_a_batch_fails_alone_and_the_ones_after_it_run_again) {
  fixture f(1);
  // Call 7 divides by zero; PostgreSQL skips 8-15 in the same batch, which are sent again.
  auto calls = start_calls(f, 16, [](int i) {
    return std::make_pair("divide", pg_params{std::to_string(i == 7 ? 0 : i + 1)});
  });
  for (int i = 0; i < 16; ++i) {
    auto& call = calls[static_cast<std::size_t>(i)];
    if (i == 7) {
      try {
        call.get();
        BOOST_FAIL("division by zero was not refused");
      } catch (const pg_error& e) {
        BOOST_TEST(e.sqlstate() == "22012");
      }
    } else {
      BOOST_TEST(call.get()[0][0].as<int>() == 10 / (i + 1));
    }
  }
  BOOST_TEST(f.pool->open_connections() == 1u);
}

BOOST_AUTO_TEST_CASE(a_statement_that_cannot_be_prepared_fails_alone_in_its_batch) {
  fixture f(1);
  auto calls = start_calls(f, 9, [](int i) {
    return i % 4 == 1 ? std::make_pair("broken", pg_params{std::string("1")})
                      : std::make_pair("divide", pg_params{std::to_string(i + 1)});
  });
  for (int i = 0; i < 9; ++i) {
    auto& call = calls[static_cast<std::size_t>(i)];
    if (i % 4 == 1) {
      try {
        call.get();
        BOOST_FAIL("a statement naming no column was prepared");
      } catch (const pg_error& e) {
        BOOST_TEST(e.sqlstate() == "42703");  // undefined_column
      }
    } else {
      BOOST_TEST(call.get()[0][0].as<int>() == 10 / (i + 1));
    }
  }
  // Not marked prepared after its failure: it fails the same way again, not as unknown.
  BOOST_CHECK_EXCEPTION(f.run(f.pool->exec("broken", {std::string("1")})), pg_error,
                        [](const pg_error& e) { return e.sqlstate() == "42703"; });
}

BOOST_AUTO_TEST_CASE(a_refused_statement_throws_its_sqlstate_and_keeps_the_connection) {
  fixture f(1);
  try {
    f.run(f.pool->exec("divide", {std::string("0")}));
    BOOST_FAIL("division by zero was not refused");
  } catch (const pg_error& e) {
    BOOST_TEST(e.sqlstate() == "22012");
    BOOST_TEST(std::string(e.what()).find("division by zero") != std::string::npos);
  }
  BOOST_TEST(f.pool->open_connections() == 1u);
  const auto pid = f.run(f.pool->exec("backend", {}))[0][0].as<int>();
  BOOST_TEST(f.run(f.pool->exec("divide", {std::string("5")}))[0][0].as<int>() == 2);
  // The same connection served all three.
  BOOST_TEST(f.run(f.pool->exec("backend", {}))[0][0].as<int>() == pid);
}

BOOST_AUTO_TEST_CASE(more_callers_than_connections_share_them_and_get_their_own_answers) {
  fixture f(3);
  constexpr int callers = 60;
  std::atomic<int> right{0};
  std::atomic<std::size_t> most_open{0};
  std::vector<std::future<void>> done;
  for (int i = 0; i < callers; ++i) {
    done.push_back(asio::co_spawn(asio::make_strand(f.io),
                                  echo_and_count(*f.pool, i, right, most_open), asio::use_future));
  }
  for (auto& d : done) d.get();
  BOOST_TEST(right == callers);
  BOOST_TEST(most_open <= 3u);
  BOOST_TEST(f.pool->open_connections() <= 3u);
  // Sixty 5 ms sleeps on three connections, none on a connection of its own.
  pqxx::connection c(f.db.conninfo());
  const auto server_side = pqxx::nontransaction(c)
                               .exec1(
                                   "SELECT count(*) FROM pg_stat_activity WHERE datname = "
                                   "current_database() AND pid <> pg_backend_pid()")[0]
                               .as<int>();
  BOOST_TEST(server_side <= 3);
}

BOOST_AUTO_TEST_CASE(a_cancelled_statement_closes_its_connection_and_the_pool_recovers) {
  fixture f(1);
  const auto t0 = std::chrono::steady_clock::now();
  BOOST_CHECK_THROW(
      f.run(exec_within(*f.pool, "sleep_echo", {std::string("5000"), std::string("1")}, 50ms)),
      std::runtime_error);
  BOOST_TEST((std::chrono::steady_clock::now() - t0 < 4s));
  // Its answer would have arrived on that connection later: it is not reused.
  BOOST_TEST(f.pool->open_connections() == 0u);
  BOOST_TEST(
      f.run(f.pool->exec("sleep_echo", {std::string("0"), std::string("7")}))[0][1].as<int>() == 7);
  BOOST_TEST(f.pool->open_connections() == 1u);
}

BOOST_AUTO_TEST_CASE(
    a_cancelled_running_statement_closes_its_connection_and_the_calls_behind_it_run_elsewhere) {
  fixture f(1);
  // Both gathered while the connection opens, so both are sent in one batch: the slow one first.
  auto slow = asio::co_spawn(
      asio::make_strand(f.io),
      exec_within(*f.pool, "sleep_echo", {std::string("5000"), std::string("1")}, 100ms),
      asio::use_future);
  auto behind = asio::co_spawn(asio::make_strand(f.io),
                               f.pool->exec("sleep_echo", {std::string("0"), std::string("2")}),
                               asio::use_future);
  const auto t0 = std::chrono::steady_clock::now();
  BOOST_CHECK_THROW(slow.get(), std::runtime_error);
  BOOST_TEST(behind.get()[0][1].as<int>() == 2);
  BOOST_TEST((std::chrono::steady_clock::now() - t0 < 4s));  // not after the 5 s sleep
  BOOST_TEST(f.pool->open_connections() == 1u);
}

BOOST_AUTO_TEST_CASE(a_caller_cancelled_behind_a_running_statement_leaves_it_running) {
  fixture f(1);
  auto slow = asio::co_spawn(asio::make_strand(f.io),
                             f.pool->exec("sleep_echo", {std::string("300"), std::string("1")}),
                             asio::use_future);
  std::this_thread::sleep_for(50ms);  // the slow statement runs on the only connection
  BOOST_CHECK_THROW(
      f.run(exec_within(*f.pool, "sleep_echo", {std::string("0"), std::string("2")}, 50ms)),
      std::runtime_error);
  auto after = asio::co_spawn(asio::make_strand(f.io),
                              f.pool->exec("sleep_echo", {std::string("0"), std::string("3")}),
                              asio::use_future);
  BOOST_TEST(slow.get()[0][1].as<int>() == 1);
  // The cancelled call behind it closed nothing: the slow one and the next one are answered.
  BOOST_TEST(after.get()[0][1].as<int>() == 3);
  BOOST_TEST(f.pool->open_connections() == 1u);
}

BOOST_AUTO_TEST_CASE(a_connection_the_server_ends_fails_one_call_and_is_replaced) {
  fixture f(1);
  const auto pid = f.run(f.pool->exec("backend", {}))[0][0].as<int>();
  {
    pqxx::connection c(f.db.conninfo());
    pqxx::nontransaction(c).exec_params("SELECT pg_terminate_backend($1)", pid);
  }
  std::this_thread::sleep_for(100ms);
  try {
    f.run(f.pool->exec("backend", {}));
    BOOST_FAIL("a terminated connection answered");
  } catch (const pg_error& e) {
    BOOST_TEST(e.sqlstate().empty());  // connection failure, not a refused statement
  }
  BOOST_TEST(f.pool->open_connections() == 0u);
  const auto next = f.run(f.pool->exec("backend", {}))[0][0].as<int>();
  BOOST_TEST(next != pid);
}

BOOST_AUTO_TEST_CASE(an_unreachable_server_fails_every_caller_instead_of_hanging) {
  // A loopback port nobody listens on (the test cluster's own port range is below it).
  fixture f(1, "host=127.0.0.1 port=1 user=postgres dbname=postgres connect_timeout=2");
  std::vector<std::future<pg_rows>> calls;
  for (int i = 0; i < 4; ++i) {
    calls.push_back(
        asio::co_spawn(asio::make_strand(f.io), f.pool->exec("backend", {}), asio::use_future));
  }
  for (auto& c : calls) BOOST_CHECK_THROW(c.get(), pg_error);
  BOOST_TEST(f.pool->open_connections() == 0u);
}
