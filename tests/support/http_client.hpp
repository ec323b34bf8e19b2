#pragma once
/// A small blocking HTTP/1.1 client for end-to-end tests: one request per connection, to
/// 127.0.0.1 only.

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace coachd::test {

struct http_reply {
  int status = 0;
  std::map<std::string, std::string> headers;  // lower-case names; repeated ones joined by ", "
  std::string body;
  /// The header's value, or "" when absent.
  std::string header(const std::string& name) const;
};

/// Sends one request to 127.0.0.1:port and reads the whole answer. `headers` are added as
/// given; a body gets Content-Type: application/json unless headers name another.
http_reply http_call(std::uint16_t port, const std::string& method, const std::string& target,
                     const std::string& body = "",
                     const std::vector<std::pair<std::string, std::string>>& headers = {});

}  // namespace coachd::test
