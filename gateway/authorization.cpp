#include "gateway/authorization.hpp"

#include <utility>

namespace coachd::gateway {

void declare_core_route_scopes(router& r) {
  // (route name, scope): what each core handler already enforces.
  static const std::pair<const char*, const char*> core[] = {
      {"healthz", "public"},
      {"readyz", "public"},
      {"metrics", "public"},
      {"openapi", "public"},
      {"submitIntake", "public"},       // a coach's public form: anyone may submit
      {"listIntakes", "caller"},        // the calling coach's intakes only
      {"getIntake", "intake:id"},       // another coach's intake: 404
      {"acceptIntake", "intake:id"},
      {"declineIntake", "intake:id"},
      {"listClients", "caller"},        // the calling coach's clients only
      {"getClient", "client:id"},       // another coach's client: 404
  };
  for (const auto& spec : r.routes()) {
    if (!spec.scope.empty()) continue;
    for (const auto& [name, scope] : core) {
      if (spec.name == name) r.set_scope(name, scope);
    }
  }
}

}  // namespace coachd::gateway
