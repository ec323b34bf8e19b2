#pragma once
/// A libpqxx connection whose libpq handle bulk_insert can reach, for binary COPY: libpqxx 6.4
/// keeps the handle to itself and sends COPY data only as text lines (each ending in a newline,
/// which a binary stream cannot carry). Opened like a `pqxx::connection`.

#include <pqxx/pqxx>
#include <string>

namespace coachd {

/// The connection policy of copy_connection: libpqxx's direct connect, remembering the handle
/// of each (re)connection and forgetting it when it is dropped.
class copy_connect_policy : public pqxx::connect_direct {
 public:
  explicit copy_connect_policy(const std::string& options);
  handle do_startconnect(handle orig) override;
  handle do_completeconnect(handle orig) override;
  handle do_dropconnect(handle orig) noexcept override;
  handle do_disconnect(handle orig) noexcept override;
  handle current() const { return current_; }

 private:
  handle current_ = nullptr;
};

class copy_connection : public pqxx::basic_connection_base<copy_connect_policy> {
 public:
  explicit copy_connection(const std::string& options);
  ~copy_connection();
  copy_connection(const copy_connection&) = delete;
  copy_connection& operator=(const copy_connection&) = delete;

  /// The libpq handle of `connection` when it is a copy_connection (and open); nullptr otherwise.
  static pqxx::internal::pq::PGconn* handle_of(const pqxx::connection_base& connection);

 private:
  const copy_connect_policy* policy_;
};

}  // namespace coachd
