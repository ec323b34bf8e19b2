#include "infra/rate_limit.hpp"

#include <algorithm>
#include <cmath>

namespace coachd {

rate_limiter::bucket& rate_limiter::refreshed(const std::string& key, const bucket_policy& policy,
                                              clock::time_point now) {
  auto it = buckets_.find(key);
  if (it == buckets_.end()) {
    if (buckets_.size() >= max_keys_) prune(now, policy);
    it = buckets_.emplace(key, bucket{policy.capacity, now, policy.capacity}).first;
    return it->second;
  }
  bucket& b = it->second;
  const double elapsed = std::chrono::duration<double>(now - b.updated).count();
  if (elapsed > 0) {
    b.tokens = std::min(policy.capacity, b.tokens + elapsed * policy.refill_per_second);
    b.updated = now;
  }
  b.capacity = policy.capacity;
  return b;
}

std::optional<std::chrono::seconds> rate_limiter::wait_for(const bucket& b, const bucket_policy& policy,
                                                           double cost) const {
  if (b.tokens >= cost) return std::nullopt;
  const double missing = cost - b.tokens;
  const double seconds = policy.refill_per_second > 0 ? missing / policy.refill_per_second : 3600.0;
  return std::chrono::seconds(std::max<long long>(1, static_cast<long long>(std::ceil(seconds))));
}

std::optional<std::chrono::seconds> rate_limiter::take(const std::string& key, const bucket_policy& policy,
                                                       double cost, clock::time_point now) {
  std::lock_guard lock(mutex_);
  bucket& b = refreshed(key, policy, now);
  if (auto wait = wait_for(b, policy, cost)) return wait;
  b.tokens -= cost;
  return std::nullopt;
}

std::optional<std::chrono::seconds> rate_limiter::check(const std::string& key, const bucket_policy& policy,
                                                        double cost, clock::time_point now) {
  std::lock_guard lock(mutex_);
  return wait_for(refreshed(key, policy, now), policy, cost);
}

void rate_limiter::reset(const std::string& key) {
  std::lock_guard lock(mutex_);
  buckets_.erase(key);
}

void rate_limiter::prune(clock::time_point now, const bucket_policy& policy) {
  // A bucket that has refilled to capacity is the same as no bucket.
  for (auto it = buckets_.begin(); it != buckets_.end();) {
    const double elapsed = std::chrono::duration<double>(now - it->second.updated).count();
    if (it->second.tokens + elapsed * policy.refill_per_second >= it->second.capacity) {
      it = buckets_.erase(it);
    } else {
      ++it;
    }
  }
  // Still full of busy buckets: forget the oldest half rather than grow without bound.
  if (buckets_.size() >= max_keys_) {
    std::size_t n = 0;
    for (auto it = buckets_.begin(); it != buckets_.end() && n < max_keys_ / 2; ++n) it = buckets_.erase(it);
  }
}

}  // namespace coachd
