#include "projections/copy_connection.hpp"

#include <libpq-fe.h>

#include <mutex>
#include <unordered_map>

namespace coachd {

namespace {

// libpqxx's connection_base is not polymorphic and keeps its policy private: each
// copy_connection registers its policy under its own address, and the policy constructed last
// on this thread is the one the connection being constructed holds.
thread_local const copy_connect_policy* constructed_policy = nullptr;

std::mutex registry_mutex;
std::unordered_map<const pqxx::connection_base*, const copy_connect_policy*>& registry() {
  static std::unordered_map<const pqxx::connection_base*, const copy_connect_policy*> connections;
  return connections;
}

}  // namespace

copy_connect_policy::copy_connect_policy(const std::string& options)
    : pqxx::connect_direct(options) {
  constructed_policy = this;
}

copy_connect_policy::handle copy_connect_policy::do_startconnect(handle orig) {
  current_ = pqxx::connect_direct::do_startconnect(orig);
  return current_;
}

copy_connect_policy::handle copy_connect_policy::do_completeconnect(handle orig) {
  current_ = pqxx::connect_direct::do_completeconnect(orig);
  return current_;
}

copy_connect_policy::handle copy_connect_policy::do_dropconnect(handle orig) noexcept {
  current_ = pqxx::connect_direct::do_dropconnect(orig);
  return current_;
}

copy_connect_policy::handle copy_connect_policy::do_disconnect(handle orig) noexcept {
  current_ = pqxx::connect_direct::do_disconnect(orig);
  return current_;
}

// The base class connects in its constructor, after constructing the policy (a member of the
// base): by the time this body runs, constructed_policy is this connection's.
copy_connection::copy_connection(const std::string& options)
    : pqxx::basic_connection_base<copy_connect_policy>(options), policy_(constructed_policy) {
  std::lock_guard lock(registry_mutex);
  registry()[this] = policy_;
}

copy_connection::~copy_connection() {
  std::lock_guard lock(registry_mutex);
  registry().erase(this);
}

pqxx::internal::pq::PGconn* copy_connection::handle_of(const pqxx::connection_base& connection) {
  std::lock_guard lock(registry_mutex);
  const auto found = registry().find(&connection);
  return found == registry().end() ? nullptr : found->second->current();
}

}  // namespace coachd
