#include "infra/pg_async.hpp"

#include <libpq-fe.h>

#include <algorithm>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <unordered_set>

namespace coachd {

namespace asio = boost::asio;

// --- rows ------------------------------------------------------------------------------------

bool pg_field::is_null() const { return PQgetisnull(result_, row_, column_) != 0; }
const char* pg_field::c_str() const { return PQgetvalue(result_, row_, column_); }
std::string_view pg_field::view() const {
  return {PQgetvalue(result_, row_, column_), static_cast<std::size_t>(PQgetlength(result_, row_, column_))};
}
int pg_row::size() const { return PQnfields(result_); }

pg_rows::pg_rows(pg_result* result) : result_(result) {}
void pg_rows::clear::operator()(pg_result* r) const { PQclear(r); }
std::size_t pg_rows::size() const { return result_ ? static_cast<std::size_t>(PQntuples(result_.get())) : 0; }
std::size_t pg_rows::affected_rows() const {
  if (!result_) return 0;
  const char* n = PQcmdTuples(result_.get());
  std::size_t v = 0;
  std::from_chars(n, n + std::char_traits<char>::length(n), v);
  return v;
}

// --- connections -----------------------------------------------------------------------------

struct pg_async_pool::connection {
  PGconn* pg = nullptr;
  // Waits on libpq's socket; released (not closed) before PQfinish closes it.
  std::unique_ptr<asio::posix::stream_descriptor> socket;
  std::unordered_set<std::string> prepared;

  ~connection() {
    if (socket) socket->release();
    if (pg != nullptr) PQfinish(pg);
  }
};

/// A coroutine waiting for a connection: release() hands it one, or the right to open one
/// (`handed` null), and cancels its timer.
struct pg_async_pool::waiter {
  explicit waiter(const asio::any_io_executor& ex) : wake(ex, asio::steady_timer::time_point::max()) {}
  asio::steady_timer wake;
  connection* handed = nullptr;
  bool done = false;  // handed something; guarded by the pool's mutex
};

namespace {

constexpr auto use_tuple = asio::as_tuple(asio::use_awaitable);

std::string connection_message(PGconn* pg) {
  std::string m = PQerrorMessage(pg);
  while (!m.empty() && (m.back() == '\n' || m.back() == ' ')) m.pop_back();
  return m.empty() ? std::string("connection failed") : m;
}

/// Waits until libpq's socket is readable or writable; throws on cancellation.
asio::awaitable<void> wait_socket(asio::posix::stream_descriptor& socket, asio::posix::descriptor_base::wait_type what) {
  auto [ec] = co_await socket.async_wait(what, use_tuple);
  if (ec) throw boost::system::system_error(ec);
}

/// Sends what libpq has buffered.
asio::awaitable<void> flush(pg_async_pool::connection& c) {
  for (;;) {
    const int r = PQflush(c.pg);
    if (r == 0) co_return;
    if (r < 0) throw pg_error("sending to PostgreSQL failed: " + connection_message(c.pg), "");
    co_await wait_socket(*c.socket, asio::posix::descriptor_base::wait_write);
  }
}

/// Reads every result of the statement just sent; returns the last one, or throws pg_error
/// with its SQLSTATE after draining them (the connection is then ready for the next statement).
asio::awaitable<pg_rows> read_results(pg_async_pool::connection& c) {
  pg_rows last;
  std::optional<pg_error> refused;
  for (;;) {
    while (PQisBusy(c.pg) != 0) {
      co_await wait_socket(*c.socket, asio::posix::descriptor_base::wait_read);
      if (PQconsumeInput(c.pg) == 0) {
        throw pg_error("reading from PostgreSQL failed: " + connection_message(c.pg), "");
      }
    }
    PGresult* r = PQgetResult(c.pg);
    if (r == nullptr) break;
    const auto status = PQresultStatus(r);
    if (status == PGRES_FATAL_ERROR || status == PGRES_BAD_RESPONSE || status == PGRES_NONFATAL_ERROR) {
      const char* state = PQresultErrorField(r, PG_DIAG_SQLSTATE);
      std::string message = PQresultErrorMessage(r);
      while (!message.empty() && message.back() == '\n') message.pop_back();
      if (!refused) refused.emplace(message, state != nullptr ? state : "");
      PQclear(r);
      continue;
    }
    last = pg_rows(r);
  }
  if (PQstatus(c.pg) != CONNECTION_OK) {
    throw pg_error("PostgreSQL connection lost: " + connection_message(c.pg), "");
  }
  if (refused) {
    // An empty SQLSTATE would read as a lost connection; the server always sends one.
    if (refused->sqlstate().empty()) throw pg_error(refused->what(), "XX000");
    throw *refused;
  }
  co_return last;
}

}  // namespace

pg_async_pool::pg_async_pool(asio::any_io_executor io, std::string conninfo, std::size_t size,
                             std::vector<pg_statement> statements)
    : io_(std::move(io)), conninfo_(std::move(conninfo)), size_(std::max<std::size_t>(1, size)),
      statements_(std::move(statements)) {}

pg_async_pool::~pg_async_pool() = default;

std::size_t pg_async_pool::open_connections() const {
  std::lock_guard lock(mutex_);
  return all_.size();
}

const pg_statement& pg_async_pool::statement(std::string_view name) const {
  for (const auto& s : statements_) {
    if (s.name == name) return s;
  }
  throw std::invalid_argument("pg_async_pool: no statement named " + std::string(name));
}

asio::awaitable<pg_async_pool::connection*> pg_async_pool::connect() {
  auto c = std::make_unique<connection>();
  c->pg = PQconnectStart(conninfo_.c_str());
  if (c->pg == nullptr) throw pg_error("out of memory opening a PostgreSQL connection", "");
  if (PQstatus(c->pg) == CONNECTION_BAD) {
    throw pg_error("cannot connect to PostgreSQL: " + connection_message(c->pg), "");
  }
  // libpq may change sockets while it tries addresses: wait on whichever it names now.
  auto poll = PGRES_POLLING_WRITING;
  while (poll != PGRES_POLLING_OK) {
    if (poll == PGRES_POLLING_FAILED) {
      throw pg_error("cannot connect to PostgreSQL: " + connection_message(c->pg), "");
    }
    asio::posix::stream_descriptor socket(io_, PQsocket(c->pg));
    auto [ec] = co_await socket.async_wait(poll == PGRES_POLLING_READING ? asio::posix::descriptor_base::wait_read
                                                                          : asio::posix::descriptor_base::wait_write,
                                           use_tuple);
    socket.release();
    if (ec) throw boost::system::system_error(ec);
    poll = PQconnectPoll(c->pg);
  }
  if (PQsetnonblocking(c->pg, 1) != 0) {
    throw pg_error("cannot make the PostgreSQL connection non-blocking: " + connection_message(c->pg), "");
  }
  c->socket = std::make_unique<asio::posix::stream_descriptor>(io_, PQsocket(c->pg));
  // Each statement is planned once, when first run (see the class comment).
  if (PQsendQuery(c->pg, "SET plan_cache_mode = force_generic_plan") == 0) {
    throw pg_error("sending to PostgreSQL failed: " + connection_message(c->pg), "");
  }
  co_await flush(*c);
  co_await read_results(*c);
  auto* raw = c.get();
  std::lock_guard lock(mutex_);
  all_.push_back(std::move(c));
  co_return raw;
}

asio::awaitable<pg_async_pool::connection*> pg_async_pool::acquire() {
  const auto executor = co_await asio::this_coro::executor;
  std::shared_ptr<waiter> w;
  {
    std::lock_guard lock(mutex_);
    if (!idle_.empty()) {
      auto* c = idle_.back();
      idle_.pop_back();
      co_return c;
    }
    if (all_.size() + opening_ < size_) {
      ++opening_;
    } else {
      w = std::make_shared<waiter>(executor);
      waiters_.push_back(w);
    }
  }
  if (w) {
    co_await w->wake.async_wait(use_tuple);
    const bool cancelled = (co_await asio::this_coro::cancellation_state).cancelled() != asio::cancellation_type::none;
    connection* handed = nullptr;
    {
      std::lock_guard lock(mutex_);
      if (!w->done) {
        // Woken by cancellation, not by release().
        std::erase(waiters_, w);
        throw boost::system::system_error(asio::error::operation_aborted);
      }
      handed = w->handed;
      if (handed == nullptr && cancelled) pass_on_opening_locked();
    }
    if (cancelled) {
      if (handed != nullptr) release(handed, true);
      throw boost::system::system_error(asio::error::operation_aborted);
    }
    if (handed != nullptr) co_return handed;
    // Otherwise the right to open a connection (release() dropped one).
  }
  try {
    auto* c = co_await connect();
    std::lock_guard lock(mutex_);
    --opening_;
    co_return c;
  } catch (...) {
    // The next waiter tries again (and, while PostgreSQL is unreachable, fails as fast).
    std::lock_guard lock(mutex_);
    pass_on_opening_locked();
    throw;
  }
}

void pg_async_pool::pass_on_opening_locked() {
  if (waiters_.empty()) {
    --opening_;
    return;
  }
  auto w = waiters_.front();
  waiters_.erase(waiters_.begin());
  w->done = true;
  asio::post(w->wake.get_executor(), [w] { w->wake.cancel(); });
}

void pg_async_pool::release(connection* c, bool reusable) {
  std::unique_ptr<connection> dropped;
  std::lock_guard lock(mutex_);
  if (!reusable) {
    auto it = std::find_if(all_.begin(), all_.end(), [c](const auto& p) { return p.get() == c; });
    if (it != all_.end()) {
      dropped = std::move(*it);
      all_.erase(it);
    }
  }
  if (!reusable) {
    // The freed place goes to the first waiter, which opens a new connection.
    ++opening_;
    pass_on_opening_locked();
    return;
  }
  if (waiters_.empty()) {
    idle_.push_back(c);
    return;
  }
  auto w = waiters_.front();
  waiters_.erase(waiters_.begin());
  w->done = true;
  w->handed = c;
  asio::post(w->wake.get_executor(), [w] { w->wake.cancel(); });
}

asio::awaitable<pg_rows> pg_async_pool::exec(std::string_view name, pg_params params) {
  const pg_statement& stmt = statement(name);
  connection* c = co_await acquire();
  bool reusable = false;
  try {
    if (!c->prepared.contains(stmt.name)) {
      if (PQsendPrepare(c->pg, stmt.name.c_str(), stmt.sql.c_str(), 0, nullptr) == 0) {
        throw pg_error("sending to PostgreSQL failed: " + connection_message(c->pg), "");
      }
      co_await flush(*c);
      co_await read_results(*c);
      c->prepared.insert(stmt.name);
    }
    std::vector<const char*> values(params.size(), nullptr);
    for (std::size_t i = 0; i < params.size(); ++i) {
      if (params[i]) values[i] = params[i]->c_str();
    }
    if (PQsendQueryPrepared(c->pg, stmt.name.c_str(), static_cast<int>(values.size()), values.data(), nullptr,
                            nullptr, 0) == 0) {
      throw pg_error("sending to PostgreSQL failed: " + connection_message(c->pg), "");
    }
    co_await flush(*c);
    pg_rows rows = co_await read_results(*c);
    release(c, true);
    co_return rows;
  } catch (const pg_error& e) {
    // A refused statement leaves the connection usable; anything else leaves it unknown.
    reusable = !e.sqlstate().empty() && PQstatus(c->pg) == CONNECTION_OK && PQtransactionStatus(c->pg) == PQTRANS_IDLE;
    release(c, reusable);
    throw;
  } catch (...) {
    release(c, false);
    throw;
  }
}

}  // namespace coachd
