// bulk_insert (projections/bulk_insert.hpp): the rows a rebuild loads with binary COPY are the
// rows the live INSERT … FROM unnest(…) writes, value for value, for every column type it
// encodes; a value its type cannot read is refused before anything is sent, and leaves the
// rows gathered before it intact; COPY's own refusals (a duplicate key) fail the batch.

// The test module's entry point. When <boost/test/unit_test.hpp> already came in through the
// precompiled header, a BOOST_TEST_MODULE defined here is too late to generate main().
#ifdef BOOST_TEST_UNIT_TEST_HPP_071894GER
#include <boost/test/unit_test.hpp>
bool init_unit_test() {
  boost::unit_test::framework::master_test_suite().p_name.value = "bulk_insert";
  return true;
}
int main(int argc, char* argv[]) {
  return boost::unit_test::unit_test_main(&init_unit_test, argc, argv);
}
#else
#define BOOST_TEST_MODULE bulk_insert
#include <boost/test/unit_test.hpp>
#endif

#include <optional>
#include <pqxx/pqxx>
#include <stdexcept>
#include <string>
#include <vector>

#include "projections/bulk_insert.hpp"
#include "projections/copy_connection.hpp"
#include "tests/support/pg_test_db.hpp"

using namespace coachd;

namespace {

using row = std::vector<std::optional<std::string>>;

struct fixture {
  test::test_database db;
  fixture() {
    pqxx::connection c(db.conninfo());
    pqxx::work tx(c);
    for (const char* table : {"live", "loaded"}) {
      tx.exec(std::string("CREATE TABLE ") + table +
              " (id uuid PRIMARY KEY, other uuid, label text, at timestamptz, n integer)");
    }
    tx.commit();
  }

  bulk_insert make(const std::string& table) {
    return bulk_insert("bulk_" + table, table,
                       {{"id", "uuid"},
                        {"other", "uuid"},
                        {"label", "text"},
                        {"at", "timestamptz"},
                        {"n", "integer"}},
                       "ON CONFLICT (id) DO NOTHING");
  }

  /// Every row of `table` as PostgreSQL's text of the whole row, in id order.
  std::vector<std::string> rows(const std::string& table) {
    pqxx::connection c(db.conninfo());
    pqxx::work tx(c);
    tx.exec("SET TIME ZONE 'UTC'");
    std::vector<std::string> out;
    for (const auto& r :
         tx.exec("SELECT (id, other, label, at, n)::text FROM " + table + " ORDER BY id")) {
      out.push_back(r[0].c_str());
    }
    return out;
  }
};

// Instants around PostgreSQL's epoch (2000-01-01) and Unix's, with and without milliseconds and
// offsets; texts with every byte COPY's text format escapes; integers at their limits; NULLs.
const std::vector<row> sample_rows = {
    {"00000000-0000-0000-0000-000000000001", std::nullopt, "plain", "2026-11-21T09:00:00.000Z",
     "0"},
    {"00000000-0000-0000-0000-000000000002", "FFFFFFFF-ffff-4fff-8fff-ABCDEFabcdef",
     "tab\there\nline\\N", "2000-01-01T00:00:00Z", "2147483647"},
    {"00000000-0000-0000-0000-000000000003", "0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0", "",
     "1999-12-31T23:59:59.999Z", "-2147483648"},
    {"00000000-0000-0000-0000-000000000004", std::nullopt, std::nullopt, std::nullopt,
     std::nullopt},
    {"00000000-0000-0000-0000-000000000005", std::nullopt,
     "ü 山田太郎 👩‍💻 \"quoted\" {a,b}", "1969-07-20T20:17:40.5Z", "-1"},
    {"00000000-0000-0000-0000-000000000006", std::nullopt, "\\.", "2026-03-29T02:30:00+05:45",
     "42"},
    {"00000000-0000-0000-0000-000000000007", std::nullopt, "end\\", "9999-12-31T23:59:59.999Z",
     "7"},
    {"00000000-0000-0000-0000-000000000008", std::nullopt, "early", "0001-01-01T00:00:00Z", "8"},
};

}  // namespace

BOOST_FIXTURE_TEST_CASE(loaded_rows_equal_the_rows_the_live_insert_writes, fixture) {
  {
    pqxx::connection c(db.conninfo());
    auto live = make("live");
    live.prepare(c);
    pqxx::work tx(c);
    for (const auto& r : sample_rows) live.add(r);
    live.flush(tx);
    tx.commit();
  }
  {
    copy_connection c(db.conninfo());
    auto loaded = make("loaded");
    loaded.set_loading(true);
    pqxx::work tx(c);
    // Two flushes in one transaction, and a statement between them: each COPY ends cleanly.
    for (std::size_t i = 0; i < sample_rows.size() / 2; ++i) loaded.add(sample_rows[i]);
    BOOST_TEST(loaded.size() == sample_rows.size() / 2);
    loaded.flush(tx);
    BOOST_TEST(loaded.size() == 0u);
    BOOST_TEST(tx.exec("SELECT count(*) FROM loaded")[0][0].as<int>() ==
               static_cast<int>(sample_rows.size() / 2));
    for (std::size_t i = sample_rows.size() / 2; i < sample_rows.size(); ++i)
      loaded.add(sample_rows[i]);
    loaded.flush(tx);
    tx.commit();
  }
  const auto live = rows("live");
  BOOST_REQUIRE(live.size() == sample_rows.size());
  BOOST_TEST(rows("loaded") == live, boost::test_tools::per_element());
  // Spot checks against what the values say, not only against the live path.
  BOOST_TEST(
      live[1] ==
      "(00000000-0000-0000-0000-000000000002,ffffffff-ffff-4fff-8fff-abcdefabcdef,\"tab\there\n"
      "line\\\\N\",\"2000-01-01 00:00:00+00\",2147483647)");
  BOOST_TEST(live[2].find("\"1999-12-31 23:59:59.999+00\",-2147483648)") != std::string::npos);
  BOOST_TEST(live[4].find("\"1969-07-20 20:17:40.5+00\"") != std::string::npos);
  BOOST_TEST(live[5].find("\"2026-03-28 20:45:00+00\"") != std::string::npos);
  BOOST_TEST(live[3] == "(00000000-0000-0000-0000-000000000004,,,,)");
}

BOOST_FIXTURE_TEST_CASE(a_value_its_type_cannot_read_is_refused_and_the_rows_before_it_stay,
                        fixture) {
  auto loaded = make("loaded");
  loaded.set_loading(true);
  loaded.add(sample_rows[0]);
  const std::vector<row> bad = {
      {"not-a-uuid", std::nullopt, "x", std::nullopt, std::nullopt},
      {"00000000-0000-0000-0000-00000000000g", std::nullopt, "x", std::nullopt, std::nullopt},
      {"00000000000000000000000000000000000a", std::nullopt, "x", std::nullopt, std::nullopt},
      {"00000000-0000-0000-0000-000000000009", std::nullopt, "x", "2026-02-30T00:00:00Z",
       std::nullopt},
      {"00000000-0000-0000-0000-000000000009", std::nullopt, "x", "yesterday", std::nullopt},
      {"00000000-0000-0000-0000-000000000009", std::nullopt, "x", std::nullopt, "2147483648"},
      {"00000000-0000-0000-0000-000000000009", std::nullopt, "x", std::nullopt, "12abc"},
      {"00000000-0000-0000-0000-000000000009", std::nullopt, "x", std::nullopt, ""},
  };
  for (const auto& r : bad) {
    BOOST_CHECK_EXCEPTION(loaded.add(r), std::invalid_argument, [](const std::invalid_argument& e) {
      return std::string(e.what()).find("bulk_insert bulk_loaded: column") != std::string::npos;
    });
  }
  BOOST_CHECK_THROW(loaded.add({"00000000-0000-0000-0000-000000000009"}), std::logic_error);
  BOOST_TEST(loaded.size() == 1u);
  copy_connection c(db.conninfo());
  pqxx::work tx(c);
  loaded.flush(tx);
  tx.commit();
  BOOST_TEST(rows("loaded").size() == 1u);
}

BOOST_FIXTURE_TEST_CASE(a_duplicate_key_fails_the_batch_and_the_connection_goes_on, fixture) {
  auto loaded = make("loaded");
  loaded.set_loading(true);
  copy_connection c(db.conninfo());
  {
    pqxx::work tx(c);
    loaded.add(sample_rows[0]);
    loaded.flush(tx);
    tx.commit();
  }
  {
    pqxx::work tx(c);
    loaded.add(sample_rows[1]);
    loaded.add(sample_rows[0]);
    BOOST_CHECK_EXCEPTION(loaded.flush(tx), pqxx::sql_error, [](const pqxx::sql_error& e) {
      return std::string(e.what()).find("SQLSTATE 23505") != std::string::npos;
    });
  }
  BOOST_TEST(rows("loaded").size() == 1u);  // the failed batch wrote nothing
  pqxx::work tx(c);
  loaded.add(sample_rows[1]);
  loaded.flush(tx);
  tx.commit();
  BOOST_TEST(rows("loaded").size() == 2u);
}

BOOST_FIXTURE_TEST_CASE(loading_refuses_a_connection_it_cannot_copy_through, fixture) {
  auto loaded = make("loaded");
  loaded.set_loading(true);
  loaded.add(sample_rows[0]);
  pqxx::connection c(db.conninfo());
  pqxx::work tx(c);
  BOOST_CHECK_THROW(loaded.flush(tx), std::logic_error);
}

BOOST_AUTO_TEST_CASE(a_column_type_without_a_binary_encoding_is_refused_at_construction) {
  BOOST_CHECK_THROW(bulk_insert("b", "t", {{"x", "jsonb"}}), std::logic_error);
}
