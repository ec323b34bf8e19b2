#include "gateway/json_input.hpp"

#include <simdjson.h>

#include <algorithm>
#include <boost/beast/http/field.hpp>
#include <cctype>
#include <set>
#include <stdexcept>

namespace coachd::gateway {

namespace ondemand = simdjson::ondemand;

// ---------------------------------------------------------------------------------------------
// Schema

json_schema::json_schema(std::initializer_list<json_field> fields)
    : json_schema(std::vector<json_field>(fields)) {}

json_schema::json_schema(std::vector<json_field> fields) : fields_(std::move(fields)) {
  std::set<std::string_view> names;
  for (const auto& f : fields_) {
    if (!names.insert(f.name()).second) {
      throw std::invalid_argument("json_schema: field '" + f.name() + "' is declared twice");
    }
  }
}

const json_field* json_schema::find(std::string_view name) const {
  for (const auto& f : fields_) {
    if (f.name() == name) return &f;
  }
  return nullptr;
}

json_field json_field::string(std::string name) {
  return json_field(std::move(name), kind::string);
}

json_field json_field::email(std::string name) {
  json_field f(std::move(name), kind::email);
  f.max_length_ = 254;
  return f;
}

json_field json_field::integer(std::string name, std::int64_t min, std::int64_t max) {
  if (min > max) throw std::invalid_argument("json_field::integer: min > max");
  json_field f(std::move(name), kind::integer);
  f.min_ = min;
  f.max_ = max;
  return f;
}

json_field json_field::boolean(std::string name) {
  return json_field(std::move(name), kind::boolean);
}

json_field json_field::string_array(std::string name) {
  return json_field(std::move(name), kind::string_array);
}

json_field json_field::object(std::string name, json_schema schema) {
  json_field f(std::move(name), kind::object);
  f.nested_ = std::make_shared<const json_schema>(std::move(schema));
  return f;
}

json_field json_field::object_array(std::string name, json_schema schema) {
  json_field f(std::move(name), kind::object_array);
  f.nested_ = std::make_shared<const json_schema>(std::move(schema));
  return f;
}

json_field& json_field::optional() {
  required_ = false;
  return *this;
}
json_field& json_field::min_length(std::size_t n) {
  min_length_ = n;
  return *this;
}
json_field& json_field::max_length(std::size_t n) {
  max_length_ = n;
  return *this;
}
json_field& json_field::multiline() {
  multiline_ = true;
  return *this;
}
json_field& json_field::one_of(std::vector<std::string> allowed) {
  one_of_ = std::move(allowed);
  return *this;
}
json_field& json_field::min_items(std::size_t n) {
  min_items_ = n;
  return *this;
}
json_field& json_field::max_items(std::size_t n) {
  max_items_ = n;
  return *this;
}

std::size_t json_field::min_length_value() const {
  if (min_length_) return *min_length_;
  // A required string (or every array item) must say something; an optional one may be "".
  return required_ || kind_ == kind::string_array ? 1 : 0;
}

// ---------------------------------------------------------------------------------------------
// Validated fields

namespace {

[[noreturn]] void misuse(std::string_view name, std::string_view what) {
  throw std::logic_error("json_fields: field '" + std::string(name) + "' " + std::string(what));
}

template <typename T>
const T* typed(const json_value* v, std::string_view name) {
  if (v == nullptr) return nullptr;
  const T* p = std::get_if<T>(v);
  if (p == nullptr) misuse(name, "has another type");
  return p;
}

}  // namespace

const json_value* json_fields::lookup(std::string_view name) const {
  const auto it = values_.find(name);
  return it == values_.end() ? nullptr : &it->second;
}

bool json_fields::has(std::string_view name) const { return lookup(name) != nullptr; }

bool json_fields::is_null(std::string_view name) const {
  return std::find(nulls_.begin(), nulls_.end(), name) != nulls_.end();
}

const std::string& json_fields::string(std::string_view name) const {
  const auto* p = typed<std::string>(lookup(name), name);
  if (p == nullptr) misuse(name, "is absent");
  return *p;
}

const std::string* json_fields::find_string(std::string_view name) const {
  return typed<std::string>(lookup(name), name);
}

std::int64_t json_fields::integer(std::string_view name) const {
  const auto* p = typed<std::int64_t>(lookup(name), name);
  if (p == nullptr) misuse(name, "is absent");
  return *p;
}

std::optional<std::int64_t> json_fields::find_integer(std::string_view name) const {
  const auto* p = typed<std::int64_t>(lookup(name), name);
  return p == nullptr ? std::nullopt : std::optional<std::int64_t>(*p);
}

bool json_fields::boolean(std::string_view name) const {
  const auto* p = typed<bool>(lookup(name), name);
  if (p == nullptr) misuse(name, "is absent");
  return *p;
}

std::optional<bool> json_fields::find_boolean(std::string_view name) const {
  const auto* p = typed<bool>(lookup(name), name);
  return p == nullptr ? std::nullopt : std::optional<bool>(*p);
}

const std::vector<std::string>& json_fields::strings(std::string_view name) const {
  static const std::vector<std::string> none;
  const auto* p = typed<std::vector<std::string>>(lookup(name), name);
  return p == nullptr ? none : *p;
}

const json_fields& json_fields::object(std::string_view name) const {
  const auto* p = find_object(name);
  if (p == nullptr) misuse(name, "is absent");
  return *p;
}

const json_fields* json_fields::find_object(std::string_view name) const {
  const auto* p = typed<std::vector<json_fields>>(lookup(name), name);
  return p == nullptr || p->empty() ? nullptr : &p->front();
}

const std::vector<json_fields>& json_fields::objects(std::string_view name) const {
  static const std::vector<json_fields> none;
  const auto* p = typed<std::vector<json_fields>>(lookup(name), name);
  return p == nullptr ? none : *p;
}

std::vector<std::string> json_fields::names() const {
  std::vector<std::string> names;
  for (const auto& [name, value] : values_) names.push_back(name);
  return names;
}

void json_fields::set(std::string name, json_value value) {
  values_.insert_or_assign(std::move(name), std::move(value));
}

void json_fields::set_null(std::string name) { nulls_.push_back(std::move(name)); }

// ---------------------------------------------------------------------------------------------
// Text checks

namespace {

bool is_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

std::string_view trim(std::string_view s) {
  while (!s.empty() && is_space(s.front())) s.remove_prefix(1);
  while (!s.empty() && is_space(s.back())) s.remove_suffix(1);
  return s;
}

// Input was validated as UTF-8 by simdjson: count the bytes that start a code point.
std::size_t code_points(std::string_view s) {
  return static_cast<std::size_t>(std::count_if(
      s.begin(), s.end(), [](char c) { return (static_cast<unsigned char>(c) & 0xC0) != 0x80; }));
}

bool is_control(unsigned char c) { return c < 0x20 || c == 0x7f; }

bool is_email_special(char c) {
  return std::string_view("()<>[]\\,;:\"@").find(c) != std::string_view::npos;
}

}  // namespace

std::optional<std::string> normalize_email(std::string_view address) {
  address = trim(address);
  if (address.empty() || address.size() > 254) return std::nullopt;
  const auto at = address.find('@');
  if (at == std::string_view::npos || address.find('@', at + 1) != std::string_view::npos) {
    return std::nullopt;
  }
  const auto local = address.substr(0, at);
  const auto domain = address.substr(at + 1);
  if (local.empty() || local.size() > 64 || domain.empty()) return std::nullopt;
  for (const char c : address) {
    if (c == ' ' || is_control(static_cast<unsigned char>(c))) return std::nullopt;
  }
  for (const char c : local) {
    if (c != '@' && is_email_special(c)) return std::nullopt;
  }
  if (local.front() == '.' || local.back() == '.' || local.find("..") != std::string_view::npos) {
    return std::nullopt;
  }
  // Domain: labels of letters, digits, hyphens (or non-ASCII bytes, for IDNs) separated by dots.
  if (domain.find('.') == std::string_view::npos || domain.front() == '.' || domain.back() == '.' ||
      domain.find("..") != std::string_view::npos) {
    return std::nullopt;
  }
  std::string normalized(local);
  normalized += '@';
  char previous = '.';
  for (const char c : domain) {
    const auto byte = static_cast<unsigned char>(c);
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '-' || c == '.' || byte >= 0x80;
    if (!ok) return std::nullopt;
    // A label neither starts nor ends with a hyphen.
    if ((c == '-' && previous == '.') || (c == '.' && previous == '-')) return std::nullopt;
    normalized += (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
    previous = c;
  }
  if (previous == '-') return std::nullopt;
  return normalized;
}

// ---------------------------------------------------------------------------------------------
// The walk

namespace {

std::string_view type_name(ondemand::json_type t) {
  switch (t) {
    case ondemand::json_type::array:
      return "an array";
    case ondemand::json_type::object:
      return "an object";
    case ondemand::json_type::number:
      return "a number";
    case ondemand::json_type::string:
      return "a string";
    case ondemand::json_type::boolean:
      return "a boolean";
    case ondemand::json_type::null:
      return "null";
  }
  return "a value";
}

std::string_view expected_name(json_field::kind k) {
  switch (k) {
    case json_field::kind::string:
      return "a string";
    case json_field::kind::email:
      return "an e-mail address (string)";
    case json_field::kind::integer:
      return "an integer";
    case json_field::kind::boolean:
      return "a boolean";
    case json_field::kind::string_array:
      return "an array of strings";
    case json_field::kind::object:
      return "an object";
    case json_field::kind::object_array:
      return "an array of objects";
  }
  return "a value";
}

// The JSON number grammar (RFC 8259 section 6). simdjson 3.0.1 refuses integers beyond 64 bits
// with NUMBER_ERROR although they are valid JSON; the raw token tells the two cases apart.
bool is_json_number(std::string_view token) {
  while (!token.empty() && is_space(token.back())) token.remove_suffix(1);
  std::size_t i = 0;
  const auto digits = [&] {
    const auto start = i;
    while (i < token.size() && token[i] >= '0' && token[i] <= '9') ++i;
    return i > start;
  };
  if (i < token.size() && token[i] == '-') ++i;
  if (i < token.size() && token[i] == '0') {
    ++i;
  } else if (!digits()) {
    return false;
  }
  if (i < token.size() && token[i] == '.') {
    ++i;
    if (!digits()) return false;
  }
  if (i < token.size() && (token[i] == 'e' || token[i] == 'E')) {
    ++i;
    if (i < token.size() && (token[i] == '+' || token[i] == '-')) ++i;
    if (!digits()) return false;
  }
  return i == token.size();
}

bool is_integer_token(std::string_view token) {
  return token.find_first_of(".eE") == std::string_view::npos;
}

std::string member_path(std::string_view parent, std::string_view name) {
  if (parent.empty()) return std::string(name);
  std::string path(parent);
  path += '.';
  path += name;
  return path;
}

std::string item_path(std::string_view parent, std::size_t index) {
  return std::string(parent) + "[" + std::to_string(index) + "]";
}

/// Walks one document: fatal (syntax-level) failures stop the walk; field problems are
/// collected and the walk goes on.
class walker {
 public:
  walker(const char* base, std::size_t length, const json_limits& limits)
      : base_(base), length_(length), limits_(limits) {}

  ondemand::document& doc() { return doc_; }
  bool failed() const { return fatal_.has_value(); }
  const std::optional<error>& fatal() const { return fatal_; }

  /// Records a syntax-level failure at the document's current location; returns false so
  /// callers can `return fail(...)`.
  bool fail(simdjson::error_code code) {
    if (!fatal_)
      fatal_ = malformed_at(std::string("malformed JSON: ") + simdjson::error_message(code));
    return false;
  }

  bool too_deep() {
    if (!fatal_) {
      fatal_ = malformed_at("JSON nesting is deeper than " + std::to_string(limits_.max_depth) +
                            " levels");
    }
    return false;
  }

  void issue(std::string path, std::string message) {
    detail_parts_.push_back(path + ": " + message);
    if (std::find(fields_.begin(), fields_.end(), path) == fields_.end()) {
      fields_.push_back(std::move(path));
    }
  }

  bool has_issues() const { return !fields_.empty(); }

  error invalid() const {
    std::string detail;
    for (const auto& part : detail_parts_) {
      if (!detail.empty()) detail += "; ";
      detail += part;
    }
    return make_error(errc::invalid, std::move(detail), fields_);
  }

  error malformed_at(std::string what) {
    auto loc = doc_.current_location();
    const char* where = nullptr;
    if (loc.error() == simdjson::SUCCESS) where = loc.value_unsafe();
    if (where == nullptr || where < base_ || where > base_ + length_) {
      return make_error(errc::malformed, what + " (at the end of the input)");
    }
    const auto offset = static_cast<std::size_t>(where - base_);
    std::size_t line = 1;
    std::size_t column = 1;
    for (const char* p = base_; p < where; ++p) {
      if (*p == '\n') {
        ++line;
        column = 1;
      } else {
        ++column;
      }
    }
    return make_error(errc::malformed, what + " (line " + std::to_string(line) + ", column " +
                                           std::to_string(column) + ", byte " +
                                           std::to_string(offset) + ")");
  }

  /// Visits every member of an object (at `depth`) that no schema describes.
  bool consume_members(ondemand::object obj, std::size_t depth) {
    for (auto member : obj) {
      ondemand::field f;
      if (auto e = std::move(member).get(f)) return fail(e);
      std::string_view key;
      if (auto e = f.unescaped_key().get(key)) return fail(e);
      if (!consume(f.value(), depth + 1)) return false;
    }
    return true;
  }

  /// Visits every item of an array (at `depth`).
  bool consume_items(ondemand::array arr, std::size_t depth) {
    for (auto element : arr) {
      ondemand::value item;
      if (auto e = element.get(item)) return fail(e);
      if (!consume(item, depth + 1)) return false;
    }
    return true;
  }

  /// Visits (and so validates) every part of a value that no schema describes.
  bool consume(ondemand::value v, std::size_t depth) {
    ondemand::json_type t;
    if (auto e = v.type().get(t)) return fail(e);
    switch (t) {
      case ondemand::json_type::object: {
        if (depth > limits_.max_depth) return too_deep();
        ondemand::object obj;
        if (auto e = v.get_object().get(obj)) return fail(e);
        return consume_members(obj, depth);
      }
      case ondemand::json_type::array: {
        if (depth > limits_.max_depth) return too_deep();
        ondemand::array arr;
        if (auto e = v.get_array().get(arr)) return fail(e);
        return consume_items(arr, depth);
      }
      case ondemand::json_type::string: {
        std::string_view s;
        if (auto e = v.get_string().get(s)) return fail(e);
        return true;
      }
      case ondemand::json_type::number: {
        ondemand::number n;
        if (auto e = v.get_number().get(n)) {
          if (!is_json_number(v.raw_json_token())) return fail(e);
        }
        return true;
      }
      case ondemand::json_type::boolean: {
        bool b;
        if (auto e = v.get_bool().get(b)) return fail(e);
        return true;
      }
      case ondemand::json_type::null: {
        bool is_null = false;
        if (auto e = v.is_null().get(is_null)) return fail(e);
        if (!is_null) return fail(simdjson::N_ATOM_ERROR);
        return true;
      }
    }
    return fail(simdjson::TAPE_ERROR);
  }

  /// Checks a string against the field's text rules; the normalized text, or nullopt after
  /// recording the issue.
  std::optional<std::string> check_text(std::string_view raw, const json_field& spec,
                                        const std::string& path) {
    if (spec.type() == json_field::kind::email) {
      auto normalized = normalize_email(raw);
      if (!normalized) {
        issue(path, "must be an e-mail address");
        return std::nullopt;
      }
      if (code_points(*normalized) > spec.max_length_value()) {
        issue(path,
              "must be at most " + std::to_string(spec.max_length_value()) + " characters long");
        return std::nullopt;
      }
      return normalized;
    }
    const auto text = trim(raw);
    for (const char c : text) {
      const auto byte = static_cast<unsigned char>(c);
      if (is_control(byte) &&
          !(spec.multiline_allowed() && (c == '\n' || c == '\t' || c == '\r'))) {
        issue(path, spec.multiline_allowed() ? "must not contain control characters"
                                             : "must be a single line without control characters");
        return std::nullopt;
      }
    }
    const auto length = code_points(text);
    if (length < spec.min_length_value()) {
      issue(path, spec.min_length_value() == 1
                      ? std::string("must not be empty")
                      : "must be at least " + std::to_string(spec.min_length_value()) +
                            " characters long");
      return std::nullopt;
    }
    if (length > spec.max_length_value()) {
      issue(path,
            "must be at most " + std::to_string(spec.max_length_value()) + " characters long");
      return std::nullopt;
    }
    if (!spec.allowed_values().empty() &&
        std::find(spec.allowed_values().begin(), spec.allowed_values().end(), text) ==
            spec.allowed_values().end()) {
      std::string allowed;
      for (const auto& a : spec.allowed_values()) {
        if (!allowed.empty()) allowed += ", ";
        allowed += a;
      }
      issue(path, "must be one of: " + allowed);
      return std::nullopt;
    }
    return std::string(text);
  }

  /// Reads the members of an object (already started) against a schema into `out`.
  bool walk_object(ondemand::object obj, const json_schema& schema, const std::string& parent,
                   std::size_t depth, json_fields& out) {
    std::set<std::string, std::less<>> seen;
    for (auto member : obj) {
      ondemand::field f;
      if (auto e = std::move(member).get(f)) return fail(e);
      std::string_view key_view;
      if (auto e = f.unescaped_key().get(key_view)) return fail(e);
      std::string key(key_view);
      const std::string path = member_path(parent, key);
      const json_field* spec = schema.find(key);
      if (!seen.insert(key).second) {
        issue(path, "appears more than once");
        if (!consume(f.value(), depth + 1)) return false;
        continue;
      }
      if (spec == nullptr) {
        issue(path, "is not a known field");
        if (!consume(f.value(), depth + 1)) return false;
        continue;
      }
      if (!read_field(f.value(), *spec, path, depth + 1, out)) return false;
    }
    for (const auto& spec : schema.fields()) {
      if (spec.required() && seen.find(spec.name()) == seen.end()) {
        issue(member_path(parent, spec.name()), "is required");
      }
    }
    return true;
  }

  /// Reads one field's value (at `depth`) into `out`.
  bool read_field(ondemand::value v, const json_field& spec, const std::string& path,
                  std::size_t depth, json_fields& out) {
    ondemand::json_type t;
    if (auto e = v.type().get(t)) return fail(e);
    if (t == ondemand::json_type::null) {
      if (!consume(v, depth)) return false;
      if (spec.required()) {
        issue(path, "must not be null");
      } else {
        out.set_null(spec.name());
      }
      return true;
    }
    const auto wrong_type = [&] {
      issue(path, "expected " + std::string(expected_name(spec.type())) + ", got " +
                      std::string(type_name(t)));
      return consume(v, depth);
    };
    switch (spec.type()) {
      case json_field::kind::string:
      case json_field::kind::email: {
        if (t != ondemand::json_type::string) return wrong_type();
        std::string_view s;
        if (auto e = v.get_string().get(s)) return fail(e);
        if (auto text = check_text(s, spec, path)) out.set(spec.name(), std::move(*text));
        return true;
      }
      case json_field::kind::integer: {
        if (t != ondemand::json_type::number) return wrong_type();
        ondemand::number n;
        if (auto e = v.get_number().get(n)) {
          const auto token = v.raw_json_token();
          if (!is_json_number(token)) return fail(e);
          // Valid JSON beyond what simdjson holds: far out of any range we accept.
          issue(path, is_integer_token(token)
                          ? "must be between " + std::to_string(spec.min_value()) + " and " +
                                std::to_string(spec.max_value())
                          : std::string("expected an integer, got a number with a fraction or "
                                        "exponent"));
          return true;
        }
        if (n.is_double()) {
          issue(path, "expected an integer, got a number with a fraction or exponent");
        } else if (n.is_uint64() || n.get_int64() < spec.min_value() ||
                   n.get_int64() > spec.max_value()) {
          issue(path, "must be between " + std::to_string(spec.min_value()) + " and " +
                          std::to_string(spec.max_value()));
        } else {
          out.set(spec.name(), n.get_int64());
        }
        return true;
      }
      case json_field::kind::boolean: {
        if (t != ondemand::json_type::boolean) return wrong_type();
        bool b;
        if (auto e = v.get_bool().get(b)) return fail(e);
        out.set(spec.name(), b);
        return true;
      }
      case json_field::kind::string_array: {
        if (t != ondemand::json_type::array) return wrong_type();
        if (depth > limits_.max_depth) return too_deep();
        ondemand::array arr;
        if (auto e = v.get_array().get(arr)) return fail(e);
        std::vector<std::string> items;
        std::size_t index = 0;
        for (auto element : arr) {
          ondemand::value item;
          if (auto e = element.get(item)) return fail(e);
          const std::string at = item_path(path, index++);
          ondemand::json_type item_type;
          if (auto e = item.type().get(item_type)) return fail(e);
          if (item_type != ondemand::json_type::string) {
            issue(at, "expected a string, got " + std::string(type_name(item_type)));
            if (!consume(item, depth + 1)) return false;
            continue;
          }
          std::string_view s;
          if (auto e = item.get_string().get(s)) return fail(e);
          if (auto text = check_text(s, spec, at)) items.push_back(std::move(*text));
        }
        if (check_count(index, spec, path)) out.set(spec.name(), std::move(items));
        return true;
      }
      case json_field::kind::object: {
        if (t != ondemand::json_type::object) return wrong_type();
        if (depth > limits_.max_depth) return too_deep();
        ondemand::object obj;
        if (auto e = v.get_object().get(obj)) return fail(e);
        // On any issue the whole parse fails, so partial values do no harm.
        std::vector<json_fields> one(1);
        if (!walk_object(obj, *spec.nested(), path, depth, one.front())) return false;
        out.set(spec.name(), std::move(one));
        return true;
      }
      case json_field::kind::object_array: {
        if (t != ondemand::json_type::array) return wrong_type();
        if (depth > limits_.max_depth) return too_deep();
        ondemand::array arr;
        if (auto e = v.get_array().get(arr)) return fail(e);
        std::vector<json_fields> items;
        std::size_t index = 0;
        for (auto element : arr) {
          ondemand::value item;
          if (auto e = element.get(item)) return fail(e);
          const std::string at = item_path(path, index++);
          ondemand::json_type item_type;
          if (auto e = item.type().get(item_type)) return fail(e);
          if (item_type != ondemand::json_type::object) {
            issue(at, "expected an object, got " + std::string(type_name(item_type)));
            if (!consume(item, depth + 1)) return false;
            continue;
          }
          if (depth + 1 > limits_.max_depth) return too_deep();
          ondemand::object obj;
          if (auto e = item.get_object().get(obj)) return fail(e);
          items.emplace_back();
          if (!walk_object(obj, *spec.nested(), at, depth + 1, items.back())) return false;
        }
        if (check_count(index, spec, path)) out.set(spec.name(), std::move(items));
        return true;
      }
    }
    return fail(simdjson::TAPE_ERROR);
  }

  bool check_count(std::size_t count, const json_field& spec, const std::string& path) {
    if (count < spec.min_items_value()) {
      issue(path, "must have at least " + std::to_string(spec.min_items_value()) + " items");
      return false;
    }
    if (count > spec.max_items_value()) {
      issue(path, "must have at most " + std::to_string(spec.max_items_value()) + " items");
      return false;
    }
    return true;
  }

  /// After the root value: anything but whitespace left is an error.
  bool check_trailing() {
    auto loc = doc_.current_location();
    if (loc.error() == simdjson::OUT_OF_BOUNDS) return true;
    if (!fatal_) fatal_ = malformed_at("unexpected content after the JSON value");
    return false;
  }

 private:
  const char* base_;
  std::size_t length_;
  const json_limits& limits_;
  ondemand::document doc_;
  std::optional<error> fatal_;
  std::vector<std::string> fields_;
  std::vector<std::string> detail_parts_;
};

ondemand::parser& thread_parser() {
  // One parser per thread, reused: it keeps its buffers. The document never outlives a call.
  thread_local ondemand::parser parser;
  return parser;
}

/// Parses and walks the root. `schema` null: validate only.
result<json_fields> run(std::string_view body, const json_schema* schema,
                        const json_limits& limits) {
  if (trim(body).empty()) return make_error(errc::malformed, "the request body is empty");
  const simdjson::padded_string padded(body);
  walker w(padded.data(), padded.size(), limits);
  if (auto e = thread_parser().iterate(padded).get(w.doc())) {
    return make_error(errc::malformed,
                      std::string("malformed JSON: ") + simdjson::error_message(e));
  }
  auto& doc = w.doc();
  ondemand::json_type t;
  if (auto e = doc.type().get(t)) {
    w.fail(e);
    return *w.fatal();
  }
  json_fields out;
  bool root_is_object = false;
  bool big_root_number = false;
  switch (t) {
    case ondemand::json_type::object: {
      root_is_object = true;
      if (limits.max_depth < 1) {
        w.too_deep();
        break;
      }
      ondemand::object obj;
      if (auto e = doc.get_object().get(obj)) {
        w.fail(e);
      } else if (schema != nullptr) {
        w.walk_object(obj, *schema, "", 1, out);
      } else {
        w.consume_members(obj, 1);
      }
      break;
    }
    case ondemand::json_type::array: {
      if (limits.max_depth < 1) {
        w.too_deep();
        break;
      }
      ondemand::array arr;
      if (auto e = doc.get_array().get(arr)) {
        w.fail(e);
      } else {
        w.consume_items(arr, 1);
      }
      break;
    }
    // A scalar root is its own special case in simdjson: read it through the document.
    case ondemand::json_type::string: {
      std::string_view s;
      if (auto e = doc.get_string().get(s)) w.fail(e);
      break;
    }
    case ondemand::json_type::number: {
      ondemand::number n;
      if (auto e = doc.get_number().get(n)) {
        std::string_view token;
        if (e == simdjson::TRAILING_CONTENT || doc.raw_json_token().get(token) ||
            !is_json_number(token)) {
          w.fail(e);
        } else {
          big_root_number = true;
        }
      }
      break;
    }
    case ondemand::json_type::boolean: {
      bool b;
      if (auto e = doc.get_bool().get(b)) w.fail(e);
      break;
    }
    case ondemand::json_type::null: {
      bool is_null = false;
      if (auto e = doc.is_null().get(is_null)) {
        w.fail(e);
      } else if (!is_null) {
        w.fail(simdjson::N_ATOM_ERROR);
      }
      break;
    }
  }
  // A big root number was not consumed by simdjson (it failed to hold it), and the root
  // number getter already refuses trailing content.
  if (!w.failed() && !big_root_number) w.check_trailing();
  if (w.failed()) return *w.fatal();
  if (schema == nullptr) return out;
  if (!root_is_object) {
    return make_error(errc::invalid,
                      "the request body must be a JSON object, not " + std::string(type_name(t)));
  }
  if (w.has_issues()) return w.invalid();
  return out;
}

bool is_json_media_type(std::string_view content_type) {
  auto media = trim(content_type.substr(0, content_type.find(';')));
  std::string lower(media);
  std::transform(lower.begin(), lower.end(), lower.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return lower == "application/json" ||
         (lower.starts_with("application/") && lower.ends_with("+json"));
}

}  // namespace

result<json_fields> parse_json_object(std::string_view body, const json_schema& schema,
                                      const json_limits& limits) {
  return run(body, &schema, limits);
}

result<json_fields> parse_json_body(const request& req, const json_schema& schema,
                                    const json_limits& limits) {
  const auto it = req.find(boost::beast::http::field::content_type);
  if (it == req.end() || !is_json_media_type(it->value())) {
    return make_error(errc::malformed,
                      "the request body must be sent with Content-Type: "
                      "application/json");
  }
  return run(req.body(), &schema, limits);
}

result<std::monostate> validate_json(std::string_view body, const json_limits& limits) {
  auto r = run(body, nullptr, limits);
  if (!r) return r.err();
  return std::monostate{};
}

}  // namespace coachd::gateway
