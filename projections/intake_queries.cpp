#include "projections/intake_queries.hpp"

#include "projections/read_queries.hpp"

namespace coachd {

namespace {

constexpr const char* columns =
    "intake_id::text, coach_id::text, status, name, email, goals, message, "
    "to_char(submitted_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"'), phone, notes, "
    "client_id::text, "
    "to_char(decided_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"')";

constexpr std::string_view list_statement = "intakes_list";
constexpr std::string_view find_statement = "intakes_find";

std::optional<std::string> optional_text(const pg_field& f) {
  if (f.is_null()) return std::nullopt;
  return f.as<std::string>();
}

intake_view to_view(const pg_row& r) {
  return intake_view{r[0].as<std::string>(), r[1].as<std::string>(), r[2].as<std::string>(),
                     r[3].as<std::string>(), r[4].as<std::string>(), r[5].as<std::string>(),
                     r[6].as<std::string>(), r[7].as<std::string>(), optional_text(r[8]),
                     optional_text(r[9]),    optional_text(r[10]),   optional_text(r[11])};
}

}  // namespace

std::vector<pg_statement> intake_statements() {
  const std::string cols = columns;
  // Status filter: NULL means all. The (submitted_at, intake_id) pair orders and pages.
  return {{std::string(list_statement),
           "SELECT " + cols +
               " FROM intakes WHERE coach_id = $1 AND ($2::text IS NULL OR status = $2) "
               "AND ($3::timestamptz IS NULL OR (submitted_at, intake_id) < ($3::timestamptz, $4::uuid)) "
               "ORDER BY submitted_at DESC, intake_id DESC LIMIT $5"},
          {std::string(find_statement), "SELECT " + cols + " FROM intakes WHERE coach_id = $1 AND intake_id = $2"}};
}

boost::asio::awaitable<result<page<intake_view>>> list_intakes(pg_async_pool& db, std::string coach_id,
                                                               std::optional<std::string> status,
                                                               std::optional<std::string> cursor, int limit) {
  auto start = start_of_page(cursor);
  if (!start) co_return start.err();
  pg_params params{std::move(coach_id), std::move(status), start->after_time, start->after_id,
                   std::to_string(limit + 1)};
  auto read = read_page<intake_view>(db, list_statement, std::move(params), limit, to_view,
                                     [](const intake_view& v) { return std::make_pair(v.submitted_at, v.intake_id); });
  co_return co_await std::move(read);
}

boost::asio::awaitable<std::optional<intake_view>> find_intake(pg_async_pool& db, std::string coach_id,
                                                               std::string intake_id) {
  pg_params params{std::move(coach_id), std::move(intake_id)};
  auto read = read_one<intake_view>(db, find_statement, std::move(params), to_view);
  co_return co_await std::move(read);
}

}  // namespace coachd
