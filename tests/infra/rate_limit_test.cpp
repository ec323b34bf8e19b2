// Token buckets (infra/rate_limit.hpp) on an explicit clock: bursts, refill, Retry-After.

#ifdef BOOST_TEST_UNIT_TEST_HPP_071894GER
#include <boost/test/unit_test.hpp>
bool init_unit_test() {
  boost::unit_test::framework::master_test_suite().p_name.value = "rate_limit";
  return true;
}
int main(int argc, char* argv[]) {
  return boost::unit_test::unit_test_main(&init_unit_test, argc, argv);
}
#else
#define BOOST_TEST_MODULE rate_limit
#include <boost/test/unit_test.hpp>
#endif

#include "infra/rate_limit.hpp"

using namespace coachd;
using namespace std::chrono_literals;

BOOST_AUTO_TEST_CASE(a_burst_up_to_capacity_then_429_with_the_wait) {
  rate_limiter limiter;
  const bucket_policy policy{3, 0.5};  // one token every 2 s
  const auto t0 = rate_limiter::clock::time_point{} + 1000s;
  for (int i = 0; i < 3; ++i) BOOST_TEST(!limiter.take("k", policy, 1, t0).has_value());
  auto wait = limiter.take("k", policy, 1, t0);
  BOOST_TEST_REQUIRE(wait.has_value());
  BOOST_TEST(wait->count() == 2);
  // A refused take costs nothing; after the wait one more is allowed, and only one.
  BOOST_TEST(!limiter.take("k", policy, 1, t0 + 2s).has_value());
  BOOST_TEST(limiter.take("k", policy, 1, t0 + 2s).has_value());
  // Other keys are independent.
  BOOST_TEST(!limiter.take("other", policy, 1, t0).has_value());
}

BOOST_AUTO_TEST_CASE(refills_to_capacity_and_never_beyond) {
  rate_limiter limiter;
  const bucket_policy policy{2, 1};
  const auto t0 = rate_limiter::clock::time_point{} + 1000s;
  BOOST_TEST(!limiter.take("k", policy, 2, t0).has_value());
  BOOST_TEST(limiter.check("k", policy, 1, t0).has_value());
  const auto later = t0 + 1h;  // a long quiet time still gives only `capacity` tokens
  BOOST_TEST(!limiter.take("k", policy, 2, later).has_value());
  BOOST_TEST(limiter.take("k", policy, 1, later).has_value());
}

BOOST_AUTO_TEST_CASE(check_takes_nothing_and_reset_forgives) {
  rate_limiter limiter;
  const bucket_policy policy{1, 1.0 / 60};
  const auto t0 = rate_limiter::clock::time_point{} + 1000s;
  BOOST_TEST(!limiter.check("k", policy, 1, t0).has_value());
  BOOST_TEST(!limiter.check("k", policy, 1, t0).has_value());
  BOOST_TEST(!limiter.take("k", policy, 1, t0).has_value());
  auto wait = limiter.check("k", policy, 1, t0);
  BOOST_TEST_REQUIRE(wait.has_value());
  BOOST_TEST(wait->count() == 60);
  limiter.reset("k");
  BOOST_TEST(!limiter.take("k", policy, 1, t0).has_value());
}

BOOST_AUTO_TEST_CASE(memory_stays_bounded) {
  rate_limiter limiter(100);
  const bucket_policy policy{1, 0.001};
  const auto t0 = rate_limiter::clock::time_point{} + 1000s;
  for (int i = 0; i < 1000; ++i) limiter.take("k" + std::to_string(i), policy, 1, t0);
  // Still works (old keys were forgotten rather than growing without bound).
  BOOST_TEST(!limiter.take("fresh", policy, 1, t0).has_value());
}
