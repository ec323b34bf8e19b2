#pragma once
/// Rows a projector inserts many of (one per submitted intake, per booked session), gathered
/// during a batch and written as one statement: INSERT … SELECT FROM unnest(one array per
/// column). Replaying a log into an empty read model then costs one round trip per batch
/// instead of one per event.
///
/// The projector adds a row where it would have inserted it, and flushes before any other
/// statement of the batch (so that statements keep the log's order) and in end_batch.
///
/// While loading (a rebuild into the emptied read model: every row is new, and a batch's rows
/// commit with its checkpoint, so none is ever written twice) the rows go in with binary COPY
/// instead, which skips the arrays' parsing and the ON CONFLICT probe, and PostgreSQL's parsing
/// of text (300,000 intakes rows in psql: 1.75-1.91 s as text COPY, 1.24-1.40 s as binary). A
/// duplicate key then fails the batch instead of being skipped. Loading needs the transaction's
/// connection to be a copy_connection (projections/copy_connection.hpp).

#include <optional>
#include <pqxx/pqxx>
#include <string>
#include <vector>

namespace coachd {

class bulk_insert {
 public:
  struct column {
    std::string name;
    std::string type;  // PostgreSQL type of the values: "uuid", "text", "timestamptz" or "integer"
  };

  /// `name` names the prepared statement; `tail` follows the SELECT (e.g. an ON CONFLICT clause).
  bulk_insert(std::string name, std::string table, std::vector<column> columns,
              std::string tail = {});

  void prepare(pqxx::connection_base& connection) const;
  /// COPY (true) or INSERT … ON CONFLICT (false, the default) from the next batch on; rows
  /// gathered so far are dropped.
  void set_loading(bool loading);
  bool loading() const { return loading_; }
  /// One row: a value (or NULL) per column, in the order of the columns, as PostgreSQL's text
  /// for the column's type (a timestamptz as RFC 3339). While loading, a value its type does
  /// not read throws std::invalid_argument.
  void add(const std::vector<std::optional<std::string>>& row);
  /// Inserts the gathered rows (if any) in `tx` and forgets them.
  void flush(pqxx::work& tx);
  /// Forgets the gathered rows (their batch was abandoned).
  void clear();
  std::size_t size() const { return rows_; }

 private:
  enum class kind { uuid, text, timestamptz, integer };

  std::string name_, sql_, table_, copy_sql_;
  std::vector<kind> kinds_;
  std::vector<std::string> arrays_;  // one array literal per column, being built
  std::string copy_;                 // binary COPY tuples, being built (while loading)
  std::size_t rows_ = 0;
  bool loading_ = false;
};

}  // namespace coachd
