#pragma once
/// Domain errors as values: what a command, a query or an input parser returns when the
/// request itself is wrong. The gateway maps each code to an HTTP status in one place.

#include <string>
#include <utility>
#include <variant>
#include <vector>

namespace coachd {

/// The kinds of expected failure; each maps to one HTTP status (see gateway/problem.cpp).
enum class errc {
  malformed,          // 400: body is not JSON, or a header is unparseable
  invalid,            // 422: well-formed but wrong fields/types/values
  unauthenticated,    // 401
  forbidden,          // 403
  not_found,          // 404
  conflict,           // 409: state does not allow the command
  version_conflict,   // 409: If-Match did not match the stream version
  precondition_failed,// 412
  too_large,          // 413
  rate_limited,       // 429
  timeout,            // 504: a bounded wait ran out (e.g. read-your-writes)
  unavailable,        // 503
};

/// One expected failure: a code, a sentence for humans, and the offending fields.
struct error {
  errc code;
  std::string detail;
  std::vector<std::string> fields;  // JSON pointers or field names that caused it
  std::string type_suffix;          // optional machine-readable reason, e.g. "already-accepted"
};

inline error make_error(errc code, std::string detail, std::vector<std::string> fields = {},
                        std::string reason = {}) {
  return error{code, std::move(detail), std::move(fields), std::move(reason)};
}

/// result<T>: a value or an expected error.
template <typename T>
class result {
 public:
  result(T value) : v_(std::move(value)) {}          // NOLINT(implicit)
  result(error e) : v_(std::move(e)) {}              // NOLINT(implicit)
  bool ok() const { return v_.index() == 0; }
  explicit operator bool() const { return ok(); }
  T& value() & { return std::get<0>(v_); }
  const T& value() const& { return std::get<0>(v_); }
  T&& value() && { return std::get<0>(std::move(v_)); }
  const error& err() const { return std::get<1>(v_); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }

 private:
  std::variant<T, error> v_;
};

}  // namespace coachd
