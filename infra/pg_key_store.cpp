#include "infra/pg_key_store.hpp"

#include <libpq-fe.h>

#include <algorithm>
#include <cstdlib>
#include <pqxx/pqxx>
#include <stdexcept>
#include <utility>

#include "infra/crypto.hpp"
#include "infra/pg_array.hpp"

namespace coachd {
namespace {

constexpr const char* erased_channel = "coachd_pii_key_erased";
constexpr std::size_t wrap_nonce_bytes = crypto_aead_xchacha20poly1305_ietf_NPUBBYTES;
constexpr std::size_t wrapped_key_bytes =
    wrap_nonce_bytes + sizeof(data_key) + crypto_aead_xchacha20poly1305_ietf_ABYTES;
constexpr std::size_t preload_chunk = 5000;
constexpr std::size_t preload_page = 10000;  // rows per FETCH of preload_all

constexpr const char* schema_sql = R"sql(
CREATE TABLE IF NOT EXISTS pii_keys (
  subject    text PRIMARY KEY,
  key        bytea,
  created_at timestamptz NOT NULL DEFAULT now(),
  erased_at  timestamptz,
  CONSTRAINT pii_keys_key_or_erased CHECK ((key IS NULL) = (erased_at IS NOT NULL))
))sql";

// The associated data of a wrapped key: it cannot be moved to another subject's row.
std::string wrap_context(const std::string& subject) { return "coachd/pii_keys/v1/" + subject; }

// A PostgreSQL text[] literal of [first, last).
std::string text_array_literal(std::vector<std::string>::const_iterator first,
                               std::vector<std::string>::const_iterator last) {
  pg_array_literal out;
  for (auto it = first; it != last; ++it) out.add_text(*it);
  return out.str();
}

std::int64_t steady_now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

// Hands each erasure another store announced to `on_erased`.
class erasure_receiver final : public pqxx::notification_receiver {
 public:
  erasure_receiver(pqxx::connection_base& conn, std::function<void(const std::string&)> on_erased)
      : pqxx::notification_receiver(conn, erased_channel), on_erased_(std::move(on_erased)) {}
  void operator()(const std::string& payload, int /*backend_pid*/) override { on_erased_(payload); }

 private:
  std::function<void(const std::string&)> on_erased_;
};

}  // namespace

struct pg_key_store::connection_state {
  connection_state(const std::string& conninfo, std::function<void(const std::string&)> on_erased)
      : conn(conninfo), receiver(conn, std::move(on_erased)) {
    conn.prepare("pii_keys_insert",
                 "INSERT INTO pii_keys (subject, key) VALUES ($1, $2) "
                 "ON CONFLICT (subject) DO NOTHING RETURNING subject");
    // Keys created since the last make_durable, all at once (subjects and hex-encoded keys as
    // arrays); returns the subjects it inserted, so that the others are known to conflict.
    conn.prepare("pii_keys_insert_many",
                 "INSERT INTO pii_keys (subject, key) "
                 "SELECT u.subject, decode(u.key_hex, 'hex') "
                 "FROM unnest($1::text[], $2::text[]) AS u(subject, key_hex), "
                 "(SELECT set_config('synchronous_commit', 'off', true)) AS c "
                 "ON CONFLICT (subject) DO NOTHING RETURNING subject");
    // A transaction with an xid commits synchronously, so it flushes the WAL up to its commit
    // record, which covers every earlier commit.
    conn.prepare("pii_keys_flush", "SELECT txid_current()");
    conn.prepare("pii_keys_select",
                 "SELECT key, erased_at IS NOT NULL FROM pii_keys WHERE subject = $1");
    // One statement, so the shredding and its announcement commit together.
    conn.prepare("pii_keys_erase",
                 "WITH erased AS ("
                 "  INSERT INTO pii_keys (subject, key, erased_at) VALUES ($1, NULL, now()) "
                 "  ON CONFLICT (subject) DO UPDATE "
                 "  SET key = NULL, erased_at = coalesce(pii_keys.erased_at, now()) "
                 "  RETURNING subject) "
                 "SELECT pg_notify($2, subject) FROM erased");
    conn.prepare("pii_keys_select_many",
                 "SELECT subject, key, erased_at IS NOT NULL FROM pii_keys "
                 "WHERE subject = ANY($1::text[])");
  }

  pqxx::connection conn;
  erasure_receiver receiver;  // declared after conn: it must go before the connection does
};

data_key parse_master_key(std::string_view hex) {
  data_key key;
  std::size_t len = 0;
  const char* end = nullptr;
  if (hex.size() != key.size() * 2 ||
      sodium_hex2bin(key.data(), key.size(), hex.data(), hex.size(), nullptr, &len, &end) != 0 ||
      len != key.size() || end != hex.data() + hex.size()) {
    throw std::invalid_argument("the master key must be 64 hex digits (32 bytes)");
  }
  return key;
}

std::optional<data_key> master_key_from_env() {
  const char* env = std::getenv("COACHD_MASTER_KEY");
  if (env == nullptr || *env == '\0') return std::nullopt;
  return parse_master_key(env);
}

pg_key_store::pg_key_store(std::string conninfo, pg_key_store_options options)
    : conninfo_(std::move(conninfo)), options_(std::move(options)) {
  init_sodium();
  ensure_schema();
}

pg_key_store::~pg_key_store() = default;

void pg_key_store::ensure_schema() {
  with_connection([](connection_state& db) {
    pqxx::work tx(db.conn);
    // Two stores starting together must not race on CREATE TABLE IF NOT EXISTS.
    tx.exec("SELECT pg_advisory_xact_lock(hashtext('coachd.pii_keys'))");
    tx.exec(schema_sql);
    tx.commit();
  });
}

data_key pg_key_store::key_for_write(const std::string& subject) {
  maybe_poll();
  if (const auto hit = cached(subject)) {
    if (!*hit) throw subject_erased_error(subject);
    return **hit;
  }
  cache_entry entry;
  if (options_.new_keys != pg_key_store_options::durability::immediate) {
    // A new subject's key is made here and stored by the next make_durable (one statement for
    // every key a group commit needs), before anything sealed with it is written.
    std::lock_guard lock(db_mutex_);
    const auto pending = std::find_if(unsaved_.begin(), unsaved_.end(), [&](const auto& u) { return u.first == subject; });
    if (pending != unsaved_.end()) {
      entry = pending->second;  // made for an earlier command, not stored yet
    } else if (const auto hit = cached(subject)) {
      entry = *hit;
    } else {
      data_key fresh;
      randombytes_buf(fresh.data(), fresh.size());
      remember(subject, fresh);
      unsaved_.emplace_back(subject, fresh);
      ++created_;
      entry = fresh;
      sodium_memzero(fresh.data(), fresh.size());
    }
    if (!entry) throw subject_erased_error(subject);
    return *entry;
  }
  with_connection([&](connection_state& db) {
    // Another thread may have fetched it while this one waited for the connection.
    if (const auto hit = cached(subject)) {
      entry = *hit;
      return;
    }
    data_key fresh;
    randombytes_buf(fresh.data(), fresh.size());
    const std::string stored = wrap(subject, fresh);
    // (Only immediate stores get here: the others make new keys in memory, above.)
    pqxx::nontransaction tx(db.conn);
    const auto inserted = tx.exec_prepared("pii_keys_insert", subject,
                                           pqxx::binarystring(stored.data(), stored.size()));
    if (!inserted.empty()) {
      entry = fresh;
    } else {
      // Someone else created (or erased) it first; a new statement sees their committed row.
      const auto row = tx.exec_prepared1("pii_keys_select", subject);
      if (row[1].as<bool>()) {
        entry = std::nullopt;
      } else {
        const pqxx::binarystring key(row[0]);
        entry = unwrap(subject, key.data(), key.size());
      }
    }
    sodium_memzero(fresh.data(), fresh.size());
    remember(subject, entry);
  });
  if (!entry) throw subject_erased_error(subject);
  return *entry;
}

std::optional<data_key> pg_key_store::key_for_read(const std::string& subject) {
  maybe_poll();
  if (const auto hit = cached(subject)) return *hit;
  std::optional<data_key> result;
  with_connection([&](connection_state& db) {
    if (const auto hit = cached(subject)) {
      result = *hit;
      return;
    }
    pqxx::nontransaction tx(db.conn);
    const auto rows = tx.exec_prepared("pii_keys_select", subject);
    if (rows.empty()) return;  // never had a key: nothing to cache, it may get one later
    if (rows[0][1].as<bool>()) {
      remember(subject, std::nullopt);
      return;
    }
    const pqxx::binarystring key(rows[0][0]);
    result = unwrap(subject, key.data(), key.size());
    remember(subject, result);
  });
  return result;
}

std::uint64_t pg_key_store::begin_sealing() { return losses_.load(); }

std::uint64_t pg_key_store::make_durable(std::uint64_t mark) {
  std::uint64_t ticket = 0;
  with_connection([&](connection_state& db) {
    const bool stored_now = store_unsaved(db);
    ticket = created_;
    if (durable_ >= ticket) return;
    pqxx::nontransaction tx(db.conn);
    if (options_.new_keys == pg_key_store_options::durability::deferred) {
      tx.exec_prepared("pii_keys_flush");
      durable_ = ticket;
    } else if (!stored_now) {
      // shared_wal: proof that the server still holds them (it has not restarted since they
      // were committed); the caller's synchronous commit flushes them. (A statement that just
      // stored keys on this connection is that proof already.)
      tx.exec("SELECT 1");
    }
  });
  if (losses_.load() != mark) {
    throw std::runtime_error(
        "the key store lost its connection while new keys were not yet durable; nothing was written");
  }
  return ticket;
}

bool pg_key_store::store_unsaved(connection_state& db) {
  if (unsaved_.empty()) return false;
  std::vector<std::string> subjects, keys;
  for (const auto& [subject, key] : unsaved_) {
    const std::string wrapped = wrap(subject, key);
    std::string hex(wrapped.size() * 2 + 1, '\0');
    sodium_bin2hex(hex.data(), hex.size(), reinterpret_cast<const unsigned char*>(wrapped.data()), wrapped.size());
    hex.pop_back();
    subjects.push_back(subject);
    keys.push_back(std::move(hex));
  }
  pqxx::result inserted;
  {
    pqxx::nontransaction tx(db.conn);
    inserted = tx.exec_prepared("pii_keys_insert_many", text_array_literal(subjects.begin(), subjects.end()),
                                text_array_literal(keys.begin(), keys.end()));
  }
  for (auto& k : keys) sodium_memzero(k.data(), k.size());
  std::vector<std::string> taken;  // created (or erased) elsewhere first
  if (inserted.size() != unsaved_.size()) {
    std::unordered_map<std::string, bool> done;
    for (const auto& row : inserted) done[row[0].as<std::string>()] = true;
    for (const auto& [subject, key] : unsaved_) {
      if (!done.count(subject)) taken.push_back(subject);
    }
  }
  for (auto& [subject, key] : unsaved_) sodium_memzero(key.data(), key.size());
  unsaved_.clear();
  if (taken.empty()) return true;
  // What this store handed out for them never reaches the table: the cache takes the stored
  // key (or the erasure), and whatever was sealed with ours must not be written.
  for (const auto& subject : taken) evict(subject);
  {
    pqxx::nontransaction read(db.conn);
    cache_rows(read.exec_prepared("pii_keys_select_many", text_array_literal(taken.begin(), taken.end())));
  }
  throw std::runtime_error("the key of " + taken.front() +
                           " was created or erased by another writer at the same time; nothing was written");
}

void pg_key_store::written_durably(std::uint64_t ticket) {
  std::lock_guard lock(db_mutex_);
  durable_ = std::max(durable_, ticket);
}

void pg_key_store::connection_lost() {
  // Caller holds db_mutex_. Keys not known durable may be gone with a restarted server: drop
  // every cached key (the next call reads or creates them again) and fail every writer that
  // sealed with one.
  db_.reset();
  forget_live_keys();
  for (auto& [subject, key] : unsaved_) sodium_memzero(key.data(), key.size());
  unsaved_.clear();
  if (durable_ < created_) {
    durable_ = created_;
    losses_.fetch_add(1);
  }
}

void pg_key_store::erase(const std::string& subject) {
  with_connection([&](connection_state& db) {
    pqxx::nontransaction tx(db.conn);
    tx.exec_prepared("pii_keys_erase", subject, std::string(erased_channel));
    remember(subject, std::nullopt);
  });
}

std::size_t pg_key_store::preload(const std::vector<std::string>& subjects) {
  std::size_t found = 0;
  for (std::size_t i = 0; i < subjects.size(); i += preload_chunk) {
    const auto first = subjects.begin() + static_cast<std::ptrdiff_t>(i);
    const auto last = subjects.begin() +
                      static_cast<std::ptrdiff_t>(std::min(subjects.size(), i + preload_chunk));
    found += load_rows(text_array_literal(first, last));
  }
  return found;
}

std::size_t pg_key_store::preload_all() {
  // On a connection of its own, with libpq's binary results (pqxx 6 reads bytea as hex text:
  // a decoding pass per key, half of the work at a million keys), through a cursor a page at a
  // time (one result of every row would be a transient as large as the cache, freed among its
  // entries and so never given back). db_mutex_ is held: a lookup that misses meanwhile waits
  // for the preload and then finds its key.
  std::lock_guard lock(db_mutex_);
  const std::unique_ptr<PGconn, decltype(&PQfinish)> conn(PQconnectdb(conninfo_.c_str()),
                                                          &PQfinish);
  if (PQstatus(conn.get()) != CONNECTION_OK)
    throw pqxx::broken_connection(PQerrorMessage(conn.get()));
  using result = std::unique_ptr<PGresult, decltype(&PQclear)>;
  const auto run = [&](const char* sql, int format) {
    result r(PQexecParams(conn.get(), sql, 0, nullptr, nullptr, nullptr, nullptr, format),
             &PQclear);
    const auto status = PQresultStatus(r.get());
    if (status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK)
      throw pqxx::sql_error(PQerrorMessage(conn.get()), sql);
    return r;
  };
  run("BEGIN", 0);
  // The planner's row estimate sizes the cache once, instead of rehashing it as it grows.
  if (const auto estimate =
          run("SELECT reltuples::bigint FROM pg_class WHERE oid = 'pii_keys'::regclass", 0);
      PQntuples(estimate.get()) == 1 && !PQgetisnull(estimate.get(), 0, 0)) {
    const long long rows = std::atoll(PQgetvalue(estimate.get(), 0, 0));
    if (rows > 0) {
      for (auto& shard : shards_) {
        std::unique_lock shard_lock(shard.mutex);
        shard.entries.reserve(shard.entries.size() + static_cast<std::size_t>(rows) / shard_count +
                              1);
      }
    }
  }
  run("DECLARE pii_keys_all NO SCROLL CURSOR FOR SELECT subject, key, erased_at IS NOT NULL FROM "
      "pii_keys",
      0);
  const std::string fetch = "FETCH " + std::to_string(preload_page) + " FROM pii_keys_all";
  std::size_t loaded = 0;
  for (;;) {
    const auto rows = run(fetch.c_str(), /*binary results*/ 1);
    const int n = PQntuples(rows.get());
    for (int i = 0; i < n; ++i) {
      const std::string subject(PQgetvalue(rows.get(), i, 0),
                                static_cast<std::size_t>(PQgetlength(rows.get(), i, 0)));
      if (*PQgetvalue(rows.get(), i, 2) != 0) {
        remember(subject, std::nullopt);
      } else {
        remember(
            subject,
            unwrap(subject, reinterpret_cast<const unsigned char*>(PQgetvalue(rows.get(), i, 1)),
                   static_cast<std::size_t>(PQgetlength(rows.get(), i, 1))));
      }
    }
    loaded += static_cast<std::size_t>(n);
    if (static_cast<std::size_t>(n) < preload_page) break;
  }
  run("COMMIT", 0);
  return loaded;
}

void pg_key_store::cache_rows(const pqxx::result& rows) {
  for (const auto& row : rows) {
    const std::string subject = row[0].as<std::string>();
    if (row[2].as<bool>()) {
      remember(subject, std::nullopt);
    } else {
      const pqxx::binarystring key(row[1]);
      remember(subject, unwrap(subject, key.data(), key.size()));
    }
  }
}

std::size_t pg_key_store::load_rows(const std::string& subjects_array) {
  std::size_t loaded = 0;
  with_connection([&](connection_state& db) {
    pqxx::nontransaction tx(db.conn);
    const pqxx::result rows = tx.exec_prepared("pii_keys_select_many", subjects_array);
    cache_rows(rows);
    loaded = rows.size();
  });
  return loaded;
}

void pg_key_store::evict(const std::string& subject) {
  auto& shard = shard_for(subject);
  std::unique_lock lock(shard.mutex);
  shard.entries.erase(subject);
}

void pg_key_store::poll_erasures() {
  std::lock_guard lock(db_mutex_);
  last_poll_ns_.store(steady_now_ns(), std::memory_order_relaxed);
  poll_locked();
}

std::size_t pg_key_store::cached_subjects() const {
  std::size_t n = 0;
  for (const auto& shard : shards_) {
    std::shared_lock lock(shard.mutex);
    n += shard.entries.size();
  }
  return n;
}

pg_key_store::cache_shard& pg_key_store::shard_for(const std::string& subject) {
  return shards_[std::hash<std::string>{}(subject) % shard_count];
}

std::optional<pg_key_store::cache_entry> pg_key_store::cached(const std::string& subject) {
  auto& shard = shard_for(subject);
  std::shared_lock lock(shard.mutex);
  const auto it = shard.entries.find(subject);
  if (it == shard.entries.end()) return std::nullopt;
  return it->second;
}

void pg_key_store::remember(const std::string& subject, const cache_entry& entry) {
  auto& shard = shard_for(subject);
  std::unique_lock lock(shard.mutex);
  shard.entries.insert_or_assign(subject, entry);
}

void pg_key_store::forget_live_keys() {
  for (auto& shard : shards_) {
    std::unique_lock lock(shard.mutex);
    std::erase_if(shard.entries, [](const auto& kv) { return kv.second.has_value(); });
  }
}

void pg_key_store::maybe_poll() {
  const std::int64_t now = steady_now_ns();
  const std::int64_t interval =
      std::chrono::duration_cast<std::chrono::nanoseconds>(options_.erasure_poll_interval).count();
  if (now - last_poll_ns_.load(std::memory_order_relaxed) < interval) return;
  // Never wait for the connection here: whoever holds it is talking to the server already.
  std::unique_lock lock(db_mutex_, std::try_to_lock);
  if (!lock.owns_lock()) return;
  last_poll_ns_.store(now, std::memory_order_relaxed);
  poll_locked();
}

void pg_key_store::poll_locked() {
  if (!db_) return;  // the cache holds no live key while disconnected (see with_connection)
  try {
    db_->conn.get_notifs();
  } catch (const pqxx::broken_connection&) {
    connection_lost();
  }
}

void pg_key_store::with_connection(const std::function<void(connection_state&)>& work) {
  std::lock_guard lock(db_mutex_);
  for (int attempt = 0;; ++attempt) {
    try {
      if (!db_) {
        db_ = std::make_unique<connection_state>(
            conninfo_, [this](const std::string& subject) { remember(subject, std::nullopt); });
      }
      work(*db_);
      return;
    } catch (const pqxx::broken_connection&) {
      // Erasures announced while the connection was down were missed: drop every live key so
      // the next call reads the table again.
      connection_lost();
      if (attempt > 0) throw;
    }
  }
}

std::string pg_key_store::wrap(const std::string& subject, const data_key& key) const {
  if (!options_.master_key) {
    return std::string(reinterpret_cast<const char*>(key.data()), key.size());
  }
  std::string out(wrapped_key_bytes, '\0');
  auto* p = reinterpret_cast<unsigned char*>(out.data());
  randombytes_buf(p, wrap_nonce_bytes);
  const std::string context = wrap_context(subject);
  crypto_aead_xchacha20poly1305_ietf_encrypt(p + wrap_nonce_bytes, nullptr, key.data(), key.size(),
                                             reinterpret_cast<const unsigned char*>(context.data()),
                                             context.size(), nullptr, p,
                                             options_.master_key->data());
  return out;
}

data_key pg_key_store::unwrap(const std::string& subject, const unsigned char* stored,
                              std::size_t size) const {
  data_key key;
  if (!options_.master_key) {
    if (size != key.size()) {
      throw std::runtime_error("pii_keys: the key of " + subject +
                               " is wrapped or malformed; is COACHD_MASTER_KEY missing?");
    }
    std::copy_n(stored, key.size(), key.begin());
    return key;
  }
  const std::string context = wrap_context(subject);
  if (size != wrapped_key_bytes ||
      crypto_aead_xchacha20poly1305_ietf_decrypt(
          key.data(), nullptr, nullptr, stored + wrap_nonce_bytes, size - wrap_nonce_bytes,
          reinterpret_cast<const unsigned char*>(context.data()), context.size(), stored,
          options_.master_key->data()) != 0) {
    throw std::runtime_error("pii_keys: cannot unwrap the key of " + subject +
                             " with the master key (wrong COACHD_MASTER_KEY, or an unwrapped key)");
  }
  return key;
}

}  // namespace coachd
