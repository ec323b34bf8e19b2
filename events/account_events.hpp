#pragma once
/// Events of the account aggregate, whose stream is keyed by the normalized e-mail address
/// (hashed, so the address itself never appears in a stream id): one account per address.

#include <boost/describe/class.hpp>
#include <optional>
#include <string>
#include <type_traits>
#include <vector>

#include "events/event_meta.hpp"
#include "events/personal.hpp"
#include "events/time.hpp"

namespace coachd {

/// An account was created for an e-mail address. Accounts created by onboarding have no
/// password yet (the client signs in another way or sets one).
struct account_registered {
  std::string account_id;
  std::string role;  // "coach", "client" or "admin"
  personal email;    // normalized
  personal display_name;
  std::optional<personal> password_hash;  // Argon2id string; sealed like personal data
  timestamp registered_at;
  std::string data_subject() const { return "account:" + account_id; }
  bool operator==(const account_registered&) const = default;
};
BOOST_DESCRIBE_STRUCT(account_registered, (),
                      (account_id, role, email, display_name, password_hash, registered_at))


struct email_verified;
struct password_changed;
struct password_reset_requested;
struct mfa_enabled;
struct mfa_disabled;
struct recovery_code_used;
struct signed_in;
struct sign_in_failed;
struct session_revoked;

/// The account events besides account_registered (event routing uses it).
template <typename T>
inline constexpr bool is_account_security_event =
    std::is_same_v<T, email_verified> || std::is_same_v<T, password_changed> ||
    std::is_same_v<T, password_reset_requested> || std::is_same_v<T, mfa_enabled> ||
    std::is_same_v<T, mfa_disabled> || std::is_same_v<T, recovery_code_used> || std::is_same_v<T, signed_in> ||
    std::is_same_v<T, sign_in_failed> || std::is_same_v<T, session_revoked>;

/// The owner proved they receive mail at the account's address (the sign-up link was used).
struct email_verified {
  std::string account_id;
  timestamp verified_at;
  std::string data_subject() const { return "account:" + account_id; }
  bool operator==(const email_verified&) const = default;
};
BOOST_DESCRIBE_STRUCT(email_verified, (), (account_id, verified_at))

/// The account's password was replaced: by its signed-in owner ("change") or with a reset
/// link ("reset"), which also ends every session of the account.
struct password_changed {
  std::string account_id;
  personal password_hash;  // Argon2id string; sealed like personal data
  std::string reason;      // "change" | "reset"
  timestamp changed_at;
  std::string data_subject() const { return "account:" + account_id; }
  bool operator==(const password_changed&) const = default;
};
BOOST_DESCRIBE_STRUCT(password_changed, (), (account_id, password_hash, reason, changed_at))

/// Someone asked for a password-reset link for the account's address.
struct password_reset_requested {
  std::string account_id;
  personal ip_address;
  timestamp requested_at;
  std::string data_subject() const { return "account:" + account_id; }
  bool operator==(const password_reset_requested&) const = default;
};
BOOST_DESCRIBE_STRUCT(password_reset_requested, (), (account_id, ip_address, requested_at))

/// TOTP (RFC 6238) became the account's second factor; the recovery codes are stored only as
/// hashes (BLAKE2b-256 hex), each usable once.
struct mfa_enabled {
  std::string account_id;
  personal totp_secret;  // base32; sealed
  std::vector<std::string> recovery_code_hashes;
  timestamp enabled_at;
  std::string data_subject() const { return "account:" + account_id; }
  bool operator==(const mfa_enabled&) const = default;
};
BOOST_DESCRIBE_STRUCT(mfa_enabled, (), (account_id, totp_secret, recovery_code_hashes, enabled_at))

/// The second factor was turned off (with a fresh code).
struct mfa_disabled {
  std::string account_id;
  timestamp disabled_at;
  std::string data_subject() const { return "account:" + account_id; }
  bool operator==(const mfa_disabled&) const = default;
};
BOOST_DESCRIBE_STRUCT(mfa_disabled, (), (account_id, disabled_at))

/// One recovery code was spent (it can never be used again).
struct recovery_code_used {
  std::string account_id;
  std::string code_hash;
  timestamp used_at;
  std::string data_subject() const { return "account:" + account_id; }
  bool operator==(const recovery_code_used&) const = default;
};
BOOST_DESCRIBE_STRUCT(recovery_code_used, (), (account_id, code_hash, used_at))

/// A session was started for the account (audit). `method`: password, password+totp,
/// password+recovery-code, oidc.
struct signed_in {
  std::string account_id;
  std::string session_id;
  std::string method;
  personal ip_address;
  personal user_agent;
  timestamp signed_in_at;
  std::string data_subject() const { return "account:" + account_id; }
  bool operator==(const signed_in&) const = default;
};
BOOST_DESCRIBE_STRUCT(signed_in, (), (account_id, session_id, method, ip_address, user_agent, signed_in_at))

/// A sign-in to an existing account was refused (audit). `reason`: password, mfa-code,
/// rate-limited.
struct sign_in_failed {
  std::string account_id;
  std::string reason;
  personal ip_address;
  timestamp failed_at;
  std::string data_subject() const { return "account:" + account_id; }
  bool operator==(const sign_in_failed&) const = default;
};
BOOST_DESCRIBE_STRUCT(sign_in_failed, (), (account_id, reason, ip_address, failed_at))

/// A session of the account ended before its expiry (audit). `reason`: sign-out, revoked,
/// password-reset.
struct session_revoked {
  std::string account_id;
  std::string session_id;  // "*" for every session of the account
  std::string reason;
  timestamp revoked_at;
  std::string data_subject() const { return "account:" + account_id; }
  bool operator==(const session_revoked&) const = default;
};
BOOST_DESCRIBE_STRUCT(session_revoked, (), (account_id, session_id, reason, revoked_at))

}  // namespace coachd

COACHD_EVENT_META(coachd::account_registered, "AccountRegistered", 1, "/coachd/account")
COACHD_EVENT_META(coachd::email_verified, "EmailVerified", 1, "/coachd/account")
COACHD_EVENT_META(coachd::password_changed, "PasswordChanged", 1, "/coachd/account")
COACHD_EVENT_META(coachd::password_reset_requested, "PasswordResetRequested", 1, "/coachd/account")
COACHD_EVENT_META(coachd::mfa_enabled, "MfaEnabled", 1, "/coachd/account")
COACHD_EVENT_META(coachd::mfa_disabled, "MfaDisabled", 1, "/coachd/account")
COACHD_EVENT_META(coachd::recovery_code_used, "RecoveryCodeUsed", 1, "/coachd/account")
COACHD_EVENT_META(coachd::signed_in, "SignedIn", 1, "/coachd/account")
COACHD_EVENT_META(coachd::sign_in_failed, "SignInFailed", 1, "/coachd/account")
COACHD_EVENT_META(coachd::session_revoked, "SessionRevoked", 1, "/coachd/account")
