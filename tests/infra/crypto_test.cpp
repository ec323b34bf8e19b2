#define BOOST_TEST_MODULE crypto
#include "infra/crypto.hpp"

#include <boost/test/unit_test.hpp>
#include <chrono>
#include <set>
#include <string>

#include "infra/password.hpp"

using namespace coachd;

namespace {
const std::string dns_namespace = "6ba7b810-9dad-11d1-80b4-00c04fd430c8";
const std::string url_namespace = "6ba7b811-9dad-11d1-80b4-00c04fd430c8";
const std::string base64url_alphabet =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
}  // namespace

BOOST_AUTO_TEST_CASE(uuid_v5_matches_known_vectors) {
  BOOST_TEST(uuid_from_name(dns_namespace, "www.example.com") ==
             "2ed6657d-e927-568b-95e1-2665a8aea6a2");
  // Python: uuid.uuid5(uuid.NAMESPACE_DNS, "python.org") and uuid5(NAMESPACE_URL, ...).
  BOOST_TEST(uuid_from_name(dns_namespace, "python.org") == "886313e1-3b8a-5372-9b90-0c9aee199e5d");
  BOOST_TEST(uuid_from_name(url_namespace, "http://python.org/") ==
             "4c565f0d-3f5a-5890-b41b-20cf47701c5e");
  // The namespace may be written in upper case; the result is always lower case.
  BOOST_TEST(uuid_from_name("6BA7B810-9DAD-11D1-80B4-00C04FD430C8", "www.example.com") ==
             "2ed6657d-e927-568b-95e1-2665a8aea6a2");
}

BOOST_AUTO_TEST_CASE(uuid_v5_is_deterministic_and_name_dependent) {
  const std::string event_id = new_uuid();
  BOOST_TEST(uuid_from_name(event_id, "create-account") ==
             uuid_from_name(event_id, "create-account"));
  BOOST_TEST(uuid_from_name(event_id, "create-account") !=
             uuid_from_name(event_id, "send-welcome"));
  BOOST_TEST(uuid_from_name(new_uuid(), "x") != uuid_from_name(new_uuid(), "x"));
  const std::string id = uuid_from_name(event_id, "create-account");
  BOOST_TEST(is_uuid(id));
  BOOST_TEST(id[14] == '5');
  BOOST_TEST(std::string("89ab").find(id[19]) != std::string::npos);
}

BOOST_AUTO_TEST_CASE(uuid_v5_rejects_a_bad_namespace) {
  BOOST_CHECK_THROW(uuid_from_name("not-a-uuid", "x"), std::invalid_argument);
  BOOST_CHECK_THROW(uuid_from_name("6ba7b8109dad11d180b400c04fd430c8", "x"), std::invalid_argument);
  BOOST_CHECK_THROW(uuid_from_name("6ba7b810-9dad-11d1-80b4-00c04fd430cg", "x"),
                    std::invalid_argument);
}

BOOST_AUTO_TEST_CASE(new_uuid_is_a_time_ordered_v7) {
  const auto now_ms = [] {
    return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
        .count();
  };
  const auto before = now_ms();
  std::set<std::string> seen;
  std::string previous_stamp;
  for (int i = 0; i < 10000; ++i) {
    const std::string id = new_uuid();
    BOOST_REQUIRE(is_uuid(id));
    BOOST_TEST(id.find_first_not_of("0123456789abcdef-") == std::string::npos);
    BOOST_TEST(id[14] == '7');
    BOOST_TEST(std::string("89ab").find(id[19]) != std::string::npos);
    // The first 48 bits are the creation time in milliseconds: never going back.
    const std::string stamp = id.substr(0, 8) + id.substr(9, 4);
    BOOST_TEST(stamp >= previous_stamp);
    previous_stamp = stamp;
    seen.insert(id);
  }
  const auto after = now_ms();
  const auto first_ms = std::stoll(seen.begin()->substr(0, 8) + seen.begin()->substr(9, 4), nullptr, 16);
  BOOST_TEST(first_ms >= before);
  BOOST_TEST(first_ms <= after);
  BOOST_TEST(seen.size() == 10000u);
}

BOOST_AUTO_TEST_CASE(is_uuid_checks_shape) {
  BOOST_TEST(is_uuid(dns_namespace));
  BOOST_TEST(!is_uuid(""));
  BOOST_TEST(!is_uuid(dns_namespace + "0"));
  BOOST_TEST(!is_uuid("6ba7b810-9dad-11d1-80b4_00c04fd430c8"));
  BOOST_TEST(!is_uuid("6ba7b810-9dad-11d1-80b400c04fd430c8-"));
}

BOOST_AUTO_TEST_CASE(random_tokens_have_expected_length_alphabet_and_are_unique) {
  BOOST_TEST(random_token().size() == 43u);  // 32 bytes
  BOOST_TEST(random_token(16).size() == 22u);
  BOOST_TEST(random_token(1).size() == 2u);
  BOOST_TEST(random_token(0).empty());
  std::set<std::string> seen;
  for (int i = 0; i < 10000; ++i) {
    const std::string token = random_token();
    BOOST_TEST(token.find_first_not_of(base64url_alphabet) == std::string::npos);
    seen.insert(token);
  }
  BOOST_TEST(seen.size() == 10000u);
}

BOOST_AUTO_TEST_CASE(token_hash_is_blake2b_256) {
  // BLAKE2b-256 of the empty string (RFC 7693 parameters, 32-byte output).
  BOOST_TEST(token_hash_hex("") ==
             "0e5751c026e543b2e8ab2eb06099daa1d1e5df47778f7787faab45cdf12fe3a8");
  BOOST_TEST(token_hash_hex("abc") ==
             "bddd813c634239723171ef3fee98579b94964e3bb1cb3e427262c8c068d52319");
  const std::string token = random_token();
  BOOST_TEST(token_hash_hex(token) == token_hash_hex(token));
  BOOST_TEST(token_hash_hex(token).size() == 64u);
}

BOOST_AUTO_TEST_CASE(sha256_matches_known_vectors) {
  BOOST_TEST(sha256_hex("") == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  BOOST_TEST(sha256_hex("abc") ==
             "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

BOOST_AUTO_TEST_CASE(keyed_hash_is_stable_and_key_dependent) {
  const std::string key1(32, 'k');
  const std::string key2(32, 'K');
  const std::string h = keyed_hash_hex(key1, "coach@example.com");
  BOOST_TEST(h.size() == 64u);
  BOOST_TEST(h.find_first_not_of("0123456789abcdef") == std::string::npos);
  BOOST_TEST(keyed_hash_hex(key1, "coach@example.com") == h);
  BOOST_TEST(keyed_hash_hex(key2, "coach@example.com") != h);
  BOOST_TEST(keyed_hash_hex(key1, "client@example.com") != h);
  BOOST_TEST(keyed_hash_hex(key1, "coach@example.com") != token_hash_hex("coach@example.com"));
  BOOST_CHECK_THROW(keyed_hash_hex("short", "x"), std::invalid_argument);
  BOOST_CHECK_THROW(keyed_hash_hex(std::string(65, 'k'), "x"), std::invalid_argument);
}

BOOST_AUTO_TEST_CASE(hmac_sha256_matches_rfc_4231) {
  // RFC 4231 test case 2.
  BOOST_TEST(hmac_sha256_hex("Jefe", "what do ya want for nothing?") ==
             "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
  // Test case 1: key = 20 bytes of 0x0b.
  BOOST_TEST(hmac_sha256_hex(std::string(20, '\x0b'), "Hi There") ==
             "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7");
  BOOST_TEST(hmac_sha256("Jefe", "x").size() == 32u);
}

BOOST_AUTO_TEST_CASE(constant_time_equal_compares) {
  BOOST_TEST(constant_time_equal("", ""));
  BOOST_TEST(constant_time_equal("abc", "abc"));
  BOOST_TEST(!constant_time_equal("abc", "abd"));
  BOOST_TEST(!constant_time_equal("abc", "abcd"));
  BOOST_TEST(to_hex(std::string("\x00\xff\x10", 3)) == "00ff10");
}

BOOST_AUTO_TEST_CASE(password_hash_verifies_and_rejects) {
  const std::string hash = hash_password("correct horse battery staple");
  BOOST_TEST(hash.starts_with("$argon2id$v=19$m=65536,t=2,p=1$"));
  BOOST_TEST(verify_password(hash, "correct horse battery staple"));
  BOOST_TEST(!verify_password(hash, "correct horse battery stapl"));
  BOOST_TEST(!verify_password(hash, ""));
  BOOST_TEST(!needs_rehash(hash));
  // Same password, fresh salt.
  BOOST_TEST(hash_password("correct horse battery staple") != hash);
}

BOOST_AUTO_TEST_CASE(password_unicode_and_malformed_hashes) {
  const std::string hash = hash_password("pässwörd 🔑", minimum_password_params);
  BOOST_TEST(verify_password(hash, "pässwörd 🔑"));
  BOOST_TEST(!verify_password(hash, "passwörd 🔑"));
  BOOST_TEST(!verify_password("", "x"));
  BOOST_TEST(!verify_password("$argon2id$garbage", "x"));
  BOOST_TEST(!verify_password(std::string(500, '$'), "x"));
  BOOST_TEST(needs_rehash("$argon2id$garbage"));
}

BOOST_AUTO_TEST_CASE(needs_rehash_follows_the_parameters) {
  const std::string weak = hash_password("secret", minimum_password_params);
  BOOST_TEST(needs_rehash(weak));
  BOOST_TEST(!needs_rehash(weak, minimum_password_params));
  BOOST_TEST(verify_password(weak, "secret"));
}

BOOST_AUTO_TEST_CASE(dummy_verification_costs_about_a_real_one) {
  using clock = std::chrono::steady_clock;
  const std::string hash = hash_password("secret");
  verify_dummy_password("warm-up");  // the first call also makes the dummy hash
  auto time = [](auto&& f) {
    auto best = clock::duration::max();
    for (int i = 0; i < 3; ++i) {
      const auto start = clock::now();
      f();
      best = std::min(best, clock::now() - start);
    }
    return std::chrono::duration<double, std::milli>(best).count();
  };
  const double real = time([&] { BOOST_TEST(!verify_password(hash, "wrong")); });
  const double dummy = time([] { verify_dummy_password("wrong"); });
  BOOST_TEST_MESSAGE("wrong password " << real << " ms, unknown account " << dummy << " ms");
  // Generous bounds: 2 shared cores make timings noisy; a skipped verification would be ~0 ms.
  BOOST_TEST(dummy > real * 0.5);
  BOOST_TEST(dummy < real * 2.0);
}
