#pragma once
/// The identity read models: what sign-in checks besides the `accounts` row (password hash as
/// last changed, e-mail verified, TOTP secret and unused recovery-code hashes; table
/// `account_credentials`) and the security audit trail (table `audit_events`), both from the
/// account events.

#include "projections/projector.hpp"

namespace coachd {

class identity_projector final : public projector {
 public:
  std::string name() const override { return "identity"; }
  std::vector<std::string> tables() const override {
    return {"account_credentials", "audit_events"};
  }
  std::vector<std::string> query_only_indexes() const override {
    return {"audit_events_by_time", "audit_events_by_account", "audit_events_by_type"};
  }
  void prepare(pqxx::connection_base& connection) override;
  void apply(pqxx::work& tx, const stored_event& stored, const domain_event& event) override;
  bool handles(std::string_view type) const override {
    return is_one_of<account_registered, email_verified, password_changed, password_reset_requested,
                     mfa_enabled, mfa_disabled, recovery_code_used, signed_in, sign_in_failed,
                     session_revoked>(type);
  }
};

}  // namespace coachd
