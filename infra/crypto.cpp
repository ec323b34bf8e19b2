#include "infra/crypto.hpp"

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <sodium.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <mutex>
#include <stdexcept>

namespace coachd {
namespace {

const unsigned char* bytes(std::string_view s) {
  return reinterpret_cast<const unsigned char*>(s.data());
}

std::string hex_of(const unsigned char* data, std::size_t n) {
  std::string out(n * 2 + 1, '\0');
  sodium_bin2hex(out.data(), out.size(), data, n);
  out.pop_back();  // the terminating NUL
  return out;
}

using uuid_bytes = std::array<unsigned char, 16>;

std::string format_uuid(const uuid_bytes& u) {
  const std::string hex = hex_of(u.data(), u.size());
  return hex.substr(0, 8) + '-' + hex.substr(8, 4) + '-' + hex.substr(12, 4) + '-' +
         hex.substr(16, 4) + '-' + hex.substr(20, 12);
}

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

bool parse_uuid(std::string_view text, uuid_bytes& out) {
  if (text.size() != 36) return false;
  std::size_t byte = 0;
  for (std::size_t i = 0; i < text.size();) {
    if (i == 8 || i == 13 || i == 18 || i == 23) {
      if (text[i] != '-') return false;
      ++i;
      continue;
    }
    const int hi = hex_value(text[i]);
    const int lo = hex_value(text[i + 1]);
    if (hi < 0 || lo < 0) return false;
    out[byte++] = static_cast<unsigned char>(hi * 16 + lo);
    i += 2;
  }
  return byte == out.size();
}

// Stamps the version nibble and the RFC 4122 variant bits.
void set_version(uuid_bytes& u, unsigned version) {
  u[6] = static_cast<unsigned char>((u[6] & 0x0f) | (version << 4));
  u[8] = static_cast<unsigned char>((u[8] & 0x3f) | 0x80);
}

std::array<unsigned char, EVP_MAX_MD_SIZE> digest(const EVP_MD* md, std::string_view a,
                                                  std::string_view b, unsigned& len) {
  std::array<unsigned char, EVP_MAX_MD_SIZE> out{};
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  if (ctx == nullptr) throw std::bad_alloc();
  const bool ok = EVP_DigestInit_ex(ctx, md, nullptr) == 1 &&
                  EVP_DigestUpdate(ctx, a.data(), a.size()) == 1 &&
                  EVP_DigestUpdate(ctx, b.data(), b.size()) == 1 &&
                  EVP_DigestFinal_ex(ctx, out.data(), &len) == 1;
  EVP_MD_CTX_free(ctx);
  if (!ok) throw std::runtime_error("OpenSSL digest failed");
  return out;
}

}  // namespace

void init_sodium() {
  static std::once_flag once;
  std::call_once(once, [] {
    if (sodium_init() < 0) throw std::runtime_error("sodium_init failed");
  });
}

std::string random_token(std::size_t n) {
  init_sodium();
  std::string raw(n, '\0');
  randombytes_buf(raw.data(), raw.size());
  constexpr int variant = sodium_base64_VARIANT_URLSAFE_NO_PADDING;
  std::string out(sodium_base64_encoded_len(n, variant), '\0');
  sodium_bin2base64(out.data(), out.size(), bytes(raw), raw.size(), variant);
  sodium_memzero(raw.data(), raw.size());
  out.resize(out.find('\0'));
  return out;
}

std::string token_hash_hex(std::string_view token) {
  init_sodium();
  std::array<unsigned char, crypto_generichash_BYTES> out{};
  crypto_generichash(out.data(), out.size(), bytes(token), token.size(), nullptr, 0);
  return hex_of(out.data(), out.size());
}

std::string sha256_hex(std::string_view data) {
  unsigned len = 0;
  const auto out = digest(EVP_sha256(), data, {}, len);
  return hex_of(out.data(), len);
}

std::string keyed_hash_hex(std::string_view key, std::string_view data) {
  init_sodium();
  if (key.size() < crypto_generichash_KEYBYTES_MIN ||
      key.size() > crypto_generichash_KEYBYTES_MAX) {
    throw std::invalid_argument("keyed_hash_hex: the key must be 16 to 64 bytes");
  }
  std::array<unsigned char, crypto_generichash_BYTES> out{};
  crypto_generichash(out.data(), out.size(), bytes(data), data.size(), bytes(key), key.size());
  return hex_of(out.data(), out.size());
}

std::string new_uuid() {
  init_sodium();
  uuid_bytes u;
  randombytes_buf(u.data(), u.size());
  // The first 48 bits: milliseconds since the Unix epoch, big-endian (RFC 9562, version 7).
  const auto ms = static_cast<std::uint64_t>(
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch()).count());
  for (int i = 0; i < 6; ++i) u[static_cast<std::size_t>(i)] = static_cast<unsigned char>(ms >> (8 * (5 - i)));
  set_version(u, 7);
  return format_uuid(u);
}

std::string uuid_from_name(std::string_view namespace_uuid, std::string_view name) {
  uuid_bytes ns;
  if (!parse_uuid(namespace_uuid, ns)) {
    throw std::invalid_argument("uuid_from_name: namespace is not a UUID");
  }
  unsigned len = 0;
  const auto sha1 = digest(
      EVP_sha1(), std::string_view(reinterpret_cast<const char*>(ns.data()), ns.size()), name, len);
  uuid_bytes u;
  std::copy_n(sha1.begin(), u.size(), u.begin());
  set_version(u, 5);
  return format_uuid(u);
}

bool is_uuid(std::string_view text) {
  uuid_bytes ignored;
  return parse_uuid(text, ignored);
}

std::optional<std::array<unsigned char, 16>> uuid_to_bytes(std::string_view text) {
  uuid_bytes u;
  if (!parse_uuid(text, u)) return std::nullopt;
  return u;
}

std::string hmac_sha256(std::string_view key, std::string_view data) {
  std::array<unsigned char, EVP_MAX_MD_SIZE> out{};
  unsigned len = 0;
  if (HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()), bytes(data), data.size(),
           out.data(), &len) == nullptr) {
    throw std::runtime_error("OpenSSL HMAC failed");
  }
  return std::string(reinterpret_cast<const char*>(out.data()), len);
}

std::string hmac_sha256_hex(std::string_view key, std::string_view data) {
  return to_hex(hmac_sha256(key, data));
}

bool constant_time_equal(std::string_view a, std::string_view b) {
  init_sodium();
  if (a.size() != b.size()) return false;
  return a.empty() || sodium_memcmp(a.data(), b.data(), a.size()) == 0;
}

std::string to_hex(std::string_view data) { return hex_of(bytes(data), data.size()); }

}  // namespace coachd
