#pragma once
/// The event codec: domain events to and from the log's JSON payloads. Personal fields are
/// sealed with the data subject's key on the way in and opened on the way out; old schema
/// versions are upcast on the way out.

#include <memory>
#include <string>
#include <string_view>

#include "events/domain_event.hpp"
#include "events/envelope.hpp"
#include "events/errors.hpp"
#include "events/pii.hpp"
#include "events/upcaster.hpp"

namespace coachd {

/// What encoding one event yields: the envelope attributes that depend on its type, and data.
struct encoded_event {
  std::string_view type;
  std::string_view source;
  int schema_version = 1;
  std::string data;
};

/// Encodes and decodes coachd's domain events.
class event_codec {
 public:
  explicit event_codec(key_provider& keys, const upcaster_registry& upcasters = default_upcasters());
  ~event_codec();

  /// JSON payload of `e` with personal fields sealed; `event_id` is bound to each sealed field
  /// (associated data), so a sealed value cannot be moved to another event.
  encoded_event encode(const domain_event& e, std::string_view event_id) const;

  /// The event in `envelope`, upcast to the current schema and with personal fields opened
  /// (or marked erased when the subject's key is gone). Errors: unknown type, malformed or
  /// tampered payload, missing upcaster.
  result<domain_event> decode(const event_envelope& envelope) const;

  /// The key provider personal fields are sealed and opened with.
  key_provider& keys() const;

 private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

}  // namespace coachd
