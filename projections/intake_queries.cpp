#include "projections/intake_queries.hpp"

#include "projections/read_queries.hpp"

namespace coachd {

namespace {

constexpr const char* columns =
    "intake_id::text, coach_id::text, status, name, email, goals, message, "
    "to_char(submitted_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"'), phone, notes, "
    "client_id::text, "
    "to_char(decided_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"')";

// One statement per shape of the list (status filter or not, first page or a later one), with no
// "$n IS NULL OR …" in it: PostgreSQL keeps a generic plan for a prepared statement after five
// runs, and a generic plan keeps every such filter. The catch-all statement's cached plan read all
// of a coach's intakes and sorted them for each page (a bitmap scan chosen while the coach had few
// rows); each of these walks intakes_by_coach or intakes_by_coach_status in order and stops.
// ORDER BY names the table's columns: a bare intake_id would be the output column
// intake_id::text, which no index holds, and every page would sort all of the coach's rows.
std::string list_statement_name(bool status, bool after) {
  return std::string("intakes_list") + (status ? "_status" : "") + (after ? "_after" : "");
}
constexpr std::string_view find_statement = "intakes_find";
constexpr std::string_view is_coach_statement = "intakes_is_coach";

intake_view to_view(const pg_row& r) {
  return intake_view{r[0].text(),          r[1].text(),          r[2].text(),          r[3].text(),
                     r[4].text(),          r[5].text(),          r[6].text(),          r[7].text(),
                     r[8].optional_text(), r[9].optional_text(), r[10].optional_text(), r[11].optional_text()};
}

}  // namespace

std::vector<pg_statement> intake_statements() {
  const std::string cols = columns;
  std::vector<pg_statement> out;
  for (const bool status : {false, true}) {
    for (const bool after : {false, true}) {
      int n = 1;
      std::string where = "coach_id = $1";
      if (status) where += " AND status = $" + std::to_string(++n);
      if (after) {
        where += " AND (submitted_at, intake_id) < ($" + std::to_string(n + 1) + "::timestamptz, $" +
                 std::to_string(n + 2) + "::uuid)";
        n += 2;
      }
      out.push_back({list_statement_name(status, after),
                     "SELECT " + cols + " FROM intakes WHERE " + where +
                         " ORDER BY intakes.submitted_at DESC, intakes.intake_id DESC LIMIT $" + std::to_string(n + 1)});
    }
  }
  out.push_back({std::string(find_statement), "SELECT " + cols + " FROM intakes WHERE coach_id = $1 AND intake_id = $2"});
  out.push_back({std::string(is_coach_statement), "SELECT 1 FROM accounts WHERE account_id = $1 AND role = 'coach'"});
  return out;
}

boost::asio::awaitable<result<page<intake_view>>> list_intakes(pg_async_pool& db, std::string coach_id,
                                                               std::optional<std::string> status,
                                                               std::optional<std::string> cursor, int limit) {
  auto start = start_of_page(cursor);
  if (!start) co_return start.err();
  const bool after = start->after_time.has_value();
  const std::string statement = list_statement_name(status.has_value(), after);
  pg_params params{std::move(coach_id)};
  if (status) params.push_back(std::move(status));
  add_page_params(params, *start, limit);
  auto read = read_page<intake_view>(db, statement, std::move(params), limit, to_view,
                                     [](const intake_view& v) { return std::make_pair(v.submitted_at, v.intake_id); });
  co_return co_await std::move(read);
}

boost::asio::awaitable<std::optional<viewed_row<intake_view>>> find_intake(pg_async_pool& db, std::string coach_id,
                                                                           std::string intake_id) {
  pg_params params{std::move(coach_id), std::move(intake_id)};
  auto read = read_row<intake_view>(db, find_statement, std::move(params), to_view);
  co_return co_await std::move(read);
}

boost::asio::awaitable<bool> is_coach(pg_async_pool& db, std::string coach_id) {
  auto read = read_one<bool>(db, is_coach_statement, pg_params{std::move(coach_id)}, [](const pg_row&) { return true; });
  co_return (co_await std::move(read)).has_value();
}

}  // namespace coachd
