#pragma once
/// The configuration every end-to-end test starts coachd with: loopback on any free port, the
/// test's own database, the PostgreSQL log with 4 partitions, and mail written as files into a
/// directory of its own (named after the database, so parallel suites never share one).
/// Header-only: only the e2e tests, which link coachd_gateway, include it.

#include <filesystem>

#include "gateway/app.hpp"
#include "tests/support/pg_test_db.hpp"

namespace coachd::test {

inline std::filesystem::path mail_dir_for(const test_database& db) {
  return std::filesystem::temp_directory_path() / ("coachd-mail-" + db.name());
}

inline gateway::app_config e2e_config(const test_database& db, const std::filesystem::path& mail_dir) {
  gateway::app_config config;
  config.listen = "127.0.0.1:0";
  config.pg = db.conninfo();
  config.event_log = "postgres";
  config.partitions = 4;
  config.mail_dir = mail_dir.string();
  return config;
}

}  // namespace coachd::test
