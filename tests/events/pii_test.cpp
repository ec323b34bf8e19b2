#define BOOST_TEST_MODULE pii
#include "events/pii.hpp"

#include <boost/test/unit_test.hpp>
#include <set>
#include <string>
#include <thread>
#include <vector>

using namespace coachd;

namespace {

data_key make_key() {
  BOOST_REQUIRE(sodium_init() >= 0);
  data_key key;
  crypto_aead_xchacha20poly1305_ietf_keygen(key.data());
  return key;
}

// Flips one character of the base64 body at `pos` to another base64url character.
std::string flip(std::string sealed, std::size_t pos) {
  sealed[pos] = sealed[pos] == 'A' ? 'B' : 'A';
  return sealed;
}

}  // namespace

BOOST_AUTO_TEST_CASE(seal_then_open_round_trips) {
  const auto key = make_key();
  for (const std::string& plain :
       {std::string(), std::string("Ada Lovelace"), std::string("ada@example.com"),
        std::string(1000, 'x'), std::string("with\0nul", 8)}) {
    const std::string sealed = seal_field(key, plain, "IntakeSubmitted/name/intake-1");
    BOOST_TEST(is_sealed(sealed));
    BOOST_TEST(sealed.starts_with("pii:v1:"));
    if (!plain.empty()) BOOST_TEST(sealed.find(plain) == std::string::npos);
    const auto opened = open_field(key, sealed, "IntakeSubmitted/name/intake-1");
    BOOST_REQUIRE(opened.has_value());
    BOOST_TEST(*opened == plain);
  }
}

BOOST_AUTO_TEST_CASE(unicode_survives) {
  const auto key = make_key();
  const std::string plain = "Zoë Åström — 山田太郎 👩‍💻 ∑";
  const auto opened = open_field(key, seal_field(key, plain, "ad"), "ad");
  BOOST_REQUIRE(opened.has_value());
  BOOST_TEST(*opened == plain);
}

BOOST_AUTO_TEST_CASE(sealed_form_is_base64url_without_padding) {
  const auto key = make_key();
  for (std::size_t n = 0; n < 40; ++n) {
    const std::string sealed = seal_field(key, std::string(n, 'a'), "");
    const std::string body = sealed.substr(sealed_prefix.size());
    BOOST_TEST(body.find_first_not_of(
                   "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_") ==
               std::string::npos);
    // 24-byte nonce + n bytes + 16-byte tag, unpadded.
    BOOST_TEST(body.size() == ((24 + n + 16) * 4 + 2) / 3);
    BOOST_TEST(open_field(key, sealed, "").value() == std::string(n, 'a'));
  }
}

BOOST_AUTO_TEST_CASE(every_seal_uses_a_fresh_nonce) {
  const auto key = make_key();
  std::set<std::string> seen;
  for (int i = 0; i < 1000; ++i) seen.insert(seal_field(key, "same text", "same ad"));
  BOOST_TEST(seen.size() == 1000u);
}

BOOST_AUTO_TEST_CASE(tampering_anywhere_is_detected) {
  const auto key = make_key();
  const std::string sealed = seal_field(key, "Ada Lovelace", "ad");
  for (std::size_t pos = sealed_prefix.size(); pos < sealed.size(); ++pos) {
    BOOST_TEST(!open_field(key, flip(sealed, pos), "ad").has_value(), "position " << pos);
  }
  BOOST_TEST(!open_field(key, sealed.substr(0, sealed.size() - 1), "ad").has_value());
  BOOST_TEST(!open_field(key, sealed.substr(0, sealed.size() - 4), "ad").has_value());
  BOOST_TEST(!open_field(key, sealed + "A", "ad").has_value());
  BOOST_TEST(!open_field(key, sealed + "AAAA", "ad").has_value());
}

BOOST_AUTO_TEST_CASE(wrong_associated_data_is_rejected) {
  const auto key = make_key();
  const std::string sealed = seal_field(key, "Ada", "IntakeSubmitted/name/intake-1");
  BOOST_TEST(!open_field(key, sealed, "IntakeSubmitted/name/intake-2").has_value());
  BOOST_TEST(!open_field(key, sealed, "IntakeSubmitted/email/intake-1").has_value());
  BOOST_TEST(!open_field(key, sealed, "").has_value());
}

BOOST_AUTO_TEST_CASE(wrong_key_is_rejected) {
  const auto key = make_key();
  const auto other = make_key();
  BOOST_TEST(!open_field(other, seal_field(key, "Ada", "ad"), "ad").has_value());
}

BOOST_AUTO_TEST_CASE(malformed_values_are_not_sealed) {
  const auto key = make_key();
  for (const std::string& bad : {std::string(), std::string("Ada Lovelace"), std::string("pii:v1:"),
                                 std::string("pii:v2:") + std::string(60, 'A'),
                                 std::string("pii:v1:") + std::string(10, 'A'),
                                 std::string("pii:v1:") + std::string(59, 'A') + "=",
                                 std::string("pii:v1:") + std::string(59, 'A') + "+",
                                 std::string("PII:V1:") + std::string(60, 'A')}) {
    BOOST_TEST(!is_sealed(bad), bad);
    BOOST_TEST(!open_field(key, bad, "").has_value(), bad);
  }
}

BOOST_AUTO_TEST_CASE(memory_provider_creates_one_key_per_subject) {
  memory_key_provider keys;
  BOOST_TEST(!keys.key_for_read("person-1").has_value());
  const auto k1 = keys.key_for_write("person-1");
  BOOST_TEST((keys.key_for_write("person-1") == k1));
  BOOST_TEST((keys.key_for_read("person-1").value() == k1));
  BOOST_TEST((keys.key_for_write("person-2") != k1));
}

BOOST_AUTO_TEST_CASE(memory_provider_erase_shreds) {
  memory_key_provider keys;
  const std::string sealed = seal_field(keys.key_for_write("person-1"), "Ada", "ad");
  keys.erase("person-1");
  BOOST_TEST(!keys.key_for_read("person-1").has_value());
  BOOST_CHECK_THROW(keys.key_for_write("person-1"), subject_erased_error);
  // Erasing a subject that never had a key still forbids one later.
  keys.erase("person-3");
  BOOST_TEST(!keys.key_for_read("person-3").has_value());
  BOOST_CHECK_THROW(keys.key_for_write("person-3"), subject_erased_error);
  keys.erase("person-1");  // idempotent
  BOOST_TEST(!keys.key_for_read("person-1").has_value());
}

BOOST_AUTO_TEST_CASE(memory_provider_is_thread_safe) {
  memory_key_provider keys;
  std::vector<data_key> seen(8);
  std::vector<std::thread> threads;
  for (std::size_t t = 0; t < seen.size(); ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 1000; ++i) keys.key_for_write("subject-" + std::to_string(i));
      seen[t] = keys.key_for_write("subject-7");
    });
  }
  for (auto& t : threads) t.join();
  for (const auto& k : seen) BOOST_TEST((k == seen[0]));
}
