#pragma once
/// A pg_async_pool on an io_context that two threads run (as coachd's gateway runs it), for
/// suites that call read queries or the pool itself: run() waits for a coroutine's result.

#include <boost/asio/awaitable.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/use_future.hpp>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "infra/pg_async.hpp"

namespace coachd::test {

class async_pool {
 public:
  async_pool(const std::string& conninfo, std::size_t size, std::vector<pg_statement> statements);
  ~async_pool();
  async_pool(const async_pool&) = delete;
  async_pool& operator=(const async_pool&) = delete;

  boost::asio::io_context& io() { return io_; }
  pg_async_pool& pool() { return *pool_; }

  /// Runs a coroutine on a strand of the io_context and waits for its result.
  template <typename T>
  T run(boost::asio::awaitable<T> a) {
    return boost::asio::co_spawn(boost::asio::make_strand(io_), std::move(a), boost::asio::use_future).get();
  }

 private:
  boost::asio::io_context io_;
  boost::asio::executor_work_guard<boost::asio::io_context::executor_type> work_;
  std::unique_ptr<pg_async_pool> pool_;
  std::vector<std::thread> threads_;
};

}  // namespace coachd::test
