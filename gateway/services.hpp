#pragma once
/// What the route handlers share: configuration and the running parts of coachd.

#include <chrono>
#include <map>
#include <string>

#include "commands/processor.hpp"
#include "events/event_log.hpp"
#include "infra/metrics.hpp"
#include "infra/pg_async.hpp"
#include "infra/pg_pool.hpp"
#include "projections/runner.hpp"

namespace coachd::gateway {

class session_cache;

/// Settings the handlers read.
struct gateway_settings {
  bool secure_cookies = true;  // off only for loopback development
  std::chrono::hours session_absolute{24 * 14};
  std::chrono::minutes session_idle{60 * 24 * 2};
  std::chrono::milliseconds consistency_wait{2000};
  std::chrono::milliseconds readiness_max_lag{5000};
  std::string portal_url = "http://127.0.0.1:8080";
};

/// The running parts handlers use. Owned by the app; handlers hold references.
struct services {
  gateway_settings settings;
  event_log* log = nullptr;
  pg_pool* pool = nullptr;     // blocking work: transactions, several statements
  pg_async_pool* reads = nullptr;  // single-statement reads on the I/O threads (infra/pg_async.hpp)
  command_processor* processor = nullptr;
  std::map<std::string, projection_runner*, std::less<>> runners;  // by projector name
  std::string email_key;  // secret for turning addresses into account stream ids
  metrics::registry* metrics = nullptr;
  session_cache* sessions = nullptr;  // sessions checked recently (optional)
};

}  // namespace coachd::gateway
