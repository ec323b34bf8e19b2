#include "infra/pg_pool.hpp"

namespace coachd {

pg_pool::pg_pool(std::string conninfo, std::size_t size, std::function<void(pqxx::connection_base&)> on_connect)
    : conninfo_(std::move(conninfo)), on_connect_(std::move(on_connect)), threads_(size) {}

pg_pool::~pg_pool() { stop(); }

void pg_pool::stop() { threads_.join(); }

std::unique_ptr<pqxx::connection> pg_pool::acquire() {
  {
    std::lock_guard lock(mutex_);
    if (!idle_.empty()) {
      auto c = std::move(idle_.back());
      idle_.pop_back();
      return c;
    }
  }
  auto c = std::make_unique<pqxx::connection>(conninfo_);
  if (on_connect_) on_connect_(*c);
  return c;
}

void pg_pool::release(std::unique_ptr<pqxx::connection> connection) {
  if (!connection || !connection->is_open()) return;
  std::lock_guard lock(mutex_);
  idle_.push_back(std::move(connection));
}

bool pg_pool::healthy() {
  try {
    auto probe = [](pqxx::connection& c) {
      pqxx::nontransaction tx(c);
      return tx.exec("SELECT 1").size() == 1;
    };
    return run_sync(probe);
  } catch (const std::exception&) {
    return false;
  }
}

}  // namespace coachd
