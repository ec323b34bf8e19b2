#include "commands/snapshot.hpp"

#include <boost/describe/enum_from_string.hpp>
#include <boost/describe/enum_to_string.hpp>
#include <boost/describe/members.hpp>
#include <boost/json.hpp>
#include <boost/mp11/algorithm.hpp>
#include <map>
#include <set>
#include <stdexcept>
#include <typeinfo>
#include <vector>

#include "infra/crypto.hpp"

namespace coachd {

namespace {

namespace json = boost::json;
namespace describe = boost::describe;

template <typename T>
struct is_optional : std::false_type {};
template <typename T>
struct is_optional<std::optional<T>> : std::true_type {};
template <typename T>
struct is_vector : std::false_type {};
template <typename T>
struct is_vector<std::vector<T>> : std::true_type {};
template <typename T>
struct is_set : std::false_type {};
template <typename T>
struct is_set<std::set<T>> : std::true_type {};
template <typename T>
struct is_map : std::false_type {};
template <typename K, typename V, typename C>
struct is_map<std::map<K, V, C>> : std::true_type {};

template <typename T>
constexpr bool described_struct = describe::has_describe_members<T>::value;
template <typename T>
constexpr bool described_enum = describe::has_describe_enumerators<T>::value;

/// Counts an aggregate's members (C++20: the most initializers `T{...}` accepts), so that a
/// member added to a state but not to its BOOST_DESCRIBE_STRUCT is a compile error instead of
/// a field silently missing from snapshots.
struct any_initializer {
  template <typename U>
  operator U() const;  // NOLINT(google-explicit-constructor): only used in unevaluated contexts
};

template <typename T, typename... A>
constexpr std::size_t member_count() {
  if constexpr (requires { T{std::declval<A>()..., any_initializer{}}; }) {
    return member_count<T, A..., any_initializer>();
  } else {
    return sizeof...(A);
  }
}

template <typename T>
constexpr bool describes_every_member() {
  if constexpr (std::is_aggregate_v<T>) {
    return member_count<T>() == boost::mp11::mp_size<describe::describe_members<T, describe::mod_public>>::value;
  } else {
    return true;
  }
}

/// Whether T (and everything inside it) can be written and read.
template <typename T>
constexpr bool supported();

template <typename T>
constexpr bool members_supported() {
  bool ok = true;
  boost::mp11::mp_for_each<describe::describe_members<T, describe::mod_public>>([&](auto d) {
    using M = std::remove_cvref_t<decltype(std::declval<T&>().*d.pointer)>;
    ok = ok && supported<M>();
  });
  return ok;
}

template <typename T>
constexpr bool supported() {
  if constexpr (std::is_same_v<T, std::string> || std::is_same_v<T, personal> || std::is_same_v<T, bool> ||
                std::is_integral_v<T> || std::is_same_v<T, timestamp> || described_enum<T>) {
    return true;
  } else if constexpr (is_optional<T>::value || is_vector<T>::value || is_set<T>::value) {
    return supported<typename T::value_type>();
  } else if constexpr (is_map<T>::value) {
    return supported<typename T::key_type>() && supported<typename T::mapped_type>();
  } else if constexpr (described_struct<T>) {
    static_assert(describes_every_member<T>(),
                  "a member of this state is missing from its BOOST_DESCRIBE_STRUCT: snapshots would lose it");
    return members_supported<T>();
  } else {
    return false;
  }
}

/// Sealing context: the key of the state's subject and the associated-data prefix.
struct sealing {
  key_provider& keys;
  std::string subject;  // empty: the state has no personal data
  std::string aad_prefix;
};

template <typename T>
json::value write(const T& v, sealing& s, const std::string& path);

template <typename T>
json::value write_struct(const T& v, sealing& s, const std::string& path) {
  json::object o;
  boost::mp11::mp_for_each<describe::describe_members<T, describe::mod_public>>(
      [&](auto d) { o[d.name] = write(v.*d.pointer, s, path + "." + d.name); });
  return o;
}

template <typename T>
json::value write(const T& v, sealing& s, const std::string& path) {
  if constexpr (std::is_same_v<T, std::string>) {
    return json::value(v);
  } else if constexpr (std::is_same_v<T, personal>) {
    if (v.erased) return nullptr;
    if (s.subject.empty()) throw std::logic_error("state with personal data " + path + " has no data_subject()");
    return json::value(seal_field(s.keys.key_for_write(s.subject), v.value, s.aad_prefix + path));
  } else if constexpr (std::is_same_v<T, bool>) {
    return json::value(v);
  } else if constexpr (std::is_integral_v<T>) {
    return json::value(static_cast<std::int64_t>(v));
  } else if constexpr (std::is_same_v<T, timestamp>) {
    return json::value(static_cast<std::int64_t>(v.time_since_epoch().count()));
  } else if constexpr (described_enum<T>) {
    return json::value(describe::enum_to_string(v, "?"));
  } else if constexpr (is_optional<T>::value) {
    if (!v) return json::object{{"none", true}};
    return json::object{{"some", write(*v, s, path)}};
  } else if constexpr (is_vector<T>::value || is_set<T>::value) {
    json::array a;
    for (const auto& item : v) a.push_back(write(item, s, path + "[]"));
    return a;
  } else if constexpr (is_map<T>::value) {
    json::array a;
    for (const auto& [k, item] : v) a.push_back(json::array{write(k, s, path + "{}"), write(item, s, path + "{}")});
    return a;
  } else {
    return write_struct(v, s, path);
  }
}

struct decode_failure : std::runtime_error {
  using std::runtime_error::runtime_error;
};

template <typename T>
void read(const json::value& j, T& out, sealing& s, const std::string& path);

template <typename T>
void read(const json::value& j, T& out, sealing& s, const std::string& path) {
  try {
    if constexpr (std::is_same_v<T, std::string>) {
      out = json::value_to<std::string>(j);
    } else if constexpr (std::is_same_v<T, personal>) {
      if (j.is_null()) {
        out = personal{"", true};
        return;
      }
      const auto sealed = json::value_to<std::string>(j);
      const auto key = s.keys.key_for_read(s.subject);
      if (!key) {
        out = personal{"", true};
        return;
      }
      auto opened = open_field(*key, sealed, s.aad_prefix + path);
      if (!opened) throw decode_failure("personal field " + path + " does not open");
      out = personal{std::move(*opened), false};
    } else if constexpr (std::is_same_v<T, bool>) {
      out = j.as_bool();
    } else if constexpr (std::is_integral_v<T>) {
      out = static_cast<T>(j.as_int64());
    } else if constexpr (std::is_same_v<T, timestamp>) {
      out = timestamp{std::chrono::milliseconds{j.as_int64()}};
    } else if constexpr (described_enum<T>) {
      const auto name = json::value_to<std::string>(j);
      if (!describe::enum_from_string(name.c_str(), out)) throw decode_failure("unknown enumerator " + name);
    } else if constexpr (is_optional<T>::value) {
      const auto& o = j.as_object();
      if (o.contains("none")) {
        out.reset();
      } else {
        typename T::value_type inner{};
        read(o.at("some"), inner, s, path);
        out = std::move(inner);
      }
    } else if constexpr (is_vector<T>::value) {
      out.clear();
      for (const auto& item : j.as_array()) {
        typename T::value_type v{};
        read(item, v, s, path + "[]");
        out.push_back(std::move(v));
      }
    } else if constexpr (is_set<T>::value) {
      out.clear();
      for (const auto& item : j.as_array()) {
        typename T::value_type v{};
        read(item, v, s, path + "[]");
        out.insert(std::move(v));
      }
    } else if constexpr (is_map<T>::value) {
      out.clear();
      for (const auto& pair : j.as_array()) {
        typename T::key_type k{};
        typename T::mapped_type v{};
        read(pair.as_array().at(0), k, s, path + "{}");
        read(pair.as_array().at(1), v, s, path + "{}");
        out.emplace(std::move(k), std::move(v));
      }
    } else {
      const auto& o = j.as_object();
      boost::mp11::mp_for_each<describe::describe_members<T, describe::mod_public>>(
          [&](auto d) { read(o.at(d.name), out.*d.pointer, s, path + "." + d.name); });
    }
  } catch (const decode_failure&) {
    throw;
  } catch (const std::exception& e) {
    throw decode_failure(path + ": " + e.what());
  }
}

/// The alternatives of aggregate_state other than monostate.
template <typename V>
struct state_types;
template <typename... Ts>
struct state_types<std::variant<std::monostate, Ts...>> {
  static constexpr bool all_supported = (supported<Ts>() && ...);
};

constexpr bool all_supported = state_types<aggregate_state>::all_supported;

/// A fingerprint of every state type's shape (type and member names), so a snapshot written by
/// a build with other shapes is recognised and ignored.
template <typename T>
void shape(std::string& out) {
  out += typeid(T).name();
  if constexpr (described_struct<T>) {
    out += '{';
    boost::mp11::mp_for_each<describe::describe_members<T, describe::mod_public>>([&](auto d) {
      using M = std::remove_cvref_t<decltype(std::declval<T&>().*d.pointer)>;
      out += d.name;
      out += ':';
      shape<M>(out);
      out += ';';
    });
    out += '}';
  } else if constexpr (is_optional<T>::value || is_vector<T>::value || is_set<T>::value) {
    out += '<';
    shape<typename T::value_type>(out);
    out += '>';
  } else if constexpr (is_map<T>::value) {
    out += '<';
    shape<typename T::key_type>(out);
    out += ',';
    shape<typename T::mapped_type>(out);
    out += '>';
  }
}

template <typename V>
struct fingerprint_of;
template <typename... Ts>
struct fingerprint_of<std::variant<Ts...>> {
  static std::string compute() {
    std::string out;
    (shape<Ts>(out), ...);
    return sha256_hex(out);
  }
};

const std::string& fingerprint() {
  static const std::string value = fingerprint_of<aggregate_state>::compute();
  return value;
}

template <typename T>
std::string subject_of(const T& state) {
  if constexpr (requires { state.data_subject(); }) {
    return state.data_subject();
  } else {
    return {};
  }
}

}  // namespace

bool snapshots_supported() { return all_supported; }

std::string encode_partition_state(const partition_state& state, key_provider& keys) {
  if constexpr (!all_supported) {
    throw std::logic_error("an aggregate state type is not described; snapshots are not supported");
  } else {
    json::array streams;
    for (const auto& [stream, record] : state.streams) {
      json::value encoded = std::visit(
          [&](const auto& s) -> json::value {
            using S = std::decay_t<decltype(s)>;
            if constexpr (std::is_same_v<S, std::monostate>) {
              return nullptr;
            } else {
              sealing seal{keys, subject_of(s), "snapshot|" + stream + "|"};
              return write(s, seal, "");
            }
          },
          record.state);
      streams.push_back(json::array{json::value(stream), json::value(record.version),
                                    json::value(static_cast<std::int64_t>(record.state.index())),
                                    std::move(encoded)});
    }
    json::array remembered;
    for (const auto& [id, r] : state.remembered) {
      remembered.push_back(json::array{json::value(id), json::value(r.stream), json::value(r.stream_version),
                                       json::value(r.offset), json::value(r.fingerprint)});
    }
    return json::serialize(json::object{{"format", 2},
                                        {"fingerprint", fingerprint()},
                                        {"streams", std::move(streams)},
                                        {"remembered", std::move(remembered)}});
  }
}

namespace {

/// Decodes alternative `index` of aggregate_state.
template <std::size_t I = 0>
void decode_alternative(std::size_t index, const json::value& j, aggregate_state& out, key_provider& keys,
                        const std::string& stream) {
  if constexpr (I < std::variant_size_v<aggregate_state>) {
    if (index != I) return decode_alternative<I + 1>(index, j, out, keys, stream);
    using S = std::variant_alternative_t<I, aggregate_state>;
    if constexpr (std::is_same_v<S, std::monostate>) {
      out = std::monostate{};
    } else if constexpr (described_struct<S>) {
      S state{};
      // The subject comes from the state's own ids, which are read before personal fields are
      // opened: read once without personal data to learn it, then again with it.
      sealing probe{keys, "", "snapshot|" + stream + "|"};
      const auto& o = j.as_object();
      boost::mp11::mp_for_each<describe::describe_members<S, describe::mod_public>>([&](auto d) {
        using M = std::remove_cvref_t<decltype(state.*d.pointer)>;
        if constexpr (std::is_same_v<M, std::string>) read(o.at(d.name), state.*d.pointer, probe, std::string(".") + d.name);
      });
      sealing seal{keys, subject_of(state), "snapshot|" + stream + "|"};
      read(j, state, seal, "");
      out = std::move(state);
    }
  } else {
    throw decode_failure("unknown state alternative " + std::to_string(index));
  }
}

}  // namespace

std::optional<partition_state> decode_partition_state(const std::string& data, key_provider& keys) {
  try {
    const auto doc = json::parse(data).as_object();
    if (doc.at("format").as_int64() != 2 || json::value_to<std::string>(doc.at("fingerprint")) != fingerprint()) {
      return std::nullopt;
    }
    partition_state out;
    for (const auto& item : doc.at("streams").as_array()) {
      const auto& a = item.as_array();
      const auto stream = json::value_to<std::string>(a.at(0));
      stream_snapshot record;
      record.version = a.at(1).as_int64();
      decode_alternative(static_cast<std::size_t>(a.at(2).as_int64()), a.at(3), record.state, keys, stream);
      out.streams.emplace(stream, std::move(record));
    }
    for (const auto& item : doc.at("remembered").as_array()) {
      const auto& a = item.as_array();
      out.remembered.emplace(json::value_to<std::string>(a.at(0)),
                             remembered_command{json::value_to<std::string>(a.at(1)), a.at(2).as_int64(),
                                                a.at(3).as_int64(), json::value_to<std::string>(a.at(4))});
    }
    return out;
  } catch (const std::exception&) {
    return std::nullopt;
  }
}

}  // namespace coachd
