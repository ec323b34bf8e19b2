#pragma once
/// Reading the common parts of requests that every route group shares: page sizes and ids.

#include <optional>
#include <string_view>

#include "events/errors.hpp"
#include "gateway/router.hpp"

namespace coachd::gateway {

/// ?limit= of a list: 1..100, 20 when absent; 422 naming "limit" otherwise.
result<int> page_limit(const request_context& ctx);

/// An id from the path that is not a UUID cannot exist: 404 "<what> '<id>' does not exist".
std::optional<error> check_uuid(std::string_view value, const char* what);

}  // namespace coachd::gateway
