#pragma once
/// Time-based one-time passwords (RFC 6238 over RFC 4226 HOTP) for two-factor sign-in, and the
/// base32 text that authenticator apps exchange secrets in (RFC 4648, no padding).

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace coachd {

/// The HMAC under a TOTP: authenticator apps use SHA-1; RFC 6238 also defines SHA-256/512.
enum class totp_hash { sha1, sha256, sha512 };

/// Bytes as RFC 4648 base32 (upper case, no padding).
std::string base32_encode(std::string_view bytes);
/// Base32 text (either case, spaces and padding ignored) as bytes; nullopt when malformed.
std::optional<std::string> base32_decode(std::string_view text);

/// The HOTP value (RFC 4226) of `key` at `counter`, zero-padded to `digits` (6..8).
std::string hotp(std::string_view key, std::uint64_t counter, int digits = 6, totp_hash hash = totp_hash::sha1);

/// The TOTP value (RFC 6238) of `key` at `unix_seconds`, with time step `step_seconds`.
std::string totp_code(std::string_view key, std::int64_t unix_seconds, int digits = 6, int step_seconds = 30,
                      totp_hash hash = totp_hash::sha1);

/// The time step whose code `code` is, within `window` steps either side of `unix_seconds`
/// (30 s steps, 6 digits, SHA-1); nullopt when none matches. Compares in constant time.
std::optional<std::int64_t> verify_totp(std::string_view key, std::string_view code, std::int64_t unix_seconds,
                                        int window = 1);

/// The otpauth:// URI (Key Uri Format) that authenticator apps read from a QR code.
std::string totp_uri(std::string_view issuer, std::string_view account, std::string_view base32_secret);

}  // namespace coachd
