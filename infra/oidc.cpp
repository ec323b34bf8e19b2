#include "infra/oidc.hpp"
#include "infra/percent_encoding.hpp"

#include <curl/curl.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>
#include <sodium.h>

#include <boost/json.hpp>
#include <cstring>

#include "infra/crypto.hpp"

namespace coachd {

namespace json = boost::json;

std::string base64url_encode(std::string_view bytes) {
  init_sodium();
  std::string out(sodium_base64_encoded_len(bytes.size(), sodium_base64_VARIANT_URLSAFE_NO_PADDING), '\0');
  sodium_bin2base64(out.data(), out.size(), reinterpret_cast<const unsigned char*>(bytes.data()), bytes.size(),
                    sodium_base64_VARIANT_URLSAFE_NO_PADDING);
  out.resize(std::strlen(out.c_str()));
  return out;
}

std::optional<std::string> base64url_decode(std::string_view text) {
  init_sodium();
  std::string out(text.size(), '\0');
  std::size_t len = 0;
  if (sodium_base642bin(reinterpret_cast<unsigned char*>(out.data()), out.size(), text.data(), text.size(), nullptr,
                        &len, nullptr, sodium_base64_VARIANT_URLSAFE_NO_PADDING) != 0) {
    return std::nullopt;
  }
  out.resize(len);
  return out;
}

std::string pkce_challenge(std::string_view code_verifier) {
  unsigned char digest[32];
  unsigned int len = 0;
  EVP_Digest(code_verifier.data(), code_verifier.size(), digest, &len, EVP_sha256(), nullptr);
  return base64url_encode(std::string_view(reinterpret_cast<const char*>(digest), len));
}

namespace {

void init_curl_once() {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

std::size_t collect(char* data, std::size_t size, std::size_t count, void* user) {
  auto* body = static_cast<std::string*>(user);
  if (body->size() + size * count > 1 << 20) return 0;  // 1 MiB is more than any provider sends
  body->append(data, size * count);
  return size * count;
}

/// GET (or POST with a form body) and the JSON answer; errors name the URL.
result<json::object> fetch_json(const std::string& url, const std::string* form = nullptr) {
  init_curl_once();
  std::unique_ptr<CURL, void (*)(CURL*)> curl(curl_easy_init(), curl_easy_cleanup);
  if (!curl) return make_error(errc::unavailable, "cannot start an HTTP client");
  std::string body;
  curl_easy_setopt(curl.get(), CURLOPT_URL, url.c_str());
  curl_easy_setopt(curl.get(), CURLOPT_WRITEFUNCTION, collect);
  curl_easy_setopt(curl.get(), CURLOPT_WRITEDATA, &body);
  curl_easy_setopt(curl.get(), CURLOPT_TIMEOUT, 10L);
  curl_easy_setopt(curl.get(), CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(curl.get(), CURLOPT_PROTOCOLS_STR, "https,http");
  curl_easy_setopt(curl.get(), CURLOPT_SSL_VERIFYPEER, 1L);
  curl_easy_setopt(curl.get(), CURLOPT_SSL_VERIFYHOST, 2L);
  curl_slist* headers = curl_slist_append(nullptr, "Accept: application/json");
  curl_easy_setopt(curl.get(), CURLOPT_HTTPHEADER, headers);
  if (form != nullptr) {
    curl_easy_setopt(curl.get(), CURLOPT_POST, 1L);
    curl_easy_setopt(curl.get(), CURLOPT_POSTFIELDS, form->c_str());
    curl_easy_setopt(curl.get(), CURLOPT_POSTFIELDSIZE, static_cast<long>(form->size()));
  }
  const CURLcode rc = curl_easy_perform(curl.get());
  curl_slist_free_all(headers);
  if (rc != CURLE_OK) {
    return make_error(errc::unavailable, "the identity provider did not answer (" + url + "): " + curl_easy_strerror(rc));
  }
  long status = 0;
  curl_easy_getinfo(curl.get(), CURLINFO_RESPONSE_CODE, &status);
  boost::system::error_code ec;
  auto parsed = json::parse(body, ec);
  if (ec || !parsed.is_object()) {
    return make_error(errc::unavailable, "the identity provider sent no JSON object (" + url + ")");
  }
  if (status < 200 || status >= 300) {
    std::string why;
    if (auto* e = parsed.as_object().if_contains("error"); e && e->is_string()) why = std::string(e->as_string());
    return make_error(errc::unauthenticated, "the identity provider refused (" + std::to_string(status) + " " + why + ")",
                      {"code"}, "oidc-refused");
  }
  return std::move(parsed.as_object());
}

std::string string_at(const json::object& o, std::string_view key) {
  if (auto* v = o.if_contains(key); v && v->is_string()) return std::string(v->as_string());
  return {};
}

error refused(const std::string& why) {
  return make_error(errc::unauthenticated, "the ID token is not acceptable: " + why, {"id_token"}, "oidc-token-refused");
}

}  // namespace

struct oidc_client::key {
  EVP_PKEY* pkey = nullptr;
  ~key() { EVP_PKEY_free(pkey); }
};

oidc_client::oidc_client(oidc_config config) : config_(std::move(config)) {
  while (!config_.issuer.empty() && config_.issuer.back() == '/') config_.issuer.pop_back();
}

oidc_client::~oidc_client() = default;

std::optional<error> oidc_client::check_url(const std::string& url) const {
  if (url.rfind("https://", 0) == 0) return std::nullopt;
  if (config_.allow_insecure_http && url.rfind("http://", 0) == 0) return std::nullopt;
  return make_error(errc::unavailable, "identity provider URLs must use https: " + url);
}

result<oidc_client::endpoints> oidc_client::discover() {
  {
    std::lock_guard lock(mutex_);
    if (endpoints_) return *endpoints_;
  }
  const std::string url = config_.issuer + "/.well-known/openid-configuration";
  if (auto e = check_url(url)) return *e;
  auto doc = fetch_json(url);
  if (!doc) return doc.err();
  endpoints found{string_at(*doc, "authorization_endpoint"), string_at(*doc, "token_endpoint"),
                  string_at(*doc, "jwks_uri")};
  if (string_at(*doc, "issuer") != config_.issuer) {
    return make_error(errc::unavailable, "the discovery document names another issuer");
  }
  for (const auto* u : {&found.authorization, &found.token, &found.jwks}) {
    if (u->empty()) return make_error(errc::unavailable, "the discovery document lacks an endpoint");
    if (auto e = check_url(*u)) return *e;
  }
  std::lock_guard lock(mutex_);
  endpoints_ = found;
  return found;
}

std::optional<error> oidc_client::refresh_keys() {
  auto ep = discover();
  if (!ep) return ep.err();
  {
    // Refetch at most every 10 s, whatever unknown kids arrive.
    std::lock_guard lock(mutex_);
    if (keys_fetched_ != std::chrono::steady_clock::time_point{} &&
        std::chrono::steady_clock::now() - keys_fetched_ < std::chrono::seconds(10)) {
      return std::nullopt;
    }
  }
  auto jwks = fetch_json(ep->jwks);
  if (!jwks) return jwks.err();
  std::map<std::string, std::shared_ptr<key>> fresh;
  if (auto* list = jwks->if_contains("keys"); list && list->is_array()) {
    for (const auto& k : list->as_array()) {
      if (!k.is_object()) continue;
      const auto& o = k.as_object();
      if (string_at(o, "kty") != "RSA" || string_at(o, "kid").empty()) continue;
      if (auto use = string_at(o, "use"); !use.empty() && use != "sig") continue;
      auto n = base64url_decode(string_at(o, "n"));
      auto e = base64url_decode(string_at(o, "e"));
      if (!n || !e || n->empty() || e->empty()) continue;
      BIGNUM* bn_n = BN_bin2bn(reinterpret_cast<const unsigned char*>(n->data()), static_cast<int>(n->size()), nullptr);
      BIGNUM* bn_e = BN_bin2bn(reinterpret_cast<const unsigned char*>(e->data()), static_cast<int>(e->size()), nullptr);
      OSSL_PARAM_BLD* bld = OSSL_PARAM_BLD_new();
      OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, bn_n);
      OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, bn_e);
      OSSL_PARAM* params = OSSL_PARAM_BLD_to_param(bld);
      EVP_PKEY_CTX* ctx = EVP_PKEY_CTX_new_from_name(nullptr, "RSA", nullptr);
      auto made = std::make_shared<key>();
      if (ctx != nullptr && EVP_PKEY_fromdata_init(ctx) == 1 &&
          EVP_PKEY_fromdata(ctx, &made->pkey, EVP_PKEY_PUBLIC_KEY, params) == 1) {
        fresh[string_at(o, "kid")] = made;
      }
      EVP_PKEY_CTX_free(ctx);
      OSSL_PARAM_free(params);
      OSSL_PARAM_BLD_free(bld);
      BN_free(bn_n);
      BN_free(bn_e);
    }
  }
  std::lock_guard lock(mutex_);
  keys_ = std::move(fresh);
  keys_fetched_ = std::chrono::steady_clock::now();
  return std::nullopt;
}

result<oidc_authorization> oidc_client::begin() {
  auto ep = discover();
  if (!ep) return ep.err();
  oidc_authorization a;
  a.state = random_token(32);
  a.nonce = random_token(32);
  a.code_verifier = random_token(48);
  a.url = ep->authorization + (ep->authorization.find('?') == std::string::npos ? "?" : "&") +
          "response_type=code&client_id=" + percent_encode(config_.client_id) +
          "&redirect_uri=" + percent_encode(config_.redirect_uri) + "&scope=" + percent_encode(config_.scopes) +
          "&state=" + a.state + "&nonce=" + a.nonce + "&code_challenge=" + pkce_challenge(a.code_verifier) +
          "&code_challenge_method=S256";
  return a;
}

result<oidc_identity> oidc_client::finish(const std::string& code, const std::string& code_verifier,
                                          const std::string& expected_nonce) {
  auto ep = discover();
  if (!ep) return ep.err();
  const std::string form = "grant_type=authorization_code&code=" + percent_encode(code) +
                           "&redirect_uri=" + percent_encode(config_.redirect_uri) +
                           "&client_id=" + percent_encode(config_.client_id) +
                           "&client_secret=" + percent_encode(config_.client_secret) +
                           "&code_verifier=" + percent_encode(code_verifier);
  auto tokens = fetch_json(ep->token, &form);
  if (!tokens) return tokens.err();
  const std::string id_token = string_at(*tokens, "id_token");
  if (id_token.empty()) return refused("the token endpoint sent no id_token");
  const auto now = std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch())
                       .count();
  return verify_id_token(id_token, expected_nonce, now);
}

result<oidc_identity> oidc_client::verify_id_token(const std::string& id_token, const std::string& expected_nonce,
                                                   std::int64_t now) {
  const auto dot1 = id_token.find('.');
  const auto dot2 = dot1 == std::string::npos ? std::string::npos : id_token.find('.', dot1 + 1);
  if (dot2 == std::string::npos || id_token.find('.', dot2 + 1) != std::string::npos) return refused("not a JWS");
  auto header_text = base64url_decode(std::string_view(id_token).substr(0, dot1));
  auto payload_text = base64url_decode(std::string_view(id_token).substr(dot1 + 1, dot2 - dot1 - 1));
  auto signature = base64url_decode(std::string_view(id_token).substr(dot2 + 1));
  if (!header_text || !payload_text || !signature) return refused("not base64url");
  boost::system::error_code ec;
  auto header = json::parse(*header_text, ec);
  if (ec || !header.is_object()) return refused("the header is not JSON");
  auto claims_value = json::parse(*payload_text, ec);
  if (ec || !claims_value.is_object()) return refused("the claims are not JSON");
  const auto& claims = claims_value.as_object();
  // Only RS256: never "none", never a symmetric algorithm keyed with a public key.
  if (string_at(header.as_object(), "alg") != "RS256") return refused("alg must be RS256");
  const std::string kid = string_at(header.as_object(), "kid");
  std::shared_ptr<key> k;
  for (int attempt = 0; attempt < 2 && !k; ++attempt) {
    {
      std::lock_guard lock(mutex_);
      if (auto it = keys_.find(kid); it != keys_.end()) k = it->second;
    }
    if (!k && attempt == 0) {
      if (auto e = refresh_keys()) return *e;
    }
  }
  if (!k) return refused("no key with kid '" + kid + "' in the provider's JWKS");
  const std::string signed_part = id_token.substr(0, dot2);
  EVP_MD_CTX* md = EVP_MD_CTX_new();
  const bool valid = md != nullptr && EVP_DigestVerifyInit(md, nullptr, EVP_sha256(), nullptr, k->pkey) == 1 &&
                     EVP_DigestVerify(md, reinterpret_cast<const unsigned char*>(signature->data()), signature->size(),
                                      reinterpret_cast<const unsigned char*>(signed_part.data()),
                                      signed_part.size()) == 1;
  EVP_MD_CTX_free(md);
  if (!valid) return refused("the signature does not verify");
  if (string_at(claims, "iss") != config_.issuer) return refused("wrong issuer");
  bool audience = false;
  if (auto* aud = claims.if_contains("aud")) {
    if (aud->is_string()) audience = aud->as_string() == config_.client_id;
    if (aud->is_array()) {
      for (const auto& a : aud->as_array()) audience = audience || (a.is_string() && a.as_string() == config_.client_id);
    }
  }
  if (!audience) return refused("the token is for another audience");
  auto number = [&](std::string_view name) -> std::optional<std::int64_t> {
    if (auto* v = claims.if_contains(name)) {
      if (v->is_int64()) return v->as_int64();
      if (v->is_uint64()) return static_cast<std::int64_t>(v->as_uint64());
      if (v->is_double()) return static_cast<std::int64_t>(v->as_double());
    }
    return std::nullopt;
  };
  const auto exp = number("exp");
  if (!exp || *exp + config_.clock_skew.count() < now) return refused("the token has expired");
  if (auto iat = number("iat"); iat && *iat - config_.clock_skew.count() > now) return refused("issued in the future");
  if (expected_nonce.empty() || !constant_time_equal(string_at(claims, "nonce"), expected_nonce)) {
    return refused("the nonce does not match this sign-in");
  }
  bool email_verified = false;
  if (auto* v = claims.if_contains("email_verified")) {
    email_verified = (v->is_bool() && v->as_bool()) || (v->is_string() && v->as_string() == "true");
  }
  oidc_identity id{string_at(claims, "sub"), string_at(claims, "email"), string_at(claims, "name")};
  if (id.email.empty() || !email_verified) return refused("the provider has not verified the e-mail address");
  if (id.subject.empty()) return refused("no subject");
  return id;
}

}  // namespace coachd
