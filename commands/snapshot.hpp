#pragma once
/// Snapshots of the command processor's in-memory state: each partition's streams (state and
/// version) and its remembered derived command ids at a log position, so a restart reads only
/// the events after it. Personal fields are sealed with their subject's key, as in events, so a
/// snapshot holds no personal data in clear and erasure reaches it too.

#include <cstdint>
#include <optional>
#include <string>
#include <unordered_map>

#include "commands/handler.hpp"
#include "events/pii.hpp"

namespace coachd {

/// One stored snapshot: its partition, the log position it covers up to (the next offset to
/// read after it) and its encoded contents.
struct partition_snapshot {
  int partition = 0;
  std::int64_t position = 0;
  std::string data;
};

/// Where snapshots are kept (infra/pg_snapshot_store implements it in PostgreSQL).
class snapshot_store {
 public:
  virtual ~snapshot_store() = default;
  virtual std::optional<partition_snapshot> load(int partition) = 0;
  /// Replaces the partition's snapshot.
  virtual void save(const partition_snapshot& snapshot) = 0;
};

/// A stream as the processor holds it.
struct stream_snapshot {
  aggregate_state state;
  std::int64_t version = 0;
};

/// What a remembered derived command answered.
struct remembered_command {
  std::string stream;
  std::int64_t stream_version = 0;
  std::int64_t offset = -1;
  std::string fingerprint;  // of the request that carried the Idempotency-Key (may be empty)
};

/// The decoded contents of a partition snapshot.
struct partition_state {
  std::unordered_map<std::string, stream_snapshot> streams;
  std::unordered_map<std::string, remembered_command> remembered;
};

/// Whether every aggregate state type can be snapshotted (is described with Boost.Describe).
/// When not, the processor rebuilds from the log alone.
bool snapshots_supported();

/// Encodes a partition's state; personal fields are sealed with key_for_write of each state's
/// data subject (erased values stay erased).
std::string encode_partition_state(const partition_state& state, key_provider& keys);

/// Decodes a snapshot; nullopt when it was written by a build with other state shapes (its
/// fingerprint differs) or is damaged — the caller then rebuilds from the log.
std::optional<partition_state> decode_partition_state(const std::string& data, key_provider& keys);

}  // namespace coachd
