#pragma once
/// The account aggregate, keyed by the normalized e-mail address: it alone decides whether an
/// address may get an account, so there is exactly one account per address.

#include <optional>
#include <string>

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

/// What an account's decisions depend on.
struct account_state {
  bool exists = false;
  std::string account_id;
  std::string role;
};

namespace account {
decision decide(const register_account& c, const account_state& s);
void evolve(account_state& s, const account_registered& e);
}  // namespace account

}  // namespace coachd
