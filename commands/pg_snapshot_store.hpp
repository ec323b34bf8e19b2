#pragma once
/// Command-processor snapshots in PostgreSQL: one row per (log, partition), replaced in place.

#include <mutex>
#include <optional>
#include <pqxx/pqxx>
#include <string>

#include "commands/snapshot.hpp"

namespace coachd {

class pg_snapshot_store final : public snapshot_store {
 public:
  /// `log_name` tells snapshots of different logs (e.g. a Kafka topic) apart in one database.
  pg_snapshot_store(std::string conninfo, std::string log_name);
  std::optional<partition_snapshot> load(int partition) override;
  void save(const partition_snapshot& snapshot) override;

 private:
  std::string conninfo_;
  std::string log_name_;
  std::mutex mutex_;
  std::optional<pqxx::connection> connection_;
  pqxx::connection& connection();
};

}  // namespace coachd
