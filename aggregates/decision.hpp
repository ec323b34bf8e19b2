#pragma once
/// What `decide` returns: the events a command produces, or why it is refused.

#include <cstddef>
#include <vector>

#include "events/domain_event.hpp"
#include "events/errors.hpp"

namespace coachd {

/// The events a command produces (possibly none), or the expected error that refuses it.
using decision = result<std::vector<domain_event>>;

/// How many members of a state are derived from its others (an index, a cache) and so left out
/// of its BOOST_DESCRIBE_STRUCT on purpose: snapshots skip them and the state rebuilds them.
/// Every other member must be described (commands/snapshot.cpp checks).
template <typename State>
inline constexpr std::size_t derived_member_count = 0;

}  // namespace coachd
