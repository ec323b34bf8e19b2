#pragma once
/// Events of the account aggregate, whose stream is keyed by the normalized e-mail address
/// (hashed, so the address itself never appears in a stream id): one account per address.

#include <boost/describe/class.hpp>
#include <optional>
#include <string>

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

}  // namespace coachd

COACHD_EVENT_META(coachd::account_registered, "AccountRegistered", 1, "/coachd/account")
