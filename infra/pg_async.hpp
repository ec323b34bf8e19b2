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
  /// The value's text, which lives as long as its pg_rows; a NULL throws (like as<std::string>).
  std::string_view text() const;
  /// The value's text, or nullopt for NULL.
  std::optional<std::string_view> optional_text() const;
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
/// io_context, in libpq's pipeline mode: a statement goes to an idle connection when there is
/// one, otherwise (all `size` open and busy) it joins the connection with the fewest statements
/// outstanding and is sent while the earlier ones run: what is queued on a connection goes out
/// together behind one Sync. A batch is one implicit transaction, so when one of its statements
/// is refused the others are sent again, each behind a Sync of its own, and only the refused one
/// fails. Under load PostgreSQL then reads several statements per wake-up and
/// coachd reads several answers per wake-up, where one statement per connection at a time cost
/// a round trip and a hand-off of the connection for each. Each connection's statements are sent
/// and answered by one coroutine on a strand of the connection, which runs only while the
/// connection has statements outstanding (an idle pool holds no work on the io_context).
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

  /// Runs the prepared statement `name` (one of the pool's statements) with `params`, from a
  /// coroutine on a strand (or on a context run by one thread), each in autocommit as far as
  /// its caller can tell. Throws pg_error when PostgreSQL refuses it or the connection fails (every
  /// statement outstanding on that connection then fails), and
  /// boost::system::system_error(operation_aborted) when the awaiting coroutine is cancelled.
  /// A statement cancelled after it was sent retires its connection: no new statement goes
  /// there, and it is closed once the answers outstanding on it (the cancelled one's dropped)
  /// have arrived.
  boost::asio::awaitable<pg_rows> exec(std::string_view name, pg_params params);

  /// Connections open (or opening) that take new statements; retired ones are not counted.
  std::size_t open_connections() const;

  struct connection;
  struct request;
  struct sent_group;

 private:
  /// Sends the connection's queued statements and reads their answers until none is left
  /// (opening the connection first when it is new); runs on the connection's strand.
  boost::asio::awaitable<void> drive(std::shared_ptr<connection> c);
  boost::asio::awaitable<void> connect(connection& c);
  /// Answers `r` (under mutex_), waking its caller.
  void answer_locked(connection& c, const std::shared_ptr<request>& r);
  /// After a Sync: answers the group's statements, or (when one of them was refused) answers
  /// the refused ones and queues the others to be sent again, each alone.
  void finish_group(connection& c, sent_group& g);
  /// Fails every statement outstanding on `c` and drops it from the pool.
  void fail_connection(connection& c, const std::string& why);
  void drop_locked(const connection& c);
  const pg_statement& statement(std::string_view name) const;

  boost::asio::any_io_executor io_;
  std::string conninfo_;
  std::size_t size_;
  std::vector<pg_statement> statements_;

  mutable std::mutex mutex_;  // guards the member below and every connection's queue
  // The connections taking statements. A retired one (see exec) is only held by its coroutine,
  // which lets go once everything sent there is answered.
  std::vector<std::shared_ptr<connection>> open_;
};

}  // namespace coachd
