#include "infra/pg_async.hpp"

#include <libpq-fe.h>
#include <sys/socket.h>

#include <algorithm>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <deque>
#include <unordered_set>
#include <utility>

namespace coachd {

namespace asio = boost::asio;

// --- rows ------------------------------------------------------------------------------------

bool pg_field::is_null() const { return PQgetisnull(result_, row_, column_) != 0; }
const char* pg_field::c_str() const { return PQgetvalue(result_, row_, column_); }
std::string_view pg_field::view() const {
  return {PQgetvalue(result_, row_, column_),
          static_cast<std::size_t>(PQgetlength(result_, row_, column_))};
}
int pg_row::size() const { return PQnfields(result_); }

pg_rows::pg_rows(pg_result* result) : result_(result) {}
void pg_rows::clear::operator()(pg_result* r) const { PQclear(r); }
std::size_t pg_rows::size() const {
  return result_ ? static_cast<std::size_t>(PQntuples(result_.get())) : 0;
}
std::size_t pg_rows::affected_rows() const {
  if (!result_) return 0;
  const char* n = PQcmdTuples(result_.get());
  std::size_t v = 0;
  std::from_chars(n, n + std::char_traits<char>::length(n), v);
  return v;
}

// --- connections -----------------------------------------------------------------------------

/// One caller's statement, from exec() until its answer is handed over.
struct pg_async_pool::call {
  call(const asio::any_io_executor& ex, const pg_statement& s, pg_params p)
      : wake(ex, asio::steady_timer::time_point::max()), stmt(&s), params(std::move(p)) {}
  asio::steady_timer wake;  // cancelled when the answer is in
  const pg_statement* stmt;
  pg_params params;
  // Guarded by the pool's mutex.
  connection* on = nullptr;  // where it waits: gathered for the next batch, or sent
  bool sent = false;
  bool done = false;       // rows or error hold the answer
  bool abandoned = false;  // its caller was cancelled after it was sent
  int tries = 0;           // times PostgreSQL skipped it because another statement failed
  pg_rows rows;
  std::optional<pg_error> error;
};

struct pg_async_pool::connection {
  PGconn* pg = nullptr;
  // Waits on libpq's socket; released (not closed) before PQfinish closes it.
  std::unique_ptr<asio::posix::stream_descriptor> socket;
  // Everything below is guarded by the pool's mutex, and so are libpq's calls once `ready`.
  std::unordered_set<std::string> prepared;  // sent to be prepared (erased again if that failed)
  bool ready = false;                        // connected, read-only and in pipeline mode
  bool dropped = false;                      // out of the pool; its loops end
  bool batch_posted = false;                 // a send_batch() is on its way for `gathered`
  bool reading = false, writing = false;
  std::vector<std::shared_ptr<call>> gathered;  // not yet handed to libpq
  struct answer_due {
    enum { prepare, execute, sync } kind;
    std::shared_ptr<call> c;  // prepare and execute
  };
  std::deque<answer_due> due;  // in the order PostgreSQL answers
  std::size_t load = 0;        // calls gathered or sent and not yet answered
  // The answer to due.front() so far.
  std::optional<pg_error> front_error;
  pg_rows front_rows;
  bool front_skipped = false;

  ~connection() {
    if (socket) socket->release();
    if (pg != nullptr) PQfinish(pg);
  }
};

namespace {

constexpr auto use_tuple = asio::as_tuple(asio::use_awaitable);

/// Calls a connection gathers for its next batch before new ones go to another connection.
constexpr std::size_t batch_limit = 32;
/// Times a statement is sent again after PostgreSQL skipped it for another one's failure.
constexpr int max_tries = 3;

std::string connection_message(PGconn* pg) {
  std::string m = PQerrorMessage(pg);
  while (!m.empty() && (m.back() == '\n' || m.back() == ' ')) m.pop_back();
  return m.empty() ? std::string("connection failed") : m;
}

/// Waits until libpq's socket is readable or writable; throws on cancellation.
asio::awaitable<void> wait_socket(asio::posix::stream_descriptor& socket,
                                  asio::posix::descriptor_base::wait_type what) {
  auto [ec] = co_await socket.async_wait(what, use_tuple);
  if (ec) throw boost::system::system_error(ec);
}

/// Sends what libpq has buffered (while the connection is being set up).
asio::awaitable<void> flush(pg_async_pool::connection& c) {
  for (;;) {
    const int r = PQflush(c.pg);
    if (r == 0) co_return;
    if (r < 0) throw pg_error("sending to PostgreSQL failed: " + connection_message(c.pg), "");
    co_await wait_socket(*c.socket, asio::posix::descriptor_base::wait_write);
  }
}

/// Reads every result of the statement just sent (while the connection is being set up); throws
/// pg_error with its SQLSTATE when PostgreSQL refused it.
asio::awaitable<void> read_results(pg_async_pool::connection& c) {
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
    if (status == PGRES_FATAL_ERROR || status == PGRES_BAD_RESPONSE ||
        status == PGRES_NONFATAL_ERROR) {
      const char* state = PQresultErrorField(r, PG_DIAG_SQLSTATE);
      if (!refused) refused.emplace(PQresultErrorMessage(r), state != nullptr ? state : "XX000");
    }
    PQclear(r);
  }
  if (PQstatus(c.pg) != CONNECTION_OK) {
    throw pg_error("PostgreSQL connection lost: " + connection_message(c.pg), "");
  }
  if (refused) throw *refused;
}

/// PostgreSQL's refusal in `r`, SQLSTATE included (an empty one would read as a lost connection;
/// the server always sends one).
pg_error refusal(const PGresult* r) {
  const char* state = PQresultErrorField(r, PG_DIAG_SQLSTATE);
  std::string message = PQresultErrorMessage(r);
  while (!message.empty() && message.back() == '\n') message.pop_back();
  return pg_error(message, state != nullptr && *state != '\0' ? state : "XX000");
}

}  // namespace

pg_async_pool::pg_async_pool(asio::any_io_executor io, std::string conninfo, std::size_t size,
                             std::vector<pg_statement> statements)
    : io_(std::move(io)),
      conninfo_(std::move(conninfo)),
      size_(std::max<std::size_t>(1, size)),
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

void pg_async_pool::wake(std::vector<std::shared_ptr<call>>& finished) {
  for (auto& c : finished) {
    asio::post(c->wake.get_executor(), [c] { c->wake.cancel(); });
  }
  finished.clear();
}

void pg_async_pool::enqueue_locked(const std::shared_ptr<call>& c) {
  std::shared_ptr<connection> target;
  std::shared_ptr<connection> least;
  for (const auto& conn : all_) {
    if (conn->batch_posted && conn->load < batch_limit) {
      target = conn;
      break;
    }
    if (!least || conn->load < least->load) least = conn;
  }
  if (!target) {
    if (least && (least->load == 0 || all_.size() >= size_)) {
      target = least;
    } else {
      target = std::make_shared<connection>();
      all_.push_back(target);
      asio::post(io_, [this, target] { asio::co_spawn(io_, open(target), asio::detached); });
    }
  }
  target->gathered.push_back(c);
  c->on = target.get();
  c->sent = false;
  ++target->load;
  if (target->ready && !target->batch_posted) {
    target->batch_posted = true;
    asio::post(io_, [this, target] { send_batch(target); });
  }
}

asio::awaitable<void> pg_async_pool::open(std::shared_ptr<connection> conn) {
  std::vector<std::shared_ptr<call>> finished;
  try {
    conn->pg = PQconnectStart(conninfo_.c_str());
    if (conn->pg == nullptr) throw pg_error("out of memory opening a PostgreSQL connection", "");
    if (PQstatus(conn->pg) == CONNECTION_BAD) {
      throw pg_error("cannot connect to PostgreSQL: " + connection_message(conn->pg), "");
    }
    // libpq may change sockets while it tries addresses: wait on whichever it names now.
    auto poll = PGRES_POLLING_WRITING;
    while (poll != PGRES_POLLING_OK) {
      if (poll == PGRES_POLLING_FAILED) {
        throw pg_error("cannot connect to PostgreSQL: " + connection_message(conn->pg), "");
      }
      asio::posix::stream_descriptor socket(io_, PQsocket(conn->pg));
      auto [ec] = co_await socket.async_wait(poll == PGRES_POLLING_READING
                                                 ? asio::posix::descriptor_base::wait_read
                                                 : asio::posix::descriptor_base::wait_write,
                                             use_tuple);
      socket.release();
      if (ec) throw pg_error("cannot connect to PostgreSQL: " + ec.message(), "");
      poll = PQconnectPoll(conn->pg);
    }
    if (PQsetnonblocking(conn->pg, 1) != 0) {
      throw pg_error(
          "cannot make the PostgreSQL connection non-blocking: " + connection_message(conn->pg),
          "");
    }
    conn->socket = std::make_unique<asio::posix::stream_descriptor>(io_, PQsocket(conn->pg));
    // The statements of one batch share an implicit transaction: none may write.
    if (PQsendQuery(conn->pg, "SET default_transaction_read_only = on") == 0) {
      throw pg_error("sending to PostgreSQL failed: " + connection_message(conn->pg), "");
    }
    co_await flush(*conn);
    co_await read_results(*conn);
    if (PQenterPipelineMode(conn->pg) == 0) {
      throw pg_error("cannot enter pipeline mode: " + connection_message(conn->pg), "");
    }
  } catch (const pg_error& e) {
    std::lock_guard lock(mutex_);
    drop_locked(conn, &e, finished);
  } catch (const boost::system::system_error& e) {
    const pg_error failed("cannot connect to PostgreSQL: " + std::string(e.what()), "");
    std::lock_guard lock(mutex_);
    drop_locked(conn, &failed, finished);
  }
  if (!finished.empty()) {
    wake(finished);
    co_return;
  }
  std::lock_guard lock(mutex_);
  if (conn->dropped) co_return;
  conn->ready = true;
  if (!conn->gathered.empty() && !conn->batch_posted) {
    conn->batch_posted = true;
    asio::post(io_, [this, conn] { send_batch(conn); });
  }
}

void pg_async_pool::send_batch(const std::shared_ptr<connection>& conn) {
  std::vector<std::shared_ptr<call>> finished;
  {
    std::lock_guard lock(mutex_);
    conn->batch_posted = false;
    if (conn->dropped) return;
    try {
      // Everything gathered, behind one Sync: PostgreSQL answers it all before it next flushes.
      for (auto& c : conn->gathered) {
        const pg_statement& s = *c->stmt;
        if (!conn->prepared.contains(s.name)) {
          if (PQsendPrepare(conn->pg, s.name.c_str(), s.sql.c_str(), 0, nullptr) == 0) {
            throw pg_error("sending to PostgreSQL failed: " + connection_message(conn->pg), "");
          }
          conn->prepared.insert(s.name);
          conn->due.push_back({connection::answer_due::prepare, c});
        }
        std::vector<const char*> values(c->params.size(), nullptr);
        for (std::size_t i = 0; i < c->params.size(); ++i) {
          if (c->params[i]) values[i] = c->params[i]->c_str();
        }
        if (PQsendQueryPrepared(conn->pg, s.name.c_str(), static_cast<int>(values.size()),
                                values.data(), nullptr, nullptr, 0) == 0) {
          throw pg_error("sending to PostgreSQL failed: " + connection_message(conn->pg), "");
        }
        conn->due.push_back({connection::answer_due::execute, c});
        c->sent = true;
      }
      if (!conn->gathered.empty()) {
        conn->gathered.clear();
        // Sends the Sync and flushes what libpq holds.
        if (PQpipelineSync(conn->pg) == 0) {
          throw pg_error("sending to PostgreSQL failed: " + connection_message(conn->pg), "");
        }
        conn->due.push_back({connection::answer_due::sync, nullptr});
      }
      start_loops_locked(conn, drive_locked(*conn, finished));
    } catch (const pg_error& e) {
      drop_locked(conn, &e, finished);
    }
  }
  wake(finished);
}

bool pg_async_pool::drive_locked(connection& conn, std::vector<std::shared_ptr<call>>& finished) {
  const int unsent = PQflush(conn.pg);
  if (unsent < 0)
    throw pg_error("sending to PostgreSQL failed: " + connection_message(conn.pg), "");
  if (PQconsumeInput(conn.pg) == 0) {
    throw pg_error("reading from PostgreSQL failed: " + connection_message(conn.pg), "");
  }
  std::vector<std::shared_ptr<call>> skipped;
  while (!conn.due.empty() && PQisBusy(conn.pg) == 0) {
    auto& front = conn.due.front();
    PGresult* r = PQgetResult(conn.pg);
    if (front.kind == connection::answer_due::sync) {
      if (r == nullptr) break;
      const auto status = PQresultStatus(r);
      PQclear(r);
      if (status != PGRES_PIPELINE_SYNC)
        throw pg_error("PostgreSQL answered out of step with the statements sent", "");
      conn.due.pop_front();
      continue;
    }
    if (r != nullptr) {
      switch (PQresultStatus(r)) {
        case PGRES_FATAL_ERROR:
        case PGRES_BAD_RESPONSE:
        case PGRES_NONFATAL_ERROR: {
          const char* severity = PQresultErrorField(r, PG_DIAG_SEVERITY_NONLOCALIZED);
          if (severity != nullptr &&
              (std::string_view(severity) == "FATAL" || std::string_view(severity) == "PANIC")) {
            // The server is ending the connection (terminated, shutting down): a failure of the
            // connection for every call on it, not a refusal of this statement.
            std::string message = refusal(r).what();
            PQclear(r);
            throw pg_error("PostgreSQL connection lost: " + message, "");
          }
          if (!conn.front_error) conn.front_error = refusal(r);
          PQclear(r);
          break;
        }
        case PGRES_PIPELINE_ABORTED:
          conn.front_skipped = true;
          PQclear(r);
          break;
        case PGRES_PIPELINE_SYNC:
          PQclear(r);
          throw pg_error("PostgreSQL answered out of step with the statements sent", "");
        default:
          conn.front_rows = pg_rows(r);
      }
      continue;
    }
    // The front statement's answer is complete.
    auto done = std::move(front);
    conn.due.pop_front();
    std::optional<pg_error> error = std::move(conn.front_error);
    pg_rows rows = std::move(conn.front_rows);
    const bool was_skipped = std::exchange(conn.front_skipped, false);
    conn.front_error.reset();
    call& c = *done.c;
    if (done.kind == connection::answer_due::prepare) {
      if (error || was_skipped) conn.prepared.erase(c.stmt->name);
      // Its statement cannot run: the caller gets why.
      if (error && !c.error) c.error = std::move(error);
      continue;
    }
    --conn.load;
    if (c.abandoned) continue;
    if (!c.error && !error && was_skipped && c.tries + 1 < max_tries) {
      ++c.tries;
      skipped.push_back(done.c);
      continue;
    }
    if (!c.error) {
      if (error) {
        c.error = std::move(error);
      } else if (was_skipped) {
        c.error.emplace("PostgreSQL skipped the statement " + std::to_string(max_tries) +
                            " times because another statement sent with it failed",
                        "XX000");
      } else {
        c.rows = std::move(rows);
      }
    }
    c.done = true;
    finished.push_back(done.c);
  }
  for (auto& c : skipped) enqueue_locked(c);
  return unsent == 1;
}

void pg_async_pool::start_loops_locked(const std::shared_ptr<connection>& conn, bool unsent) {
  if (!conn->due.empty() && !conn->reading) {
    conn->reading = true;
    asio::post(io_, [this, conn] { asio::co_spawn(io_, read_loop(conn), asio::detached); });
  }
  if (unsent && !conn->writing) {
    conn->writing = true;
    asio::post(io_, [this, conn] { asio::co_spawn(io_, write_loop(conn), asio::detached); });
  }
}

asio::awaitable<void> pg_async_pool::read_loop(std::shared_ptr<connection> conn) {
  for (bool again = true; again;) {
    auto [ec] =
        co_await conn->socket->async_wait(asio::posix::descriptor_base::wait_read, use_tuple);
    std::vector<std::shared_ptr<call>> finished;
    {
      std::lock_guard lock(mutex_);
      if (conn->dropped) {
        again = false;
      } else if (ec) {
        const pg_error failed("waiting for PostgreSQL failed: " + ec.message(), "");
        drop_locked(conn, &failed, finished);
        again = false;
      } else {
        try {
          const bool unsent = drive_locked(*conn, finished);
          again = !conn->due.empty();
          conn->reading = again;
          start_loops_locked(conn, unsent);
        } catch (const pg_error& e) {
          drop_locked(conn, &e, finished);
          again = false;
        }
      }
    }
    wake(finished);
  }
}

asio::awaitable<void> pg_async_pool::write_loop(std::shared_ptr<connection> conn) {
  for (bool again = true; again;) {
    auto [ec] =
        co_await conn->socket->async_wait(asio::posix::descriptor_base::wait_write, use_tuple);
    std::vector<std::shared_ptr<call>> finished;
    {
      std::lock_guard lock(mutex_);
      if (conn->dropped) {
        again = false;
      } else if (ec) {
        const pg_error failed("waiting for PostgreSQL failed: " + ec.message(), "");
        drop_locked(conn, &failed, finished);
        again = false;
      } else {
        try {
          again = drive_locked(*conn, finished);
          conn->writing = again;
          start_loops_locked(conn, again);
        } catch (const pg_error& e) {
          drop_locked(conn, &e, finished);
          again = false;
        }
      }
    }
    wake(finished);
  }
}

void pg_async_pool::drop_locked(const std::shared_ptr<connection>& conn, const pg_error* error,
                                std::vector<std::shared_ptr<call>>& finished) {
  if (conn->dropped) return;
  conn->dropped = true;
  std::erase(all_, conn);
  std::vector<std::shared_ptr<call>> waiting;
  for (const auto& d : conn->due) {
    if (d.kind == connection::answer_due::execute) waiting.push_back(d.c);
  }
  waiting.insert(waiting.end(), conn->gathered.begin(), conn->gathered.end());
  conn->due.clear();
  conn->gathered.clear();
  conn->load = 0;
  for (auto& c : waiting) {
    if (c->done || c->abandoned) continue;
    if (error != nullptr) {
      c->error = *error;
      c->done = true;
      finished.push_back(c);
    } else {
      enqueue_locked(c);  // a read: safe to run again on another connection
    }
  }
  // Ends its loops (the socket reads as closed); the last of them closes the connection.
  if (conn->ready && conn->pg != nullptr) ::shutdown(PQsocket(conn->pg), SHUT_RDWR);
}

asio::awaitable<pg_rows> pg_async_pool::exec(std::string_view name, pg_params params) {
  const pg_statement& stmt = statement(name);
  auto c = std::make_shared<call>(co_await asio::this_coro::executor, stmt, std::move(params));
  {
    std::lock_guard lock(mutex_);
    enqueue_locked(c);
  }
  co_await c->wake.async_wait(use_tuple);
  std::vector<std::shared_ptr<call>> finished;
  bool cancelled = false;
  {
    std::lock_guard lock(mutex_);
    cancelled = !c->done;
    if (cancelled) {
      // Cancelled (an answer cancels the timer only after setting done).
      auto it = std::find_if(all_.begin(), all_.end(),
                             [&](const auto& conn) { return conn.get() == c->on; });
      if (it != all_.end()) {
        auto conn = *it;
        if (!c->sent) {
          std::erase(conn->gathered, c);
          --conn->load;
        } else {
          c->abandoned = true;
          // Running now (the first statement still to answer): close the connection rather than
          // leave the others behind it waiting for an answer nobody wants.
          auto first = std::find_if(conn->due.begin(), conn->due.end(), [](const auto& d) {
            return d.kind == connection::answer_due::execute;
          });
          if (first != conn->due.end() && first->c == c) drop_locked(conn, nullptr, finished);
        }
      }
    }
  }
  if (cancelled) {
    wake(finished);
    throw boost::system::system_error(asio::error::operation_aborted);
  }
  if (c->error) throw *c->error;
  co_return std::move(c->rows);
}

}  // namespace coachd
