#pragma once
/// Command-processor snapshots in PostgreSQL: one row per (log, partition) in command_snapshots
/// (its position and chunk count), its chunks in command_snapshot_chunks; a save replaces both
/// in one transaction.

#include <memory>
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
  /// Reads one chunk at a time on the store's connection; `on_chunk` runs without holding it,
  /// so partitions loading side by side decode side by side.
  std::optional<std::int64_t> load(
      int partition, const std::function<bool(std::string_view chunk)>& on_chunk) override;
  void save(const partition_snapshot& snapshot) override;

  ~pg_snapshot_store() override;

 private:
  struct chunk_reader;  // libpq directly: chunks arrive in binary (pqxx 6 reads bytea as hex text)

  std::string conninfo_;
  std::string log_name_;
  std::mutex mutex_;
  std::optional<pqxx::connection> connection_;
  std::unique_ptr<chunk_reader> chunk_reader_;
  pqxx::connection& connection();
};

}  // namespace coachd
