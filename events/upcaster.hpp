#pragma once
/// Upcasters: an event type never changes meaning; a new shape is a new schema version, and
/// an upcaster turns version n's JSON payload into version n + 1's. Old events in the log are
/// upcast as they are read, so code only ever handles the current shape.

#include <boost/json/object.hpp>
#include <functional>
#include <map>
#include <string>
#include <string_view>
#include <utility>

#include "events/errors.hpp"

namespace coachd {

/// Rewrites a payload of version `from` into version `from + 1`, in place.
using upcaster = std::function<void(boost::json::object& data)>;

/// The upcasters of every event type, by (type, from version).
class upcaster_registry {
 public:
  /// Registers the step from `from_version` to `from_version + 1` of `type`.
  void add(std::string type, int from_version, upcaster step);

  /// Brings `data` from `version` up to `target`, one step at a time; an error names the
  /// missing step. Returns the data unchanged when version == target.
  result<std::string> upcast(std::string_view type, int version, int target,
                             std::string_view data) const;

 private:
  std::map<std::pair<std::string, int>, upcaster, std::less<>> steps_;
};

/// coachd's own upcasters: SessionBooked 1 → 2 (every other event type is at version 1).
const upcaster_registry& default_upcasters();

}  // namespace coachd
