#pragma once
/// The codec's machinery, generic over a variant of described event structs. Included by
/// events/codec.cpp (for domain_event) and by tests that need event types of their own.

#include <simdjson.h>

#include <boost/describe/members.hpp>
#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <boost/json/serialize.hpp>
#include <boost/mp11/algorithm.hpp>
#include <optional>
#include <string>
#include <type_traits>
#include <variant>
#include <vector>

#include "events/envelope.hpp"
#include "events/errors.hpp"
#include "events/event_meta.hpp"
#include "events/personal.hpp"
#include "events/pii.hpp"
#include "events/time.hpp"
#include "events/upcaster.hpp"

namespace coachd::codec_detail {

template <typename T>
struct is_optional : std::false_type {};
template <typename T>
struct is_optional<std::optional<T>> : std::true_type {};

/// Calls `f` with every personal value of `ev` (an absent optional one is skipped).
template <typename T, typename F>
void for_each_personal_field(T& ev, F&& f) {
  boost::mp11::mp_for_each<boost::describe::describe_members<std::remove_const_t<T>, boost::describe::mod_public>>(
      [&](auto d) {
        using M = std::remove_cvref_t<decltype(ev.*d.pointer)>;
        if constexpr (std::is_same_v<M, personal>) {
          f(ev.*d.pointer, d.name);
        } else if constexpr (std::is_same_v<M, std::optional<personal>>) {
          if (ev.*d.pointer) f(*(ev.*d.pointer), d.name);
        }
      });
}

/// Whether any personal value of `ev` is non-empty: only then does the event need its subject's
/// key (an event whose personal values are all empty creates no key and is readable after the
/// subject's erasure as it was written).
template <typename T>
bool has_personal_values(const T& ev) {
  bool any = false;
  for_each_personal_field(ev, [&](const personal& p, const char*) { any = any || !p.value.empty(); });
  return any;
}

template <typename T>
constexpr bool has_personal_fields() {
  bool any = false;
  boost::mp11::mp_for_each<boost::describe::describe_members<T, boost::describe::mod_public>>(
      [&](auto d) {
        using M = std::remove_cvref_t<decltype(std::declval<T&>().*d.pointer)>;
        if constexpr (std::is_same_v<M, personal> || std::is_same_v<M, std::optional<personal>>) {
          any = true;
        }
      });
  return any;
}

inline std::string associated_data(std::string_view event_id, std::string_view field) {
  std::string aad;
  aad.reserve(event_id.size() + field.size() + 1);
  aad.append(event_id).push_back('/');
  aad.append(field);
  return aad;
}

/// Writes one field value as JSON.
template <typename M>
boost::json::value write_value(const M& v, const data_key* key, std::string_view event_id,
                               std::string_view field) {
  if constexpr (std::is_same_v<M, std::string>) {
    return boost::json::value(v);
  } else if constexpr (std::is_same_v<M, personal>) {
    // Nothing personal in an empty value: it is written as it is, and needs no key.
    if (v.value.empty()) return boost::json::value(boost::json::string());
    return boost::json::value(seal_field(*key, v.value, associated_data(event_id, field)));
  } else if constexpr (std::is_same_v<M, bool>) {
    return boost::json::value(v);
  } else if constexpr (std::is_integral_v<M>) {
    return boost::json::value(static_cast<std::int64_t>(v));
  } else if constexpr (std::is_same_v<M, timestamp>) {
    return boost::json::value(format_rfc3339(v));
  } else if constexpr (std::is_same_v<M, std::vector<std::string>>) {
    boost::json::array a;
    for (const auto& s : v) a.emplace_back(s);
    return a;
  } else if constexpr (is_optional<M>::value) {
    if (!v) return nullptr;
    return write_value(*v, key, event_id, field);
  } else {
    static_assert(sizeof(M) == 0, "unsupported event field type");
  }
}

/// Reads one field value; personal values stay sealed here and are opened afterwards.
template <typename M>
bool read_value(simdjson::ondemand::value v, M& out) {
  if constexpr (std::is_same_v<M, std::string>) {
    std::string_view s;
    if (v.get_string().get(s)) return false;
    out.assign(s);
    return true;
  } else if constexpr (std::is_same_v<M, personal>) {
    std::string_view s;
    if (v.get_string().get(s)) return false;
    out.value.assign(s);
    return true;
  } else if constexpr (std::is_same_v<M, bool>) {
    return !v.get_bool().get(out);
  } else if constexpr (std::is_integral_v<M>) {
    std::int64_t i;
    if (v.get_int64().get(i)) return false;
    out = static_cast<M>(i);
    return true;
  } else if constexpr (std::is_same_v<M, timestamp>) {
    std::string_view s;
    if (v.get_string().get(s)) return false;
    auto t = parse_rfc3339(s);
    if (!t) return false;
    out = *t;
    return true;
  } else if constexpr (std::is_same_v<M, std::vector<std::string>>) {
    simdjson::ondemand::array a;
    if (v.get_array().get(a)) return false;
    out.clear();
    for (auto element : a) {
      std::string_view s;
      if (element.get_string().get(s)) return false;
      out.emplace_back(s);
    }
    return true;
  } else if constexpr (is_optional<M>::value) {
    bool is_null = false;
    if (v.is_null().get(is_null)) return false;
    if (is_null) {
      out.reset();
      return true;
    }
    typename M::value_type inner{};
    if (!read_value(v, inner)) return false;
    out = std::move(inner);
    return true;
  } else {
    static_assert(sizeof(M) == 0, "unsupported event field type");
  }
}

template <typename Variant>
class basic_event_codec;

/// Encoder/decoder for a variant of described event structs.
template <typename... Events>
class basic_event_codec<std::variant<Events...>> {
 public:
  using event_type = std::variant<Events...>;

  basic_event_codec(key_provider& keys, const upcaster_registry& upcasters)
      : keys_(keys), upcasters_(upcasters) {}

  struct encoded {
    std::string_view type;
    std::string_view source;
    int schema_version;
    std::string data;
  };

  encoded encode(const event_type& e, std::string_view event_id) const {
    return std::visit([&](const auto& ev) { return encode_one(ev, event_id); }, e);
  }

  result<event_type> decode(const event_envelope& env) const {
    std::optional<result<event_type>> out;
    (try_decode<Events>(env, out), ...);
    if (!out) return make_error(errc::invalid, "unknown event type '" + env.type + "'");
    return std::move(*out);
  }

 private:
  template <typename E>
  encoded encode_one(const E& ev, std::string_view event_id) const {
    std::optional<data_key> key;
    if constexpr (has_personal_fields<E>()) {
      if (has_personal_values(ev)) key = keys_.key_for_write(ev.data_subject());
    }
    boost::json::object object;
    boost::mp11::mp_for_each<boost::describe::describe_members<E, boost::describe::mod_public>>(
        [&](auto d) {
          object.emplace(d.name, write_value(ev.*d.pointer, key ? &*key : nullptr, event_id, d.name));
        });
    return encoded{event_meta<E>::type, event_meta<E>::source, event_meta<E>::schema_version,
                   boost::json::serialize(object)};
  }

  template <typename E>
  void try_decode(const event_envelope& env, std::optional<result<event_type>>& out) const {
    if (out || env.type != event_meta<E>::type) return;
    auto r = decode_one<E>(env);
    if (r.ok()) {
      out.emplace(event_type{std::move(r.value())});
    } else {
      out.emplace(r.err());
    }
  }

  template <typename E>
  result<E> decode_one(const event_envelope& env) const {
    std::string upcast_data;
    std::string_view data = env.data;
    if (env.schema_version != event_meta<E>::schema_version) {
      auto up = upcasters_.upcast(env.type, env.schema_version, event_meta<E>::schema_version, env.data);
      if (!up) return up.err();
      upcast_data = std::move(up.value());
      data = upcast_data;
    }
    thread_local simdjson::ondemand::parser parser;
    simdjson::padded_string padded(data);
    auto fail = [&](std::string what) {
      return make_error(errc::malformed, env.type + " " + env.id + ": " + what);
    };
    simdjson::ondemand::document doc;
    if (parser.iterate(padded).get(doc)) return fail("payload is not JSON");
    simdjson::ondemand::object object;
    if (doc.get_object().get(object)) return fail("payload is not a JSON object");
    E ev{};
    constexpr std::size_t member_count =
        boost::mp11::mp_size<boost::describe::describe_members<E, boost::describe::mod_public>>::value;
    bool seen[member_count > 0 ? member_count : 1] = {};
    for (auto field : object) {
      std::string_view name;
      if (field.unescaped_key().get(name)) return fail("bad key");
      bool known = false, ok = true;
      std::size_t index = 0;
      boost::mp11::mp_for_each<boost::describe::describe_members<E, boost::describe::mod_public>>(
          [&](auto d) {
            if (!known && name == d.name) {
              known = true;
              seen[index] = true;
              ok = read_value(field.value(), ev.*d.pointer);
            }
            ++index;
          });
      if (!known) return fail("unknown field '" + std::string(name) + "'");
      if (!ok) return fail("field '" + std::string(name) + "' has the wrong type");
    }
    std::string missing;
    std::size_t index = 0;
    boost::mp11::mp_for_each<boost::describe::describe_members<E, boost::describe::mod_public>>(
        [&](auto d) {
          using M = std::remove_cvref_t<decltype(ev.*d.pointer)>;
          if (!seen[index] && !is_optional<M>::value && missing.empty()) missing = d.name;
          ++index;
        });
    if (!missing.empty()) return fail("missing field '" + missing + "'");
    if constexpr (has_personal_fields<E>()) {
      if (auto problem = open_personal(ev, env.id); !problem.empty()) return fail(problem);
    }
    return ev;
  }

  /// Opens every sealed personal field; a subject without a key (erased) yields erased values.
  template <typename E>
  std::string open_personal(E& ev, std::string_view event_id) const {
    // An empty value was written as it is (see write_value) and opens without a key.
    if (!has_personal_values(ev)) return {};
    const auto key = keys_.key_for_read(ev.data_subject());
    std::string problem;
    auto open_one = [&](personal& p, const char* name) {
      if (p.value.empty()) return;
      if (!is_sealed(p.value)) {
        problem = std::string("personal field '") + name + "' is not sealed";
        return;
      }
      if (!key) {
        p.value.clear();
        p.erased = true;
        return;
      }
      auto opened = open_field(*key, p.value, associated_data(event_id, name));
      if (!opened) {
        problem = std::string("personal field '") + name + "' does not open with its subject's key";
        return;
      }
      p.value = std::move(*opened);
    };
    for_each_personal_field(ev, open_one);
    return problem;
  }

  key_provider& keys_;
  const upcaster_registry& upcasters_;
};

}  // namespace coachd::codec_detail
