#pragma once
/// The route groups of the API, one file pair each (gateway/<group>_routes.cpp).

#include "gateway/router.hpp"
#include "gateway/services.hpp"

namespace coachd::gateway {

/// /healthz, /readyz, /metrics, /api/v1/openapi.json.
void add_system_routes(router& r, services& s);
/// /api/v1/auth/sign-up, sign-in, sign-out; /api/v1/me.
void add_auth_routes(router& r, services& s);
/// Public intake form; a coach's intake inbox, accept and decline.
void add_intake_routes(router& r, services& s);
/// A coach's clients.
void add_client_routes(router& r, services& s);
/// Scheduling: availability, session types, slots, holds, booking, the session lifecycle,
/// session lists, .ics, time-zone preference.
void add_schedule_routes(router& r, services& s);
/// The caller's subscribable calendar feed (create/rotate, inspect, revoke) and the feed itself.
void add_calendar_feed_routes(router& r, services& s);

/// The OpenAPI document: gateway/openapi/*.json merged ($COACHD_OPENAPI_DIR overrides the
/// directory). Throws when a fragment is unreadable or two fragments describe the same path.
std::string openapi_document();

/// Every route group, in order.
void add_all_routes(router& r, services& s);

/// The normalized identity of an e-mail address for "one account per address": trimmed and
/// lower-cased as a whole. nullopt when it is not an address.
std::optional<std::string> email_identity(std::string_view address);

/// The account stream of an address (its keyed hash, never the address itself).
std::string account_stream_for(const services& s, const std::string& identity);

}  // namespace coachd::gateway
