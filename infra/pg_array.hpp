#pragma once
/// PostgreSQL array literals ({"a","b"}, {1,2}) for statements that take whole columns as array
/// parameters (`unnest($1::text[], …)`): one round trip for many rows.

#include <cstdint>
#include <string>
#include <string_view>

namespace coachd {

/// Builds an array literal element by element. Every text element is double-quoted with '"' and
/// '\' backslash-escaped, so any byte string (but NUL) round-trips, including "NULL", braces,
/// commas and leading/trailing blanks.
class pg_array_literal {
 public:
  void add_text(std::string_view value) {
    separate();
    text_ += '"';
    for (const char c : value) {
      if (c == '"' || c == '\\') text_ += '\\';
      text_ += c;
    }
    text_ += '"';
  }
  void add_integer(std::int64_t value) {
    separate();
    text_ += std::to_string(value);
  }
  std::string str() const { return text_ + '}'; }

 private:
  void separate() {
    if (text_.size() > 1) text_ += ',';
  }
  std::string text_ = "{";
};

}  // namespace coachd
