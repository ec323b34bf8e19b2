// Calendar feed queries (projections/calendar_feed_queries.hpp) against a real PostgreSQL: one
// feed per account found by its token hash, replaced on rotation, deleted on revocation (and
// erasure); the sessions a feed shows, for a coach and for a client, cancelled ones included,
// from a given start on and capped in number; and the plans use the sessions indexes.

// The test module's entry point. When <boost/test/unit_test.hpp> already came in through the
// precompiled header, a BOOST_TEST_MODULE defined here is too late to generate main().
#ifdef BOOST_TEST_UNIT_TEST_HPP_071894GER
#include <boost/test/unit_test.hpp>
bool init_unit_test() {
  boost::unit_test::framework::master_test_suite().p_name.value = "calendar_feed";
  return true;
}
int main(int argc, char* argv[]) {
  return boost::unit_test::unit_test_main(&init_unit_test, argc, argv);
}
#else
#define BOOST_TEST_MODULE calendar_feed
#include <boost/test/unit_test.hpp>
#endif

#include <chrono>
#include <pqxx/pqxx>
#include <string>

#include "infra/crypto.hpp"
#include "projections/calendar_feed_queries.hpp"
#include "projections/migrations.hpp"
#include "tests/support/pg_test_db.hpp"

using namespace coachd;
using namespace std::chrono_literals;

namespace {

struct feed_db {
  test::test_database db;
  pqxx::connection connection{db.conninfo()};
  const std::string coach = new_uuid(), client = new_uuid(), other_client = new_uuid(),
                    other_coach = new_uuid();

  feed_db() {
    apply_migrations(connection);
    prepare_calendar_feed_queries(connection);
    pqxx::work tx(connection);
    tx.exec_params(
        "INSERT INTO accounts (account_id, email, role, display_name, registered_at) VALUES "
        "($1, 'casey@example.org', 'coach', 'Casey Coach', now()), ($2, 'ada@example.org', "
        "'client', 'Ada', now()), "
        "($3, 'bo@example.org', 'client', 'Bo', now()), ($4, 'olive@example.org', 'coach', "
        "'Olive', now())",
        coach, client, other_client, other_coach);
    tx.commit();
  }

  /// A session row as the sessions projector writes it; returns its id.
  std::string session(const std::string& coach_id, const std::string& client_id, timestamp start,
                      const std::string& title, const std::string& status = "booked",
                      int sequence = 0) {
    const std::string id = new_uuid();
    pqxx::work tx(connection);
    tx.exec_params(
        "INSERT INTO sessions (session_id, coach_id, client_account_id, title, start_at, end_at, "
        "buffer_before_minutes, buffer_after_minutes, location, status, sequence, booked_at, "
        "updated_at) "
        "VALUES ($1, $2, $3, $4, $5, $6, 0, 0, 'https://meet.example/x', $7, $8, now(), now())",
        id, coach_id, client_id, title, format_rfc3339(start), format_rfc3339(start + 1h), status,
        sequence);
    tx.commit();
    return id;
  }
};

}  // namespace

BOOST_AUTO_TEST_CASE(one_feed_per_account_found_by_its_hash_replaced_on_rotation_and_revoked) {
  feed_db f;
  BOOST_TEST(!find_calendar_feed(f.connection, f.coach).has_value());
  const std::string first = token_hash_hex(random_token(32));
  const std::string created = replace_calendar_feed(f.connection, f.coach, first);
  BOOST_TEST(parse_rfc3339(created).has_value(), created);
  auto info = find_calendar_feed(f.connection, f.coach);
  BOOST_TEST_REQUIRE(info.has_value());
  BOOST_TEST(info->created_at == created);
  BOOST_TEST(!info->last_used_at.has_value());

  // Using it names its owner and records the use.
  BOOST_TEST(use_calendar_feed(f.connection, first).value_or("") == f.coach);
  info = find_calendar_feed(f.connection, f.coach);
  BOOST_TEST_REQUIRE(info->last_used_at.has_value());
  BOOST_TEST(!use_calendar_feed(f.connection, token_hash_hex(random_token(32))).has_value());

  // Rotation: the old hash opens nothing, the new one does; still one row, unused again.
  const std::string second = token_hash_hex(random_token(32));
  replace_calendar_feed(f.connection, f.coach, second);
  BOOST_TEST(!use_calendar_feed(f.connection, first).has_value());
  {
    pqxx::read_transaction tx(f.connection);
    BOOST_TEST(tx.exec("SELECT count(*) FROM calendar_feeds")[0][0].as<int>() == 1);
  }
  info = find_calendar_feed(f.connection, f.coach);
  BOOST_TEST(!info->last_used_at.has_value());
  BOOST_TEST(use_calendar_feed(f.connection, second).value_or("") == f.coach);

  // Another account's feed is its own.
  const std::string clients = token_hash_hex(random_token(32));
  replace_calendar_feed(f.connection, f.client, clients);
  BOOST_TEST(use_calendar_feed(f.connection, clients).value_or("") == f.client);

  // Revocation (also what erasing the account does): gone, and only the coach's.
  BOOST_TEST(revoke_calendar_feed(f.connection, f.coach));
  BOOST_TEST(!revoke_calendar_feed(f.connection, f.coach));
  BOOST_TEST(!use_calendar_feed(f.connection, second).has_value());
  BOOST_TEST(!find_calendar_feed(f.connection, f.coach).has_value());
  BOOST_TEST(use_calendar_feed(f.connection, clients).value_or("") == f.client);
  {
    pqxx::read_transaction tx(f.connection);
    BOOST_TEST(
        tx.exec_params("SELECT count(*) FROM calendar_feeds WHERE account_id = $1", f.coach)[0][0]
            .as<int>() == 0);
  }
}

BOOST_AUTO_TEST_CASE(a_feed_shows_the_sessions_its_owner_coaches_or_attends_from_the_window_on) {
  feed_db f;
  const auto now = now_utc();
  const auto since = now - std::chrono::hours(24 * calendar_feed_past_days);
  const std::string too_old = f.session(f.coach, f.client, since - 1h, "Too old");
  const std::string recent_past = f.session(f.coach, f.client, now - 48h, "Last week", "completed");
  const std::string upcoming = f.session(f.coach, f.client, now + 48h, "Upcoming", "booked", 2);
  const std::string cancelled =
      f.session(f.coach, f.client, now + 72h, "Called off", "cancelled", 3);
  const std::string other_clients = f.session(f.coach, f.other_client, now + 24h, "With Bo");
  const std::string other_coachs = f.session(f.other_coach, f.client, now + 96h, "With Olive");
  const std::string unrelated = f.session(f.other_coach, f.other_client, now + 5h, "Not ours");

  const auto coach_feed =
      calendar_feed_sessions(f.connection, f.coach, since, calendar_feed_max_sessions);
  BOOST_TEST_REQUIRE(coach_feed.size() == 4u);
  BOOST_TEST(coach_feed[0].session_id == recent_past);  // earliest first
  BOOST_TEST(coach_feed[1].session_id == other_clients);
  BOOST_TEST(coach_feed[1].counterpart_name == "Bo");
  BOOST_TEST(coach_feed[2].session_id == upcoming);
  BOOST_TEST(coach_feed[2].counterpart_name == "Ada");
  BOOST_TEST(coach_feed[2].sequence == 2);
  BOOST_TEST(coach_feed[2].title == "Upcoming");
  BOOST_TEST(coach_feed[2].location == "https://meet.example/x");
  BOOST_TEST(parse_rfc3339(coach_feed[2].start_at).has_value());
  BOOST_TEST(parse_rfc3339(coach_feed[2].updated_at).has_value());
  BOOST_TEST(coach_feed[3].session_id == cancelled);
  BOOST_TEST(coach_feed[3].status == "cancelled");

  const auto client_feed =
      calendar_feed_sessions(f.connection, f.client, since, calendar_feed_max_sessions);
  BOOST_TEST_REQUIRE(client_feed.size() == 4u);
  BOOST_TEST(client_feed[0].session_id == recent_past);
  BOOST_TEST(client_feed[0].counterpart_name == "Casey Coach");
  BOOST_TEST(client_feed[1].session_id == upcoming);
  BOOST_TEST(client_feed[2].session_id == cancelled);
  BOOST_TEST(client_feed[3].session_id == other_coachs);
  BOOST_TEST(client_feed[3].counterpart_name == "Olive");
  for (const auto& e : client_feed) {
    BOOST_TEST(e.session_id != too_old);
    BOOST_TEST(e.session_id != unrelated);
  }
  BOOST_TEST(calendar_feed_sessions(f.connection, new_uuid(), since, 10).empty());
}

BOOST_AUTO_TEST_CASE(a_feed_holds_at_most_the_limit_earliest_first) {
  feed_db f;
  const auto now = now_utc();
  for (int i = 0; i < 12; ++i)
    f.session(f.coach, f.client, now + std::chrono::hours(2 * i), "S" + std::to_string(i));
  for (int i = 0; i < 5; ++i)
    f.session(f.other_coach, f.client, now + std::chrono::hours(2 * i + 1),
              "T" + std::to_string(i));
  const auto capped = calendar_feed_sessions(f.connection, f.client, now - 1h, 7);
  BOOST_TEST_REQUIRE(capped.size() == 7u);
  // S0 T0 S1 T1 S2 T2 S3: both roles' sessions interleaved by start, cut at the limit.
  const char* expected[] = {"S0", "T0", "S1", "T1", "S2", "T2", "S3"};
  for (std::size_t i = 0; i < capped.size(); ++i) BOOST_TEST(capped[i].title == expected[i]);
}

BOOST_AUTO_TEST_CASE(the_feed_queries_are_served_by_indexes) {
  feed_db f;
  // Enough rows that a sequential scan would not be chosen for an index-shaped query.
  {
    pqxx::work tx(f.connection);
    tx.exec(
        "INSERT INTO sessions (session_id, coach_id, client_account_id, title, start_at, end_at, "
        "buffer_before_minutes, "
        "buffer_after_minutes, location, status, booked_at, updated_at) "
        "SELECT gen_random_uuid(), gen_random_uuid(), gen_random_uuid(), 't', now() + i * interval "
        "'1 hour', "
        "now() + i * interval '1 hour' + interval '30 minutes', 0, 0, '', 'booked', now(), now() "
        "FROM generate_series(1, 20000) i");
    tx.exec(
        "INSERT INTO calendar_feeds (account_id, token_hash, created_at) SELECT gen_random_uuid(), "
        "md5(i::text), now() "
        "FROM generate_series(1, 5000) i");
    tx.exec("ANALYZE sessions");
    tx.exec("ANALYZE calendar_feeds");
    tx.commit();
  }
  // libpqxx prepares on the server at first use: use both once, then EXPLAIN what ran.
  (void)calendar_feed_sessions(f.connection, f.coach, now_utc(), calendar_feed_max_sessions);
  (void)use_calendar_feed(f.connection, std::string(64, 'a'));
  pqxx::work tx(f.connection);
  std::string sessions_plan, owner_plan;
  for (const auto& r : tx.exec("EXPLAIN EXECUTE calendar_feed_sessions(" + tx.quote(f.coach) +
                               ", " + tx.quote(format_rfc3339(now_utc())) + ", " +
                               std::to_string(calendar_feed_max_sessions) + ")")) {
    sessions_plan += r[0].as<std::string>() + "\n";
  }
  for (const auto& r :
       tx.exec("EXPLAIN EXECUTE calendar_feed_owner(" + tx.quote(std::string(64, 'a')) + ")")) {
    owner_plan += r[0].as<std::string>() + "\n";
  }
  BOOST_TEST(sessions_plan.find("sessions_by_coach") != std::string::npos, sessions_plan);
  BOOST_TEST(sessions_plan.find("sessions_by_client") != std::string::npos, sessions_plan);
  BOOST_TEST(sessions_plan.find("Seq Scan on sessions") == std::string::npos, sessions_plan);
  BOOST_TEST(owner_plan.find("calendar_feeds_token_hash_key") != std::string::npos, owner_plan);
}
