#include "gateway/session_cache.hpp"

#include <cstdio>
#include <pqxx/pqxx>

#include "infra/thread_name.hpp"

namespace coachd::gateway {

namespace {

constexpr const char* ended_channel = "coachd_auth_session_ended";

class ended_receiver final : public pqxx::notification_receiver {
 public:
  ended_receiver(pqxx::connection_base& c, session_cache& cache)
      : pqxx::notification_receiver(c, ended_channel), cache_(cache) {}
  void operator()(const std::string& account_id, int) override { cache_.evict_account(account_id); }

 private:
  session_cache& cache_;
};

}  // namespace

session_cache::~session_cache() { stop(); }

void session_cache::start(std::string conninfo) {
  stopping_ = false;
  listener_ = std::thread([this, conninfo = std::move(conninfo)] { listen(conninfo); });
}

void session_cache::stop() {
  stopping_ = true;
  if (listener_.joinable()) listener_.join();
  listening_ = false;
  clear();
}

void session_cache::listen(std::string conninfo) {
  name_this_thread("session-listen");
  while (!stopping_) {
    try {
      pqxx::connection c(conninfo);
      ended_receiver receiver(c, *this);
      pqxx::nontransaction(c).exec("SELECT 1");  // LISTEN is in effect from here on
      clear();  // whatever was cached while nobody listened is suspect
      listening_ = true;
      while (!stopping_) c.await_notification(0, 200'000);
    } catch (const std::exception& e) {
      if (listening_) std::fprintf(stderr, "coachd: session cache listener: %s (reconnecting)\n", e.what());
    }
    listening_ = false;
    clear();
    for (int i = 0; i < 10 && !stopping_; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
}

std::optional<principal> session_cache::find(const std::string& token_hash) {
  if (!listening_) return std::nullopt;
  std::lock_guard lock(mutex_);
  auto it = entries_.find(token_hash);
  if (it == entries_.end()) return std::nullopt;
  if (std::chrono::steady_clock::now() >= it->second.until) {
    entries_.erase(it);
    return std::nullopt;
  }
  return it->second.who;
}

void session_cache::put(const principal& who, std::chrono::system_clock::time_point valid_until,
                        std::uint64_t generation) {
  if (!listening_) return;
  const auto now = std::chrono::steady_clock::now();
  const auto left = valid_until - std::chrono::system_clock::now();
  if (left <= std::chrono::system_clock::duration::zero()) return;
  const auto until = now + std::min<std::chrono::steady_clock::duration>(ttl_, left);
  std::lock_guard lock(mutex_);
  if (generation_.load() != generation) return;  // a session ended while PostgreSQL was asked
  entries_[who.token_hash] = entry{who, until};
}

void session_cache::evict_account(const std::string& account_id) {
  std::lock_guard lock(mutex_);
  generation_.fetch_add(1);
  std::erase_if(entries_, [&](const auto& kv) { return kv.second.who.account_id == account_id; });
}

void session_cache::clear() {
  std::lock_guard lock(mutex_);
  generation_.fetch_add(1);
  entries_.clear();
}

std::size_t session_cache::size() const {
  std::lock_guard lock(mutex_);
  return entries_.size();
}

}  // namespace coachd::gateway
