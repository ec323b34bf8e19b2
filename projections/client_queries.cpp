#include "projections/client_queries.hpp"

#include "projections/read_queries.hpp"

namespace coachd {

namespace {

constexpr const char* columns =
    "client_id::text, coach_id::text, account_id::text, name, email, goals, "
    "to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"'), phone, "
    "intake_id::text";

constexpr std::string_view list_statement = "clients_list";
constexpr std::string_view list_after_statement = "clients_list_after";
constexpr std::string_view find_statement = "clients_find";

client_view to_view(const pg_row& r) {
  return client_view{r[0].text(), r[1].text(), r[2].text(),          r[3].text(),         r[4].text(),
                     r[5].text(), r[6].text(), r[7].optional_text(), r[8].optional_text()};
}

bool blank(std::string_view s) { return s.find_first_not_of(" \t\r\n") == std::string_view::npos; }

}  // namespace

std::string_view client_display_name(const client_view& v, std::string& fallback) {
  if (!blank(v.name)) return v.name;
  if (!blank(v.email)) return v.email;
  fallback = "Client #";
  fallback.append(v.client_id.substr(0, 8));
  return fallback;
}

std::vector<pg_statement> client_statements() {
  const std::string cols = columns;
  // A first page and a later one are two statements (see intake_queries.cpp: a cached generic
  // plan keeps a "$n IS NULL OR …" filter, and then a later page walks the coach's clients from
  // the first one).
  return {{std::string(list_statement),
           "SELECT " + cols + " FROM clients WHERE coach_id = $1 ORDER BY clients.created_at, clients.client_id LIMIT $2"},
          {std::string(list_after_statement),
           "SELECT " + cols +
               " FROM clients WHERE coach_id = $1 AND (created_at, client_id) > ($2::timestamptz, $3::uuid) "
               "ORDER BY clients.created_at, clients.client_id LIMIT $4"},
          {std::string(find_statement), "SELECT " + cols + " FROM clients WHERE coach_id = $1 AND client_id = $2"}};
}

boost::asio::awaitable<result<page<client_view>>> list_clients(pg_async_pool& db, std::string coach_id,
                                                               std::optional<std::string> cursor, int limit) {
  auto start = start_of_page(cursor);
  if (!start) co_return start.err();
  const bool after = start->after_time.has_value();
  pg_params params{std::move(coach_id)};
  add_page_params(params, *start, limit);
  auto read = read_page<client_view>(db, after ? list_after_statement : list_statement, std::move(params), limit,
                                     to_view,
                                     [](const client_view& v) { return std::make_pair(v.created_at, v.client_id); });
  co_return co_await std::move(read);
}

boost::asio::awaitable<std::optional<viewed_row<client_view>>> find_client(pg_async_pool& db, std::string coach_id,
                                                                           std::string client_id) {
  pg_params params{std::move(coach_id), std::move(client_id)};
  auto read = read_row<client_view>(db, find_statement, std::move(params), to_view);
  co_return co_await std::move(read);
}

}  // namespace coachd
