#pragma once
/// Authentication and authorization of requests: server-side sessions (an HttpOnly cookie for
/// browsers, the same token as a bearer token for API clients), the role a route requires, and
/// CSRF protection for cookie-authenticated unsafe requests.

#include <optional>
#include <string>

#include "gateway/router.hpp"
#include "gateway/services.hpp"

namespace coachd::gateway {

/// The signed-in caller.
struct principal {
  std::string account_id;
  std::string role;  // coach | client | admin
  std::string token_hash;
  std::string csrf_token;
  bool via_cookie = false;
  std::string session_id;  // the public id of the session (GET /api/v1/auth/sessions)
  /// "account:<id>", the actor recorded on events.
  std::string actor() const { return "account:" + account_id; }
};

/// The name of the session cookie.
inline constexpr const char* session_cookie = "coachd_session";

/// A new session for an account; returns the token (shown once) and the CSRF token.
struct new_session {
  std::string token, csrf_token, expires_at, session_id;
};
/// Tokens are 256-bit random and stored only as their BLAKE2b-256 hash.
new_session create_session(pqxx::connection_base& connection, const gateway_settings& settings,
                           const std::string& account_id, const std::string& role,
                           const std::string& user_agent, const std::string& ip_address = "");

/// The Set-Cookie value for a session token (or for clearing it when token is empty).
std::string session_cookie_header(const gateway_settings& settings, const std::string& token);

/// The caller of this request (null when anonymous); set by the before hook.
const principal* caller(const request_context& ctx);

/// The before hook: resolves the session, enforces the route's access requirement
/// (401 without a valid session, 403 for the wrong role) and CSRF for cookie sessions.
before_hook make_auth_hook(services& s);

}  // namespace coachd::gateway
