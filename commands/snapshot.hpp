#pragma once
/// Snapshots of the command processor's in-memory state: each partition's streams (state and
/// version) and its remembered derived command ids at a log position, so a restart reads only
/// the events after it. Personal fields are sealed with their subject's key, as in events, so a
/// snapshot holds no personal data in clear and erasure reaches it too.
///
/// Encoding (format 3): binary, in chunks of about a megabyte that each hold whole records, so
/// that neither writing nor reading ever needs the whole snapshot in memory, and a partition of
/// a million streams decodes at a few hundred thousand streams per second. Each chunk starts with
///   "coachd-snapshot-3\n" | fingerprint (sha-256 hex of every state type's shape) | snapshot id
///   (random per encoding) | log position | chunk index | last-chunk flag | stream count
/// (the id and position let a reader refuse chunks of two different saves mixed together)
/// followed by records: a stream (id, version, state alternative, the state's fields in
/// Boost.Describe order, then its personal fields sealed together, once, with its subject's key)
/// or a remembered command. Integers are LEB128 varints (signed ones zigzag-encoded).

#include <cstdint>
#include <functional>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "commands/handler.hpp"
#include "commands/remembered_commands.hpp"
#include "events/pii.hpp"

namespace coachd {

/// One snapshot to store: its partition, the log position it covers up to (the next offset to
/// read after it) and its encoded chunks, in order.
struct partition_snapshot {
  int partition = 0;
  std::int64_t position = 0;
  std::vector<std::string> chunks;
};

/// Where snapshots are kept (commands/pg_snapshot_store implements it in PostgreSQL).
class snapshot_store {
 public:
  virtual ~snapshot_store() = default;
  /// Reads the partition's snapshot chunk by chunk, handing each to `on_chunk` in order (it
  /// returns false to stop: the snapshot is unusable). Returns the snapshot's position, or
  /// nullopt when the partition has none.
  virtual std::optional<std::int64_t> load(
      int partition, const std::function<bool(std::string_view chunk)>& on_chunk) = 0;
  /// Replaces the partition's snapshot, atomically.
  virtual void save(const partition_snapshot& snapshot) = 0;
};

/// A stream as the processor holds it.
struct stream_snapshot {
  aggregate_state state;
  std::int64_t version = 0;
  /// The state's personal fields as a snapshot sealed them, when they have not been opened
  /// since the state was read from it (the fields themselves are empty until then). Starting
  /// from a snapshot so needs no key and no decryption per stream; open_personal() opens them
  /// before the state is first used.
  std::string sealed_personal{};
};

/// A snapshot's personal data that does not open with its subject's key (damage or tampering).
class snapshot_damaged : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// Opens `record`'s sealed personal fields (see stream_snapshot::sealed_personal), if any, with
/// its data subject's key; a subject erased since gets erased values. Throws snapshot_damaged.
void open_personal(stream_snapshot& record, std::string_view stream, key_provider& keys);

/// The decoded contents of a partition snapshot.
struct partition_state {
  std::unordered_map<std::string, stream_snapshot> streams;
  remembered_commands remembered;
};

/// Whether every aggregate state type can be snapshotted (is described with Boost.Describe).
/// When not, the processor rebuilds from the log alone.
bool snapshots_supported();

/// Encodes a partition's state as of log position `position` in chunks of about `chunk_bytes`;
/// personal fields are sealed with key_for_write of each state's data subject (erased values,
/// and every value of an erased subject, are stored as erased).
std::vector<std::string> encode_partition_state(const partition_state& state, std::int64_t position,
                                                key_provider& keys,
                                                std::size_t chunk_bytes = std::size_t{1} << 20);

/// Decodes a snapshot chunk by chunk (as snapshot_store::load hands them over).
class partition_state_decoder {
 public:
  /// The decoded state remembers command ids within `limits` (the processor's own). Personal
  /// fields stay sealed in each stream (see stream_snapshot::sealed_personal), so decoding
  /// needs no keys.
  explicit partition_state_decoder(remembering_limits limits = {});
  /// Decodes one chunk; false when it was written by a build with other state shapes (its
  /// fingerprint differs), is out of order or damaged — the snapshot is then unusable.
  bool add(std::string_view chunk);
  /// The state, once the last chunk was added; nullopt otherwise.
  std::optional<partition_state> finish();
  /// The log position the snapshot was taken at (once a chunk was added).
  std::int64_t position() const { return position_; }

 private:
  partition_state state_;
  std::uint64_t snapshot_id_ = 0;
  std::int64_t position_ = 0;
  std::uint64_t next_chunk_ = 0;
  bool complete_ = false;
  bool failed_ = false;
};

/// Decodes a whole snapshot and opens every stream's personal fields; nullopt when it is
/// unusable (see partition_state_decoder::add) or its personal data does not open.
std::optional<partition_state> decode_partition_state(const std::vector<std::string>& chunks,
                                                      key_provider& keys,
                                                      remembering_limits limits = {});

}  // namespace coachd
