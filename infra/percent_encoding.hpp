#pragma once
/// Percent-encoding of URI components (RFC 3986): unreserved characters stay, every other byte
/// becomes %XX. Used for OAuth form bodies and otpauth:// URIs.

#include <string>
#include <string_view>

namespace coachd {

std::string percent_encode(std::string_view text);

}  // namespace coachd
