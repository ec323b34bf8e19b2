#pragma once
/// Signed-in sessions this process checked recently, so that a busy client's requests do not
/// each ask PostgreSQL (a request's session check was one of its two round trips).
///
/// An entry lives at most `ttl` and never past the session's own expiry (absolute or idle).
/// Ending a session drops its account's entries at once: in this process directly (the routes
/// that delete sessions call evict_account), in every process through the notification a
/// trigger on auth_sessions sends (migration 030), which a listener thread receives. While the
/// listener is not connected the cache serves nothing, so a missed notification can never keep
/// an ended session alive here.

#include <atomic>
#include <chrono>
#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <unordered_map>

#include "gateway/auth.hpp"

namespace coachd::gateway {

class session_cache {
 public:
  explicit session_cache(std::chrono::milliseconds ttl = std::chrono::seconds(10)) : ttl_(ttl) {}
  ~session_cache();  // stop()
  session_cache(const session_cache&) = delete;
  session_cache& operator=(const session_cache&) = delete;

  /// Starts listening for ended sessions on a connection of its own; the cache serves entries
  /// only while that connection is up.
  void start(std::string conninfo);
  void stop();

  /// The cached principal of a token hash, if fresh.
  std::optional<principal> find(const std::string& token_hash);
  /// Taken before asking PostgreSQL: put() stores nothing if any session ended since, so an
  /// answer that raced a sign-out is never cached.
  std::uint64_t generation() const { return generation_.load(); }
  /// Remembers a principal PostgreSQL confirmed after `generation` was taken; `valid_until` is
  /// when the session itself expires (absolute or idle, whichever is first).
  void put(const principal& who, std::chrono::system_clock::time_point valid_until, std::uint64_t generation);
  /// Drops every cached session of the account.
  void evict_account(const std::string& account_id);
  void clear();
  std::size_t size() const;

 private:
  struct entry {
    principal who;
    std::chrono::steady_clock::time_point until;
  };
  void listen(std::string conninfo);

  const std::chrono::milliseconds ttl_;
  mutable std::mutex mutex_;
  std::unordered_map<std::string, entry> entries_;  // by token hash
  std::atomic<std::uint64_t> generation_{0};  // raised by every eviction (under mutex_)
  std::atomic<bool> listening_{false};
  std::atomic<bool> stopping_{false};
  std::thread listener_;
};

}  // namespace coachd::gateway
