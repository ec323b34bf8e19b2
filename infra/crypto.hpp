#pragma once
/// Small cryptographic building blocks: random tokens and ids, hashes for storing secrets and
/// for pseudonymous stream ids, name-based UUIDs, HMAC for webhook signatures.
///
/// Algorithms: randomness, token hashing (BLAKE2b-256) and keyed hashing (BLAKE2b-256 with a
/// key) come from libsodium; SHA-1 (only inside UUIDv5, as RFC 4122 prescribes), SHA-256 and
/// HMAC-SHA256 (what webhook senders such as Stripe use) come from OpenSSL.

#include <array>
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

namespace coachd {

/// Initializes libsodium once per process (thread-safe); every function here calls it.
void init_sodium();

/// `bytes` random bytes as base64url without padding (32 bytes → 43 characters).
std::string random_token(std::size_t bytes = 32);

/// What to store instead of a bearer/session token: BLAKE2b-256 of the token, lowercase hex
/// (64 characters). Tokens are 256-bit random, so an unsalted fast hash is enough.
std::string token_hash_hex(std::string_view token);

/// SHA-256 of `data`, lowercase hex (64 characters).
std::string sha256_hex(std::string_view data);

/// BLAKE2b-256 of `data` keyed with `key` (16 to 64 bytes), lowercase hex. Used to turn a
/// normalized e-mail address into a stream id without the address appearing in the log.
/// Throws std::invalid_argument for a key of the wrong length (a configuration error).
std::string keyed_hash_hex(std::string_view key, std::string_view data);

/// A new UUID, lowercase and hyphenated: version 7 (RFC 9562), the creation time in
/// milliseconds followed by 74 random bits. Ids made one after another sort together, so the
/// indexes over them (the log's event ids, sessions, intakes) take inserts at one end instead of
/// on a random page each: fewer pages dirtied and written per insert once they outgrow memory.
/// Not a secret (tokens come from random_token).
std::string new_uuid();

/// The name-based (version 5, SHA-1) UUID of `name` in `namespace_uuid` (RFC 4122 §4.3),
/// lowercase and hyphenated: the same inputs always give the same id. Throws
/// std::invalid_argument when `namespace_uuid` is not a UUID.
std::string uuid_from_name(std::string_view namespace_uuid, std::string_view name);

/// Whether `text` is a hyphenated UUID (8-4-4-4-12 hex digits, either case).
bool is_uuid(std::string_view text);

/// The 16 bytes of a UUID that is_uuid accepts; nullopt for anything else.
std::optional<std::array<unsigned char, 16>> uuid_to_bytes(std::string_view text);

/// HMAC-SHA256 of `data` under `key`: the 32 raw bytes.
std::string hmac_sha256(std::string_view key, std::string_view data);

/// HMAC-SHA256 of `data` under `key`, lowercase hex (64 characters).
std::string hmac_sha256_hex(std::string_view key, std::string_view data);

/// Compares two strings in time that depends only on their lengths (for MACs and tokens).
bool constant_time_equal(std::string_view a, std::string_view b);

/// Bytes as lowercase hex.
std::string to_hex(std::string_view bytes);

}  // namespace coachd
