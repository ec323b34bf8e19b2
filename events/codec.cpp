#include "events/codec.hpp"

#include "events/codec_impl.hpp"

namespace coachd {

struct event_codec::impl {
  codec_detail::basic_event_codec<domain_event> codec;
  key_provider* keys;
};

event_codec::event_codec(key_provider& keys, const upcaster_registry& upcasters)
    : impl_(std::make_unique<impl>(impl{{keys, upcasters}, &keys})) {}

event_codec::~event_codec() = default;

encoded_event event_codec::encode(const domain_event& e, std::string_view event_id) const {
  auto encoded = impl_->codec.encode(e, event_id);
  return encoded_event{encoded.type, encoded.source, encoded.schema_version, std::move(encoded.data)};
}

key_provider& event_codec::keys() const { return *impl_->keys; }

result<domain_event> event_codec::decode(const event_envelope& envelope) const {
  return impl_->codec.decode(envelope);
}

std::string_view event_type_name(const domain_event& e) {
  return std::visit([](const auto& ev) { return event_meta<std::decay_t<decltype(ev)>>::type; }, e);
}

std::vector<std::string_view> all_event_types() {
  return []<std::size_t... I>(std::index_sequence<I...>) {
    return std::vector<std::string_view>{
        event_meta<std::variant_alternative_t<I, domain_event>>::type...};
  }(std::make_index_sequence<std::variant_size_v<domain_event>>{});
}

}  // namespace coachd
