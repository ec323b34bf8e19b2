#pragma once
/// The client aggregate: one coach's client and the profile the coach keeps.

#include <boost/describe/class.hpp>
#include <optional>
#include <string>

#include "aggregates/decision.hpp"
#include "events/client_events.hpp"

namespace coachd {

/// Stream id of a client.
std::string client_stream(std::string_view client_id);

/// Creates a client profile (onboarding after an accepted intake, or a coach adding a client).
struct create_client_profile {
  std::string client_id;
  std::string coach_id;
  std::string account_id;
  std::optional<std::string> intake_id;
  std::string name;
  std::string email;
  std::optional<std::string> phone;
  std::string goals;
  timestamp at;
};

/// What a client's decisions depend on.
struct client_state {
  bool exists = false;
  std::string client_id;
  std::string coach_id;
  std::string account_id;
};
BOOST_DESCRIBE_STRUCT(client_state, (), (exists, client_id, coach_id, account_id))

namespace client {
decision decide(const create_client_profile& c, const client_state& s);
void evolve(client_state& s, const client_profile_created& e);
}  // namespace client

}  // namespace coachd
