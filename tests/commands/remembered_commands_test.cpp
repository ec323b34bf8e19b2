// How long derived command ids are remembered (commands/remembered_commands.hpp): within the
// window of the newest id and the count limit, oldest forgotten first; an id remembered again
// counts from its newest outcome.

#define BOOST_TEST_MODULE remembered_commands
#include "commands/remembered_commands.hpp"

#include <boost/test/unit_test.hpp>
#include <string>
#include <vector>

using namespace coachd;
using namespace std::chrono_literals;

namespace {

const timestamp t0 = timestamp{std::chrono::milliseconds{1'800'000'000'000}};

remembered_command outcome(std::int64_t offset, timestamp at) {
  return remembered_command{"intake-" + std::to_string(offset), 1, offset, "", at};
}

std::vector<std::string> keys_of(const remembered_commands& r) {
  std::vector<std::string> keys;
  r.for_each([&](const std::string& key, const remembered_command&) { keys.push_back(key); });
  return keys;
}

}  // namespace

BOOST_AUTO_TEST_CASE(the_oldest_ids_go_first_beyond_the_count_limit) {
  remembered_commands r(remembering_limits{24h, 3});
  for (int i = 0; i < 5; ++i) r.remember("k:" + std::to_string(i), outcome(i, t0));
  BOOST_TEST(r.size() == 3u);
  BOOST_TEST(r.find("k:0") == nullptr);
  BOOST_TEST(r.find("k:1") == nullptr);
  BOOST_TEST_REQUIRE(r.find("k:4") != nullptr);
  BOOST_TEST(r.find("k:4")->offset == 4);
  BOOST_TEST(keys_of(r) == (std::vector<std::string>{"k:2", "k:3", "k:4"}),
             boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(ids_older_than_the_window_before_the_newest_are_forgotten) {
  remembered_commands r(remembering_limits{1h, 100});
  r.remember("k:a", outcome(1, t0));
  r.remember("k:b", outcome(2, t0 + 30min));
  r.remember("k:c", outcome(3, t0 + 60min));  // k:a is exactly one hour older: kept
  BOOST_TEST(r.size() == 3u);
  r.remember("k:d", outcome(4, t0 + 61min));
  BOOST_TEST(r.find("k:a") == nullptr);
  BOOST_TEST(r.find("k:b") != nullptr);
  // Time is the commands' own: nothing ages while no newer id arrives.
  BOOST_TEST(r.size() == 3u);
}

BOOST_AUTO_TEST_CASE(an_id_remembered_again_keeps_its_newest_outcome_and_place) {
  remembered_commands r(remembering_limits{24h, 2});
  r.remember("k:a", outcome(1, t0));
  r.remember("k:b", outcome(2, t0));
  r.remember("k:a", outcome(3, t0));  // e.g. a command with several events: the last one counts
  BOOST_TEST(r.size() == 2u);
  BOOST_TEST(r.find("k:a")->offset == 3);
  BOOST_TEST(keys_of(r) == (std::vector<std::string>{"k:b", "k:a"}),
             boost::test_tools::per_element());
  r.remember("k:c", outcome(4, t0));  // k:b is now the oldest
  BOOST_TEST(r.find("k:b") == nullptr);
  BOOST_TEST(r.find("k:a") != nullptr);
}

BOOST_AUTO_TEST_CASE(narrower_limits_apply_at_once_and_the_widest_forget_nothing) {
  remembered_commands r(
      remembering_limits{std::chrono::milliseconds::max(), static_cast<std::size_t>(-1)});
  r.remember("k:old", outcome(1, timestamp{}));
  r.remember("k:new", outcome(2, t0));
  BOOST_TEST(r.size() == 2u);
  r.set_limits(remembering_limits{1h, 10});
  BOOST_TEST(r.size() == 1u);
  BOOST_TEST(r.find("k:new") != nullptr);
}
