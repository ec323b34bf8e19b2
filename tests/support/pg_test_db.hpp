#pragma once
/// A throw-away PostgreSQL database for one test suite, on the cluster that scripts/test
/// started (COACHD_TEST_PG holds its libpq connection string, without dbname).

#include <string>

namespace coachd::test {

/// The server's connection string (COACHD_TEST_PG); throws if it is not set.
std::string test_server_conninfo();

/// Creates a fresh database with a unique name and drops it (terminating its connections)
/// when destroyed, so parallel suites never share state and nothing is left behind.
class test_database {
 public:
  test_database();
  ~test_database();
  test_database(const test_database&) = delete;
  test_database& operator=(const test_database&) = delete;

  /// Connection string for this database.
  const std::string& conninfo() const { return conninfo_; }
  const std::string& name() const { return name_; }

 private:
  std::string name_;
  std::string conninfo_;
};

}  // namespace coachd::test
