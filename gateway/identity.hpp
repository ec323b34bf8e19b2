#pragma once
/// What the identity route groups (auth, sessions, password reset, MFA, admin audit) share:
/// their settings, the rate limiter, password rules, account look-ups and account commands.
/// add_auth_routes creates one identity_context and registers the other groups with it.

#include <boost/asio/awaitable.hpp>
#include <chrono>
#include <memory>
#include <optional>
#include <string>

#include "commands/command.hpp"
#include "commands/processor.hpp"
#include "gateway/router.hpp"
#include "gateway/services.hpp"
#include "infra/rate_limit.hpp"

namespace coachd::gateway {

/// Identity settings; from the environment (see README "Identity and access").
struct identity_settings {
  std::string mail_from = "coachd <no-reply@coachd.local>";  // COACHD_MAIL_FROM
  std::string totp_issuer = "coachd";                         // COACHD_TOTP_ISSUER
  std::chrono::minutes verification_ttl{60 * 24 * 2};
  std::chrono::minutes reset_ttl{60};
  // Token buckets (capacity, refill per second).
  bucket_policy sign_in_ip{30, 0.5};            // 30 attempts, then one every 2 s
  bucket_policy sign_in_account{5, 1.0 / 60};   // 5 failures, then one a minute
  bucket_policy sign_up_ip{100, 0.1};           // 100 sign-ups, then one every 10 s
  bucket_policy reset_ip{20, 1.0 / 15};         // 20 requests, then one every 15 s
  bucket_policy reset_account{3, 1.0 / 300};    // 3 links per address, then one every 5 min
  bucket_policy mfa_account{5, 1.0 / 30};       // 5 wrong codes, then one every 30 s
};

/// The identity groups' shared state (one per router).
struct identity_context {
  explicit identity_context(services& svc) : s(svc) {}
  services& s;
  identity_settings settings;
  rate_limiter limiter;
};

/// Reads identity_settings from COACHD_* environment variables.
identity_settings identity_settings_from_environment();

/// Why a new password is refused (nullopt: acceptable): at least 10 characters, at most 200,
/// not the e-mail address, not one of the bundled common passwords.
std::optional<error> check_password_rules(std::string_view password, std::string_view email,
                                          const char* field = "password");

/// A 429 problem with Retry-After.
response too_many_requests(const request_context& ctx, std::chrono::seconds retry_after);

/// The account of a signed-in caller or of an address, as the read models know it.
struct account_record {
  std::string account_id, role, email, display_name;
  std::optional<std::string> password_hash = {};  // the newest (credentials first)
  bool email_verified = false;
  bool mfa_enabled = false;
  std::optional<std::string> totp_secret = {};
};
std::optional<account_record> find_account(pqxx::connection_base& c, bool by_email, const std::string& key);

/// A command to an account's stream with a fresh random id (never deduplicated by an
/// Idempotency-Key: a request may issue several), the caller as actor.
command account_command(const request_context& ctx, const services& s, const std::string& email,
                        command_body body);

/// Appends an audit record for an account and waits for it; failures to record are errors.
boost::asio::awaitable<result<command_outcome>> record(const request_context& ctx, services& s,
                                                       const std::string& email, command_body body);

/// Drops the account's sessions from this process's session cache; call it once sessions were
/// deleted (other processes hear of it from auth_sessions' trigger).
void forget_sessions(services& s, const std::string& account_id);

/// Ends sessions of an account: all, or all but `keep_token_hash`. Returns how many.
std::size_t end_sessions(pqxx::connection_base& c, const std::string& account_id,
                         const std::string& keep_token_hash = "");

/// What the account stores of a recovery code: the hash of its canonical form (upper case,
/// no separators or spaces).
std::string recovery_code_hash(std::string_view code);

/// The request's User-Agent ("" when absent), at most 512 bytes.
std::string user_agent_of(const request_context& ctx);

void add_session_routes(router& r, services& s, std::shared_ptr<identity_context> id);
void add_password_routes(router& r, services& s, std::shared_ptr<identity_context> id);
void add_mfa_routes(router& r, services& s, std::shared_ptr<identity_context> id);
void add_audit_routes(router& r, services& s, std::shared_ptr<identity_context> id);
void add_oidc_routes(router& r, services& s, std::shared_ptr<identity_context> id);

}  // namespace coachd::gateway
