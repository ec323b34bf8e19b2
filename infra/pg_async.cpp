#include "infra/pg_async.hpp"

#include <libpq-fe.h>
#include <sys/ioctl.h>

#include <algorithm>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/strand.hpp>
#include <deque>
#include <unordered_map>
#include <unordered_set>

namespace coachd {

namespace asio = boost::asio;

// --- rows ------------------------------------------------------------------------------------

bool pg_field::is_null() const { return PQgetisnull(result_, row_, column_) != 0; }
const char* pg_field::c_str() const { return PQgetvalue(result_, row_, column_); }
std::string_view pg_field::view() const {
  return {PQgetvalue(result_, row_, column_), static_cast<std::size_t>(PQgetlength(result_, row_, column_))};
}
std::string_view pg_field::text() const {
  if (is_null()) throw std::domain_error("pg_field: NULL where a value was expected");
  return view();
}
std::optional<std::string_view> pg_field::optional_text() const {
  if (is_null()) return std::nullopt;
  return view();
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

namespace {

constexpr auto use_tuple = asio::as_tuple(asio::use_awaitable);

std::string connection_message(PGconn* pg) {
  std::string m = PQerrorMessage(pg);
  while (!m.empty() && (m.back() == '\n' || m.back() == ' ')) m.pop_back();
  return m.empty() ? std::string("connection failed") : m;
}

std::string result_message(const PGresult* r) {
  std::string m = PQresultErrorMessage(r);
  while (!m.empty() && (m.back() == '\n' || m.back() == ' ')) m.pop_back();
  return m;
}

/// Waits until libpq's socket is readable or writable; throws on cancellation.
asio::awaitable<void> wait_socket(asio::posix::stream_descriptor& socket, asio::posix::descriptor_base::wait_type what) {
  auto [ec] = co_await socket.async_wait(what, use_tuple);
  if (ec) throw boost::system::system_error(ec);
}

}  // namespace

/// One statement on its way: queued on a connection, then sent, then answered.
struct pg_async_pool::request {
  request(const asio::any_io_executor& ex, const pg_statement& s, pg_params p)
      : wake(ex, asio::steady_timer::time_point::max()), stmt(&s), params(std::move(p)) {}
  asio::steady_timer wake;  // on the caller's executor; cancelled (by a post there) when answered
  const pg_statement* stmt;
  pg_params params;
  // Set by the connection's coroutine, read by the caller once `done`; guarded by the mutex.
  bool done = false;
  bool abandoned = false;  // the caller was cancelled and left
  bool sent = false;
  bool alone = false;  // sent with a Sync of its own (a retry after another statement's refusal)
  pg_rows rows;
  std::optional<pg_error> error;
};

/// The statements sent together, up to one Sync: one flush out, one flush back.
struct pg_async_pool::sent_group {
  /// A sent statement: its answer is read as the results of its Prepare (when it needed one)
  /// and of itself.
  struct member {
    std::shared_ptr<request> r;
    bool prepare = false;
    int commands_left = 1;   // Prepare and/or Execute whose results have not ended yet
    bool own_error = false;  // refused itself (not merely aborted by another's refusal)
  };
  std::vector<member> members;
  std::size_t current = 0;  // whose results are being read
  bool refused = false;     // some member failed: the implicit transaction rolled back
  std::size_t failed_at = 0;  // the first member that failed (when refused)
};

struct pg_async_pool::connection {
  explicit connection(const asio::any_io_executor& io) : strand(asio::make_strand(io)) {}
  ~connection() {
    if (socket) socket->release();
    if (pg != nullptr) PQfinish(pg);
  }

  asio::strand<asio::any_io_executor> strand;
  PGconn* pg = nullptr;
  // Waits on libpq's socket; released (not closed) before PQfinish closes it.
  std::unique_ptr<asio::posix::stream_descriptor> socket;
  std::unordered_set<std::string> prepared;  // the coroutine's alone
  // Why each statement's last Prepare here failed: given to the statements sent after that
  // Prepare (trusting it) and refused for want of it. The coroutine's alone.
  std::unordered_map<std::string, pg_error> failed_prepares;

  std::deque<sent_group> sent;  // the coroutine's alone

  // Guarded by the pool's mutex:
  std::deque<std::shared_ptr<request>> queued;
  std::size_t outstanding = 0;  // queued + sent, not yet answered
  bool driving = false;         // its coroutine runs (and holds it, retired or not)
};

namespace {

/// Sends what libpq has buffered. While the socket cannot take more, what PostgreSQL sends is
/// read meanwhile (libpq buffers it), so that neither side waits for the other forever.
asio::awaitable<void> flush(pg_async_pool::connection& c) {
  using namespace asio::experimental::awaitable_operators;
  for (;;) {
    const int r = PQflush(c.pg);
    if (r == 0) co_return;
    if (r < 0) throw pg_error("sending to PostgreSQL failed: " + connection_message(c.pg), "");
    auto ready = co_await (c.socket->async_wait(asio::posix::descriptor_base::wait_write, use_tuple) ||
                           c.socket->async_wait(asio::posix::descriptor_base::wait_read, use_tuple));
    if (ready.index() == 1 && PQconsumeInput(c.pg) == 0) {
      throw pg_error("reading from PostgreSQL failed: " + connection_message(c.pg), "");
    }
  }
}

/// Reads the results of a statement sent outside pipeline mode; throws pg_error with its SQLSTATE
/// when refused.
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
    if (status == PGRES_FATAL_ERROR || status == PGRES_BAD_RESPONSE || status == PGRES_NONFATAL_ERROR) {
      const char* state = PQresultErrorField(r, PG_DIAG_SQLSTATE);
      if (!refused) refused.emplace(result_message(r), state != nullptr ? state : "XX000");
    }
    PQclear(r);
  }
  if (PQstatus(c.pg) != CONNECTION_OK) {
    throw pg_error("PostgreSQL connection lost: " + connection_message(c.pg), "");
  }
  if (refused) throw *refused;
}

}  // namespace

pg_async_pool::pg_async_pool(asio::any_io_executor io, std::string conninfo, std::size_t size,
                             std::vector<pg_statement> statements)
    : io_(std::move(io)), conninfo_(std::move(conninfo)), size_(std::max<std::size_t>(1, size)),
      statements_(std::move(statements)) {}

pg_async_pool::~pg_async_pool() = default;

std::size_t pg_async_pool::open_connections() const {
  std::lock_guard lock(mutex_);
  return open_.size();
}

const pg_statement& pg_async_pool::statement(std::string_view name) const {
  for (const auto& s : statements_) {
    if (s.name == name) return s;
  }
  throw std::invalid_argument("pg_async_pool: no statement named " + std::string(name));
}

asio::awaitable<void> pg_async_pool::connect(connection& c) {
  c.pg = PQconnectStart(conninfo_.c_str());
  if (c.pg == nullptr) throw pg_error("out of memory opening a PostgreSQL connection", "");
  if (PQstatus(c.pg) == CONNECTION_BAD) {
    throw pg_error("cannot connect to PostgreSQL: " + connection_message(c.pg), "");
  }
  // libpq may change sockets while it tries addresses: wait on whichever it names now.
  auto poll = PGRES_POLLING_WRITING;
  while (poll != PGRES_POLLING_OK) {
    if (poll == PGRES_POLLING_FAILED) {
      throw pg_error("cannot connect to PostgreSQL: " + connection_message(c.pg), "");
    }
    asio::posix::stream_descriptor socket(c.strand, PQsocket(c.pg));
    auto [ec] = co_await socket.async_wait(poll == PGRES_POLLING_READING ? asio::posix::descriptor_base::wait_read
                                                                          : asio::posix::descriptor_base::wait_write,
                                           use_tuple);
    socket.release();
    if (ec) throw boost::system::system_error(ec);
    poll = PQconnectPoll(c.pg);
  }
  if (PQsetnonblocking(c.pg, 1) != 0) {
    throw pg_error("cannot make the PostgreSQL connection non-blocking: " + connection_message(c.pg), "");
  }
  c.socket = std::make_unique<asio::posix::stream_descriptor>(c.strand, PQsocket(c.pg));
  // Each statement is planned once, when first run (see the class comment).
  if (PQsendQuery(c.pg, "SET plan_cache_mode = force_generic_plan") == 0) {
    throw pg_error("sending to PostgreSQL failed: " + connection_message(c.pg), "");
  }
  co_await flush(c);
  co_await read_results(c);
  if (PQenterPipelineMode(c.pg) != 1) {
    throw pg_error("cannot enter pipeline mode: " + connection_message(c.pg), "");
  }
}

void pg_async_pool::answer_locked(connection& c, const std::shared_ptr<request>& r) {
  --c.outstanding;
  r->done = true;
  if (r->abandoned) return;
  asio::post(r->wake.get_executor(), [r] { r->wake.cancel(); });
}

void pg_async_pool::drop_locked(const connection& c) {
  std::erase_if(open_, [&c](const std::shared_ptr<connection>& p) { return p.get() == &c; });
}

void pg_async_pool::fail_connection(connection& c, const std::string& why) {
  std::lock_guard lock(mutex_);
  for (auto& g : c.sent) {
    for (auto& f : g.members) {
      f.r->error.emplace(why, "");
      answer_locked(c, f.r);
    }
  }
  c.sent.clear();
  for (auto& r : c.queued) {
    r->error.emplace(why, "");
    answer_locked(c, r);
  }
  c.queued.clear();
  c.driving = false;
  drop_locked(c);
}

asio::awaitable<void> pg_async_pool::drive(std::shared_ptr<connection> c) {
  try {
    if (c->pg == nullptr) co_await connect(*c);
    for (;;) {
      std::deque<std::shared_ptr<request>> batch;
      {
        std::lock_guard lock(mutex_);
        batch.swap(c->queued);
        if (batch.empty() && c->sent.empty()) {
          // A retired connection, no longer in open_, closes as this coroutine lets go of it.
          c->driving = false;
          co_return;
        }
        for (auto& r : batch) r->sent = !r->abandoned;
      }
      // What was queued goes out together, up to one Sync, in as few writes as the socket
      // allows (libpq flushes at the Sync); a statement retried alone (see below) has a Sync of
      // its own.
      sent_group together;
      const auto close_group = [&](sent_group& g) {
        if (g.members.empty()) return;
        if (PQpipelineSync(c->pg) == 0) {
          throw pg_error("sending to PostgreSQL failed: " + connection_message(c->pg), "");
        }
        c->sent.push_back(std::move(g));
        g = sent_group{};
      };
      for (auto& r : batch) {
        if (!r->sent) {
          std::lock_guard lock(mutex_);
          answer_locked(*c, r);
          continue;
        }
        if (r->alone) close_group(together);  // what came before it gets its Sync first
        sent_group::member f;
        f.r = r;
        const pg_statement& stmt = *r->stmt;
        if (!c->prepared.contains(stmt.name)) {
          if (PQsendPrepare(c->pg, stmt.name.c_str(), stmt.sql.c_str(), 0, nullptr) == 0) {
            throw pg_error("sending to PostgreSQL failed: " + connection_message(c->pg), "");
          }
          f.prepare = true;
          f.commands_left = 2;
          c->prepared.insert(stmt.name);  // a failed Prepare takes it out again
        }
        std::vector<const char*> values(r->params.size(), nullptr);
        for (std::size_t i = 0; i < r->params.size(); ++i) {
          if (r->params[i]) values[i] = r->params[i]->c_str();
        }
        if (PQsendQueryPrepared(c->pg, stmt.name.c_str(), static_cast<int>(values.size()), values.data(), nullptr,
                                nullptr, 0) == 0) {
          throw pg_error("sending to PostgreSQL failed: " + connection_message(c->pg), "");
        }
        if (r->alone) {
          sent_group own;
          own.members.push_back(std::move(f));
          close_group(own);
        } else {
          together.members.push_back(std::move(f));
        }
      }
      close_group(together);
      co_await flush(*c);
      if (c->sent.empty()) continue;
      // Whatever answers have arrived; statements queued meanwhile go out on the next turn.
      // The reactor reports a socket becoming readable, not its being readable, and libpq reads
      // at most its buffer's room at once: what a burst of answers left in the socket is read
      // without waiting for more to come.
      int unread = 0;
      if (::ioctl(PQsocket(c->pg), FIONREAD, &unread) != 0 || unread == 0) {
        co_await wait_socket(*c->socket, asio::posix::descriptor_base::wait_read);
      }
      if (PQconsumeInput(c->pg) == 0) {
        throw pg_error("reading from PostgreSQL failed: " + connection_message(c->pg), "");
      }
      while (!c->sent.empty() && PQisBusy(c->pg) == 0) {
        auto& g = c->sent.front();
        PGresult* res = PQgetResult(c->pg);
        if (res == nullptr) {
          // The Prepare's or the statement's results ended.
          if (g.current < g.members.size() && --g.members[g.current].commands_left == 0) ++g.current;
          continue;
        }
        const auto status = PQresultStatus(res);
        if (status == PGRES_PIPELINE_SYNC) {
          PQclear(res);
          finish_group(*c, g);
          c->sent.pop_front();
          continue;
        }
        if (g.current >= g.members.size()) {
          PQclear(res);  // not expected: every member's results have ended
          continue;
        }
        auto& f = g.members[g.current];
        const bool in_prepare = f.prepare && f.commands_left == 2;
        if (status == PGRES_FATAL_ERROR || status == PGRES_BAD_RESPONSE || status == PGRES_NONFATAL_ERROR) {
          const char* state = PQresultErrorField(res, PG_DIAG_SQLSTATE);
          pg_error refused(result_message(res), state != nullptr && *state != '\0' ? state : "XX000");
          const std::string& name = f.r->stmt->name;
          if (!g.refused) g.failed_at = g.current;
          g.refused = true;
          if (in_prepare) {
            c->prepared.erase(name);
            c->failed_prepares.insert_or_assign(name, refused);
            f.r->error = refused;
            f.own_error = true;
          } else if (refused.sqlstate() == "26000" && !c->prepared.contains(name)) {
            // Sent trusting a Prepare of its statement that then failed (its refusal is this
            // one's too) or was aborted by another statement's (then it is simply sent again).
            const auto failed = c->failed_prepares.find(name);
            if (failed != c->failed_prepares.end()) {
              f.r->error = failed->second;
              f.own_error = true;
            }
          } else {
            f.r->error = refused;
            f.own_error = true;
          }
          PQclear(res);
        } else if (status == PGRES_PIPELINE_ABORTED || in_prepare) {
          PQclear(res);
        } else {
          f.r->rows = pg_rows(res);
        }
      }
      if (PQstatus(c->pg) != CONNECTION_OK) {
        throw pg_error("PostgreSQL connection lost: " + connection_message(c->pg), "");
      }
    }
  } catch (const pg_error& e) {
    fail_connection(*c, e.what());
  } catch (const std::exception& e) {
    fail_connection(*c, std::string("PostgreSQL connection failed: ") + e.what());
  }
}

void pg_async_pool::finish_group(connection& c, sent_group& g) {
  // The Prepares after the first failure were aborted: those statements are not prepared.
  if (g.refused) {
    for (std::size_t i = g.failed_at + 1; i < g.members.size(); ++i) {
      if (g.members[i].prepare) c.prepared.erase(g.members[i].r->stmt->name);
    }
  }
  std::lock_guard lock(mutex_);
  std::deque<std::shared_ptr<request>> again;
  for (auto& f : g.members) {
    if (!g.refused || f.own_error || f.r->abandoned) {
      answer_locked(c, f.r);
      continue;
    }
    // Its group's implicit transaction rolled back with the refused statement, and whatever it
    // answered went with it: it is sent again, alone, so that nothing else can abort it.
    f.r->rows = pg_rows();
    f.r->error.reset();
    f.r->alone = true;
    again.push_back(f.r);
  }
  c.queued.insert(c.queued.begin(), again.begin(), again.end());
}

asio::awaitable<pg_rows> pg_async_pool::exec(std::string_view name, pg_params params) {
  const pg_statement& stmt = statement(name);
  // The caller runs on a strand (every coroutine of the gateway does): its answer's wake-up,
  // posted there, cannot overtake the wait below.
  const auto executor = co_await asio::this_coro::executor;  // not inside an argument list: GCC 12
  auto r = std::make_shared<request>(executor, stmt, std::move(params));
  std::shared_ptr<connection> c;
  bool start_driving = false;
  {
    std::lock_guard lock(mutex_);
    // An idle connection first; then a new one while there is room; then the least busy.
    for (const auto& candidate : open_) {
      if (candidate->outstanding == 0) {
        c = candidate;
        break;
      }
      if (!c || candidate->outstanding < c->outstanding) c = candidate;
    }
    if ((!c || c->outstanding > 0) && open_.size() < size_) {
      c = std::make_shared<connection>(io_);
      open_.push_back(c);
    }
    c->queued.push_back(r);
    ++c->outstanding;
    start_driving = !c->driving;
    c->driving = true;
  }
  // Outside the lock: co_spawn may run the coroutine at once, and it takes the lock.
  if (start_driving) asio::co_spawn(c->strand, drive(c), asio::detached);
  co_await r->wake.async_wait(use_tuple);
  bool cancelled = false;
  {
    std::lock_guard lock(mutex_);
    if (!r->done) {
      // Cancelled before the answer came.
      cancelled = true;
      r->abandoned = true;
      if (r->sent) {
        // Its answer will still arrive on that connection: nothing new goes there. Its
        // coroutine, busy with that answer, holds it until everything sent is answered.
        std::erase(open_, c);
      } else if (std::erase(c->queued, r) > 0) {
        --c->outstanding;
      }
    }
  }
  if (cancelled) throw boost::system::system_error(asio::error::operation_aborted);
  if (r->error) throw *r->error;
  co_return std::move(r->rows);
}

}  // namespace coachd
