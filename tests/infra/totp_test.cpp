// TOTP (infra/totp.hpp) against the RFC 6238 appendix B test vectors, HOTP against RFC 4226
// appendix D, base32 against RFC 4648 §10.

#ifdef BOOST_TEST_UNIT_TEST_HPP_071894GER
#include <boost/test/unit_test.hpp>
bool init_unit_test() {
  boost::unit_test::framework::master_test_suite().p_name.value = "totp";
  return true;
}
int main(int argc, char* argv[]) {
  return boost::unit_test::unit_test_main(&init_unit_test, argc, argv);
}
#else
#define BOOST_TEST_MODULE totp
#include <boost/test/unit_test.hpp>
#endif

#include <string>

#include "infra/totp.hpp"

using namespace coachd;

namespace {
// The RFC 6238 seeds: ASCII "12345678901234567890" repeated to the hash's block of key bytes.
const std::string seed_sha1 = "12345678901234567890";
const std::string seed_sha256 = "12345678901234567890123456789012";
const std::string seed_sha512 = "1234567890123456789012345678901234567890123456789012345678901234";
}  // namespace

BOOST_AUTO_TEST_CASE(rfc6238_test_vectors) {
  struct vector {
    std::int64_t time;
    const char* sha1;
    const char* sha256;
    const char* sha512;
  };
  const vector vectors[] = {
      {59, "94287082", "46119246", "90693936"},
      {1111111109, "07081804", "68084774", "25091201"},
      {1111111111, "14050471", "67062674", "99943326"},
      {1234567890, "89005924", "91819424", "93441116"},
      {2000000000, "69279037", "90698825", "38618901"},
      {20000000000, "65353130", "77737706", "47863826"},
  };
  for (const auto& v : vectors) {
    BOOST_TEST_CONTEXT("T = " << v.time) {
      BOOST_TEST(totp_code(seed_sha1, v.time, 8, 30, totp_hash::sha1) == v.sha1);
      BOOST_TEST(totp_code(seed_sha256, v.time, 8, 30, totp_hash::sha256) == v.sha256);
      BOOST_TEST(totp_code(seed_sha512, v.time, 8, 30, totp_hash::sha512) == v.sha512);
    }
  }
}

BOOST_AUTO_TEST_CASE(rfc4226_hotp_values) {
  const char* expected[] = {"755224", "287082", "359152", "969429", "338314",
                            "254676", "287922", "162583", "399871", "520489"};
  for (std::uint64_t counter = 0; counter < 10; ++counter) {
    BOOST_TEST(hotp(seed_sha1, counter) == expected[counter]);
  }
}

BOOST_AUTO_TEST_CASE(six_digit_codes_verify_within_one_step_either_side) {
  const std::int64_t t = 1234567890;  // step 41152263
  const std::string now_code = totp_code(seed_sha1, t);
  BOOST_TEST(now_code.size() == 6u);
  BOOST_TEST(verify_totp(seed_sha1, now_code, t).value() == t / 30);
  BOOST_TEST(verify_totp(seed_sha1, totp_code(seed_sha1, t - 30), t).has_value());
  BOOST_TEST(verify_totp(seed_sha1, totp_code(seed_sha1, t + 30), t).has_value());
  BOOST_TEST(!verify_totp(seed_sha1, totp_code(seed_sha1, t - 60), t).has_value());
  BOOST_TEST(!verify_totp(seed_sha1, totp_code(seed_sha1, t + 60), t).has_value());
  BOOST_TEST(!verify_totp(seed_sha1, "12345", t).has_value());
  BOOST_TEST(!verify_totp("another key of twenty", now_code, t).has_value());
}

BOOST_AUTO_TEST_CASE(base32_round_trips_and_matches_rfc4648) {
  BOOST_TEST(base32_encode("") == "");
  BOOST_TEST(base32_encode("f") == "MY");
  BOOST_TEST(base32_encode("fo") == "MZXQ");
  BOOST_TEST(base32_encode("foo") == "MZXW6");
  BOOST_TEST(base32_encode("foob") == "MZXW6YQ");
  BOOST_TEST(base32_encode("fooba") == "MZXW6YTB");
  BOOST_TEST(base32_encode("foobar") == "MZXW6YTBOI");
  BOOST_TEST(base32_decode("MZXW6YTBOI======").value() == "foobar");
  BOOST_TEST(base32_decode("mzxw 6ytb oi").value() == "foobar");
  BOOST_TEST(!base32_decode("MZXW1").has_value());
  BOOST_TEST(base32_decode(base32_encode(seed_sha512)).value() == seed_sha512);
}

BOOST_AUTO_TEST_CASE(otpauth_uri_names_issuer_account_and_secret) {
  BOOST_TEST(totp_uri("coachd", "ada@example.org", "JBSWY3DPEHPK3PXP") ==
             "otpauth://totp/coachd:ada%40example.org?secret=JBSWY3DPEHPK3PXP&issuer=coachd&algorithm=SHA1&digits=6&"
             "period=30");
}
