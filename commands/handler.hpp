#pragma once
/// Routes a command to its aggregate's decide, and an event to its aggregate's evolve.

#include <variant>

#include "aggregates/decision.hpp"
#include "commands/command.hpp"

namespace coachd {

/// The in-memory state of any one stream.
using aggregate_state =
    std::variant<std::monostate, intake_state, account_state, client_state, coach_schedule_state>;

/// Decides `body` against the stream's state (a stream of another aggregate type is refused).
decision handle(const command_body& body, const aggregate_state& state);

/// Folds one event into its stream's state.
void evolve_state(aggregate_state& state, const domain_event& event);

}  // namespace coachd
