#include "projections/bulk_insert.hpp"

#include <stdexcept>

namespace coachd {

bulk_insert::bulk_insert(std::string name, std::string table, std::vector<column> columns, std::string tail)
    : name_(std::move(name)), arrays_(columns.size()) {
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

void bulk_insert::add(const std::vector<std::optional<std::string>>& row) {
  if (row.size() != arrays_.size()) throw std::logic_error("bulk_insert " + name_ + ": wrong number of values");
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
  for (auto& a : arrays_) a += '}';
  std::vector<std::string> params(arrays_.size());
  params.swap(arrays_);
  clear();
  tx.exec_prepared(name_, pqxx::prepare::make_dynamic_params(params));
}

void bulk_insert::clear() {
  arrays_.assign(arrays_.size(), std::string("{"));
  rows_ = 0;
}

}  // namespace coachd
