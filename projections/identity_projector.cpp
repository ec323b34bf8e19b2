#include "projections/identity_projector.hpp"

#include <boost/json.hpp>
#include <pqxx/pqxx>

namespace coachd {

namespace {

template <typename... F>
struct overloaded : F... {
  using F::operator()...;
};

std::string text_of(const personal& p) { return p.erased ? std::string() : p.value; }

}  // namespace

void identity_projector::prepare(pqxx::connection_base& connection) {
  connection.prepare("identity_registered",
                     "INSERT INTO account_credentials (account_id, password_hash, updated_at) VALUES ($1, $2, $3) "
                     "ON CONFLICT (account_id) DO NOTHING");
  connection.prepare("identity_password",
                     "UPDATE account_credentials SET password_hash = $2, updated_at = $3 WHERE account_id = $1");
  connection.prepare("identity_verified",
                     "UPDATE account_credentials SET email_verified = true, updated_at = $2 WHERE account_id = $1");
  connection.prepare("identity_mfa_on",
                     "UPDATE account_credentials SET mfa_enabled = true, totp_secret = $2, recovery_codes = $3, "
                     "updated_at = $4 WHERE account_id = $1");
  connection.prepare("identity_mfa_off",
                     "UPDATE account_credentials SET mfa_enabled = false, totp_secret = NULL, recovery_codes = '{}', "
                     "updated_at = $2 WHERE account_id = $1");
  connection.prepare("identity_code_used",
                     "UPDATE account_credentials SET recovery_codes = array_remove(recovery_codes, $2), "
                     "updated_at = $3 WHERE account_id = $1");
  connection.prepare("identity_audit",
                     "INSERT INTO audit_events (event_id, type, account_id, occurred_at, partition, log_offset, "
                     "details) VALUES ($1, $2, $3, $4, $5, $6, $7::jsonb) ON CONFLICT (event_id) DO NOTHING");
}

void identity_projector::apply(pqxx::work& tx, const stored_event& stored, const domain_event& event) {
  namespace json = boost::json;
  auto audit = [&](const std::string& account_id, timestamp at, json::object details) {
    tx.exec_prepared("identity_audit", stored.envelope.id, stored.envelope.type, account_id, format_rfc3339(at),
                     stored.partition, stored.offset, json::serialize(details));
  };
  std::visit(
      overloaded{
          [&](const account_registered& e) {
            std::optional<std::string> hash;
            if (e.password_hash && !e.password_hash->erased) hash = e.password_hash->value;
            tx.exec_prepared("identity_registered", e.account_id, hash, format_rfc3339(e.registered_at));
            audit(e.account_id, e.registered_at, {{"role", e.role}, {"with_password", e.password_hash.has_value()}});
          },
          [&](const email_verified& e) {
            tx.exec_prepared("identity_verified", e.account_id, format_rfc3339(e.verified_at));
            audit(e.account_id, e.verified_at, {});
          },
          [&](const password_changed& e) {
            std::optional<std::string> hash;
            if (!e.password_hash.erased) hash = e.password_hash.value;
            tx.exec_prepared("identity_password", e.account_id, hash, format_rfc3339(e.changed_at));
            audit(e.account_id, e.changed_at, {{"reason", e.reason}});
          },
          [&](const password_reset_requested& e) {
            audit(e.account_id, e.requested_at, {{"ip_address", text_of(e.ip_address)}});
          },
          [&](const mfa_enabled& e) {
            std::optional<std::string> secret;
            if (!e.totp_secret.erased) secret = e.totp_secret.value;
            std::string codes = "{";
            for (std::size_t i = 0; i < e.recovery_code_hashes.size(); ++i) {
              if (i > 0) codes += ',';
              codes += e.recovery_code_hashes[i];  // lowercase hex: no quoting needed
            }
            codes += '}';
            tx.exec_prepared("identity_mfa_on", e.account_id, secret, codes, format_rfc3339(e.enabled_at));
            audit(e.account_id, e.enabled_at, {{"recovery_codes", e.recovery_code_hashes.size()}});
          },
          [&](const mfa_disabled& e) {
            tx.exec_prepared("identity_mfa_off", e.account_id, format_rfc3339(e.disabled_at));
            audit(e.account_id, e.disabled_at, {});
          },
          [&](const recovery_code_used& e) {
            tx.exec_prepared("identity_code_used", e.account_id, e.code_hash, format_rfc3339(e.used_at));
            audit(e.account_id, e.used_at, {});
          },
          [&](const signed_in& e) {
            audit(e.account_id, e.signed_in_at,
                  {{"session_id", e.session_id},
                   {"method", e.method},
                   {"ip_address", text_of(e.ip_address)},
                   {"user_agent", text_of(e.user_agent)}});
          },
          [&](const sign_in_failed& e) {
            audit(e.account_id, e.failed_at, {{"reason", e.reason}, {"ip_address", text_of(e.ip_address)}});
          },
          [&](const session_revoked& e) {
            audit(e.account_id, e.revoked_at, {{"session_id", e.session_id}, {"reason", e.reason}});
          },
          [](const auto&) {},
      },
      event);
}

}  // namespace coachd
