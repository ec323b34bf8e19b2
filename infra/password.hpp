#pragma once
/// Password storage: Argon2id (libsodium crypto_pwhash_str) hashes in the PHC string format
/// ("$argon2id$v=19$m=65536,t=2,p=1$salt$hash"), which carries its own salt and parameters.

#include <sodium.h>

#include <cstddef>
#include <string>
#include <string_view>

namespace coachd {

/// Argon2id cost parameters.
///
/// The defaults are libsodium's INTERACTIVE level: opslimit = 2 passes, memlimit = 64 MiB
/// (67108864 bytes), one lane — about 50–100 ms of one core and 64 MiB of memory per hash or
/// verification. The gateway bounds how many run at once, since each holds 64 MiB.
struct password_params {
  unsigned long long opslimit = crypto_pwhash_argon2id_OPSLIMIT_INTERACTIVE;
  std::size_t memlimit = crypto_pwhash_argon2id_MEMLIMIT_INTERACTIVE;
};

/// INTERACTIVE: opslimit 2, memlimit 64 MiB (the default).
inline constexpr password_params interactive_password_params{};
/// MODERATE: opslimit 3, memlimit 256 MiB.
inline constexpr password_params moderate_password_params{crypto_pwhash_argon2id_OPSLIMIT_MODERATE,
                                                          crypto_pwhash_argon2id_MEMLIMIT_MODERATE};
/// The smallest Argon2id allows (opslimit 1, memlimit 8 KiB): for tests only, never for users.
inline constexpr password_params minimum_password_params{crypto_pwhash_argon2id_OPSLIMIT_MIN,
                                                         crypto_pwhash_argon2id_MEMLIMIT_MIN};

/// Hashes `password` with a fresh random salt. Throws std::runtime_error when the memory
/// cannot be had (an infrastructure failure, not a property of the password).
std::string hash_password(std::string_view password, const password_params& params = {});

/// Whether `password` matches `hash`; false for a malformed hash too.
bool verify_password(std::string_view hash, std::string_view password);

/// Whether `hash` was made with other parameters (or another algorithm) than `params`, so it
/// should be replaced by hash_password() after the next successful sign-in. True for a
/// malformed hash.
bool needs_rehash(std::string_view hash, const password_params& params = {});

/// Does the work of one verification against a fixed dummy hash made with `params`, and
/// discards the answer: sign-in with an unknown e-mail then costs what a wrong password costs,
/// so response time does not reveal which addresses have accounts.
void verify_dummy_password(std::string_view password, const password_params& params = {});

}  // namespace coachd
