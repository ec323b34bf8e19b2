#pragma once
/// A pool of PostgreSQL connections with threads of its own: gateway coroutines hand it
/// blocking libpqxx work and resume on their own executor with the result, so no I/O thread
/// ever blocks on the database.

#include <boost/asio/awaitable.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <pqxx/pqxx>
#include <string>
#include <type_traits>
#include <vector>

namespace coachd {

class pg_pool {
 public:
  /// `size` connections and as many threads; `on_connect` prepares statements on each new
  /// connection.
  pg_pool(std::string conninfo, std::size_t size,
          std::function<void(pqxx::connection_base&)> on_connect = {});
  ~pg_pool();
  pg_pool(const pg_pool&) = delete;
  pg_pool& operator=(const pg_pool&) = delete;

  /// Runs `work(connection)` on a pool thread and returns its result to the awaiting
  /// coroutine. A broken connection is dropped (the next call opens a new one) and the
  /// exception propagates.
  ///
  /// (The coroutine and the operation are named locals on purpose: GCC 12 destroys temporaries
  /// of a co_await full-expression twice, so callers should also pass lambdas that capture by
  /// reference, or name them before the co_await.)
  template <typename Work>
  boost::asio::awaitable<std::invoke_result_t<Work, pqxx::connection&>> run(Work work) {
    using value = std::invoke_result_t<Work, pqxx::connection&>;
    if constexpr (std::is_void_v<value>) {
      auto task = [this, &work]() -> boost::asio::awaitable<void> {
        run_sync(work);
        co_return;
      };
      auto operation = boost::asio::co_spawn(threads_.get_executor(), task, boost::asio::use_awaitable);
      co_await std::move(operation);
    } else {
      // co_spawn needs a default-constructible result: carry the value in an optional.
      auto task = [this, &work]() -> boost::asio::awaitable<std::optional<value>> {
        co_return std::optional<value>(run_sync(work));
      };
      auto operation = boost::asio::co_spawn(threads_.get_executor(), task, boost::asio::use_awaitable);
      std::optional<value> v = co_await std::move(operation);
      co_return std::move(*v);
    }
  }

  /// Runs `work` synchronously on the calling thread with a pooled connection. A broken
  /// connection is dropped (the next call opens a new one) and the exception propagates.
  template <typename Work>
  auto run_sync(Work& work) -> std::invoke_result_t<Work, pqxx::connection&> {
    auto connection = acquire();
    try {
      if constexpr (std::is_void_v<std::invoke_result_t<Work, pqxx::connection&>>) {
        work(*connection);
        release(std::move(connection));
      } else {
        auto v = work(*connection);
        release(std::move(connection));
        return v;
      }
    } catch (const pqxx::broken_connection&) {
      throw;  // the connection is dropped with the unique_ptr
    } catch (...) {
      release(std::move(connection));
      throw;
    }
  }

  /// Whether the server answers `SELECT 1` now.
  bool healthy();
  const std::string& conninfo() const { return conninfo_; }
  void stop();

 private:
  std::unique_ptr<pqxx::connection> acquire();
  void release(std::unique_ptr<pqxx::connection> connection);

  std::string conninfo_;
  std::function<void(pqxx::connection_base&)> on_connect_;
  boost::asio::thread_pool threads_;
  std::mutex mutex_;
  std::vector<std::unique_ptr<pqxx::connection>> idle_;
};

}  // namespace coachd
