#pragma once
/// Request bodies in: JSON parsed with simdjson (ondemand) against a small declarative schema,
/// so that a handler states what it accepts and gets either typed, normalized fields or one
/// error listing every offending field.
///
///   static const json_schema intake_schema{
///       json_field::string("name").max_length(200),
///       json_field::email("email"),
///       json_field::string("phone").optional().max_length(40),
///       json_field::integer("sessions", 1, 52).optional(),
///       json_field::boolean("consent"),
///       json_field::string_array("goals").optional().max_items(10),
///   };
///   auto in = parse_json_body(ctx.req, intake_schema);
///   if (!in) co_return problem_response(in.err(), ctx.req);
///   const std::string& name = in->string("name");
///   const std::string* phone = in->find_string("phone");
///
/// Errors (coachd::error):
/// - errc::malformed (400): not JSON (with line, column and byte offset), trailing content, an
///   empty body, a wrong Content-Type, or nesting deeper than json_limits::max_depth (default
///   32). Depth is a limit of the parser, checked before any field is looked at, so it is a 400
///   like other syntax-level refusals, not a 422.
/// - errc::invalid (422): the root is not an object, unknown fields, duplicate fields, missing
///   required fields, wrong types, values out of range. Every problem is reported (in document
///   order, then missing fields in schema order); `fields` names each offender ("name",
///   "address.city", "goals[2]") and `detail` says what is wrong with each.
///
/// The whole document is always walked (ondemand validates only what is visited), so malformed
/// JSON is found wherever it is, including inside unknown fields.

#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <limits>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "events/errors.hpp"
#include "gateway/problem.hpp"

namespace coachd::gateway {

class json_field;

/// The fields a JSON object may have. Any other field is an error.
class json_schema {
 public:
  json_schema(std::initializer_list<json_field> fields);
  explicit json_schema(std::vector<json_field> fields);
  const std::vector<json_field>& fields() const { return fields_; }
  /// The field of that name, or null.
  const json_field* find(std::string_view name) const;

 private:
  std::vector<json_field> fields_;
};

/// One field of a json_schema: made by a named constructor, refined by chaining.
class json_field {
 public:
  enum class kind { string, email, integer, boolean, string_array, object, object_array };

  /// A string: trimmed of ASCII whitespace, 1..1000 code points by default when required
  /// (0..1000 when optional), no control characters unless multiline().
  static json_field string(std::string name);
  /// An e-mail address: local@domain, no spaces, at most 254 bytes, a dot in the domain;
  /// trimmed, and the domain lower-cased.
  static json_field email(std::string name);
  /// A JSON integer (no fraction, no exponent) within [min, max].
  static json_field integer(std::string name,
                            std::int64_t min = std::numeric_limits<std::int64_t>::min(),
                            std::int64_t max = std::numeric_limits<std::int64_t>::max());
  static json_field boolean(std::string name);
  /// An array of strings, each checked as string() is; 0..100 items by default.
  static json_field string_array(std::string name);
  /// A nested object checked against its own schema.
  static json_field object(std::string name, json_schema schema);
  /// An array of objects, each checked against the schema; 0..100 items by default.
  static json_field object_array(std::string name, json_schema schema);

  /// The field may be absent or null (absent when not called: required).
  json_field& optional();
  /// Length bounds in Unicode code points, after trimming (strings, e-mails, array items).
  json_field& min_length(std::size_t n);
  json_field& max_length(std::size_t n);
  /// Allows line breaks and tabs in the string (notes, messages).
  json_field& multiline();
  /// The string must be one of these values (after trimming).
  json_field& one_of(std::vector<std::string> allowed);
  /// Item count bounds for arrays.
  json_field& min_items(std::size_t n);
  json_field& max_items(std::size_t n);

  const std::string& name() const { return name_; }
  kind type() const { return kind_; }
  bool required() const { return required_; }
  std::size_t min_length_value() const;
  std::size_t max_length_value() const { return max_length_; }
  bool multiline_allowed() const { return multiline_; }
  const std::vector<std::string>& allowed_values() const { return one_of_; }
  std::int64_t min_value() const { return min_; }
  std::int64_t max_value() const { return max_; }
  std::size_t min_items_value() const { return min_items_; }
  std::size_t max_items_value() const { return max_items_; }
  /// The nested schema of object and object_array fields (null otherwise).
  const json_schema* nested() const { return nested_.get(); }

 private:
  json_field(std::string name, kind k) : name_(std::move(name)), kind_(k) {}

  std::string name_;
  kind kind_;
  bool required_ = true;
  std::optional<std::size_t> min_length_;
  std::size_t max_length_ = 1000;
  bool multiline_ = false;
  std::vector<std::string> one_of_;
  std::int64_t min_ = std::numeric_limits<std::int64_t>::min();
  std::int64_t max_ = std::numeric_limits<std::int64_t>::max();
  std::size_t min_items_ = 0;
  std::size_t max_items_ = 100;
  std::shared_ptr<const json_schema> nested_;
};

class json_fields;

/// The value of one present field. Objects are held in a vector (one element for `object`).
using json_value = std::variant<std::string, std::int64_t, bool, std::vector<std::string>,
                                std::vector<json_fields>>;

/// The validated fields of one object. Accessors for a required field cannot fail once parsing
/// succeeded; asking for a name the schema does not have, or with the wrong type, throws
/// std::logic_error (a programmer error).
class json_fields {
 public:
  /// Present and not null.
  bool has(std::string_view name) const;
  /// Present as an explicit null (only optional fields may be null).
  bool is_null(std::string_view name) const;

  const std::string& string(std::string_view name) const;
  const std::string* find_string(std::string_view name) const;
  std::int64_t integer(std::string_view name) const;
  std::optional<std::int64_t> find_integer(std::string_view name) const;
  bool boolean(std::string_view name) const;
  std::optional<bool> find_boolean(std::string_view name) const;
  /// A string array; empty when absent.
  const std::vector<std::string>& strings(std::string_view name) const;
  const json_fields& object(std::string_view name) const;
  const json_fields* find_object(std::string_view name) const;
  /// An object array; empty when absent.
  const std::vector<json_fields>& objects(std::string_view name) const;

  /// Names of the present, non-null fields, sorted.
  std::vector<std::string> names() const;

  /// Used by the parser.
  void set(std::string name, json_value value);
  void set_null(std::string name);

 private:
  const json_value* lookup(std::string_view name) const;
  std::map<std::string, json_value, std::less<>> values_;
  std::vector<std::string> nulls_;
};

/// Limits applied while parsing, beyond the schema.
struct json_limits {
  std::size_t max_depth = 32;  // nesting of objects and arrays; the root object is depth 1
};

/// Parses `body` as one JSON object conforming to `schema`.
result<json_fields> parse_json_object(std::string_view body, const json_schema& schema,
                                      const json_limits& limits = {});

/// As parse_json_object, after checking that the request says Content-Type: application/json
/// (or another +json type); anything else is errc::malformed. Insisting on it also keeps
/// cross-site HTML forms (which cannot send that type without a preflight) out.
result<json_fields> parse_json_body(const request& req, const json_schema& schema,
                                    const json_limits& limits = {});

/// Checks that `body` is well-formed JSON within the limits and of one value, without a schema
/// (for handlers that read a body themselves, e.g. webhooks).
result<std::monostate> validate_json(std::string_view body, const json_limits& limits = {});

/// Checks an e-mail address as json_field::email does and returns its normalized form.
std::optional<std::string> normalize_email(std::string_view address);

}  // namespace coachd::gateway
