#include "projections/intake_queries.hpp"

namespace coachd {

namespace {

constexpr const char* columns =
    "intake_id::text, coach_id::text, status, name, email, goals, message, "
    "to_char(submitted_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"'), phone, notes, "
    "client_id::text, "
    "to_char(decided_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"')";

std::optional<std::string> optional_text(const pqxx::field& f) {
  if (f.is_null()) return std::nullopt;
  return f.as<std::string>();
}

intake_view to_view(const pqxx::row& r) {
  return intake_view{r[0].as<std::string>(), r[1].as<std::string>(), r[2].as<std::string>(),
                     r[3].as<std::string>(), r[4].as<std::string>(), r[5].as<std::string>(),
                     r[6].as<std::string>(), r[7].as<std::string>(), optional_text(r[8]),
                     optional_text(r[9]),    optional_text(r[10]),   optional_text(r[11])};
}

}  // namespace

void prepare_intake_queries(pqxx::connection_base& c) {
  const std::string cols = columns;
  // Status filter: NULL means all. The (submitted_at, intake_id) pair orders and pages.
  c.prepare("intakes_list",
            "SELECT " + cols +
                " FROM intakes WHERE coach_id = $1 AND ($2::text IS NULL OR status = $2) "
                "AND ($3::timestamptz IS NULL OR (submitted_at, intake_id) < ($3::timestamptz, "
                "$4::uuid)) "
                "ORDER BY submitted_at DESC, intake_id DESC LIMIT $5");
  c.prepare("intakes_find",
            "SELECT " + cols + " FROM intakes WHERE coach_id = $1 AND intake_id = $2");
}

result<page<intake_view>> list_intakes(pqxx::connection_base& connection,
                                       const std::string& coach_id,
                                       const std::optional<std::string>& status,
                                       const std::optional<std::string>& cursor, int limit) {
  auto start = start_of_page(cursor);
  if (!start) return start.err();
  pqxx::nontransaction tx(connection);  // one statement: atomic on its own, one round trip
  auto rows = tx.exec_prepared("intakes_list", coach_id, status, start->after_time, start->after_id,
                               limit + 1);
  return make_page<intake_view>(rows, limit, to_view, [](const intake_view& v) {
    return std::make_pair(v.submitted_at, v.intake_id);
  });
}

std::optional<intake_view> find_intake(pqxx::connection_base& connection,
                                       const std::string& coach_id, const std::string& intake_id) {
  pqxx::nontransaction tx(connection);  // one statement: atomic on its own, one round trip
  auto rows = tx.exec_prepared("intakes_find", coach_id, intake_id);
  if (rows.empty()) return std::nullopt;
  return to_view(rows[0]);
}

}  // namespace coachd
