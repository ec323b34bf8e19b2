#include "commands/snapshot.hpp"

#include <boost/describe/enum_to_string.hpp>
#include <boost/describe/enumerators.hpp>
#include <boost/describe/members.hpp>
#include <boost/mp11/algorithm.hpp>
#include <map>
#include <set>
#include <stdexcept>
#include <typeinfo>
#include <vector>

#include "infra/crypto.hpp"

namespace coachd {

namespace {

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
struct is_boxed : std::false_type {};
template <typename T>
struct is_boxed<boxed<T>> : std::true_type {};

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
    return member_count<T>() ==
           boost::mp11::mp_size<describe::describe_members<T, describe::mod_public>>::value + derived_member_count<T>;
  } else {
    return true;
  }
}

/// Whether T holds a personal field anywhere inside it.
template <typename T>
constexpr bool contains_personal();

template <typename T>
constexpr bool members_contain_personal() {
  bool any = false;
  boost::mp11::mp_for_each<describe::describe_members<T, describe::mod_public>>([&](auto d) {
    using M = std::remove_cvref_t<decltype(std::declval<T&>().*d.pointer)>;
    any = any || contains_personal<M>();
  });
  return any;
}

template <typename T>
constexpr bool contains_personal() {
  if constexpr (std::is_same_v<T, personal>) {
    return true;
  } else if constexpr (is_optional<T>::value || is_vector<T>::value || is_set<T>::value ||
                       is_boxed<T>::value) {
    return contains_personal<typename T::value_type>();
  } else if constexpr (is_map<T>::value) {
    return contains_personal<typename T::key_type>() ||
           contains_personal<typename T::mapped_type>();
  } else if constexpr (described_struct<T>) {
    return members_contain_personal<T>();
  } else {
    return false;
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
  if constexpr (std::is_same_v<T, std::string> || std::is_same_v<T, personal> ||
                std::is_same_v<T, bool> || std::is_integral_v<T> || std::is_same_v<T, timestamp> ||
                described_enum<T>) {
    return true;
  } else if constexpr (is_optional<T>::value || is_vector<T>::value) {
    return supported<typename T::value_type>();
  } else if constexpr (is_set<T>::value) {
    // Personal values are filled in after the rest of the state is read; set elements are const.
    return supported<typename T::value_type>() && !contains_personal<typename T::value_type>();
  } else if constexpr (is_map<T>::value) {
    return supported<typename T::key_type>() && !contains_personal<typename T::key_type>() &&
           supported<typename T::mapped_type>();
  } else if constexpr (described_struct<T>) {
    static_assert(describes_every_member<T>(),
                  "a member of this state is missing from its BOOST_DESCRIBE_STRUCT: snapshots "
                  "would lose it");
    return members_supported<T>();
  } else {
    return false;
  }
}

template <typename T>
struct boxed_value {
  using type = T;
};
template <typename T>
struct boxed_value<boxed<T>> {
  using type = T;
};

/// The alternatives of aggregate_state other than monostate.
template <typename V>
struct state_types;
template <typename... Ts>
struct state_types<std::variant<std::monostate, Ts...>> {
  static constexpr bool all_supported = (supported<typename boxed_value<Ts>::type>() && ...);
};

constexpr bool all_supported = state_types<aggregate_state>::all_supported;

struct decode_failure : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// --- bytes ----------------------------------------------------------------------------------

/// Appends LEB128 varints and length-prefixed bytes.
struct byte_writer {
  std::string& out;

  void byte(unsigned char b) { out.push_back(static_cast<char>(b)); }
  void varint(std::uint64_t v) {
    while (v >= 0x80) {
      out.push_back(static_cast<char>((v & 0x7F) | 0x80));
      v >>= 7;
    }
    out.push_back(static_cast<char>(v));
  }
  void signed_varint(std::int64_t v) {
    varint((static_cast<std::uint64_t>(v) << 1) ^ static_cast<std::uint64_t>(v >> 63));
  }
  void bytes(std::string_view s) {
    varint(s.size());
    out.append(s);
  }
};

/// Reads what byte_writer wrote; throws decode_failure past the end.
struct byte_reader {
  const char* p;
  const char* end;

  bool at_end() const { return p == end; }
  unsigned char byte() {
    if (p == end) throw decode_failure("truncated");
    return static_cast<unsigned char>(*p++);
  }
  std::uint64_t varint() {
    std::uint64_t v = 0;
    for (int shift = 0; shift < 64; shift += 7) {
      const unsigned char b = byte();
      v |= static_cast<std::uint64_t>(b & 0x7F) << shift;
      if ((b & 0x80) == 0) return v;
    }
    throw decode_failure("varint too long");
  }
  std::int64_t signed_varint() {
    const std::uint64_t v = varint();
    return static_cast<std::int64_t>((v >> 1) ^ (~(v & 1) + 1));
  }
  std::string_view bytes() {
    const std::uint64_t n = varint();
    if (n > static_cast<std::uint64_t>(end - p)) throw decode_failure("truncated");
    const std::string_view s(p, n);
    p += n;
    return s;
  }
};

// --- state fields -----------------------------------------------------------------------------
// A state's fields are written in Boost.Describe order. Personal fields take no place there:
// they are written after the state, sealed together (see write_personal / read_personal).

template <typename T>
void write_value(byte_writer& w, const T& v);

template <typename T>
void write_value(byte_writer& w, const T& v) {
  if constexpr (std::is_same_v<T, std::string>) {
    w.bytes(v);
  } else if constexpr (std::is_same_v<T, personal>) {
    // written with the state's other personal fields
  } else if constexpr (std::is_same_v<T, bool>) {
    w.byte(v ? 1 : 0);
  } else if constexpr (std::is_integral_v<T>) {
    w.signed_varint(static_cast<std::int64_t>(v));
  } else if constexpr (std::is_same_v<T, timestamp>) {
    w.signed_varint(v.time_since_epoch().count());
  } else if constexpr (described_enum<T>) {
    w.signed_varint(static_cast<std::int64_t>(v));
  } else if constexpr (is_optional<T>::value) {
    w.byte(v ? 1 : 0);
    if (v) write_value(w, *v);
  } else if constexpr (is_vector<T>::value || is_set<T>::value) {
    w.varint(v.size());
    for (const auto& item : v) write_value(w, item);
  } else if constexpr (is_map<T>::value) {
    w.varint(v.size());
    for (const auto& [k, item] : v) {
      write_value(w, k);
      write_value(w, item);
    }
  } else {
    boost::mp11::mp_for_each<describe::describe_members<T, describe::mod_public>>(
        [&](auto d) { write_value(w, v.*d.pointer); });
  }
}

template <typename T>
void read_value(byte_reader& r, T& out);

template <typename T>
void read_value(byte_reader& r, T& out) {
  if constexpr (std::is_same_v<T, std::string>) {
    out.assign(r.bytes());
  } else if constexpr (std::is_same_v<T, personal>) {
    // read with the state's other personal fields
  } else if constexpr (std::is_same_v<T, bool>) {
    const unsigned char b = r.byte();
    if (b > 1) throw decode_failure("bad bool");
    out = b == 1;
  } else if constexpr (std::is_integral_v<T>) {
    out = static_cast<T>(r.signed_varint());
  } else if constexpr (std::is_same_v<T, timestamp>) {
    out = timestamp{std::chrono::milliseconds{r.signed_varint()}};
  } else if constexpr (described_enum<T>) {
    out = static_cast<T>(r.signed_varint());
    if (describe::enum_to_string(out, nullptr) == nullptr)
      throw decode_failure("unknown enumerator");
  } else if constexpr (is_optional<T>::value) {
    const unsigned char present = r.byte();
    if (present > 1) throw decode_failure("bad optional");
    if (present == 0) {
      out.reset();
    } else {
      typename T::value_type inner{};
      read_value(r, inner);
      out = std::move(inner);
    }
  } else if constexpr (is_vector<T>::value) {
    out.clear();
    const std::uint64_t n = r.varint();
    for (std::uint64_t i = 0; i < n; ++i) {
      typename T::value_type v{};
      read_value(r, v);
      out.push_back(std::move(v));
    }
  } else if constexpr (is_set<T>::value) {
    out.clear();
    const std::uint64_t n = r.varint();
    for (std::uint64_t i = 0; i < n; ++i) {
      typename T::value_type v{};
      read_value(r, v);
      out.insert(std::move(v));
    }
  } else if constexpr (is_map<T>::value) {
    out.clear();
    const std::uint64_t n = r.varint();
    for (std::uint64_t i = 0; i < n; ++i) {
      typename T::key_type k{};
      typename T::mapped_type v{};
      read_value(r, k);
      read_value(r, v);
      out.emplace(std::move(k), std::move(v));
    }
  } else {
    boost::mp11::mp_for_each<describe::describe_members<T, describe::mod_public>>(
        [&](auto d) { read_value(r, out.*d.pointer); });
  }
}

/// Calls f(p) for every personal field inside v, in a fixed order (members in Boost.Describe
/// order, present optionals, vector items, map values). T may be const.
template <typename T, typename F>
void for_each_personal(T& v, F&& f) {
  using U = std::remove_const_t<T>;
  if constexpr (!contains_personal<U>()) {
    return;
  } else if constexpr (std::is_same_v<U, personal>) {
    f(v);
  } else if constexpr (is_optional<U>::value) {
    if (v) for_each_personal(*v, f);
  } else if constexpr (is_vector<U>::value) {
    for (auto& item : v) for_each_personal(item, f);
  } else if constexpr (is_map<U>::value) {
    for (auto& [k, item] : v) for_each_personal(item, f);
  } else {
    boost::mp11::mp_for_each<describe::describe_members<U, describe::mod_public>>(
        [&](auto d) { for_each_personal(v.*d.pointer, f); });
  }
}

// How a state's personal fields follow it.
enum personal_section : unsigned char {
  personal_none = 0,    // no personal field holds anything (and none is erased)
  personal_erased = 1,  // every personal field is erased (or the subject is)
  personal_sealed = 2,  // sealed bytes follow: per field, an erased flag and the value
};

template <typename T>
std::string subject_of(const T& state) {
  if constexpr (requires { state.data_subject(); }) {
    return state.data_subject();
  } else {
    return {};
  }
}

std::string personal_context(std::string_view stream) {
  std::string aad = "snapshot|";
  aad.append(stream);
  return aad;
}

/// Writes the personal section of `state` (stream `stream`).
template <typename S>
void write_personal(byte_writer& w, const S& state, std::string_view stream, key_provider& keys) {
  if constexpr (!contains_personal<S>()) {
    w.byte(personal_none);
  } else {
    thread_local std::string plain;
    plain.clear();
    byte_writer p{plain};
    bool any_value = false, all_erased = true;
    auto collect = [&](const personal& field) {
      p.byte(field.erased ? 1 : 0);
      p.bytes(field.value);
      any_value = any_value || field.erased || !field.value.empty();
      all_erased = all_erased && field.erased;
    };
    for_each_personal(state, collect);
    if (!any_value) {
      w.byte(personal_none);
      return;
    }
    if (all_erased) {
      w.byte(personal_erased);
      return;
    }
    const std::string subject = subject_of(state);
    if (subject.empty()) throw std::logic_error("a state with personal data has no data_subject()");
    std::optional<data_key> key;
    try {
      key = keys.key_for_write(subject);
    } catch (const subject_erased_error&) {
      // Erased while the state still held the values: they are erased now.
      w.byte(personal_erased);
      return;
    }
    w.byte(personal_sealed);
    w.bytes(seal_bytes(*key, plain, personal_context(stream)));
  }
}

/// Fills the personal fields of `state` from their sealed form (see write_personal).
template <typename S>
void open_sealed(S& state, std::string_view sealed, std::string_view stream, key_provider& keys) {
  if constexpr (!contains_personal<S>()) {
    throw decode_failure("personal data in a state without personal fields");
  } else {
    const auto key = keys.key_for_read(subject_of(state));
    if (!key) {
      for_each_personal(state, [](personal& field) {
        field = personal{"", true};
      });  // erased since
      return;
    }
    const auto plain = open_bytes(*key, sealed, personal_context(stream));
    if (!plain) throw decode_failure("personal data of " + std::string(stream) + " does not open");
    byte_reader p{plain->data(), plain->data() + plain->size()};
    auto fill = [&](personal& field) {
      const unsigned char erased = p.byte();
      field.value.assign(p.bytes());
      field.erased = erased == 1;
    };
    for_each_personal(state, fill);
    if (!p.at_end())
      throw decode_failure("personal data of " + std::string(stream) + " has extra fields");
  }
}

/// Reads the personal section written by write_personal: erased values are applied to `state`;
/// sealed ones are returned as they are, to be opened when the stream is first used.
template <typename S>
std::string read_personal(byte_reader& r, S& state) {
  const unsigned char section = r.byte();
  if (section == personal_none) return {};
  if constexpr (!contains_personal<S>()) {
    throw decode_failure("personal data in a state without personal fields");
  } else {
    if (section == personal_erased) {
      for_each_personal(state, [](personal& field) { field = personal{"", true}; });
      return {};
    }
    if (section != personal_sealed) throw decode_failure("bad personal section");
    const std::string_view sealed = r.bytes();
    if (sealed.empty()) throw decode_failure("empty sealed personal data");
    return std::string(sealed);
  }
}

// --- fingerprint ------------------------------------------------------------------------------

/// A fingerprint of every state type's shape (type, member and enumerator names and values), so
/// a snapshot written by a build with other shapes is recognised and ignored.
template <typename T>
void shape(std::string& out) {
  out += typeid(T).name();
  if constexpr (is_boxed<T>::value) {
    out += '<';
    shape<typename T::value_type>(out);
    out += '>';
  } else if constexpr (described_struct<T>) {
    out += '{';
    boost::mp11::mp_for_each<describe::describe_members<T, describe::mod_public>>([&](auto d) {
      using M = std::remove_cvref_t<decltype(std::declval<T&>().*d.pointer)>;
      out += d.name;
      out += ':';
      shape<M>(out);
      out += ';';
    });
    out += '}';
  } else if constexpr (described_enum<T>) {
    out += '(';
    boost::mp11::mp_for_each<describe::describe_enumerators<T>>([&](auto e) {
      out += e.name;
      out += '=';
      out += std::to_string(static_cast<std::int64_t>(e.value));
      out += ';';
    });
    out += ')';
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
    std::string out = "format 3;";
    (shape<Ts>(out), ...);
    return sha256_hex(out);
  }
};

const std::string& fingerprint() {
  static const std::string value = fingerprint_of<aggregate_state>::compute();
  return value;
}

constexpr std::string_view chunk_magic = "coachd-snapshot-3\n";
enum record_kind : unsigned char { record_stream = 1, record_remembered = 2 };

/// Decodes alternative `index` of aggregate_state into `record` (personal data left sealed).
template <std::size_t I = 0>
void read_alternative(std::size_t index, byte_reader& r, stream_snapshot& record) {
  if constexpr (I < std::variant_size_v<aggregate_state>) {
    if (index != I) return read_alternative<I + 1>(index, r, record);
    using A = std::variant_alternative_t<I, aggregate_state>;
    if constexpr (std::is_same_v<A, std::monostate>) {
      record.state = std::monostate{};
    } else {
      using S = typename boxed_value<A>::type;
      S state{};
      read_value(r, state);
      record.sealed_personal = read_personal(r, state);
      if constexpr (is_boxed<A>::value) {
        record.state = A(std::move(state));
      } else {
        record.state = std::move(state);
      }
    }
  } else {
    throw decode_failure("unknown state alternative " + std::to_string(index));
  }
}

}  // namespace

bool snapshots_supported() { return all_supported; }

std::vector<std::string> encode_partition_state(const partition_state& state, std::int64_t position,
                                                key_provider& keys, std::size_t chunk_bytes) {
  if constexpr (!all_supported) {
    throw std::logic_error("an aggregate state type is not described; snapshots are not supported");
  } else {
    std::vector<std::string> chunks;
    std::string chunk;
    // The flag "last chunk" sits at a fixed place after the header's variable part, so it can
    // be set once the last chunk is known.
    std::size_t last_flag_at = 0;
    init_sodium();
    const std::uint64_t snapshot_id =
        (std::uint64_t{randombytes_random()} << 32) | randombytes_random();
    auto start_chunk = [&] {
      chunk.clear();
      byte_writer w{chunk};
      chunk.append(chunk_magic);
      w.bytes(fingerprint());
      w.varint(snapshot_id);
      w.signed_varint(position);
      w.varint(chunks.size());
      last_flag_at = chunk.size();
      w.byte(0);
      w.varint(state.streams.size());
    };
    auto end_chunk_if_full = [&] {
      if (chunk.size() < chunk_bytes) return;
      chunks.push_back(std::move(chunk));
      start_chunk();
    };
    start_chunk();
    for (const auto& [stream, record] : state.streams) {
      byte_writer w{chunk};
      w.byte(record_stream);
      w.bytes(stream);
      w.signed_varint(record.version);
      w.varint(record.state.index());
      std::visit(
          [&](const auto& alternative) {
            using A = std::decay_t<decltype(alternative)>;
            if constexpr (!std::is_same_v<A, std::monostate>) {
              const typename boxed_value<A>::type* s = nullptr;
              if constexpr (is_boxed<A>::value) {
                s = &*alternative;
              } else {
                s = &alternative;
              }
              write_value(w, *s);
              if (!record.sealed_personal.empty()) {
                // Not opened since the last snapshot: stored as it was sealed then.
                w.byte(personal_sealed);
                w.bytes(record.sealed_personal);
              } else {
                write_personal(w, *s, stream, keys);
              }
            }
          },
          record.state);
      end_chunk_if_full();
    }
    state.remembered.for_each([&](const std::string& key, const remembered_command& r) {
      byte_writer w{chunk};
      w.byte(record_remembered);
      w.bytes(key);
      w.bytes(r.stream);
      w.signed_varint(r.stream_version);
      w.signed_varint(r.offset);
      w.bytes(r.fingerprint);
      w.signed_varint(r.issued_at.time_since_epoch().count());
      end_chunk_if_full();
    });
    chunk[last_flag_at] = 1;
    chunks.push_back(std::move(chunk));
    return chunks;
  }
}

void open_personal(stream_snapshot& record, std::string_view stream, key_provider& keys) {
  if (record.sealed_personal.empty()) return;
  try {
    std::visit(
        [&](auto& alternative) {
          using A = std::decay_t<decltype(alternative)>;
          if constexpr (std::is_same_v<A, std::monostate>) {
            throw decode_failure("personal data in an empty state");
          } else if constexpr (is_boxed<A>::value) {
            open_sealed(*alternative, record.sealed_personal, stream, keys);
          } else {
            open_sealed(alternative, record.sealed_personal, stream, keys);
          }
        },
        record.state);
  } catch (const decode_failure& e) {
    throw snapshot_damaged(e.what());
  }
  record.sealed_personal.clear();
  record.sealed_personal.shrink_to_fit();
}

partition_state_decoder::partition_state_decoder(remembering_limits limits) {
  state_.remembered.set_limits(limits);
}

bool partition_state_decoder::add(std::string_view chunk) {
  if (failed_ || complete_) return false;
  try {
    if (!chunk.starts_with(chunk_magic)) throw decode_failure("not a format 3 snapshot chunk");
    byte_reader r{chunk.data() + chunk_magic.size(), chunk.data() + chunk.size()};
    if (r.bytes() != fingerprint()) throw decode_failure("written for other state shapes");
    const std::uint64_t snapshot_id = r.varint();
    const std::int64_t position = r.signed_varint();
    if (next_chunk_ == 0) {
      snapshot_id_ = snapshot_id;
      position_ = position;
    } else if (snapshot_id != snapshot_id_ || position != position_) {
      throw decode_failure("chunk of another snapshot");
    }
    if (r.varint() != next_chunk_) throw decode_failure("chunk out of order");
    const unsigned char last = r.byte();
    const std::uint64_t stream_count = r.varint();
    if (next_chunk_ == 0) state_.streams.reserve(stream_count);
    ++next_chunk_;
    while (!r.at_end()) {
      const unsigned char kind = r.byte();
      if (kind == record_stream) {
        std::string stream(r.bytes());
        stream_snapshot record;
        record.version = r.signed_varint();
        read_alternative(r.varint(), r, record);
        state_.streams.insert_or_assign(std::move(stream), std::move(record));
      } else if (kind == record_remembered) {
        std::string key(r.bytes());
        remembered_command c;
        c.stream.assign(r.bytes());
        c.stream_version = r.signed_varint();
        c.offset = r.signed_varint();
        c.fingerprint.assign(r.bytes());
        c.issued_at = timestamp{std::chrono::milliseconds{r.signed_varint()}};
        state_.remembered.remember(std::move(key), std::move(c));
      } else {
        throw decode_failure("unknown record kind");
      }
    }
    if (last > 1) throw decode_failure("bad last-chunk flag");
    complete_ = last == 1;
    return true;
  } catch (const std::exception&) {
    failed_ = true;
    return false;
  }
}

std::optional<partition_state> partition_state_decoder::finish() {
  if (failed_ || !complete_) return std::nullopt;
  return std::move(state_);
}

std::optional<partition_state> decode_partition_state(const std::vector<std::string>& chunks,
                                                      key_provider& keys,
                                                      remembering_limits limits) {
  partition_state_decoder decoder(limits);
  for (const auto& chunk : chunks) {
    if (!decoder.add(chunk)) return std::nullopt;
  }
  auto state = decoder.finish();
  if (!state) return std::nullopt;
  try {
    for (auto& [stream, record] : state->streams) open_personal(record, stream, keys);
  } catch (const snapshot_damaged&) {
    return std::nullopt;
  }
  return state;
}

}  // namespace coachd
