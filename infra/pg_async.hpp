#pragma once
/// Single-statement PostgreSQL reads without a thread hop: libpq's asynchronous API on
/// connections whose sockets the I/O threads wait on. A gateway coroutine sends a prepared
/// statement, yields to its I/O thread while PostgreSQL works, and resumes there with the rows,
/// so a read costs no hand-off to a pool thread and back (two futex wake-ups and context
/// switches per request with pg_pool). Transactions and multi-statement work stay on pg_pool.

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <charconv>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

struct pg_conn;
struct pg_result;

namespace coachd {

/// A statement the pool prepares on each connection the first time it runs there.
struct pg_statement {
  std::string name;
  std::string sql;
};

/// A statement PostgreSQL refused (`sqlstate` set), or a connection that failed (`sqlstate`
/// empty). The connection of a refused statement stays in the pool; a failed one is dropped.
class pg_error : public std::runtime_error {
 public:
  pg_error(const std::string& what, std::string sqlstate)
      : std::runtime_error(what), sqlstate_(std::move(sqlstate)) {}
  const std::string& sqlstate() const { return sqlstate_; }

 private:
  std::string sqlstate_;
};

/// One value of a row, in PostgreSQL's text format: the shape of pqxx::field that the read
/// models' row converters use (`is_null()`, `as<T>()`, `c_str()`), so one converter serves both.
class pg_field {
 public:
  pg_field(const pg_result* result, int row, int column) : result_(result), row_(row), column_(column) {}
  bool is_null() const;
  const char* c_str() const;
  std::string_view view() const;
  /// std::string, bool ('t'/'f'), or an arithmetic type; a NULL or unparsable value throws.
  template <typename T>
  T as() const {
    if (is_null()) throw std::domain_error("pg_field: NULL where a value was expected");
    const std::string_view text = view();
    if constexpr (std::is_same_v<T, std::string>) {
      return std::string(text);
    } else if constexpr (std::is_same_v<T, bool>) {
      if (text == "t") return true;
      if (text == "f") return false;
      throw std::domain_error("pg_field: not a boolean: " + std::string(text));
    } else {
      static_assert(std::is_arithmetic_v<T>, "pg_field::as: std::string, bool or a number");
      T v{};
      const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
      if (ec != std::errc() || end != text.data() + text.size()) {
        throw std::domain_error("pg_field: not a number: " + std::string(text));
      }
      return v;
    }
  }

 private:
  const pg_result* result_;
  int row_, column_;
};

/// One row of pg_rows.
class pg_row {
 public:
  pg_row(const pg_result* result, int row) : result_(result), row_(row) {}
  pg_field operator[](int column) const { return pg_field(result_, row_, column); }
  int size() const;

 private:
  const pg_result* result_;
  int row_;
};

/// The rows a statement returned; owns libpq's result.
class pg_rows {
 public:
  pg_rows() = default;
  explicit pg_rows(pg_result* result);
  std::size_t size() const;
  bool empty() const { return size() == 0; }
  pg_row operator[](std::size_t row) const { return pg_row(result_.get(), static_cast<int>(row)); }
  /// Rows an INSERT, UPDATE or DELETE touched.
  std::size_t affected_rows() const;

  class iterator {
   public:
    iterator(const pg_result* result, int row) : result_(result), row_(row) {}
    pg_row operator*() const { return pg_row(result_, row_); }
    iterator& operator++() {
      ++row_;
      return *this;
    }
    bool operator!=(const iterator& other) const { return row_ != other.row_; }
    bool operator==(const iterator& other) const { return row_ == other.row_; }

   private:
    const pg_result* result_;
    int row_;
  };
  iterator begin() const { return iterator(result_.get(), 0); }
  iterator end() const { return iterator(result_.get(), static_cast<int>(size())); }

 private:
  struct clear {
    void operator()(pg_result* r) const;
  };
  std::unique_ptr<pg_result, clear> result_;
};

/// A statement's parameters in text format; nullopt is NULL.
using pg_params = std::vector<std::optional<std::string>>;

/// Up to `size` connections, opened on first need and shared by every coroutine of the
/// io_context; a coroutine that finds all of them busy waits for one without blocking its thread.
///
/// Its connections run with plan_cache_mode = force_generic_plan: each prepared statement is
/// planned once per connection, never per call. PostgreSQL would otherwise re-plan a statement
/// on every call whenever its generic plan looks costlier than the custom ones, which a list's
/// `LIMIT $n` always does once a table is large (the generic plan assumes 10 % of the rows):
/// with 125,000 intakes, the dashboard's list cost PostgreSQL 163-211 µs per GET against 123 µs
/// for pgbench running the same SQL with a constant LIMIT. The statements are written so that
/// their generic plans are the right ones (one statement per shape of a list;
/// read_queries_pgtest checks each list's generic plan for an ordered index scan).
class pg_async_pool {
 public:
  pg_async_pool(boost::asio::any_io_executor io, std::string conninfo, std::size_t size,
                std::vector<pg_statement> statements);
  ~pg_async_pool();
  pg_async_pool(const pg_async_pool&) = delete;
  pg_async_pool& operator=(const pg_async_pool&) = delete;

  /// Runs the prepared statement `name` (one of the pool's statements) with `params`, each in
  /// autocommit. Throws pg_error when PostgreSQL refuses it or the connection fails, and
  /// boost::system::system_error(operation_aborted) when the awaiting coroutine is cancelled
  /// (the connection, whose answer is then unknown, is closed).
  boost::asio::awaitable<pg_rows> exec(std::string_view name, pg_params params);

  /// Connections open now (busy or idle).
  std::size_t open_connections() const;

  struct connection;
  struct waiter;

 private:
  boost::asio::awaitable<connection*> acquire();
  boost::asio::awaitable<connection*> connect();
  void release(connection* c, bool reusable);
  /// A place to open a connection freed: to the first waiter, else back to the pool.
  void pass_on_opening_locked();
  const pg_statement& statement(std::string_view name) const;

  boost::asio::any_io_executor io_;
  std::string conninfo_;
  std::size_t size_;
  std::vector<pg_statement> statements_;

  mutable std::mutex mutex_;  // guards the members below
  std::vector<std::unique_ptr<connection>> all_;
  std::vector<connection*> idle_;
  std::size_t opening_ = 0;  // connections being opened, counted against size_
  std::vector<std::shared_ptr<waiter>> waiters_;
};

}  // namespace coachd
