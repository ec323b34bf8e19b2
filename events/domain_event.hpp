#pragma once
/// Every event type coachd knows, as one variant.

#include <string_view>
#include <variant>

#include "events/account_events.hpp"
#include "events/client_events.hpp"
#include "events/intake_events.hpp"

namespace coachd {

/// Any domain event. Adding a type here (with its COACHD_EVENT_META) is all the codec needs.
using domain_event =
    std::variant<intake_submitted, intake_accepted, intake_declined, account_registered,
                 client_profile_created>;

/// The CloudEvents type of an event ("IntakeSubmitted").
std::string_view event_type_name(const domain_event& e);

}  // namespace coachd
