#include "tests/support/pg_test_db.hpp"

#include <sodium.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <pqxx/pqxx>
#include <stdexcept>

namespace coachd::test {

std::string test_server_conninfo() {
  const char* env = std::getenv("COACHD_TEST_PG");
  if (env == nullptr || *env == '\0') {
    throw std::runtime_error(
        "COACHD_TEST_PG is not set: run the tests through scripts/test, or export a libpq "
        "connection string such as 'host=127.0.0.1 port=25433 user=postgres'");
  }
  return env;
}

test_database::test_database() {
  if (sodium_init() < 0) throw std::runtime_error("sodium_init failed");
  char suffix[17];
  std::snprintf(suffix, sizeof suffix, "%08x%08x", randombytes_random(), randombytes_random());
  name_ = "coachd_t_" + std::to_string(::getpid()) + "_" + suffix;
  const std::string server = test_server_conninfo();
  pqxx::connection admin(server + " dbname=postgres");
  pqxx::nontransaction tx(admin);
  tx.exec("CREATE DATABASE " + tx.quote_name(name_));
  conninfo_ = server + " dbname=" + name_;
}

test_database::~test_database() {
  try {
    pqxx::connection admin(test_server_conninfo() + " dbname=postgres");
    pqxx::nontransaction tx(admin);
    tx.exec("DROP DATABASE IF EXISTS " + tx.quote_name(name_) + " WITH (FORCE)");
  } catch (const std::exception& e) {
    std::fprintf(stderr, "test_database: could not drop %s: %s\n", name_.c_str(), e.what());
  }
}

}  // namespace coachd::test
