#pragma once
/// Events of the client aggregate: a coach's client and their profile.

#include <boost/describe/class.hpp>
#include <optional>
#include <string>

#include "events/event_meta.hpp"
#include "events/personal.hpp"
#include "events/time.hpp"

namespace coachd {

/// A coach has a new client, with the profile the coach sees.
struct client_profile_created {
  std::string client_id;
  std::string coach_id;
  std::string account_id;
  std::optional<std::string> intake_id;  // the intake it came from, if any
  personal name;
  personal email;
  std::optional<personal> phone;
  personal goals;
  timestamp created_at;
  /// The client's personal data is sealed with their account's key: one person, one key.
  std::string data_subject() const { return "account:" + account_id; }
  bool operator==(const client_profile_created&) const = default;
};
BOOST_DESCRIBE_STRUCT(client_profile_created, (),
                      (client_id, coach_id, account_id, intake_id, name, email, phone, goals,
                       created_at))

}  // namespace coachd

COACHD_EVENT_META(coachd::client_profile_created, "ClientProfileCreated", 1, "/coachd/client")
