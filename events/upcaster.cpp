#include "events/upcaster.hpp"

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

namespace coachd {

void upcaster_registry::add(std::string type, int from_version, upcaster step) {
  steps_[{std::move(type), from_version}] = std::move(step);
}

result<std::string> upcaster_registry::upcast(std::string_view type, int version, int target,
                                              std::string_view data) const {
  if (version == target) return std::string(data);
  if (version > target) {
    return make_error(errc::invalid, std::string(type) + " schema version " +
                                         std::to_string(version) +
                                         " is newer than this build knows (" +
                                         std::to_string(target) + ")");
  }
  boost::system::error_code ec;
  auto value = boost::json::parse(data, ec);
  if (ec || !value.is_object()) {
    return make_error(errc::malformed, std::string(type) + " payload is not a JSON object");
  }
  auto& object = value.as_object();
  for (int v = version; v < target; ++v) {
    auto it = steps_.find(std::pair<std::string, int>{std::string(type), v});
    if (it == steps_.end()) {
      return make_error(errc::invalid, "no upcaster for " + std::string(type) + " from schema version " +
                                           std::to_string(v) + " to " + std::to_string(v + 1));
    }
    it->second(object);
  }
  return boost::json::serialize(value);
}

const upcaster_registry& default_upcasters() {
  static const upcaster_registry registry = [] {
    upcaster_registry r;
    // SessionBooked 1 → 2. Version 1 sealed a title in every booking: the one given, else the
    // session type's name, else "Session" (so each booking made a key). Version 2 seals only a
    // given title and carries the fallback in the plain `type_name`. A version-1 title stays
    // as it was (sealed, and erased with the session's key); its fallback is the neutral
    // "Session", which shows only if that title was empty.
    r.add("SessionBooked", 1, [](boost::json::object& data) {
      if (!data.contains("type_name")) data["type_name"] = "Session";
    });
    return r;
  }();
  return registry;
}

}  // namespace coachd
