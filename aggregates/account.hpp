#pragma once
/// The account aggregate, keyed by the normalized e-mail address: it alone decides whether an
/// address may get an account, so there is exactly one account per address.

#include <boost/describe/class.hpp>
#include <optional>
#include <set>
#include <string>
#include <type_traits>
#include <vector>

#include "aggregates/decision.hpp"
#include "events/account_events.hpp"

namespace coachd {

/// Stream id of the account for an address, given the address's keyed hash (see
/// infra/crypto.hpp email_key): the address itself never appears in a stream id.
std::string account_stream(std::string_view email_hash);

/// Registers an account for an address (sign-up, onboarding, demo seeding).
struct register_account {
  std::string account_id;
  std::string role;  // coach | client | admin
  std::string email;  // normalized
  std::string display_name;
  std::optional<std::string> password_hash;
  timestamp at;
};

/// Marks the address verified (the sign-up link was used); a second use changes nothing.
struct verify_email {
  std::string account_id;
  timestamp at;
};

/// Replaces the password hash (the gateway has checked the old password or the reset token).
struct change_password {
  std::string account_id;
  std::string password_hash;
  std::string reason;  // change | reset
  timestamp at;
};

/// Records that a reset link was requested for the account.
struct request_password_reset {
  std::string account_id;
  std::string ip_address;
  timestamp at;
};

/// Turns TOTP on (the gateway has checked a code against the secret).
struct enable_mfa {
  std::string account_id;
  std::string totp_secret;
  std::vector<std::string> recovery_code_hashes;
  timestamp at;
};

/// Turns TOTP off (the gateway has checked a fresh code).
struct disable_mfa {
  std::string account_id;
  timestamp at;
};

/// Spends a recovery code; refused when it is not one of the account's unused codes, so a
/// code works once even when two sign-ins race with it.
struct use_recovery_code {
  std::string account_id;
  std::string code_hash;
  timestamp at;
};

/// Audit: a session was started.
struct record_sign_in {
  std::string account_id, session_id, method, ip_address, user_agent;
  timestamp at;
};

/// Audit: a sign-in to this account was refused.
struct record_sign_in_failure {
  std::string account_id, reason, ip_address;
  timestamp at;
};

/// Audit: a session ended before its expiry.
struct record_session_revoked {
  std::string account_id, session_id, reason;
  timestamp at;
};

/// The account commands besides register_account (command routing uses it).
template <typename T>
inline constexpr bool is_account_security_command =
    std::is_same_v<T, verify_email> || std::is_same_v<T, change_password> ||
    std::is_same_v<T, request_password_reset> || std::is_same_v<T, enable_mfa> || std::is_same_v<T, disable_mfa> ||
    std::is_same_v<T, use_recovery_code> || std::is_same_v<T, record_sign_in> ||
    std::is_same_v<T, record_sign_in_failure> || std::is_same_v<T, record_session_revoked>;

/// What an account's decisions depend on.
struct account_state {
  bool exists = false;
  std::string account_id;
  std::string role;
  bool email_verified = false;
  bool mfa_enabled = false;
  std::set<std::string> unused_recovery_codes;  // hashes
};
BOOST_DESCRIBE_STRUCT(account_state, (),
                      (exists, account_id, role, email_verified, mfa_enabled, unused_recovery_codes))

namespace account {
decision decide(const register_account& c, const account_state& s);
decision decide(const verify_email& c, const account_state& s);
decision decide(const change_password& c, const account_state& s);
decision decide(const request_password_reset& c, const account_state& s);
decision decide(const enable_mfa& c, const account_state& s);
decision decide(const disable_mfa& c, const account_state& s);
decision decide(const use_recovery_code& c, const account_state& s);
decision decide(const record_sign_in& c, const account_state& s);
decision decide(const record_sign_in_failure& c, const account_state& s);
decision decide(const record_session_revoked& c, const account_state& s);

void evolve(account_state& s, const account_registered& e);
void evolve(account_state& s, const email_verified& e);
void evolve(account_state& s, const mfa_enabled& e);
void evolve(account_state& s, const mfa_disabled& e);
void evolve(account_state& s, const recovery_code_used& e);
/// Events that change nothing the account decides on (audit records, password hashes).
template <typename E>
void evolve(account_state&, const E&) {}
}  // namespace account

}  // namespace coachd
