#include "projections/migrations.hpp"

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <pqxx/pqxx>
#include <sstream>
#include <stdexcept>

namespace coachd {

std::string migrations_dir() {
  if (const char* env = std::getenv("COACHD_MIGRATIONS_DIR"); env != nullptr && *env != '\0') return env;
  return COACHD_MIGRATIONS_DIR;
}

std::vector<std::string> apply_migrations(pqxx::connection_base& connection, const std::string& dir) {
  std::vector<std::filesystem::path> files;
  for (const auto& entry : std::filesystem::directory_iterator(dir)) {
    if (entry.path().extension() == ".sql") files.push_back(entry.path());
  }
  std::sort(files.begin(), files.end());
  std::vector<std::string> applied;
  {
    pqxx::nontransaction tx(connection);
    tx.exec("SELECT pg_advisory_lock(7406150001)");
    tx.exec(
        "CREATE TABLE IF NOT EXISTS schema_migrations (name text PRIMARY KEY, "
        "applied_at timestamptz NOT NULL DEFAULT now())");
  }
  try {
    for (const auto& file : files) {
      const std::string name = file.filename().string();
      pqxx::work tx(connection);
      if (!tx.exec_params("SELECT 1 FROM schema_migrations WHERE name = $1", name).empty()) continue;
      std::ifstream in(file);
      std::stringstream sql;
      sql << in.rdbuf();
      try {
        tx.exec(sql.str());
      } catch (const std::exception& e) {
        throw std::runtime_error("migration " + name + " failed: " + e.what());
      }
      tx.exec_params("INSERT INTO schema_migrations (name) VALUES ($1)", name);
      tx.commit();
      applied.push_back(name);
    }
  } catch (...) {
    pqxx::nontransaction tx(connection);
    tx.exec("SELECT pg_advisory_unlock(7406150001)");
    throw;
  }
  pqxx::nontransaction tx(connection);
  tx.exec("SELECT pg_advisory_unlock(7406150001)");
  return applied;
}

}  // namespace coachd
