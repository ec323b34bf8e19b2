#include "infra/password.hpp"

#include <map>
#include <mutex>
#include <stdexcept>
#include <utility>

#include "infra/crypto.hpp"

namespace coachd {

std::string hash_password(std::string_view password, const password_params& params) {
  init_sodium();
  char out[crypto_pwhash_STRBYTES];
  if (crypto_pwhash_str_alg(out, password.data(), password.size(), params.opslimit, params.memlimit,
                            crypto_pwhash_ALG_ARGON2ID13) != 0) {
    throw std::runtime_error("Argon2id hashing failed (out of memory?)");
  }
  return out;
}

bool verify_password(std::string_view hash, std::string_view password) {
  init_sodium();
  if (hash.size() >= crypto_pwhash_STRBYTES) return false;
  const std::string terminated(hash);  // libsodium reads a NUL-terminated string
  return crypto_pwhash_str_verify(terminated.c_str(), password.data(), password.size()) == 0;
}

bool needs_rehash(std::string_view hash, const password_params& params) {
  init_sodium();
  if (hash.size() >= crypto_pwhash_STRBYTES) return true;
  const std::string terminated(hash);
  return crypto_pwhash_str_needs_rehash(terminated.c_str(), params.opslimit, params.memlimit) != 0;
}

void verify_dummy_password(std::string_view password, const password_params& params) {
  // One dummy hash per parameter set, made once from a random password nobody knows.
  static std::mutex mutex;
  static std::map<std::pair<unsigned long long, std::size_t>, std::string> dummies;
  std::string dummy;
  {
    std::lock_guard lock(mutex);
    auto& slot = dummies[{params.opslimit, params.memlimit}];
    if (slot.empty()) slot = hash_password(random_token(), params);
    dummy = slot;
  }
  // An opaque library call: the compiler cannot drop it, and its answer means nothing.
  static_cast<void>(verify_password(dummy, password));
}

}  // namespace coachd
