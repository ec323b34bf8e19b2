#pragma once
/// Commands: what a caller asks of one aggregate (its stream), with the metadata every command
/// carries (id for idempotency, expected version, who and why).

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>

#include "aggregates/account.hpp"
#include "aggregates/client.hpp"
#include "aggregates/coach_schedule.hpp"
#include "aggregates/intake.hpp"

namespace coachd {

/// Every command body coachd knows.
using command_body = std::variant<submit_intake, accept_intake, decline_intake, register_account,
                                  verify_email, change_password, request_password_reset, enable_mfa,
                                  disable_mfa, use_recovery_code, record_sign_in, record_sign_in_failure,
                                  record_session_revoked,
                                  create_client_profile,
                                  // the coach schedule
                                  set_availability, define_session_type, hold_slot, book_session,
                                  reschedule_session, cancel_session, confirm_session,
                                  complete_session, mark_no_show>;

/// One command addressed to one stream.
struct command {
  /// Unique per command. Ids that are derived (from an Idempotency-Key or from the event that
  /// triggered a process manager) start with "k:" or "d:"; the processor remembers those, so
  /// a retry is answered with the first outcome and appends nothing.
  std::string id;
  std::string stream;
  std::optional<std::int64_t> expected_version;  // If-Match
  std::string actor;                             // "account:<id>", "anonymous", "system:<name>"
  std::string correlation_id;
  std::string causation_id;
  timestamp issued_at;  // the only clock aggregates see
  command_body body;
};

/// Whether a command id is derived (and so must be deduplicated), as opposed to random.
inline bool is_derived_command_id(std::string_view id) {
  return id.starts_with("k:") || id.starts_with("d:");
}

/// An Idempotency-Key id may end in ":<fingerprint>" of the request it came from ("k:<key id>:<fp>"):
/// deduplication is by the part before it, and a retry whose fingerprint differs is refused
/// (the same Idempotency-Key used for another request). Returns (dedup key, fingerprint).
inline std::pair<std::string_view, std::string_view> split_command_id(std::string_view id) {
  if (!id.starts_with("k:")) return {id, {}};
  const auto colon = id.find(':', 2);
  if (colon == std::string_view::npos) return {id, {}};
  return {id.substr(0, colon), id.substr(colon + 1)};
}

/// The command's name in the domain's words ("SubmitIntake"), for metrics and logs.
std::string_view command_name(const command_body& body);

}  // namespace coachd
