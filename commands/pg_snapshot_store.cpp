#include "commands/pg_snapshot_store.hpp"

#include <libpq-fe.h>

#include <charconv>
#include <stdexcept>

namespace coachd {

namespace {

// command_snapshots.data of a chunked snapshot: "chunks:<count>". Snapshots of earlier formats
// hold their whole JSON text there and are read as unusable (the processor then rebuilds).
constexpr std::string_view chunked_prefix = "chunks:";

}  // namespace

/// Reads chunks with libpq's binary result format: half the bytes of pqxx's hex text, and no
/// decoding pass (a million streams make some 300 MB of chunks).
struct pg_snapshot_store::chunk_reader {
  PGconn* conn = nullptr;

  explicit chunk_reader(const std::string& conninfo) : conn(PQconnectdb(conninfo.c_str())) {
    if (PQstatus(conn) != CONNECTION_OK) {
      const std::string why = PQerrorMessage(conn);
      PQfinish(conn);
      throw std::runtime_error("snapshot store: cannot connect: " + why);
    }
  }
  ~chunk_reader() { PQfinish(conn); }
  chunk_reader(const chunk_reader&) = delete;
  chunk_reader& operator=(const chunk_reader&) = delete;

  using result = std::unique_ptr<PGresult, decltype(&PQclear)>;

  /// The chunk's row (data in binary), or a result without rows when it does not exist.
  result read(const std::string& log, int partition, int chunk) {
    const std::string partition_text = std::to_string(partition),
                      chunk_text = std::to_string(chunk);
    const char* values[] = {log.c_str(), partition_text.c_str(), chunk_text.c_str()};
    result r(
        PQexecParams(
            conn,
            "SELECT data FROM command_snapshot_chunks WHERE log = $1 AND partition = $2::integer "
            "AND chunk = $3::integer",
            3, nullptr, values, nullptr, nullptr, /*binary results*/ 1),
        &PQclear);
    if (PQresultStatus(r.get()) != PGRES_TUPLES_OK) {
      throw std::runtime_error(std::string("snapshot store: reading a chunk failed: ") +
                               PQerrorMessage(conn));
    }
    return r;
  }
};

pg_snapshot_store::~pg_snapshot_store() = default;

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
    chunk_reader::result row(nullptr, &PQclear);
    {
      std::lock_guard lock(mutex_);
      if (!chunk_reader_ || PQstatus(chunk_reader_->conn) != CONNECTION_OK) {
        chunk_reader_.reset();
        chunk_reader_ = std::make_unique<chunk_reader>(conninfo_);
      }
      row = chunk_reader_->read(log_name_, partition, chunk);
    }
    // The result outlives the lock: decoding runs while other partitions read their chunks.
    const std::string_view bytes =
        PQntuples(row.get()) == 0
            ? std::string_view()
            : std::string_view(PQgetvalue(row.get(), 0, 0),
                               static_cast<std::size_t>(PQgetlength(row.get(), 0, 0)));
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
