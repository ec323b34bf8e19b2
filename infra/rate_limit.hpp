#pragma once
/// Token-bucket rate limiting for abuse-prone endpoints (sign-in, sign-up, password reset,
/// MFA), keyed by whatever the caller chooses ("sign-in/ip/127.0.0.1", "sign-in/account/…").
/// A bucket holds up to `capacity` tokens and regains `refill_per_second`; a request takes one
/// (or more), and when the bucket is empty the caller is told how long to wait. Failures that
/// keep coming slow an account down, but the bucket always refills, so its owner is never
/// locked out for good.

#include <chrono>
#include <cstddef>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>

namespace coachd {

/// The size and refill rate of one kind of bucket.
struct bucket_policy {
  double capacity = 10;
  double refill_per_second = 1;
};

/// Buckets by key, in memory (per process), safe to use from many threads.
class rate_limiter {
 public:
  using clock = std::chrono::steady_clock;

  /// At most `max_keys` buckets are kept; beyond that, full (idle) buckets are forgotten.
  explicit rate_limiter(std::size_t max_keys = 100000) : max_keys_(max_keys) {}

  /// Takes `cost` tokens from `key`'s bucket: nullopt when allowed, otherwise the whole seconds
  /// (at least 1) until it would be (and nothing is taken).
  std::optional<std::chrono::seconds> take(const std::string& key, const bucket_policy& policy, double cost = 1,
                                           clock::time_point now = clock::now());

  /// Like take, but takes nothing: whether `cost` tokens are there now.
  std::optional<std::chrono::seconds> check(const std::string& key, const bucket_policy& policy, double cost = 1,
                                            clock::time_point now = clock::now());

  /// Refills `key`'s bucket completely (e.g. after a successful sign-in).
  void reset(const std::string& key);

 private:
  struct bucket {
    double tokens = 0;
    clock::time_point updated;
    double capacity = 0;
  };
  bucket& refreshed(const std::string& key, const bucket_policy& policy, clock::time_point now);
  std::optional<std::chrono::seconds> wait_for(const bucket& b, const bucket_policy& policy, double cost) const;
  void prune(clock::time_point now, const bucket_policy& policy);

  std::size_t max_keys_;
  std::mutex mutex_;
  std::unordered_map<std::string, bucket> buckets_;
};

}  // namespace coachd
