#include "commands/pg_snapshot_store.hpp"

namespace coachd {

pg_snapshot_store::pg_snapshot_store(std::string conninfo, std::string log_name)
    : conninfo_(std::move(conninfo)), log_name_(std::move(log_name)) {
  std::lock_guard lock(mutex_);
  pqxx::work tx(connection());
  tx.exec("SELECT pg_advisory_xact_lock(740615003)");
  tx.exec(
      "CREATE TABLE IF NOT EXISTS command_snapshots (log text NOT NULL, partition integer NOT NULL, "
      "position bigint NOT NULL, taken_at timestamptz NOT NULL DEFAULT now(), data text NOT NULL, "
      "PRIMARY KEY (log, partition))");
  tx.commit();
}

pqxx::connection& pg_snapshot_store::connection() {
  if (!connection_ || !connection_->is_open()) connection_.emplace(conninfo_);
  return *connection_;
}

std::optional<partition_snapshot> pg_snapshot_store::load(int partition) {
  std::lock_guard lock(mutex_);
  pqxx::read_transaction tx(connection());
  auto rows = tx.exec_params("SELECT position, data FROM command_snapshots WHERE log = $1 AND partition = $2",
                             log_name_, partition);
  if (rows.empty()) return std::nullopt;
  return partition_snapshot{partition, rows[0][0].as<std::int64_t>(), rows[0][1].as<std::string>()};
}

void pg_snapshot_store::save(const partition_snapshot& snapshot) {
  std::lock_guard lock(mutex_);
  pqxx::work tx(connection());
  tx.exec_params(
      "INSERT INTO command_snapshots (log, partition, position, data) VALUES ($1, $2, $3, $4) "
      "ON CONFLICT (log, partition) DO UPDATE SET position = EXCLUDED.position, data = EXCLUDED.data, "
      "taken_at = now()",
      log_name_, snapshot.partition, snapshot.position, snapshot.data);
  tx.commit();
}

}  // namespace coachd
