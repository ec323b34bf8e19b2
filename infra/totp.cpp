#include "infra/totp.hpp"
#include "infra/percent_encoding.hpp"

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <stdexcept>

#include "infra/crypto.hpp"

namespace coachd {

namespace {

constexpr std::string_view base32_alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

const EVP_MD* digest_of(totp_hash hash) {
  switch (hash) {
    case totp_hash::sha1:
      return EVP_sha1();
    case totp_hash::sha256:
      return EVP_sha256();
    case totp_hash::sha512:
      return EVP_sha512();
  }
  return EVP_sha1();
}

}  // namespace

std::string base32_encode(std::string_view bytes) {
  std::string out;
  std::uint32_t buffer = 0;
  int bits = 0;
  for (unsigned char c : bytes) {
    buffer = (buffer << 8) | c;
    bits += 8;
    while (bits >= 5) {
      out += base32_alphabet[(buffer >> (bits - 5)) & 31];
      bits -= 5;
    }
  }
  if (bits > 0) out += base32_alphabet[(buffer << (5 - bits)) & 31];
  return out;
}

std::optional<std::string> base32_decode(std::string_view text) {
  std::string out;
  std::uint32_t buffer = 0;
  int bits = 0;
  for (char ch : text) {
    if (ch == ' ' || ch == '=' || ch == '-') continue;
    if (ch >= 'a' && ch <= 'z') ch = static_cast<char>(ch - 'a' + 'A');
    const auto pos = base32_alphabet.find(ch);
    if (pos == std::string_view::npos) return std::nullopt;
    buffer = (buffer << 5) | static_cast<std::uint32_t>(pos);
    bits += 5;
    if (bits >= 8) {
      out += static_cast<char>((buffer >> (bits - 8)) & 0xff);
      bits -= 8;
    }
  }
  return out;
}

std::string hotp(std::string_view key, std::uint64_t counter, int digits, totp_hash hash) {
  if (digits < 6 || digits > 8) throw std::invalid_argument("HOTP digits must be 6 to 8");
  unsigned char message[8];
  for (int i = 7; i >= 0; --i) {
    message[i] = static_cast<unsigned char>(counter & 0xff);
    counter >>= 8;
  }
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int mac_len = 0;
  if (HMAC(digest_of(hash), key.data(), static_cast<int>(key.size()), message, sizeof message, mac, &mac_len) ==
      nullptr) {
    throw std::runtime_error("HMAC failed");
  }
  // Dynamic truncation (RFC 4226 §5.3).
  const unsigned offset = mac[mac_len - 1] & 0x0f;
  const std::uint32_t binary = (static_cast<std::uint32_t>(mac[offset] & 0x7f) << 24) |
                               (static_cast<std::uint32_t>(mac[offset + 1]) << 16) |
                               (static_cast<std::uint32_t>(mac[offset + 2]) << 8) | mac[offset + 3];
  std::uint32_t modulus = 1;
  for (int i = 0; i < digits; ++i) modulus *= 10;
  std::string code = std::to_string(binary % modulus);
  return std::string(static_cast<std::size_t>(digits) - code.size(), '0') + code;
}

std::string totp_code(std::string_view key, std::int64_t unix_seconds, int digits, int step_seconds,
                      totp_hash hash) {
  return hotp(key, static_cast<std::uint64_t>(unix_seconds / step_seconds), digits, hash);
}

std::optional<std::int64_t> verify_totp(std::string_view key, std::string_view code, std::int64_t unix_seconds,
                                        int window) {
  if (code.size() != 6) return std::nullopt;
  const std::int64_t step = unix_seconds / 30;
  std::optional<std::int64_t> matched;
  for (std::int64_t s = step - window; s <= step + window; ++s) {
    if (s < 0) continue;
    if (constant_time_equal(hotp(key, static_cast<std::uint64_t>(s)), code) && !matched) matched = s;
  }
  return matched;
}

std::string totp_uri(std::string_view issuer, std::string_view account, std::string_view base32_secret) {
  return "otpauth://totp/" + percent_encode(issuer) + ":" + percent_encode(account) + "?secret=" +
         std::string(base32_secret) + "&issuer=" + percent_encode(issuer) + "&algorithm=SHA1&digits=6&period=30";
}

}  // namespace coachd
