#pragma once
/// What the codec needs to know about an event type besides its fields (which Boost.Describe
/// lists): its CloudEvents type, its current schema version and its source.

#include <string_view>

namespace coachd {

template <typename Event>
struct event_meta;  // specialised by COACHD_EVENT_META for every event type

}  // namespace coachd

#define COACHD_EVENT_META(T, TYPE, VERSION, SOURCE)          \
  template <>                                                \
  struct coachd::event_meta<T> {                             \
    static constexpr std::string_view type = TYPE;           \
    static constexpr int schema_version = VERSION;           \
    static constexpr std::string_view source = SOURCE;       \
  };
