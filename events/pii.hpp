#pragma once
/// Personal data in events: each data subject has its own key, and every personal field is
/// sealed with it (XChaCha20-Poly1305 IETF) before the event is appended. Deleting the key
/// (crypto-shredding) makes every sealed field of that subject unreadable, in the log and in
/// every copy of it.
///
/// A sealed field is a self-describing string, so it can sit in a JSON string value:
///   "pii:v1:" + base64url-without-padding(nonce[24] || ciphertext || tag[16])
/// The associated data is not stored; the reader must supply the same bytes the writer did.
/// Bind it to where the value lives, e.g. "<event type>/<field>/<subject>", so that a sealed
/// value cannot be moved to another field or another subject unnoticed.

#include <sodium.h>

#include <array>
#include <cstdint>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <unordered_map>

namespace coachd {

/// One data subject's symmetric key.
using data_key = std::array<unsigned char, crypto_aead_xchacha20poly1305_ietf_KEYBYTES>;

/// Thrown by key_provider::key_for_write for a subject that was erased: nothing new may be
/// written about a person who asked to be forgotten. The command path checks erasure first, so
/// reaching this is a stop-the-operation condition, not a regular error.
class subject_erased_error : public std::runtime_error {
 public:
  explicit subject_erased_error(const std::string& subject)
      : std::runtime_error("data subject was erased: " + subject), subject_(subject) {}
  const std::string& subject() const { return subject_; }

 private:
  std::string subject_;
};

/// Where per-subject keys come from. Implementations are safe to call from several threads.
class key_provider {
 public:
  virtual ~key_provider() = default;
  /// The subject's key, created on first use. Throws subject_erased_error once the subject was
  /// erased; infrastructure failures are exceptions too.
  virtual data_key key_for_write(const std::string& subject) = 0;
  /// The subject's key, or nullopt when the subject was erased or never had a key.
  virtual std::optional<data_key> key_for_read(const std::string& subject) = 0;
  /// Durability of new keys, for providers that create keys without waiting for the disk.
  /// A writer of sealed data (the command processor, once per group commit) calls
  /// begin_sealing() before it seals anything, make_durable(mark) before it writes what it
  /// sealed, and written_durably(ticket) once that write is durable, so that a crash can never
  /// keep a sealed field whose key it lost. make_durable throws when a key handed out since
  /// begin_sealing may have been lost (the writer then drops what it sealed and retries later).
  virtual std::uint64_t begin_sealing() { return 0; }
  /// Returns a ticket for written_durably.
  virtual std::uint64_t make_durable(std::uint64_t mark) {
    (void)mark;
    return 0;
  }
  virtual void written_durably(std::uint64_t ticket) { (void)ticket; }
};

/// The prefix every sealed field starts with (it names the format version).
inline constexpr std::string_view sealed_prefix = "pii:v1:";

/// Encrypts `plaintext` with a fresh random nonce; the result differs on every call.
std::string seal_field(const data_key& key, std::string_view plaintext,
                       std::string_view associated_data);

/// Decrypts a sealed field; nullopt when it is malformed, tampered with, or the key or the
/// associated data are not the ones it was sealed with.
std::optional<std::string> open_field(const data_key& key, std::string_view sealed,
                                      std::string_view associated_data);

/// Whether `value` has the shape of a sealed field (prefix, alphabet, minimum length). It says
/// nothing about whether it would open.
bool is_sealed(std::string_view value);

/// Binary sealing, for containers that hold bytes (snapshots): nonce[24] || ciphertext || tag[16]
/// with a fresh random nonce, without prefix or base64.
std::string seal_bytes(const data_key& key, std::string_view plaintext,
                       std::string_view associated_data);

/// Opens what seal_bytes sealed; nullopt when it is malformed, tampered with, or the key or the
/// associated data differ.
std::optional<std::string> open_bytes(const data_key& key, std::string_view sealed,
                                      std::string_view associated_data);

/// A key_provider that keeps keys in memory only: for pure tests of codecs and aggregates and
/// for tools that never persist. Keys are random; erase() forgets a key for good.
class memory_key_provider final : public key_provider {
 public:
  data_key key_for_write(const std::string& subject) override;
  std::optional<data_key> key_for_read(const std::string& subject) override;
  /// Forgets the subject's key; later writes throw, later reads return nullopt.
  void erase(const std::string& subject);

 private:
  std::mutex mutex_;
  // nullopt marks an erased subject (a tombstone), so it cannot get a new key.
  std::unordered_map<std::string, std::optional<data_key>> keys_;
};

}  // namespace coachd
