#include "aggregates/account.hpp"

namespace coachd {

std::string account_stream(std::string_view email_hash) {
  return "account-" + std::string(email_hash);
}

namespace account {

decision decide(const register_account& c, const account_state& s) {
  if (s.exists) {
    return make_error(errc::conflict, "an account with this e-mail address already exists",
                      {"email"}, "email-taken");
  }
  if (c.role != "coach" && c.role != "client" && c.role != "admin") {
    return make_error(errc::invalid, "role must be coach, client or admin", {"role"});
  }
  std::optional<personal> hash;
  if (c.password_hash) hash = personal{*c.password_hash};
  return std::vector<domain_event>{account_registered{c.account_id, c.role, personal{c.email},
                                                      personal{c.display_name}, hash, c.at}};
}

namespace {

/// The account named by a command exists in this stream.
std::optional<error> check_account(const account_state& s, const std::string& account_id) {
  if (!s.exists || s.account_id != account_id) {
    return make_error(errc::not_found, "account '" + account_id + "' does not exist", {}, "no-account");
  }
  return std::nullopt;
}

}  // namespace

decision decide(const verify_email& c, const account_state& s) {
  if (auto e = check_account(s, c.account_id)) return *e;
  if (s.email_verified) return std::vector<domain_event>{};
  return std::vector<domain_event>{email_verified{c.account_id, c.at}};
}

decision decide(const change_password& c, const account_state& s) {
  if (auto e = check_account(s, c.account_id)) return *e;
  if (c.reason != "change" && c.reason != "reset") {
    return make_error(errc::invalid, "reason must be change or reset", {"reason"});
  }
  return std::vector<domain_event>{password_changed{c.account_id, personal{c.password_hash}, c.reason, c.at}};
}

decision decide(const request_password_reset& c, const account_state& s) {
  if (auto e = check_account(s, c.account_id)) return *e;
  return std::vector<domain_event>{password_reset_requested{c.account_id, personal{c.ip_address}, c.at}};
}

decision decide(const enable_mfa& c, const account_state& s) {
  if (auto e = check_account(s, c.account_id)) return *e;
  if (s.mfa_enabled) {
    return make_error(errc::conflict, "two-factor authentication is already on", {}, "mfa-enabled");
  }
  if (c.totp_secret.empty()) return make_error(errc::invalid, "the TOTP secret is empty", {"totp_secret"});
  return std::vector<domain_event>{
      mfa_enabled{c.account_id, personal{c.totp_secret}, c.recovery_code_hashes, c.at}};
}

decision decide(const disable_mfa& c, const account_state& s) {
  if (auto e = check_account(s, c.account_id)) return *e;
  if (!s.mfa_enabled) {
    return make_error(errc::conflict, "two-factor authentication is not on", {}, "mfa-disabled");
  }
  return std::vector<domain_event>{mfa_disabled{c.account_id, c.at}};
}

decision decide(const use_recovery_code& c, const account_state& s) {
  if (auto e = check_account(s, c.account_id)) return *e;
  if (!s.mfa_enabled || s.unused_recovery_codes.count(c.code_hash) == 0) {
    return make_error(errc::unauthenticated, "the recovery code is not valid or was used already",
                      {"recovery_code"}, "recovery-code-invalid");
  }
  return std::vector<domain_event>{recovery_code_used{c.account_id, c.code_hash, c.at}};
}

decision decide(const record_sign_in& c, const account_state& s) {
  if (auto e = check_account(s, c.account_id)) return *e;
  return std::vector<domain_event>{
      signed_in{c.account_id, c.session_id, c.method, personal{c.ip_address}, personal{c.user_agent}, c.at}};
}

decision decide(const record_sign_in_failure& c, const account_state& s) {
  if (auto e = check_account(s, c.account_id)) return *e;
  return std::vector<domain_event>{sign_in_failed{c.account_id, c.reason, personal{c.ip_address}, c.at}};
}

decision decide(const record_session_revoked& c, const account_state& s) {
  if (auto e = check_account(s, c.account_id)) return *e;
  return std::vector<domain_event>{session_revoked{c.account_id, c.session_id, c.reason, c.at}};
}

void evolve(account_state& s, const email_verified&) { s.email_verified = true; }

void evolve(account_state& s, const mfa_enabled& e) {
  s.mfa_enabled = true;
  s.unused_recovery_codes = std::set<std::string>(e.recovery_code_hashes.begin(), e.recovery_code_hashes.end());
}

void evolve(account_state& s, const mfa_disabled&) {
  s.mfa_enabled = false;
  s.unused_recovery_codes.clear();
}

void evolve(account_state& s, const recovery_code_used& e) { s.unused_recovery_codes.erase(e.code_hash); }

void evolve(account_state& s, const account_registered& e) {
  s.exists = true;
  s.account_id = e.account_id;
  s.role = e.role;
}

}  // namespace account
}  // namespace coachd
