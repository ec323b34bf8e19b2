#include "tests/support/async_pool.hpp"

namespace coachd::test {

async_pool::async_pool(const std::string& conninfo, std::size_t size, std::vector<pg_statement> statements)
    : work_(boost::asio::make_work_guard(io_)),
      pool_(std::make_unique<pg_async_pool>(io_.get_executor(), conninfo, size, std::move(statements))) {
  for (int i = 0; i < 2; ++i) threads_.emplace_back([this] { io_.run(); });
}

async_pool::~async_pool() {
  work_.reset();
  for (auto& t : threads_) t.join();
  pool_.reset();
}

}  // namespace coachd::test
