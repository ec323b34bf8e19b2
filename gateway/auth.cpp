#include "gateway/auth.hpp"

#include "gateway/session_cache.hpp"

#include <boost/asio/this_coro.hpp>
#include <boost/beast/http.hpp>

#include "events/time.hpp"
#include "infra/crypto.hpp"

namespace coachd::gateway {

namespace http = boost::beast::http;

new_session create_session(pqxx::connection_base& connection, const gateway_settings& settings,
                           const std::string& account_id, const std::string& role,
                           const std::string& user_agent, const std::string& ip_address) {
  new_session s{random_token(32), random_token(24), "", new_uuid()};
  const auto now = now_utc();
  s.expires_at = format_rfc3339(now + std::chrono::duration_cast<std::chrono::milliseconds>(settings.session_absolute));
  pqxx::work tx(connection);
  tx.exec_params(
      "INSERT INTO auth_sessions (token_hash, account_id, role, csrf_token, user_agent, created_at, "
      "last_seen_at, expires_at, session_id, ip_address) VALUES ($1, $2, $3, $4, $5, $6, $6, $7, $8, $9)",
      token_hash_hex(s.token), account_id, role, s.csrf_token, user_agent.substr(0, 512), format_rfc3339(now),
      s.expires_at, s.session_id, ip_address);
  tx.commit();
  return s;
}

std::string session_cookie_header(const gateway_settings& settings, const std::string& token) {
  std::string v = std::string(session_cookie) + "=" + token + "; Path=/; HttpOnly; SameSite=Lax";
  if (settings.secure_cookies) v += "; Secure";
  if (token.empty()) {
    v += "; Max-Age=0";
  } else {
    v += "; Max-Age=" + std::to_string(std::chrono::duration_cast<std::chrono::seconds>(settings.session_absolute).count());
  }
  return v;
}

const principal* caller(const request_context& ctx) { return std::any_cast<principal>(&ctx.principal); }

namespace {

/// The session token from "Authorization: Bearer …" or the session cookie.
std::optional<std::pair<std::string, bool>> presented_token(const request& req) {
  if (auto it = req.find(http::field::authorization); it != req.end()) {
    std::string_view v = it->value();
    if (v.size() > 7 && (v.substr(0, 7) == "Bearer " || v.substr(0, 7) == "bearer ")) {
      return std::make_pair(std::string(v.substr(7)), false);
    }
    return std::nullopt;
  }
  if (auto it = req.find(http::field::cookie); it != req.end()) {
    std::string_view cookies = it->value();
    const std::string name = std::string(session_cookie) + "=";
    std::size_t pos = 0;
    while (pos < cookies.size()) {
      while (pos < cookies.size() && (cookies[pos] == ' ' || cookies[pos] == ';')) ++pos;
      auto end = cookies.find(';', pos);
      if (end == std::string_view::npos) end = cookies.size();
      auto pair = cookies.substr(pos, end - pos);
      if (pair.substr(0, name.size()) == name) return std::make_pair(std::string(pair.substr(name.size())), true);
      pos = end;
    }
  }
  return std::nullopt;
}

bool role_allows(access required, const std::string& role) {
  switch (required) {
    case access::anonymous:
    case access::signed_in:
      return true;
    case access::coach:
      return role == "coach";
    case access::client:
      return role == "client";
    case access::admin:
      return role == "admin";
  }
  return false;
}

/// Whether an Origin header names the host the request was sent to.
bool same_origin(const request& req) {
  auto origin = req.find(http::field::origin);
  if (origin == req.end()) return true;  // non-browser clients send none; the CSRF token still applies
  auto host = req.find(http::field::host);
  if (host == req.end()) return false;
  std::string_view o = origin->value();
  auto scheme = o.find("://");
  if (scheme == std::string_view::npos) return false;
  return o.substr(scheme + 3) == host->value();
}

}  // namespace

before_hook make_auth_hook(services& s) {
  return [&s](request_context& ctx, const route_spec& spec) -> boost::asio::awaitable<std::optional<response>> {
    auto token = presented_token(ctx.req);
    if (token && !token->first.empty() && token->first.size() <= 128) {
      const std::string hash = token_hash_hex(token->first);
      const auto idle = std::chrono::duration_cast<std::chrono::seconds>(s.settings.session_idle).count();
      std::optional<principal> found;
      if (s.sessions != nullptr) found = s.sessions->find(hash);
      if (!found) {
        const std::uint64_t generation = s.sessions != nullptr ? s.sessions->generation() : 0;
        std::optional<std::chrono::system_clock::time_point> valid_until;
        found = co_await s.pool->run([&](pqxx::connection& c) -> std::optional<principal> {
          // A read on the hot path: the session must be within both expiries. last_seen_at is
          // touched at most once a minute, without waiting for the disk (losing a touch only
          // shortens an idle session by a minute), so a request costs no synchronous commit.
          // (Statements from prepare_identity_queries; autocommit, so one round trip each.)
          pqxx::nontransaction tx(c);
          auto rows = tx.exec_prepared("auth_session_lookup", hash, idle);
          if (!rows.empty() && rows[0][4].as<bool>()) tx.exec_prepared("auth_session_touch", hash);
          if (rows.empty()) return std::nullopt;
          valid_until = std::chrono::system_clock::time_point(std::chrono::duration_cast<std::chrono::system_clock::duration>(
              std::chrono::duration<double>(rows[0][5].as<double>())));
          return principal{rows[0][0].as<std::string>(), rows[0][1].as<std::string>(), hash,
                           rows[0][2].as<std::string>(), false, rows[0][3].as<std::string>()};
        });
        if (found && s.sessions != nullptr) s.sessions->put(*found, *valid_until, generation);
      }
      if (found) {
        found->via_cookie = token->second;
        ctx.principal = *found;
      }
    }
    const principal* who = caller(ctx);
    if (spec.required == access::anonymous) co_return std::nullopt;
    if (who == nullptr) {
      auto r = problem_response(make_error(errc::unauthenticated, "sign in first: send the session cookie or "
                                                                  "'Authorization: Bearer <token>'"),
                                ctx.req);
      r.set(http::field::www_authenticate, "Bearer");
      co_return r;
    }
    if (!role_allows(spec.required, who->role)) {
      co_return problem_response(
          make_error(errc::forbidden, "this needs the " + std::string(to_string(spec.required)) + " role"), ctx.req);
    }
    if (who->via_cookie && spec.mutating) {
      auto csrf = ctx.req.find("X-CSRF-Token");
      if (csrf == ctx.req.end() || csrf->value() != who->csrf_token || !same_origin(ctx.req)) {
        co_return problem_response(
            make_error(errc::forbidden, "a cookie-authenticated change needs the session's X-CSRF-Token header "
                                        "and a same-origin Origin"),
            ctx.req);
      }
    }
    co_return std::nullopt;
  };
}

}  // namespace coachd::gateway
