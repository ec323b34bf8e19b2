#include "commands/remembered_commands.hpp"

#include <limits>

namespace coachd {

const remembered_command* remembered_commands::find(const std::string& key) const {
  const auto it = by_key_.find(key);
  return it == by_key_.end() ? nullptr : &it->second;
}

void remembered_commands::remember(std::string key, remembered_command outcome) {
  if (outcome.issued_at > newest_) newest_ = outcome.issued_at;
  order_.emplace_back(key, outcome.offset);
  by_key_.insert_or_assign(std::move(key), std::move(outcome));
  forget_beyond_limits();
}

void remembered_commands::set_limits(remembering_limits limits) {
  limits_ = limits;
  forget_beyond_limits();
}

void remembered_commands::forget_beyond_limits() {
  // newest_ - window, saturating (a window of milliseconds::max() forgets nothing by age).
  timestamp cutoff = timestamp::min();
  if (newest_.time_since_epoch().count() >=
      std::numeric_limits<std::int64_t>::min() + limits_.window.count()) {
    cutoff = newest_ - limits_.window;
  }
  while (!order_.empty()) {
    auto& [key, offset] = order_.front();
    const auto it = by_key_.find(key);
    const bool current = it != by_key_.end() && it->second.offset == offset;
    if (current && by_key_.size() <= limits_.max_ids && it->second.issued_at >= cutoff) break;
    if (current) by_key_.erase(it);
    order_.pop_front();
  }
}

}  // namespace coachd
