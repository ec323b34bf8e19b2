#pragma once
/// The derived command ids (Idempotency-Key and process-manager ids, see commands/command.hpp)
/// one partition remembers, with the outcome each was answered with, so that a retry is
/// answered again instead of decided again.
///
/// The memory is bounded: an id is remembered while it was issued no more than `window` before
/// the newest remembered id of its partition (24 hours by default) and is among the partition's
/// newest `max_ids` (100,000 by default); older ones are forgotten, oldest first. A retry of a
/// forgotten id is decided again like a new command: the aggregate's own state then refuses
/// what was already done (an intake that exists, an address with an account, a client profile
/// that exists), which the process managers accept as done; an API client that retries with an
/// Idempotency-Key after the window gets that refusal (e.g. 409) instead of the first answer.
/// Times are the commands' issued_at, never a clock read here, so rebuilding from the log
/// remembers exactly what the running processor remembered.

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <string>
#include <unordered_map>
#include <utility>

#include "events/time.hpp"

namespace coachd {

/// What a remembered derived command answered.
struct remembered_command {
  std::string stream;
  std::int64_t stream_version = 0;
  std::int64_t offset = -1;
  std::string fingerprint;  // of the request that carried the Idempotency-Key (may be empty)
  timestamp issued_at{};    // of the command: how long it is remembered
};

/// How much a partition remembers.
struct remembering_limits {
  std::chrono::milliseconds window = std::chrono::hours(24);
  std::size_t max_ids = 100000;
};

/// One partition's remembered derived command ids, oldest first.
class remembered_commands {
 public:
  remembered_commands() = default;
  explicit remembered_commands(remembering_limits limits) : limits_(limits) {}

  /// The outcome remembered for `key` (the id's dedup part, see split_command_id), or nullptr.
  const remembered_command* find(const std::string& key) const;

  /// Remembers `key`'s outcome (replacing an earlier one), then forgets what the limits drop.
  void remember(std::string key, remembered_command outcome);

  /// Changes the limits and forgets what they drop now.
  void set_limits(remembering_limits limits);
  const remembering_limits& limits() const { return limits_; }

  std::size_t size() const { return by_key_.size(); }

  /// Calls f(key, outcome) for each remembered id, oldest first (the order remember() saw them).
  template <typename F>
  void for_each(F&& f) const {
    for (const auto& [key, offset] : order_) {
      const auto it = by_key_.find(key);
      if (it != by_key_.end() && it->second.offset == offset) f(it->first, it->second);
    }
  }

 private:
  void forget_beyond_limits();

  remembering_limits limits_;
  std::unordered_map<std::string, remembered_command> by_key_;
  // Keys in the order they were remembered, with the offset each entry had then: an entry whose
  // key was remembered again later is stale and skipped (its key's newer entry is further back).
  std::deque<std::pair<std::string, std::int64_t>> order_;
  timestamp newest_{};
};

}  // namespace coachd
