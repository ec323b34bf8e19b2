#include "gateway/request_params.hpp"

#include <charconv>
#include <string>

#include "infra/crypto.hpp"

namespace coachd::gateway {

result<int> page_limit(const request_context& ctx) {
  auto v = ctx.query("limit");
  if (!v) return 20;
  int n = 0;
  auto [end, ec] = std::from_chars(v->data(), v->data() + v->size(), n);
  if (ec != std::errc() || end != v->data() + v->size() || n < 1 || n > 100) {
    return make_error(errc::invalid, "limit must be an integer from 1 to 100", {"limit"});
  }
  return n;
}

std::optional<error> check_uuid(std::string_view value, const char* what) {
  if (is_uuid(value)) return std::nullopt;
  return make_error(errc::not_found, std::string(what) + " '" + std::string(value) + "' does not exist");
}

}  // namespace coachd::gateway
