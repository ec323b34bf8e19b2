#pragma once
/// Every event type coachd knows, as one variant.

#include <string_view>
#include <variant>
#include <vector>

#include "events/account_events.hpp"
#include "events/client_events.hpp"
#include "events/intake_events.hpp"
#include "events/schedule_events.hpp"

namespace coachd {

/// Any domain event. Adding a type here (with its COACHD_EVENT_META) is all the codec needs.
using domain_event =
    std::variant<intake_submitted, intake_accepted, intake_declined, account_registered,
                 email_verified, password_changed, password_reset_requested, mfa_enabled,
                 mfa_disabled, recovery_code_used, signed_in, sign_in_failed, session_revoked,
                 client_profile_created,
                 // the coach schedule
                 availability_set, session_type_defined, slot_held, session_booked,
                 session_rescheduled, session_cancelled, session_confirmed, session_completed,
                 session_no_show_marked>;

/// The CloudEvents type of an event ("IntakeSubmitted").
std::string_view event_type_name(const domain_event& e);

/// The CloudEvents type of every event in domain_event, in its order.
std::vector<std::string_view> all_event_types();

}  // namespace coachd
