#pragma once
/// Cursor paging for list queries: a cursor is an opaque token naming the last row returned
/// (its sort key), so the next page starts right after it whatever was inserted meanwhile.

#include <optional>
#include <string>
#include <vector>

namespace coachd {

/// One page of a list and the cursor of the next one (none on the last page).
template <typename T>
struct page {
  std::vector<T> items;
  std::optional<std::string> next_cursor;
};

/// A sort key of (time, id) as an opaque cursor and back; decode gives nullopt for garbage.
std::string encode_cursor(const std::string& time, const std::string& id);
std::optional<std::pair<std::string, std::string>> decode_cursor(const std::string& cursor);

}  // namespace coachd
