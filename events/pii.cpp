#include "events/pii.hpp"

#include <algorithm>
#include <stdexcept>

namespace coachd {
namespace {

constexpr std::size_t nonce_bytes = crypto_aead_xchacha20poly1305_ietf_NPUBBYTES;
constexpr std::size_t tag_bytes = crypto_aead_xchacha20poly1305_ietf_ABYTES;
constexpr int b64_variant = sodium_base64_VARIANT_URLSAFE_NO_PADDING;

void ensure_sodium() {
  static std::once_flag once;
  std::call_once(once, [] {
    if (sodium_init() < 0) throw std::runtime_error("sodium_init failed");
  });
}

const unsigned char* bytes(std::string_view s) {
  return reinterpret_cast<const unsigned char*>(s.data());
}

bool is_base64url_char(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
         c == '_';
}

// Length of the unpadded base64 text for `n` bytes.
constexpr std::size_t base64_chars(std::size_t n) { return (n * 4 + 2) / 3; }

}  // namespace

std::string seal_field(const data_key& key, std::string_view plaintext,
                       std::string_view associated_data) {
  ensure_sodium();
  std::string raw(nonce_bytes + plaintext.size() + tag_bytes, '\0');
  auto* out = reinterpret_cast<unsigned char*>(raw.data());
  randombytes_buf(out, nonce_bytes);
  unsigned long long cipher_len = 0;
  crypto_aead_xchacha20poly1305_ietf_encrypt(out + nonce_bytes, &cipher_len, bytes(plaintext),
                                             plaintext.size(), bytes(associated_data),
                                             associated_data.size(), nullptr, out, key.data());
  raw.resize(nonce_bytes + cipher_len);

  std::string sealed(sealed_prefix);
  const std::size_t b64_len = sodium_base64_encoded_len(raw.size(), b64_variant);
  sealed.resize(sealed_prefix.size() + b64_len);
  sodium_bin2base64(sealed.data() + sealed_prefix.size(), b64_len, out, raw.size(), b64_variant);
  sealed.resize(sealed_prefix.size() + base64_chars(raw.size()));  // drop the terminating NUL
  return sealed;
}

std::optional<std::string> open_field(const data_key& key, std::string_view sealed,
                                      std::string_view associated_data) {
  ensure_sodium();
  if (!is_sealed(sealed)) return std::nullopt;
  const std::string_view b64 = sealed.substr(sealed_prefix.size());
  std::string raw(b64.size() * 3 / 4 + 1, '\0');
  std::size_t raw_len = 0;
  const char* end = nullptr;
  if (sodium_base642bin(reinterpret_cast<unsigned char*>(raw.data()), raw.size(), b64.data(),
                        b64.size(), nullptr, &raw_len, &end, b64_variant) != 0 ||
      end != b64.data() + b64.size() || raw_len < nonce_bytes + tag_bytes) {
    return std::nullopt;
  }
  const auto* in = reinterpret_cast<const unsigned char*>(raw.data());
  std::string plain(raw_len - nonce_bytes - tag_bytes, '\0');
  unsigned long long plain_len = 0;
  if (crypto_aead_xchacha20poly1305_ietf_decrypt(reinterpret_cast<unsigned char*>(plain.data()),
                                                 &plain_len, nullptr, in + nonce_bytes,
                                                 raw_len - nonce_bytes, bytes(associated_data),
                                                 associated_data.size(), in, key.data()) != 0) {
    return std::nullopt;
  }
  plain.resize(plain_len);
  return plain;
}

bool is_sealed(std::string_view value) {
  if (!value.starts_with(sealed_prefix)) return false;
  const std::string_view b64 = value.substr(sealed_prefix.size());
  // A base64 length of 1 mod 4 never encodes whole bytes.
  return b64.size() >= base64_chars(nonce_bytes + tag_bytes) && b64.size() % 4 != 1 &&
         std::all_of(b64.begin(), b64.end(), is_base64url_char);
}

data_key memory_key_provider::key_for_write(const std::string& subject) {
  ensure_sodium();
  std::lock_guard lock(mutex_);
  auto [it, inserted] = keys_.try_emplace(subject);
  if (inserted) {
    data_key key;
    crypto_aead_xchacha20poly1305_ietf_keygen(key.data());
    it->second = key;
  } else if (!it->second) {
    throw subject_erased_error(subject);
  }
  return *it->second;
}

std::optional<data_key> memory_key_provider::key_for_read(const std::string& subject) {
  std::lock_guard lock(mutex_);
  const auto it = keys_.find(subject);
  if (it == keys_.end()) return std::nullopt;
  return it->second;
}

void memory_key_provider::erase(const std::string& subject) {
  std::lock_guard lock(mutex_);
  auto& slot = keys_[subject];
  if (slot) sodium_memzero(slot->data(), slot->size());
  slot.reset();
}

}  // namespace coachd
