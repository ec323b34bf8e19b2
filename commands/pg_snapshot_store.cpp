#include "commands/pg_snapshot_store.hpp"

#include <charconv>

namespace coachd {

namespace {

// command_snapshots.data of a chunked snapshot: "chunks:<count>". Snapshots of earlier formats
// hold their whole JSON text there and are read as unusable (the processor then rebuilds).
constexpr std::string_view chunked_prefix = "chunks:";

}  // namespace

pg_snapshot_store::pg_snapshot_store(std::string conninfo, std::string log_name)
    : conninfo_(std::move(conninfo)), log_name_(std::move(log_name)) {
  std::lock_guard lock(mutex_);
  pqxx::work tx(connection());
  tx.exec("SELECT pg_advisory_xact_lock(740615003)");
  tx.exec(
      "CREATE TABLE IF NOT EXISTS command_snapshots (log text NOT NULL, partition integer NOT "
      "NULL, "
      "position bigint NOT NULL, taken_at timestamptz NOT NULL DEFAULT now(), data text NOT NULL, "
      "PRIMARY KEY (log, partition))");
  // Chunks are stored as they are (binary, mostly sealed bytes that do not compress).
  tx.exec(
      "CREATE TABLE IF NOT EXISTS command_snapshot_chunks (log text NOT NULL, partition integer "
      "NOT NULL, "
      "chunk integer NOT NULL, data bytea NOT NULL, PRIMARY KEY (log, partition, chunk))");
  tx.exec("ALTER TABLE command_snapshot_chunks ALTER COLUMN data SET STORAGE EXTERNAL");
  tx.commit();
}

pqxx::connection& pg_snapshot_store::connection() {
  if (!connection_ || !connection_->is_open()) connection_.emplace(conninfo_);
  return *connection_;
}

std::optional<std::int64_t> pg_snapshot_store::load(
    int partition, const std::function<bool(std::string_view)>& on_chunk) {
  std::int64_t position = 0;
  int chunks = -1;
  {
    std::lock_guard lock(mutex_);
    pqxx::read_transaction tx(connection());
    auto rows = tx.exec_params(
        "SELECT position, data FROM command_snapshots WHERE log = $1 AND partition = $2", log_name_,
        partition);
    if (rows.empty()) return std::nullopt;
    position = rows[0][0].as<std::int64_t>();
    const std::string_view data(rows[0][1].c_str(), rows[0][1].size());
    if (data.starts_with(chunked_prefix)) {
      const auto count = data.substr(chunked_prefix.size());
      int n = 0;
      const auto [end, ec] = std::from_chars(count.data(), count.data() + count.size(), n);
      if (ec == std::errc() && end == count.data() + count.size() && n >= 0) chunks = n;
    }
  }
  if (chunks < 0) {
    on_chunk({});  // not a chunked snapshot: the decoder refuses it
    return position;
  }
  // A save that replaced this snapshot between two chunk reads would mix two snapshots; the
  // chunks carry their index and the decoder refuses what does not fit, and only this
  // partition's owner saves it.
  for (int chunk = 0; chunk < chunks; ++chunk) {
    std::string bytes;
    {
      std::lock_guard lock(mutex_);
      pqxx::read_transaction tx(connection());
      auto rows = tx.exec_params(
          "SELECT data FROM command_snapshot_chunks WHERE log = $1 AND partition = $2 AND chunk = "
          "$3",
          log_name_, partition, chunk);
      if (rows.empty()) {
        bytes.clear();
      } else {
        const pqxx::binarystring data(rows[0][0]);
        bytes.assign(data.get(), data.size());
      }
    }
    if (!on_chunk(bytes)) break;
  }
  return position;
}

void pg_snapshot_store::save(const partition_snapshot& snapshot) {
  std::lock_guard lock(mutex_);
  pqxx::work tx(connection());
  tx.exec_params("DELETE FROM command_snapshot_chunks WHERE log = $1 AND partition = $2", log_name_,
                 snapshot.partition);
  for (std::size_t i = 0; i < snapshot.chunks.size(); ++i) {
    const auto& chunk = snapshot.chunks[i];
    tx.exec_params(
        "INSERT INTO command_snapshot_chunks (log, partition, chunk, data) VALUES ($1, $2, $3, $4)",
        log_name_, snapshot.partition, static_cast<int>(i),
        pqxx::binarystring(chunk.data(), chunk.size()));
  }
  tx.exec_params(
      "INSERT INTO command_snapshots (log, partition, position, data) VALUES ($1, $2, $3, $4) "
      "ON CONFLICT (log, partition) DO UPDATE SET position = EXCLUDED.position, data = "
      "EXCLUDED.data, "
      "taken_at = now()",
      log_name_, snapshot.partition, snapshot.position,
      std::string(chunked_prefix) + std::to_string(snapshot.chunks.size()));
  tx.commit();
}

}  // namespace coachd
