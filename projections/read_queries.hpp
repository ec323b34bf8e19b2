#pragma once
/// The shapes of a read-model query on a pg_async_pool: a page of rows (fetched with
/// LIMIT limit + 1, see make_page) and at most one row.
///
/// The views a route writes out (intake_view, client_view) hold std::string_views into libpq's
/// result, which travels with them (page::source, viewed_row::source): a page of 20 intakes was
/// 240 strings allocated, copied and freed per GET, about a tenth of coachd's CPU per GET.

#include <boost/asio/awaitable.hpp>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include "infra/pg_async.hpp"
#include "projections/paging.hpp"

namespace coachd {

/// Appends what a list statement takes after its filters: the cursor's (time, id) when the page
/// starts after one (the "_after" statements), then LIMIT limit + 1 (make_page's look-ahead).
inline void add_page_params(pg_params& params, const page_start& start, int limit) {
  if (start.after_time) {
    params.push_back(start.after_time);
    params.push_back(start.after_id);
  }
  params.push_back(std::to_string(limit + 1));
}

/// Runs `statement` and converts its rows into a page of at most `limit` items; the page keeps
/// the result, so items may be views into it.
template <typename T, typename Convert, typename Key>
boost::asio::awaitable<page<T>> read_page(pg_async_pool& db, std::string_view statement, pg_params params,
                                          int limit, Convert convert, Key key) {
  auto call = db.exec(statement, std::move(params));  // named: GCC 12 and co_await temporaries
  pg_rows answer = co_await std::move(call);
  auto rows = std::make_shared<const pg_rows>(std::move(answer));
  page<T> out = make_page<T>(*rows, limit, convert, key);
  out.source = std::move(rows);
  co_return out;
}

/// A row seen through T (std::string_views into libpq's result), with that result.
template <typename T>
struct viewed_row {
  T value;
  std::shared_ptr<const pg_rows> source;
  const T& operator*() const { return value; }
  const T* operator->() const { return &value; }
};

/// Runs `statement` and looks at its first row, if there is one, through `convert`.
template <typename T, typename Convert>
boost::asio::awaitable<std::optional<viewed_row<T>>> read_row(pg_async_pool& db, std::string_view statement,
                                                              pg_params params, Convert convert) {
  auto call = db.exec(statement, std::move(params));
  pg_rows answer = co_await std::move(call);
  if (answer.empty()) co_return std::nullopt;
  auto rows = std::make_shared<const pg_rows>(std::move(answer));
  T value = convert((*rows)[0]);
  co_return viewed_row<T>{std::move(value), std::move(rows)};
}

/// Runs `statement` and converts its first row, if there is one.
template <typename T, typename Convert>
boost::asio::awaitable<std::optional<T>> read_one(pg_async_pool& db, std::string_view statement, pg_params params,
                                                  Convert convert) {
  auto call = db.exec(statement, std::move(params));
  const pg_rows rows = co_await std::move(call);
  if (rows.empty()) co_return std::nullopt;
  co_return convert(rows[0]);
}

}  // namespace coachd
