#include "projections/client_queries.hpp"

namespace coachd {

namespace {

constexpr const char* columns =
    "client_id::text, coach_id::text, account_id::text, name, email, goals, "
    "to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"'), phone, "
    "intake_id::text";

std::optional<std::string> optional_text(const pqxx::field& f) {
  if (f.is_null()) return std::nullopt;
  return f.as<std::string>();
}

client_view to_view(const pqxx::row& r) {
  client_view v{r[0].as<std::string>(), r[1].as<std::string>(),
                r[2].as<std::string>(), "",
                r[3].as<std::string>(), r[4].as<std::string>(),
                r[5].as<std::string>(), r[6].as<std::string>(),
                optional_text(r[7]),    optional_text(r[8])};
  v.display_name = client_display_name(v.name, v.email, v.client_id);
  return v;
}

bool blank(const std::string& s) { return s.find_first_not_of(" \t\r\n") == std::string::npos; }

}  // namespace

std::string client_display_name(const std::string& name, const std::string& email,
                                const std::string& client_id) {
  if (!blank(name)) return name;
  if (!blank(email)) return email;
  return "Client #" + client_id.substr(0, 8);
}

void prepare_client_queries(pqxx::connection_base& c) {
  const std::string cols = columns;
  c.prepare(
      "clients_list",
      "SELECT " + cols +
          " FROM clients WHERE coach_id = $1 "
          "AND ($2::timestamptz IS NULL OR (created_at, client_id) > ($2::timestamptz, $3::uuid)) "
          "ORDER BY created_at, client_id LIMIT $4");
  c.prepare("clients_find",
            "SELECT " + cols + " FROM clients WHERE coach_id = $1 AND client_id = $2");
}

result<page<client_view>> list_clients(pqxx::connection_base& connection,
                                       const std::string& coach_id,
                                       const std::optional<std::string>& cursor, int limit) {
  auto start = start_of_page(cursor);
  if (!start) return start.err();
  pqxx::nontransaction tx(connection);  // one statement: atomic on its own, one round trip
  auto rows =
      tx.exec_prepared("clients_list", coach_id, start->after_time, start->after_id, limit + 1);
  return make_page<client_view>(rows, limit, to_view, [](const client_view& v) {
    return std::make_pair(v.created_at, v.client_id);
  });
}

std::optional<client_view> find_client(pqxx::connection_base& connection,
                                       const std::string& coach_id, const std::string& client_id) {
  pqxx::nontransaction tx(connection);  // one statement: atomic on its own, one round trip
  auto rows = tx.exec_prepared("clients_find", coach_id, client_id);
  if (rows.empty()) return std::nullopt;
  return to_view(rows[0]);
}

}  // namespace coachd
