#pragma once
/// Routes a command to its aggregate's decide, and an event to its aggregate's evolve.

#include <memory>
#include <type_traits>
#include <utility>
#include <variant>

#include "aggregates/decision.hpp"
#include "commands/command.hpp"

namespace coachd {

/// A state kept on the heap, so that the variant holding it is only as large as its other
/// alternatives: the command processor holds one aggregate_state per stream, and a large state
/// that few streams have (a coach's schedule) must not make every intake pay for its size.
/// Copies are deep. A moved-from box holds nothing and may only be assigned to or destroyed.
template <typename T>
class boxed {
 public:
  using value_type = T;
  boxed() : value_(std::make_unique<T>()) {}
  explicit boxed(T value) : value_(std::make_unique<T>(std::move(value))) {}
  boxed(const boxed& other) : value_(std::make_unique<T>(*other.value_)) {}
  boxed(boxed&&) noexcept = default;
  boxed& operator=(const boxed& other) {
    if (this != &other) value_ = std::make_unique<T>(*other.value_);
    return *this;
  }
  boxed& operator=(boxed&&) noexcept = default;
  T& operator*() { return *value_; }
  const T& operator*() const { return *value_; }

 private:
  std::unique_ptr<T> value_;
};

/// The in-memory state of any one stream. Small, common states are held inline; large, rare
/// ones are boxed (sizeof is that of intake_state, the most numerous).
using aggregate_state = std::variant<std::monostate, intake_state, account_state, client_state,
                                     boxed<coach_schedule_state>>;

namespace detail {
template <typename S, typename... A>
constexpr bool is_alternative(const std::variant<A...>*) {
  return (std::is_same_v<S, A> || ...);
}
}  // namespace detail

/// Whether aggregate_state holds S itself (rather than boxed<S>).
template <typename S>
inline constexpr bool held_inline =
    detail::is_alternative<S>(static_cast<const aggregate_state*>(nullptr));

/// The state of type S that `state` holds (inline or boxed), or nullptr when it holds another.
template <typename S>
const S* state_if(const aggregate_state& state) {
  if constexpr (held_inline<S>) {
    return std::get_if<S>(&state);
  } else {
    const auto* box = std::get_if<boxed<S>>(&state);
    return box == nullptr ? nullptr : &**box;
  }
}

/// Decides `body` against the stream's state (a stream of another aggregate type is refused).
decision handle(const command_body& body, const aggregate_state& state);

/// Folds one event into its stream's state.
void evolve_state(aggregate_state& state, const domain_event& event);

}  // namespace coachd
