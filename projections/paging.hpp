#pragma once
/// Cursor paging for list queries: a cursor is an opaque token naming the last row returned
/// (its sort key), so the next page starts right after it whatever was inserted meanwhile.

#include <algorithm>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "events/errors.hpp"

namespace coachd {

/// One page of a list and the cursor of the next one (none on the last page).
template <typename T>
struct page {
  std::vector<T> items;
  std::optional<std::string> next_cursor;
  /// What the items' std::string_views point into, when they are views (libpq's result of a
  /// read-model query): it lives as long as the page.
  std::shared_ptr<const void> source;
};

/// A sort key of (time, id) as an opaque cursor and back; decode gives nullopt for garbage.
std::string encode_cursor(std::string_view time, std::string_view id);
std::optional<std::pair<std::string, std::string>> decode_cursor(const std::string& cursor);

/// Where a page starts, as query parameters: (time, id) after which to read, both null without
/// a cursor; a cursor this API did not return is errc::invalid naming "cursor".
struct page_start {
  std::optional<std::string> after_time, after_id;
};
result<page_start> start_of_page(const std::optional<std::string>& cursor);

/// A page from rows fetched with LIMIT limit + 1: the first `limit` converted, and a cursor
/// made from the last of them (`key` gives its (time, id)) when there were more.
template <typename T, typename Rows, typename Convert, typename Key>
page<T> make_page(const Rows& rows, int limit, Convert convert, Key key) {
  page<T> out;
  out.items.reserve(std::min<std::size_t>(rows.size(), static_cast<std::size_t>(limit)));
  for (const auto& row : rows) {
    if (static_cast<int>(out.items.size()) == limit) {
      const auto [time, id] = key(out.items.back());
      out.next_cursor = encode_cursor(time, id);
      break;
    }
    out.items.push_back(convert(row));
  }
  return out;
}

}  // namespace coachd
