#pragma once
/// What `decide` returns: the events a command produces, or why it is refused.

#include <vector>

#include "events/domain_event.hpp"
#include "events/errors.hpp"

namespace coachd {

/// The events a command produces (possibly none), or the expected error that refuses it.
using decision = result<std::vector<domain_event>>;

}  // namespace coachd
