#pragma once
// A local OpenID Connect provider for tests, on 127.0.0.1 over plain HTTP (the relying party
// runs with allow_insecure_http): discovery, JWKS with its own RSA key, an authorization step
// the test drives directly (authorize), and a token endpoint that checks the code, the client
// secret and the PKCE verifier, then signs an ID token (RS256). `tamper` makes the next tokens
// bad in one chosen way, so tests can prove each is refused.

#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/rsa.h>

#include <atomic>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/json.hpp>
#include <chrono>
#include <map>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>

#include "infra/crypto.hpp"
#include "infra/oidc.hpp"

namespace coachd::test {

class oidc_provider {
 public:
  enum class tamper { none, forged_signature, wrong_audience, expired, other_nonce, unverified_email, alg_none };

  explicit oidc_provider(std::string client_id, std::string client_secret)
      : client_id_(std::move(client_id)), client_secret_(std::move(client_secret)) {
    key_ = EVP_RSA_gen(2048);
    other_key_ = EVP_RSA_gen(2048);
    if (key_ == nullptr || other_key_ == nullptr) throw std::runtime_error("RSA key generation failed");
    acceptor_.open(boost::asio::ip::tcp::v4());
    acceptor_.bind({boost::asio::ip::make_address("127.0.0.1"), 0});
    acceptor_.listen();
    issuer_ = "http://127.0.0.1:" + std::to_string(acceptor_.local_endpoint().port());
    thread_ = std::thread([this] { serve(); });
  }

  ~oidc_provider() {
    stopping_ = true;
    boost::system::error_code ec;
    // Wake the blocking accept with one connection.
    boost::asio::ip::tcp::socket poke(io_);
    poke.connect(acceptor_.local_endpoint(), ec);
    thread_.join();
    EVP_PKEY_free(key_);
    EVP_PKEY_free(other_key_);
  }

  const std::string& issuer() const { return issuer_; }
  void set_tamper(tamper t) { tamper_ = t; }
  /// How many times the JWKS was fetched (the relying party caches it by kid).
  int jwks_fetches() const { return jwks_fetches_; }

  /// The user agrees at the provider: given the relying party's authorization URL, returns the
  /// redirect's (code, state), remembering the nonce and PKCE challenge for the token request.
  std::pair<std::string, std::string> authorize(const std::string& authorization_url, const std::string& email,
                                                bool email_verified = true) {
    const auto question = authorization_url.find('?');
    if (question == std::string::npos) throw std::runtime_error("bad authorization URL");
    auto q = parse_form(authorization_url.substr(question + 1));
    if (q["client_id"] != client_id_ || q["response_type"] != "code" || q["code_challenge_method"] != "S256") {
      throw std::runtime_error("authorization request is not a PKCE code flow for our client");
    }
    grant g{q["nonce"], q["code_challenge"], email, email_verified};
    const std::string code = random_token(16);
    std::lock_guard lock(mutex_);
    grants_[code] = g;
    return {code, q["state"]};
  }

  /// A signed ID token with these claims (for verifying tokens directly).
  std::string id_token(const std::string& nonce, const std::string& email, bool email_verified = true) {
    return sign(nonce, email, email_verified);
  }

 private:
  struct grant {
    std::string nonce, challenge, email;
    bool email_verified = true;
  };

  /// application/x-www-form-urlencoded (or a query string) as a map.
  static std::map<std::string, std::string> parse_form(const std::string& text) {
    auto decode = [](std::string_view v) {
      std::string out;
      for (std::size_t i = 0; i < v.size(); ++i) {
        if (v[i] == '+') {
          out += ' ';
        } else if (v[i] == '%' && i + 2 < v.size()) {
          out += static_cast<char>(std::stoi(std::string(v.substr(i + 1, 2)), nullptr, 16));
          i += 2;
        } else {
          out += v[i];
        }
      }
      return out;
    };
    std::map<std::string, std::string> out;
    std::string_view rest = text;
    while (!rest.empty()) {
      const auto amp = rest.find('&');
      const auto pair = rest.substr(0, amp);
      const auto eq = pair.find('=');
      if (eq != std::string_view::npos) out[decode(pair.substr(0, eq))] = decode(pair.substr(eq + 1));
      if (amp == std::string_view::npos) break;
      rest.remove_prefix(amp + 1);
    }
    return out;
  }

  static std::string bn_param(EVP_PKEY* key, const char* name) {
    BIGNUM* bn = nullptr;
    EVP_PKEY_get_bn_param(key, name, &bn);
    std::string bytes(static_cast<std::size_t>(BN_num_bytes(bn)), '\0');
    BN_bn2bin(bn, reinterpret_cast<unsigned char*>(bytes.data()));
    BN_free(bn);
    return base64url_encode(bytes);
  }

  std::string sign(const std::string& nonce, const std::string& email, bool email_verified) {
    namespace json = boost::json;
    const auto now = std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch())
                         .count();
    const tamper t = tamper_;
    json::object header{{"alg", t == tamper::alg_none ? "none" : "RS256"}, {"kid", "test-key-1"}, {"typ", "JWT"}};
    json::object claims{{"iss", issuer_},
                        {"aud", t == tamper::wrong_audience ? "someone-else" : client_id_},
                        {"sub", "subject-" + email},
                        {"email", email},
                        {"email_verified", email_verified && t != tamper::unverified_email},
                        {"name", "Test Person"},
                        {"nonce", t == tamper::other_nonce ? "a-nonce-from-another-sign-in" : nonce},
                        {"iat", t == tamper::expired ? now - 7200 : now},
                        {"exp", t == tamper::expired ? now - 3600 : now + 600}};
    const std::string signing_input =
        base64url_encode(json::serialize(header)) + "." + base64url_encode(json::serialize(claims));
    if (t == tamper::alg_none) return signing_input + ".";
    EVP_PKEY* signer = t == tamper::forged_signature ? other_key_ : key_;
    EVP_MD_CTX* md = EVP_MD_CTX_new();
    std::size_t len = 0;
    EVP_DigestSignInit(md, nullptr, EVP_sha256(), nullptr, signer);
    EVP_DigestSign(md, nullptr, &len, reinterpret_cast<const unsigned char*>(signing_input.data()), signing_input.size());
    std::string signature(len, '\0');
    EVP_DigestSign(md, reinterpret_cast<unsigned char*>(signature.data()), &len,
                   reinterpret_cast<const unsigned char*>(signing_input.data()), signing_input.size());
    EVP_MD_CTX_free(md);
    signature.resize(len);
    return signing_input + "." + base64url_encode(signature);
  }

  void serve() {
    namespace http = boost::beast::http;
    namespace json = boost::json;
    while (!stopping_) {
      boost::asio::ip::tcp::socket socket(io_);
      boost::system::error_code ec;
      acceptor_.accept(socket, ec);
      if (ec || stopping_) continue;
      boost::beast::flat_buffer buffer;
      http::request<http::string_body> req;
      http::read(socket, buffer, req, ec);
      if (ec) continue;
      http::response<http::string_body> res{http::status::ok, req.version()};
      res.set(http::field::content_type, "application/json");
      const std::string target(req.target());
      json::object body;
      if (target == "/.well-known/openid-configuration") {
        body = {{"issuer", issuer_},
                {"authorization_endpoint", issuer_ + "/authorize"},
                {"token_endpoint", issuer_ + "/token"},
                {"jwks_uri", issuer_ + "/jwks"},
                {"id_token_signing_alg_values_supported", json::array{"RS256"}}};
      } else if (target == "/jwks") {
        ++jwks_fetches_;
        body = {{"keys", json::array{json::object{{"kty", "RSA"},
                                                  {"kid", "test-key-1"},
                                                  {"use", "sig"},
                                                  {"alg", "RS256"},
                                                  {"n", bn_param(key_, OSSL_PKEY_PARAM_RSA_N)},
                                                  {"e", bn_param(key_, OSSL_PKEY_PARAM_RSA_E)}}}}};
      } else if (target == "/token" && req.method() == http::verb::post) {
        auto form = parse_form(req.body());
        std::optional<grant> g;
        {
          std::lock_guard lock(mutex_);
          if (auto it = grants_.find(form["code"]); it != grants_.end()) {
            g = it->second;
            grants_.erase(it);  // codes are single use
          }
        }
        if (!g || form["client_id"] != client_id_ || form["client_secret"] != client_secret_ ||
            form["grant_type"] != "authorization_code" || pkce_challenge(form["code_verifier"]) != g->challenge) {
          res.result(http::status::bad_request);
          body = {{"error", "invalid_grant"}};
        } else {
          body = {{"access_token", "at-" + random_token(8)},
                  {"token_type", "Bearer"},
                  {"expires_in", 3600},
                  {"id_token", sign(g->nonce, g->email, g->email_verified)}};
        }
      } else {
        res.result(http::status::not_found);
        body = {{"error", "not_found"}};
      }
      res.body() = json::serialize(body);
      res.prepare_payload();
      http::write(socket, res, ec);
    }
  }

  std::string client_id_, client_secret_, issuer_;
  EVP_PKEY* key_ = nullptr;
  EVP_PKEY* other_key_ = nullptr;
  boost::asio::io_context io_;
  boost::asio::ip::tcp::acceptor acceptor_{io_};
  std::thread thread_;
  std::atomic<bool> stopping_{false};
  std::atomic<tamper> tamper_{tamper::none};
  std::atomic<int> jwks_fetches_{0};
  std::mutex mutex_;
  std::map<std::string, grant> grants_;
};

}  // namespace coachd::test
