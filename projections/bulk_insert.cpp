#include "projections/bulk_insert.hpp"

#include <pqxx/tablewriter>
#include <stdexcept>

namespace coachd {

bulk_insert::bulk_insert(std::string name, std::string table, std::vector<column> columns, std::string tail)
    : name_(std::move(name)), table_(table), arrays_(columns.size()) {
  for (const auto& c : columns) columns_.push_back(c.name);
  std::string names, arrays;
  for (std::size_t i = 0; i < columns.size(); ++i) {
    if (i > 0) {
      names += ", ";
      arrays += ", ";
    }
    names += columns[i].name;
    arrays += "$" + std::to_string(i + 1) + "::" + columns[i].type + "[]";
  }
  sql_ = "INSERT INTO " + table + " (" + names + ") SELECT * FROM unnest(" + arrays + ")";
  if (!tail.empty()) sql_ += " " + tail;
  clear();
}

void bulk_insert::prepare(pqxx::connection_base& connection) const { connection.prepare(name_, sql_); }

void bulk_insert::set_loading(bool loading) {
  loading_ = loading;
  clear();
}

void bulk_insert::add(const std::vector<std::optional<std::string>>& row) {
  if (row.size() != arrays_.size()) throw std::logic_error("bulk_insert " + name_ + ": wrong number of values");
  if (loading_) {
    // COPY's text format: tab-separated, \N for NULL, backslash escapes. Only ASCII bytes are
    // escaped, so UTF-8 passes through intact (no byte of a multibyte character is ASCII).
    for (std::size_t i = 0; i < row.size(); ++i) {
      if (i > 0) copy_ += '\t';
      if (!row[i]) {
        copy_ += "\\N";
        continue;
      }
      for (char c : *row[i]) {
        switch (c) {
          case '\\': copy_ += "\\\\"; break;
          case '\t': copy_ += "\\t"; break;
          case '\n': copy_ += "\\n"; break;
          case '\r': copy_ += "\\r"; break;
          default: copy_ += c;
        }
      }
    }
    copy_ += '\n';
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
    data.pop_back();  // write_raw_line ends the data with the last row's newline
    // libpqxx 6.4's stream_to takes tuples only (our rows are as wide as the table) and keeps
    // its raw write private; tablewriter's is public. It is deprecated for its own escaping,
    // which is not used here: the rows are escaped above.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
    pqxx::tablewriter writer(tx, table_, columns_.begin(), columns_.end());
    writer.write_raw_line(data);  // every row at once: COPY data need not arrive row by row
    writer.complete();
#pragma GCC diagnostic pop
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
