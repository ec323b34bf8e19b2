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
#include <future>
#include <pqxx/pqxx>
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
      {"plan_cache_mode", "SELECT current_setting('plan_cache_mode')"},
      {"broken", "SELECT no_such_column FROM no_such_table WHERE $1::int > 0"},
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
  auto rows = f.run(f.pool->exec("echo", {std::string("grüße, 'quoted'"), std::string("-42"), std::string("true")}));
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

BOOST_AUTO_TEST_CASE(connections_plan_each_statement_once) {
  fixture f(2);
  for (int i = 0; i < 4; ++i) {
    auto rows = f.run(f.pool->exec("plan_cache_mode", {}));
    BOOST_TEST(rows[0][0].as<std::string>() == "force_generic_plan");
  }
}

BOOST_AUTO_TEST_CASE(writes_report_the_rows_they_touched) {
  fixture f;
  pqxx::connection c(f.db.conninfo());
  pqxx::nontransaction(c).exec0("CREATE TABLE things (v int)");
  auto written = f.run(f.pool->exec("insert", {std::string("7")}));
  BOOST_TEST(written.affected_rows() == 7u);
  BOOST_TEST(pqxx::nontransaction(c).exec1("SELECT count(*) FROM things")[0].as<int>() == 7);
}

/// A writer of `n` rows, or (n == 0) a statement that is refused: what it was told must match
/// what the table holds in the end.
asio::awaitable<void> write_or_refuse(pg_async_pool& pool, int n, std::atomic<int>& told_written,
                                      std::atomic<int>& refused) {
  try {
    pg_params params{std::to_string(n)};
    auto call = n == 0 ? pool.exec("divide", std::move(params)) : pool.exec("insert", std::move(params));
    auto rows = co_await std::move(call);
    told_written += static_cast<int>(rows.affected_rows());
  } catch (const pg_error& e) {
    if (e.sqlstate() == "22012") ++refused;
  }
}

BOOST_AUTO_TEST_CASE(writes_batched_with_a_refused_statement_land_exactly_once) {
  // The statements batched behind one Sync are one implicit transaction: a refused one rolls the
  // others back, and those are sent again. Every writer's rows must be there once, no more.
  fixture f(1);
  pqxx::connection c(f.db.conninfo());
  pqxx::nontransaction(c).exec0("CREATE TABLE things (v int)");
  std::atomic<int> told_written{0}, refused{0};
  int expected = 0;
  std::vector<std::future<void>> done;
  for (int i = 0; i < 60; ++i) {
    const int n = i % 6 == 3 ? 0 : i % 7 + 1;
    expected += n;
    done.push_back(asio::co_spawn(asio::make_strand(f.io), write_or_refuse(*f.pool, n, told_written, refused),
                                  asio::use_future));
  }
  for (auto& d : done) d.get();
  BOOST_TEST(refused == 10);
  BOOST_TEST(told_written == expected);
  BOOST_TEST(pqxx::nontransaction(c).exec1("SELECT count(*) FROM things")[0].as<int>() == expected);
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

BOOST_AUTO_TEST_CASE(more_callers_than_connections_wait_their_turn_and_get_their_own_answers) {
  fixture f(3);
  constexpr int callers = 60;
  std::atomic<int> right{0};
  std::atomic<std::size_t> most_open{0};
  std::vector<std::future<void>> done;
  for (int i = 0; i < callers; ++i) {
    done.push_back(asio::co_spawn(asio::make_strand(f.io), echo_and_count(*f.pool, i, right, most_open), asio::use_future));
  }
  for (auto& d : done) d.get();
  BOOST_TEST(right == callers);
  BOOST_TEST(most_open <= 3u);
  BOOST_TEST(f.pool->open_connections() <= 3u);
  // Sixty 5 ms sleeps on three connections, none on a connection of its own.
  pqxx::connection c(f.db.conninfo());
  const auto server_side =
      pqxx::nontransaction(c)
          .exec1("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()")[0]
          .as<int>();
  BOOST_TEST(server_side <= 3);
}

/// One caller of a pipelined connection: what it sent decides what it must get back.
asio::awaitable<void> mixed_call(pg_async_pool& pool, int i, std::atomic<int>& right) {
  try {
    switch (i % 5) {
      case 0: {
        pg_params params{std::to_string(i), std::to_string(i), std::string("t")};
        auto call = pool.exec("echo", std::move(params));
        auto rows = co_await std::move(call);
        if (rows[0][0].as<std::string>() == std::to_string(i) && rows[0][1].as<int>() == i) ++right;
        break;
      }
      case 1: {
        pg_params params{std::string("0")};
        auto call = pool.exec("divide", std::move(params));
        co_await std::move(call);  // refused: must throw
        break;
      }
      case 2: {
        pg_params params{std::to_string(i)};
        auto call = pool.exec("series", std::move(params));
        auto rows = co_await std::move(call);
        if (rows.size() == static_cast<std::size_t>(i) && rows[rows.size() - 1][0].as<int>() == i) ++right;
        break;
      }
      case 3: {
        pg_params params{std::to_string(i)};
        auto call = pool.exec("broken", std::move(params));
        co_await std::move(call);  // cannot even be prepared: must throw
        break;
      }
      default: {
        pg_params params{std::string("1"), std::to_string(i)};
        auto call = pool.exec(sleep_echo, std::move(params));
        auto rows = co_await std::move(call);
        if (rows[0][1].as<int>() == i) ++right;
      }
    }
  } catch (const pg_error& e) {
    if ((i % 5 == 1 && e.sqlstate() == "22012") || (i % 5 == 3 && e.sqlstate() == "42P01")) ++right;
  }
}

BOOST_AUTO_TEST_CASE(statements_pipelined_on_one_connection_each_get_their_own_answer_or_refusal) {
  fixture f(1);
  constexpr int callers = 100;
  std::atomic<int> right{0};
  std::vector<std::future<void>> done;
  for (int i = 0; i < callers; ++i) {
    done.push_back(asio::co_spawn(asio::make_strand(f.io), mixed_call(*f.pool, i, right), asio::use_future));
  }
  for (auto& d : done) d.get();
  // Refusals (a division by zero, a statement that cannot be prepared, each retried by later
  // callers) failed only their own callers; every other caller got its own rows.
  BOOST_TEST(right == callers);
  BOOST_TEST(f.pool->open_connections() == 1u);
  pqxx::connection c(f.db.conninfo());
  const auto server_side =
      pqxx::nontransaction(c)
          .exec1("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()")[0]
          .as<int>();
  BOOST_TEST(server_side == 1);
  // The connection goes on answering after all of that.
  BOOST_TEST(f.run(f.pool->exec("divide", {std::string("5")}))[0][0].as<int>() == 2);
}

/// A caller of a big answer: 3,000 rows, each its own number.
asio::awaitable<void> big_call(pg_async_pool& pool, std::atomic<int>& right) {
  pg_params params{std::string("300")};
  auto call = pool.exec("series", std::move(params));
  auto rows = co_await std::move(call);
  if (rows.size() == 300u && rows[299][0].as<int>() == 300) ++right;
}

BOOST_AUTO_TEST_CASE(answers_bigger_than_one_read_all_arrive_when_nothing_else_follows) {
  // Forty pipelined answers of about 30 kB each reach the socket together, far more than libpq
  // reads at once; the last of them must not wait for data that will never come.
  fixture f(1);
  std::atomic<int> right{0};
  std::vector<std::future<void>> done;
  for (int i = 0; i < 40; ++i) {
    done.push_back(asio::co_spawn(asio::make_strand(f.io), big_call(*f.pool, right), asio::use_future));
  }
  for (auto& d : done) BOOST_REQUIRE(d.wait_for(20s) == std::future_status::ready);
  BOOST_TEST(right == 40);
}

BOOST_AUTO_TEST_CASE(a_cancelled_statement_retires_its_connection_and_the_pool_recovers) {
  fixture f(1);
  // The connection is up first, so that the statement below is on the wire when its deadline
  // cancels it (a statement cancelled while its connection still connects only leaves the
  // queue, and the connection stays: once seen under load with a 50 ms deadline).
  BOOST_TEST(f.run(f.pool->exec("sleep_echo", {std::string("0"), std::string("1")}))[0][1].as<int>() == 1);
  const auto t0 = std::chrono::steady_clock::now();
  BOOST_CHECK_THROW(f.run(exec_within(*f.pool, "sleep_echo", {std::string("5000"), std::string("1")}, 300ms)),
                    std::runtime_error);
  BOOST_TEST((std::chrono::steady_clock::now() - t0 < 4s));
  // Its answer will still arrive on that connection: nothing new goes there, and the next
  // caller gets a connection of its own at once instead of waiting behind the 5 s sleep.
  BOOST_TEST(f.pool->open_connections() == 0u);
  BOOST_TEST(f.run(f.pool->exec("sleep_echo", {std::string("0"), std::string("7")}))[0][1].as<int>() == 7);
  BOOST_TEST((std::chrono::steady_clock::now() - t0 < 4s));
  BOOST_TEST(f.pool->open_connections() == 1u);
}

BOOST_AUTO_TEST_CASE(a_caller_cancelled_while_waiting_for_a_connection_leaves_the_queue) {
  fixture f(1);
  auto slow = asio::co_spawn(asio::make_strand(f.io), f.pool->exec("sleep_echo", {std::string("300"), std::string("1")}),
                             asio::use_future);
  std::this_thread::sleep_for(50ms);  // the slow statement holds the only connection
  BOOST_CHECK_THROW(f.run(exec_within(*f.pool, "sleep_echo", {std::string("0"), std::string("2")}, 50ms)),
                    std::runtime_error);
  auto after = asio::co_spawn(asio::make_strand(f.io), f.pool->exec("sleep_echo", {std::string("0"), std::string("3")}),
                              asio::use_future);
  BOOST_TEST(slow.get()[0][1].as<int>() == 1);
  // The cancelled waiter took nothing with it: the next one gets the connection.
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
    calls.push_back(asio::co_spawn(asio::make_strand(f.io), f.pool->exec("backend", {}), asio::use_future));
  }
  for (auto& c : calls) BOOST_CHECK_THROW(c.get(), pg_error);
  BOOST_TEST(f.pool->open_connections() == 0u);
}
