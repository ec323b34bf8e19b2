#include "gateway/http_server.hpp"

#include <algorithm>
#include <array>
#include <atomic>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/string.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>
#include <charconv>
#include <ctime>
#include <iostream>
#include <mutex>
#include <random>
#include <thread>
#include <unordered_map>
#include <vector>

#include "infra/thread_name.hpp"

namespace coachd::gateway {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

namespace {

constexpr auto use_tuple = asio::as_tuple(asio::use_awaitable);

/// One accepted connection; its coroutine and every post to it run on the stream's strand.
struct connection {
  template <typename Socket>
  explicit connection(Socket&& socket) : stream(std::forward<Socket>(socket)) {}
  beast::tcp_stream stream;
  std::uint64_t id = 0;
  bool idle = false;  // waiting for the first byte of a request (strand only)
  // Bound to the connection's coroutine: the request deadline emits it to cancel the handler.
  asio::cancellation_signal cancel;
};

/// Client disconnects, timeouts and our own cancellations: not worth a log line.
bool ordinary(const beast::error_code& ec) {
  return ec == asio::error::eof || ec == asio::error::operation_aborted ||
         ec == asio::error::connection_reset || ec == asio::error::broken_pipe ||
         ec == asio::error::not_connected || ec == asio::error::bad_descriptor ||
         ec == beast::error::timeout || ec == http::error::end_of_stream ||
         ec == http::error::partial_message;
}

/// An HTTP parse error: the client sent something that is not HTTP/1.1 as we accept it.
bool is_parse_error(const beast::error_code& ec) {
  return &ec.category() == &beast::error_code(http::error::bad_method).category() &&
         ec != http::error::end_of_stream && ec != http::error::partial_message &&
         ec != http::error::need_more && ec != http::error::need_buffer;
}

/// Now as an HTTP date; valid until the calling thread's next call.
const std::string& http_date() {
  // Formatted once a second per thread: strftime was a visible part of a small response.
  thread_local std::time_t formatted_at = -1;
  thread_local std::string text;
  const std::time_t now = std::time(nullptr);
  if (now != formatted_at) {
    std::tm tm{};
    gmtime_r(&now, &tm);
    char buf[64];
    const auto n = std::strftime(buf, sizeof buf, "%a, %d %b %Y %H:%M:%S GMT", &tm);
    text.assign(buf, n);
    formatted_at = now;
  }
  return text;
}

/// The response's status line and fields as HTTP/1.x text, as Beast's serializer writes them.
/// The body then goes out behind it in the same gather write: Beast's serializer, with its
/// buffer-sequence views, cost about a twentieth of coachd's CPU per GET beyond the send itself.
/// finalize's prepare_payload gives every response a Content-Length (never chunked framing),
/// so the body goes out as it is.
std::string header_text(const response& res) {
  std::string out;
  out.reserve(256);
  out.append("HTTP/");
  out.push_back(static_cast<char>('0' + res.version() / 10));
  out.push_back('.');
  out.push_back(static_cast<char>('0' + res.version() % 10));
  out.push_back(' ');
  char code[8];
  const auto end = std::to_chars(code, code + sizeof code, res.result_int()).ptr;
  out.append(code, end);
  out.push_back(' ');
  const auto reason = res.reason();
  out.append(reason.empty() ? http::obsolete_reason(res.result()) : reason);
  out.append("\r\n");
  for (const auto& field : res) {
    out.append(field.name_string()).append(": ").append(field.value()).append("\r\n");
  }
  out.append("\r\n");
  return out;
}

// A client's X-Request-Id is echoed when it is short and plain; otherwise we make one.
bool acceptable_request_id(std::string_view id) {
  if (id.empty() || id.size() > 128) return false;
  return std::all_of(id.begin(), id.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '_' || c == '.' || c == ':' || c == '/' || c == '+' || c == '=';
  });
}

std::string new_request_id() {
  thread_local std::mt19937_64 random{std::random_device{}()};
  static constexpr char hex[] = "0123456789abcdef";
  std::string id(32, '0');
  for (int half = 0; half < 2; ++half) {
    auto bits = random();
    for (int i = 0; i < 16; ++i) {
      id[static_cast<std::size_t>(half * 16 + i)] = hex[bits & 0xf];
      bits >>= 4;
    }
  }
  return id;
}

std::string method_label(http::verb method) {
  return method == http::verb::unknown ? std::string("OTHER")
                                       : std::string(http::to_string(method));
}

}  // namespace

struct http_server::state : std::enable_shared_from_this<state> {
  state(asio::io_context& io, http_server_config c, router& r, metrics::registry& m)
      : ioc(io),
        config(std::move(c)),
        routes(r),
        requests_total(m.add_counter("coachd_http_requests_total",
                                     "HTTP requests answered, by route, method and status",
                                     {"route", "method", "status"})),
        request_seconds(m.add_histogram("coachd_http_request_duration_seconds",
                                        "Time from a request's header to its response written",
                                        {"route", "method"})),
        connections_open(
            m.add_gauge("coachd_http_connections_open", "Open HTTP connections").with({})),
        requests_in_flight(
            m.add_gauge("coachd_http_requests_in_flight", "HTTP requests being handled").with({})),
        control(asio::make_strand(io)),
        acceptor(control),
        grace_timer(control) {}

  asio::io_context& ioc;
  const http_server_config config;
  router& routes;
  metrics::counter_family& requests_total;
  metrics::histogram_family& request_seconds;
  metrics::gauge& connections_open;
  metrics::gauge& requests_in_flight;

  asio::strand<asio::io_context::executor_type> control;  // acceptor and grace timer
  tcp::acceptor acceptor;
  asio::steady_timer grace_timer;

  std::atomic<bool> started{false};
  std::atomic<bool> stopping{false};
  std::atomic<std::uint16_t> bound_port{0};
  std::atomic<std::size_t> in_flight{0};

  mutable std::mutex mutex;  // guards the members below
  std::unordered_map<std::uint64_t, std::weak_ptr<connection>> open;
  std::uint64_t next_id = 0;
  bool grace_armed = false;

  void log(std::string_view message) const {
    if (config.error_log) {
      config.error_log(message);
    } else {
      std::cerr << "http: " << message << '\n';
    }
  }

  void fail(const beast::error_code& ec, std::string_view what) const {
    if (ordinary(ec)) return;
    log(std::string(what) + ": " + ec.message());
  }

  std::vector<std::shared_ptr<connection>> snapshot_locked() const {
    std::vector<std::shared_ptr<connection>> conns;
    for (const auto& [id, weak] : open) {
      if (auto c = weak.lock()) conns.push_back(std::move(c));
    }
    return conns;
  }

  void add(const std::shared_ptr<connection>& c) {
    std::lock_guard lock(mutex);
    c->id = next_id++;
    open.emplace(c->id, c);
    connections_open.inc();
  }

  void remove(const connection& c) {
    std::lock_guard lock(mutex);
    open.erase(c.id);
    connections_open.dec();
    // The last connection gone during a stop: nothing is left to wait for.
    if (stopping && open.empty() && grace_armed) {
      grace_armed = false;
      asio::post(control, [self = shared_from_this()] { self->grace_timer.cancel(); });
    }
  }

  void stop() {
    if (!started || stopping.exchange(true)) return;
    asio::post(control, [self = shared_from_this()] {
      beast::error_code ec;
      self->acceptor.close(ec);
    });
    std::lock_guard lock(mutex);
    // Idle connections are closed now; busy ones close after their response (see serve).
    for (auto& c : snapshot_locked()) {
      asio::post(c->stream.get_executor(), [c] {
        if (c->idle) c->stream.cancel();
      });
    }
    if (!open.empty()) {
      grace_armed = true;
      // Posted under the mutex so that remove()'s cancel cannot overtake it.
      asio::post(control, [self = shared_from_this()] {
        self->grace_timer.expires_after(self->config.shutdown_grace);
        self->grace_timer.async_wait([self](const beast::error_code& ec) {
          if (ec) return;
          std::size_t left = 0;
          {
            std::lock_guard lock(self->mutex);
            left = self->open.size();
          }
          if (left == 0) return;
          self->log("shutdown grace expired with " + std::to_string(left) +
                    " connection(s) still open; stopping the io_context");
          self->ioc.stop();
        });
      });
    }
  }
};

namespace {

using state_ptr = std::shared_ptr<http_server::state>;

/// Sets what every response carries: version, keep-alive, Server, Date, X-Request-Id,
/// Content-Type for a body without one, Content-Length.
void finalize(response& res, unsigned version, bool keep_alive, const std::string& request_id,
              bool head) {
  res.version(version);
  res.set(http::field::server, "coachd");
  res.set(http::field::date, http_date());
  res.set("X-Request-Id", request_id);
  if (!res.body().empty() && res.find(http::field::content_type) == res.end()) {
    res.set(http::field::content_type, "text/plain; charset=utf-8");
  }
  res.keep_alive(keep_alive);
  res.prepare_payload();
  // A HEAD response says how long the GET body would be, and sends none.
  if (head) res.body().clear();
}

/// Runs the router with exceptions turned into a 500 problem.
asio::awaitable<response> guarded_dispatch(state_ptr s, request_context& ctx) {
  std::string failure;
  try {
    co_return co_await s->routes.dispatch(ctx);
  } catch (const boost::system::system_error& e) {
    // Cancelled by the request deadline: the caller discards this answer.
    if (e.code() != asio::error::operation_aborted) failure = e.what();
  } catch (const std::exception& e) {
    failure = e.what();
  } catch (...) {
    failure = "unknown exception";
  }
  if (!failure.empty()) {
    s->log("handler " + std::string(ctx.route != nullptr ? ctx.route->name : "(none)") +
           " failed: " + failure);
  }
  co_return problem_response(
      http::status::internal_server_error,
      "the server failed to handle the request (request id " + ctx.request_id + ")", ctx.req);
}

/// Answers one request: router, deadline, 500 on exceptions. `route_name` gets the matched
/// route's name for metrics. The deadline cancels the handler through the connection's
/// cancellation signal (what it awaits then completes with operation_aborted); the handler runs
/// in this coroutine, with no coroutine or parallel group of its own per request.
asio::awaitable<response> respond(state_ptr s, connection& conn, const request& req, const std::string& client,
                                  std::string& request_id, std::string& route_name) {
  const auto incoming = req[beast::string_view("X-Request-Id")];
  request_id = acceptable_request_id(incoming) ? std::string(incoming) : new_request_id();
  request_context ctx(req, client, request_id);

  bool expired = false;
  asio::steady_timer deadline(co_await asio::this_coro::executor, s->config.request_deadline);
  // On expiry the handler runs on this connection's strand while this coroutine is suspended;
  // when the timer is cancelled or destroyed it touches nothing.
  deadline.async_wait([&conn, &expired](const beast::error_code& ec) {
    if (ec) return;
    expired = true;
    conn.cancel.emit(asio::cancellation_type::terminal);
  });
  response res = co_await guarded_dispatch(s, ctx);
  deadline.cancel();
  co_await asio::this_coro::reset_cancellation_state();
  route_name = ctx.route != nullptr ? ctx.route->name : "unmatched";
  if (!expired) co_return res;
  s->log("request " + request_id + " (" + route_name + ") exceeded its deadline");
  co_return problem_response(
      make_error(errc::timeout, "the request took longer than the server allows"), req);
}

/// Reads (and drops) what the client still sends until it closes or linger_timeout passes, so
/// that closing does not reset the connection before the client has read our last response.
asio::awaitable<void> close_gracefully(state_ptr s, beast::tcp_stream& stream, bool linger) {
  beast::error_code ec;
  if (!stream.socket().is_open()) co_return;
  stream.socket().shutdown(tcp::socket::shutdown_send, ec);
  if (linger && !ec) {
    stream.expires_after(s->config.linger_timeout);
    char sink[4096];
    for (;;) {
      auto [read_ec, n] = co_await stream.async_read_some(asio::buffer(sink), use_tuple);
      if (read_ec) break;
    }
  }
  stream.socket().close(ec);
}

/// The response for a request that could not be read; nullopt when there is nobody to answer.
std::optional<response> read_failure_response(const beast::error_code& ec, const request& partial) {
  if (ec == http::error::header_limit) {
    return problem_response(http::status::request_header_fields_too_large,
                            "the request header is larger than the server accepts", partial);
  }
  if (ec == http::error::body_limit) {
    return problem_response(make_error(errc::too_large,
                                       "the request body is larger than the "
                                       "server accepts"),
                            partial);
  }
  if (is_parse_error(ec)) {
    return problem_response(
        make_error(errc::malformed, "the request is not valid HTTP/1.1: " + ec.message()), partial);
  }
  return std::nullopt;
}

/// One connection: read a request, answer it, repeat while keep-alive lasts.
asio::awaitable<void> serve(state_ptr s, std::shared_ptr<connection> conn) {
  auto& stream = conn->stream;
  const auto& config = s->config;
  beast::flat_buffer buffer;
  std::string client = "unknown";
  {
    beast::error_code ec;
    const auto peer = stream.socket().remote_endpoint(ec);
    if (!ec) client = peer.address().to_string();
  }
  bool linger = false;
  try {
    for (;;) {
      // Idle: wait for the first byte of the next request (a pipelined one may be buffered).
      if (buffer.size() == 0) {
        conn->idle = true;
        if (s->stopping) break;
        stream.expires_after(config.idle_timeout);
        auto [ec, n] = co_await stream.async_read_some(buffer.prepare(4096), use_tuple);
        conn->idle = false;
        if (ec) {
          s->fail(ec, "read");
          break;
        }
        buffer.commit(n);
      }

      ++s->in_flight;
      s->requests_in_flight.inc();
      struct in_flight_guard {
        http_server::state& s;
        ~in_flight_guard() {
          --s.in_flight;
          s.requests_in_flight.dec();
        }
      } guard{*s};
      const auto started = std::chrono::steady_clock::now();

      http::request_parser<http::string_body> parser;
      parser.header_limit(static_cast<std::uint32_t>(config.header_limit));
      parser.body_limit(config.body_limit);
      stream.expires_after(config.read_timeout);
      auto [ec, n] = co_await http::async_read_header(stream, buffer, parser, use_tuple);
      if (!ec && !parser.is_done()) {
        if (beast::iequals(parser.get()[http::field::expect], "100-continue")) {
          http::response<http::empty_body> go_on{http::status::continue_, parser.get().version()};
          std::tie(ec, n) = co_await http::async_write(stream, go_on, use_tuple);
        }
        if (!ec) std::tie(ec, n) = co_await http::async_read(stream, buffer, parser, use_tuple);
      }

      response res;
      std::string request_id;
      std::string route_name = "unmatched";
      bool keep_alive = false;
      bool head = false;
      const auto method = parser.get().method();
      if (ec) {
        auto failure = read_failure_response(ec, parser.get());
        if (!failure) {
          s->fail(ec, "read request");
          break;
        }
        // After a refused header or body the stream position is unknown: answer and close.
        res = std::move(*failure);
        request_id = new_request_id();
        finalize(res, parser.get().version() == 10 ? 10 : 11, false, request_id, false);
      } else {
        const request req = parser.release();
        stream.expires_never();  // the handler's time is bounded by the request deadline
        res = co_await respond(s, *conn, req, client, request_id, route_name);
        keep_alive = req.keep_alive() && res.keep_alive() && !s->stopping;
        head = req.method() == http::verb::head;
        try {
          finalize(res, req.version(), keep_alive, request_id, head);
        } catch (const std::exception& e) {
          // prepare_payload refuses a body on 204/304/1xx: a handler bug.
          s->log("route " + route_name + " built an invalid response: " + e.what());
          res = problem_response(http::status::internal_server_error,
                                 "the server built an invalid response", req);
          finalize(res, req.version(), keep_alive, request_id, head);
        }
      }

      stream.expires_after(config.write_timeout);
      const std::string head_text = header_text(res);
      const std::array<asio::const_buffer, 2> out{asio::buffer(head_text), asio::buffer(res.body())};
      auto [write_ec, written] = co_await asio::async_write(stream, out, use_tuple);
      const std::chrono::duration<double> took = std::chrono::steady_clock::now() - started;
      const auto method_name = method_label(method);
      s->requests_total.with({route_name, method_name, std::to_string(res.result_int())}).inc();
      s->request_seconds.with({route_name, method_name}).observe(took.count());
      if (write_ec) {
        s->fail(write_ec, "write");
        break;
      }
      if (!keep_alive) {
        linger = true;
        break;
      }
    }
    co_await close_gracefully(s, stream, linger);
  } catch (const std::exception& e) {
    s->log(std::string("connection failed: ") + e.what());
    beast::error_code ec;
    stream.socket().close(ec);
  }
  s->remove(*conn);
}

asio::awaitable<void> accept_loop(state_ptr s) {
  for (;;) {
    auto [ec, socket] = co_await s->acceptor.async_accept(asio::make_strand(s->ioc), use_tuple);
    if (s->stopping) {
      beast::error_code ignored;
      if (!ec) socket.close(ignored);
      break;
    }
    if (ec) {
      if (ec == asio::error::operation_aborted || !s->acceptor.is_open()) break;
      s->fail(ec, "accept");
      // Out of descriptors or similar: back off instead of spinning.
      asio::steady_timer pause(s->control, std::chrono::milliseconds(50));
      co_await pause.async_wait(use_tuple);
      continue;
    }
    auto conn = std::make_shared<connection>(std::move(socket));
    s->add(conn);
    auto& cancel = conn->cancel;
    asio::co_spawn(conn->stream.get_executor(), serve(s, conn),
                   asio::bind_cancellation_slot(cancel.slot(), asio::detached));
  }
}

}  // namespace

http_server::http_server(asio::io_context& ioc, http_server_config config, router& routes,
                         metrics::registry& registry)
    : state_(std::make_shared<state>(ioc, std::move(config), routes, registry)) {}

http_server::~http_server() { stop(); }

void http_server::start() {
  auto& s = *state_;
  if (s.started.exchange(true)) throw std::logic_error("http_server::start called twice");
  const tcp::endpoint endpoint{asio::ip::make_address(s.config.address), s.config.port};
  s.acceptor.open(endpoint.protocol());
  s.acceptor.set_option(asio::socket_base::reuse_address(true));
  s.acceptor.bind(endpoint);
  s.acceptor.listen(s.config.backlog);
  s.bound_port = s.acceptor.local_endpoint().port();
  asio::co_spawn(s.control, accept_loop(state_), asio::detached);
}

std::uint16_t http_server::port() const { return state_->bound_port; }

void http_server::stop() { state_->stop(); }

void http_server::run() {
  std::vector<std::thread> threads;
  for (unsigned i = 1; i < state_->config.io_threads; ++i) {
    threads.emplace_back([this] {
      name_this_thread("http-io");
      state_->ioc.run();
    });
  }
  state_->ioc.run();
  for (auto& t : threads) t.join();
}

std::size_t http_server::connections() const {
  std::lock_guard lock(state_->mutex);
  return state_->open.size();
}

std::size_t http_server::requests_in_flight() const { return state_->in_flight; }

}  // namespace coachd::gateway
