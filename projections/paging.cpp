#include "projections/paging.hpp"

#include <sodium.h>

#include "events/time.hpp"
#include "infra/crypto.hpp"

namespace coachd {

std::string encode_cursor(std::string_view time, std::string_view id) {
  init_sodium();
  std::string raw;
  raw.reserve(time.size() + 1 + id.size());
  raw.append(time).append("|").append(id);
  std::string out(sodium_base64_encoded_len(raw.size(), sodium_base64_VARIANT_URLSAFE_NO_PADDING),
                  '\0');
  sodium_bin2base64(out.data(), out.size(), reinterpret_cast<const unsigned char*>(raw.data()),
                    raw.size(), sodium_base64_VARIANT_URLSAFE_NO_PADDING);
  out.resize(out.find('\0'));
  return out;
}

std::optional<std::pair<std::string, std::string>> decode_cursor(const std::string& cursor) {
  init_sodium();
  if (cursor.empty() || cursor.size() > 256) return std::nullopt;
  std::string raw(cursor.size(), '\0');
  std::size_t len = 0;
  if (sodium_base642bin(reinterpret_cast<unsigned char*>(raw.data()), raw.size(), cursor.data(),
                        cursor.size(), nullptr, &len, nullptr,
                        sodium_base64_VARIANT_URLSAFE_NO_PADDING) != 0) {
    return std::nullopt;
  }
  raw.resize(len);
  const auto bar = raw.find('|');
  if (bar == std::string::npos) return std::nullopt;
  std::string time = raw.substr(0, bar), id = raw.substr(bar + 1);
  if (!parse_rfc3339(time) || !is_uuid(id)) return std::nullopt;
  return std::make_pair(std::move(time), std::move(id));
}

result<page_start> start_of_page(const std::optional<std::string>& cursor) {
  if (!cursor) return page_start{};
  auto decoded = decode_cursor(*cursor);
  if (!decoded) return make_error(errc::invalid, "cursor is not one this API returned", {"cursor"});
  return page_start{std::move(decoded->first), std::move(decoded->second)};
}

}  // namespace coachd
