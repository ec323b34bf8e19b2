#pragma once
/// Who may see what, declared per route (route_spec::scope) and proved by
/// tests/e2e/authorization_matrix_e2etest.cpp, which fails for any registered route without a
/// declaration. Route groups declare their routes' scopes where they register them; this
/// fills in the scopes of the groups registered before scopes existed (system, intake, client).

#include "gateway/router.hpp"

namespace coachd::gateway {

/// Declares the scopes of the core routes that were registered without one (a route that
/// already has a scope is left alone; a missing route is skipped).
void declare_core_route_scopes(router& r);

}  // namespace coachd::gateway
