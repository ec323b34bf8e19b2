#pragma once
/// The two shapes of a read-model query on a pg_async_pool: a page of rows (fetched with
/// LIMIT limit + 1, see make_page) and at most one row.

#include <boost/asio/awaitable.hpp>
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

/// Runs `statement` and converts its rows into a page of at most `limit` items.
template <typename T, typename Convert, typename Key>
boost::asio::awaitable<page<T>> read_page(pg_async_pool& db, std::string_view statement, pg_params params,
                                          int limit, Convert convert, Key key) {
  auto call = db.exec(statement, std::move(params));  // named: GCC 12 and co_await temporaries
  const pg_rows rows = co_await std::move(call);
  co_return make_page<T>(rows, limit, convert, key);
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
