#pragma once
/// The data-subject keys of coachd, kept in PostgreSQL (table pii_keys) and cached in memory:
/// the key_provider the command processor and the projectors use. Erasing a subject deletes
/// its key bytes (crypto-shredding), so every field sealed with it becomes unreadable.
///
/// Table: pii_keys(subject text primary key, key bytea, created_at timestamptz,
///                 erased_at timestamptz null); key is NULL exactly when erased_at is set.
///
/// Several processes may share the table. Two of them asking for a new subject's key at the
/// same time get the same key (INSERT … ON CONFLICT DO NOTHING, then SELECT). An erasure is
/// announced with NOTIFY on channel "coachd_pii_key_erased"; other stores drop the key from
/// their cache when they next look (at most every erasure_poll_interval, or poll_erasures()).
/// Until then a store in another process may still hand out the key it has cached; a field
/// sealed with it in that window is shredded with the rest, as the key is gone from the table.

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "events/pii.hpp"

namespace pqxx {
class result;
}  // namespace pqxx

namespace coachd {

/// How a pg_key_store behaves.
struct pg_key_store_options {
  /// Key-encryption key that wraps every data key at rest (XChaCha20-Poly1305, the subject as
  /// associated data). nullopt stores data keys as they are. Once set for a table it must stay
  /// set: a store with a master key refuses unwrapped keys and a store without one cannot
  /// read wrapped keys (both throw std::runtime_error).
  std::optional<data_key> master_key;
  /// How often a call checks for erasures done by other stores (a non-blocking look at the
  /// connection's notifications). Zero checks on every call.
  std::chrono::milliseconds erasure_poll_interval{100};
  /// When a newly created key reaches the disk.
  enum class durability {
    /// Each new key commits synchronously before key_for_write returns.
    immediate,
    /// New keys commit without waiting for the disk; make_durable() waits for all of them
    /// (one synchronous commit, so one WAL flush, for however many keys were created since).
    deferred,
    /// As deferred, but make_durable() only checks that the connection (so the server) has
    /// not gone away since the keys were committed: the caller's next synchronous commit goes
    /// to the same PostgreSQL cluster, and WAL is flushed in order, so that commit makes every
    /// earlier key durable with it. Only for an event log in the same cluster as pii_keys.
    shared_wal,
  };
  durability new_keys = durability::immediate;
};

/// Parses a master key written as 64 hex digits; throws std::invalid_argument otherwise.
data_key parse_master_key(std::string_view hex);

/// The master key from the environment variable COACHD_MASTER_KEY (64 hex digits); nullopt
/// when it is unset or empty. Throws std::invalid_argument when it is malformed.
std::optional<data_key> master_key_from_env();

/// Per-subject keys in PostgreSQL. Thread-safe: cache hits take a shared lock on one of 16
/// shards; database work runs on one connection, one call at a time, and reconnects once when
/// the connection was lost. Infrastructure failures are pqxx exceptions.
class pg_key_store final : public key_provider {
 public:
  /// Connects to `conninfo` (a libpq connection string) and creates the table if missing.
  explicit pg_key_store(std::string conninfo, pg_key_store_options options = {});
  ~pg_key_store() override;
  std::uint64_t begin_sealing() override;
  std::uint64_t make_durable(std::uint64_t mark) override;
  void written_durably(std::uint64_t ticket) override;
  pg_key_store(const pg_key_store&) = delete;
  pg_key_store& operator=(const pg_key_store&) = delete;

  /// The subject's key, created (32 random bytes) if it has none. Throws subject_erased_error
  /// for an erased subject.
  data_key key_for_write(const std::string& subject) override;

  /// The subject's key; nullopt when the subject was erased or never had one.
  std::optional<data_key> key_for_read(const std::string& subject) override;

  /// Crypto-shredding: deletes the subject's key bytes (key = NULL, erased_at = now()), marks
  /// the subject so it never gets a key again (also when it never had one), tells other stores
  /// and evicts the key from this store's cache. Idempotent.
  void erase(const std::string& subject);

  /// Loads the keys (and erasure marks) of `subjects` into the cache, a few thousand per query.
  /// Returns how many of them the table knows.
  std::size_t preload(const std::vector<std::string>& subjects);

  /// Loads every key and erasure mark of the table into the cache in one query (start-up before
  /// rebuilding state from the log). Returns how many rows it loaded.
  std::size_t preload_all();

  /// Forgets what the cache holds about `subject`; the next call reads the table.
  void evict(const std::string& subject);

  /// Applies the erasures other stores have announced, now.
  void poll_erasures();

  /// Creates the pii_keys table if it does not exist (the constructor calls it).
  void ensure_schema();

  /// How many subjects (keys and erasure marks) the cache holds.
  std::size_t cached_subjects() const;

 private:
  struct connection_state;  // the pqxx connection and its notification receiver
  // nullopt marks an erased subject; erasure is final, so that mark never goes stale.
  using cache_entry = std::optional<data_key>;
  struct cache_shard {
    mutable std::shared_mutex mutex;
    std::unordered_map<std::string, cache_entry> entries;
  };
  static constexpr std::size_t shard_count = 16;

  cache_shard& shard_for(const std::string& subject);
  std::optional<cache_entry> cached(const std::string& subject);
  void remember(const std::string& subject, const cache_entry& entry);
  void forget_live_keys();
  // Caches the rows of the subjects in a text[] literal.
  std::size_t load_rows(const std::string& subjects_array);
  // Caches rows of (subject, key, erased).
  void cache_rows(const pqxx::result& rows);
  void maybe_poll();
  void poll_locked();
  std::string wrap(const std::string& subject, const data_key& key) const;
  data_key unwrap(const std::string& subject, const unsigned char* stored, std::size_t size) const;
  // Runs `work` on the connection (connecting first if needed) under db_mutex_; retries once on
  // a fresh connection when the connection turns out to be broken.
  void with_connection(const std::function<void(connection_state&)>& work);

  const std::string conninfo_;
  const pg_key_store_options options_;
  std::mutex db_mutex_;  // guards db_; taken before any shard lock, never after
  std::unique_ptr<connection_state> db_;
  std::atomic<std::int64_t> last_poll_ns_{0};
  // Durability of keys created without waiting for the disk (guarded by db_mutex_): keys
  // created so far, keys known durable, and connections lost (a lost connection may mean a
  // restarted server that lost the keys not yet durable).
  std::vector<std::pair<std::string, data_key>> unsaved_;  // made by key_for_write, not yet stored
  bool store_unsaved(connection_state& db);  // true when it stored some
  std::uint64_t created_ = 0;
  std::uint64_t durable_ = 0;
  std::atomic<std::uint64_t> losses_{0};
  void connection_lost();
  cache_shard shards_[shard_count];
};

}  // namespace coachd
