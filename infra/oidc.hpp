#pragma once
/// An OpenID Connect relying party (authorization-code flow with PKCE, `state` and `nonce`)
/// for "Sign in with Google" or any other provider: discovery, the authorization URL, the code
/// exchange, and ID-token verification (RS256 against the provider's JWKS, fetched over HTTPS
/// and cached by `kid`; iss, aud, exp, nonce and email_verified checked).

#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>

#include "events/errors.hpp"

namespace coachd {

/// Where the provider is and who we are to it (from configuration).
struct oidc_config {
  std::string issuer;         // e.g. https://accounts.google.com
  std::string client_id;
  std::string client_secret;
  std::string redirect_uri;   // our callback, registered with the provider
  std::string scopes = "openid email profile";
  /// Only for tests and loopback development: allow http:// provider URLs.
  bool allow_insecure_http = false;
  std::chrono::seconds clock_skew{60};
};

/// What a verified ID token says about the person.
struct oidc_identity {
  std::string subject;  // "sub"
  std::string email;    // as the provider sent it (verified)
  std::string name;
};

/// A flow in progress: what the browser is sent to and what we keep until the callback.
struct oidc_authorization {
  std::string url;
  std::string state, nonce, code_verifier;
};

/// base64url without padding, both ways (nullopt for malformed input).
std::string base64url_encode(std::string_view bytes);
std::optional<std::string> base64url_decode(std::string_view text);

/// The PKCE S256 challenge of a verifier: base64url(SHA-256(verifier)).
std::string pkce_challenge(std::string_view code_verifier);

/// The relying party. Thread-safe; network calls block (run them off the I/O threads).
class oidc_client {
 public:
  explicit oidc_client(oidc_config config);
  ~oidc_client();
  oidc_client(const oidc_client&) = delete;
  oidc_client& operator=(const oidc_client&) = delete;

  const oidc_config& config() const { return config_; }

  /// A fresh state, nonce and PKCE verifier and the provider's authorization URL for them.
  /// Fetches the discovery document on first use; an unavailable provider is an error.
  result<oidc_authorization> begin();

  /// Exchanges the authorization code (with the verifier) at the token endpoint and verifies
  /// the ID token against `expected_nonce`.
  result<oidc_identity> finish(const std::string& code, const std::string& code_verifier,
                               const std::string& expected_nonce);

  /// Verifies an ID token (signature by `kid` from the JWKS, refetched once for an unknown kid;
  /// iss, aud, exp, nonce, email_verified). `now` is seconds since the epoch.
  result<oidc_identity> verify_id_token(const std::string& id_token, const std::string& expected_nonce,
                                        std::int64_t now);

 private:
  struct endpoints {
    std::string authorization, token, jwks;
  };
  result<endpoints> discover();
  std::optional<error> refresh_keys();
  std::optional<error> check_url(const std::string& url) const;

  oidc_config config_;
  std::mutex mutex_;
  std::optional<endpoints> endpoints_;
  struct key;
  std::map<std::string, std::shared_ptr<key>> keys_;  // by kid
  std::chrono::steady_clock::time_point keys_fetched_{};
};

}  // namespace coachd
