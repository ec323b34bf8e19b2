#pragma once
/// The gateway's HTTP/1.1 server: Boost.Beast on Asio with C++20 coroutines, one coroutine per
/// connection on its own strand, keep-alive, requests answered strictly in order, limits on
/// header and body size, timeouts, a deadline per request, per-route metrics and a graceful
/// stop. It knows nothing of the domain: every request goes to a router.
///
///   http_server server(ioc, config, routes);
///   server.start();                 // binds and listens; port() is known from here on
///   ... threads run ioc.run() ...
///   server.stop();                  // stop accepting, finish in-flight requests, close idle
///                                   // connections; ioc.run() then returns in every thread

#include <boost/asio/io_context.hpp>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "gateway/router.hpp"
#include "infra/metrics.hpp"

namespace coachd::gateway {

/// How the server listens and what it tolerates.
struct http_server_config {
  std::string address = "127.0.0.1";
  std::uint16_t port = 8080;  // 0: an ephemeral port, see http_server::port()
  int backlog = 1024;

  /// Request header bytes; more is answered 431 and the connection closed.
  std::size_t header_limit = 16 * 1024;
  /// Request body bytes; more is answered with a 413 problem and the connection closed.
  std::uint64_t body_limit = 1024 * 1024;

  /// Time a keep-alive connection may stay silent between requests before it is closed.
  std::chrono::milliseconds idle_timeout{60'000};
  /// Time to receive one whole request once its first byte arrived.
  std::chrono::milliseconds read_timeout{15'000};
  /// Time to send one response.
  std::chrono::milliseconds write_timeout{15'000};
  /// Time a handler may take; past it the handler is cancelled and a 504 problem sent.
  std::chrono::milliseconds request_deadline{30'000};
  /// How long stop() lets in-flight requests run before it closes every connection and stops
  /// the io_context.
  std::chrono::milliseconds shutdown_grace{10'000};
  /// How long a closing connection reads (and drops) what the client still sends, so that the
  /// final response is not lost to a TCP reset.
  std::chrono::milliseconds linger_timeout{1'000};

  /// Threads run() uses (the lead's app may run the io_context on its own threads instead).
  unsigned io_threads = 1;

  /// Where I/O failures that are not the client's ordinary comings and goings are reported,
  /// and handler exceptions (answered 500). Null: standard error.
  std::function<void(std::string_view)> error_log;
};

/// A running HTTP server on an io_context it does not own.
class http_server {
 public:
  /// `ioc`, `routes` and `registry` must outlive the server. Registers (or reuses) in the
  /// registry: coachd_http_requests_total{route,method,status},
  /// coachd_http_request_duration_seconds{route,method}, coachd_http_connections_open,
  /// coachd_http_requests_in_flight.
  http_server(boost::asio::io_context& ioc, http_server_config config, router& routes,
              metrics::registry& registry = metrics::default_registry());
  /// Stops (as stop()) if still running; the io_context may still hold the server's work until
  /// it runs out or is destroyed.
  ~http_server();
  http_server(const http_server&) = delete;
  http_server& operator=(const http_server&) = delete;

  /// Binds and listens (throws boost::system::system_error if it cannot), then accepts on the
  /// io_context. Call once.
  void start();

  /// The port bound by start() (the ephemeral one when the config said 0).
  std::uint16_t port() const;

  /// Graceful stop, from any thread (also from a handler), idempotent and non-blocking: stops
  /// accepting (new connections are refused), closes idle keep-alive connections, lets each
  /// in-flight request finish and answers it with `Connection: close`. When the last connection
  /// is gone the server's work on the io_context ends. If connections remain after
  /// shutdown_grace, they are closed and the io_context is stopped.
  void stop();

  /// Runs the io_context on config.io_threads threads (this one included) until it runs out.
  void run();

  /// Open connections and requests being handled right now.
  std::size_t connections() const;
  std::size_t requests_in_flight() const;

  /// The server's shared innards (defined in http_server.cpp); connections keep it alive.
  struct state;

 private:
  std::shared_ptr<state> state_;
};

}  // namespace coachd::gateway
