#include "projections/bulk_insert.hpp"

#include <libpq-fe.h>

#include <algorithm>
#include <charconv>
#include <cstdint>
#include <stdexcept>

#include "events/time.hpp"
#include "infra/crypto.hpp"
#include "projections/copy_connection.hpp"

namespace coachd {

namespace {

// Binary COPY (PostgreSQL's "Binary Format" of COPY): a signature, flags and the length of an
// (empty) header extension; per row the number of fields and, per field, its length (-1 for
// NULL) and bytes; a -1 after the last row. Integers are big-endian.
constexpr char copy_header[19] = {'P',  'G', 'C', 'O', 'P', 'Y', '\n', '\377', '\r', '\n',
                                  '\0', 0,   0,   0,   0,   0,   0,    0,      0};
constexpr char copy_trailer[2] = {'\377', '\377'};

void put_u16(std::string& out, std::uint16_t v) {
  out += static_cast<char>(v >> 8);
  out += static_cast<char>(v & 0xff);
}
void put_u32(std::string& out, std::uint32_t v) {
  for (int shift = 24; shift >= 0; shift -= 8) out += static_cast<char>((v >> shift) & 0xff);
}
void put_u64(std::string& out, std::uint64_t v) {
  for (int shift = 56; shift >= 0; shift -= 8) out += static_cast<char>((v >> shift) & 0xff);
}

// PostgreSQL's epoch for timestamps, 2000-01-01T00:00:00Z, in milliseconds after Unix's.
constexpr std::int64_t postgres_epoch_ms = 946'684'800'000;

}  // namespace

bulk_insert::bulk_insert(std::string name, std::string table, std::vector<column> columns,
                         std::string tail)
    : name_(std::move(name)), table_(table), arrays_(columns.size()) {
  std::string names, arrays;
  for (std::size_t i = 0; i < columns.size(); ++i) {
    if (i > 0) {
      names += ", ";
      arrays += ", ";
    }
    names += columns[i].name;
    arrays += "$" + std::to_string(i + 1) + "::" + columns[i].type + "[]";
    const auto& type = columns[i].type;
    if (type == "uuid") {
      kinds_.push_back(kind::uuid);
    } else if (type == "text") {
      kinds_.push_back(kind::text);
    } else if (type == "timestamptz") {
      kinds_.push_back(kind::timestamptz);
    } else if (type == "integer") {
      kinds_.push_back(kind::integer);
    } else {
      throw std::logic_error("bulk_insert " + name_ + ": no binary COPY for column type " + type);
    }
  }
  sql_ = "INSERT INTO " + table + " (" + names + ") SELECT * FROM unnest(" + arrays + ")";
  if (!tail.empty()) sql_ += " " + tail;
  copy_sql_ = "COPY " + table + " (" + names + ") FROM STDIN (FORMAT binary)";
  clear();
}

void bulk_insert::prepare(pqxx::connection_base& connection) const {
  connection.prepare(name_, sql_);
}

void bulk_insert::set_loading(bool loading) {
  loading_ = loading;
  clear();
}

void bulk_insert::add(const std::vector<std::optional<std::string>>& row) {
  if (row.size() != arrays_.size())
    throw std::logic_error("bulk_insert " + name_ + ": wrong number of values");
  if (loading_) {
    const auto refuse = [&](std::size_t i, const char* what) {
      throw std::invalid_argument("bulk_insert " + name_ + ": column " + std::to_string(i + 1) +
                                  " is not " + what + ": \"" + *row[i] + "\"");
    };
    const auto size_before = copy_.size();
    try {
      put_u16(copy_, static_cast<std::uint16_t>(row.size()));
      for (std::size_t i = 0; i < row.size(); ++i) {
        if (!row[i]) {
          put_u32(copy_, 0xffffffffu);  // -1: NULL
          continue;
        }
        const std::string& v = *row[i];
        switch (kinds_[i]) {
          case kind::text:
            if (v.size() > 0x7fffffffu) refuse(i, "a text PostgreSQL can hold");
            put_u32(copy_, static_cast<std::uint32_t>(v.size()));
            copy_ += v;
            break;
          case kind::uuid: {
            const auto bytes = uuid_to_bytes(v);
            if (!bytes) refuse(i, "a UUID");
            put_u32(copy_, 16);
            copy_.append(reinterpret_cast<const char*>(bytes->data()), bytes->size());
            break;
          }
          case kind::timestamptz: {
            const auto t = parse_rfc3339(v);
            if (!t) refuse(i, "an RFC 3339 instant");
            const auto ms = static_cast<std::int64_t>(t->time_since_epoch().count());
            put_u32(copy_, 8);
            put_u64(copy_,
                    static_cast<std::uint64_t>((ms - postgres_epoch_ms) * 1000));  // microseconds
            break;
          }
          case kind::integer: {
            std::int32_t n = 0;
            const auto [end, ec] = std::from_chars(v.data(), v.data() + v.size(), n);
            if (ec != std::errc() || end != v.data() + v.size()) refuse(i, "a 32-bit integer");
            put_u32(copy_, 4);
            put_u32(copy_, static_cast<std::uint32_t>(n));
            break;
          }
        }
      }
    } catch (...) {
      copy_.resize(size_before);  // the row is not added at all
      throw;
    }
    ++rows_;
    return;
  }
  for (std::size_t i = 0; i < row.size(); ++i) {
    std::string& a = arrays_[i];
    if (rows_ > 0) a += ',';
    if (!row[i]) {
      a += "NULL";
      continue;
    }
    a += '"';
    for (char c : *row[i]) {
      if (c == '"' || c == '\\') a += '\\';
      a += c;
    }
    a += '"';
  }
  ++rows_;
}

void bulk_insert::flush(pqxx::work& tx) {
  if (rows_ == 0) return;
  if (loading_) {
    std::string data;
    data.swap(copy_);
    clear();
    auto* conn = copy_connection::handle_of(tx.conn());
    if (conn == nullptr) {
      throw std::logic_error("bulk_insert " + name_ + ": loading needs a copy_connection");
    }
    tx.exec(copy_sql_);  // through libpqxx: it begins the transaction; the answer is COPY_IN
    const auto put = [&](const char* bytes, std::size_t size) {
      if (PQputCopyData(conn, bytes, static_cast<int>(size)) != 1) {
        throw pqxx::broken_connection("bulk_insert " + name_ +
                                      ": COPY data not sent: " + PQerrorMessage(conn));
      }
    };
    put(copy_header, sizeof(copy_header));
    // PQputCopyData takes an int: send the rows in pieces below its limit.
    constexpr std::size_t piece = std::size_t{1} << 30;
    for (std::size_t at = 0; at < data.size(); at += piece)
      put(data.data() + at, std::min(piece, data.size() - at));
    put(copy_trailer, sizeof(copy_trailer));
    if (PQputCopyEnd(conn, nullptr) != 1) {
      throw pqxx::broken_connection("bulk_insert " + name_ +
                                    ": COPY not ended: " + PQerrorMessage(conn));
    }
    // Every result up to the end, so that libpqxx finds the connection idle in its transaction.
    std::string error;
    while (PGresult* result = PQgetResult(conn)) {
      if (PQresultStatus(result) != PGRES_COMMAND_OK && error.empty()) {
        const char* state = PQresultErrorField(result, PG_DIAG_SQLSTATE);
        error = std::string(PQresultErrorMessage(result)) +
                (state ? std::string(" (SQLSTATE ") + state + ")" : "");
      }
      PQclear(result);
    }
    if (!error.empty()) throw pqxx::sql_error("bulk_insert " + name_ + ": " + error, copy_sql_);
    return;
  }
  for (auto& a : arrays_) a += '}';
  std::vector<std::string> params(arrays_.size());
  params.swap(arrays_);
  clear();
  tx.exec_prepared(name_, pqxx::prepare::make_dynamic_params(params));
}

void bulk_insert::clear() {
  arrays_.assign(arrays_.size(), std::string("{"));
  copy_.clear();
  rows_ = 0;
}

}  // namespace coachd
