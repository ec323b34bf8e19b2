// The HTTP server over real loopback sockets: keep-alive, pipelining, limits, timeouts,
// problems, deadlines, graceful stop and metrics. The client is Beast with timeouts on every
// operation, so a broken server fails a test instead of hanging it.
#define BOOST_TEST_MODULE http_server_test
#include "gateway/http_server.hpp"

#include <atomic>
#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http.hpp>
#include <boost/json.hpp>
#include <boost/test/unit_test.hpp>
#include <chrono>
#include <memory>
#include <string>
#include <thread>

#include "gateway/json_input.hpp"
#include "gateway/problem.hpp"
#include "gateway/router.hpp"
#include "infra/metrics.hpp"

using namespace coachd;
using namespace coachd::gateway;
using namespace std::chrono_literals;
namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

namespace {

using client_response = http::response<http::string_body>;

http_server_config test_config() {
  http_server_config c;
  c.address = "127.0.0.1";
  c.port = 0;
  c.body_limit = 1024;
  c.io_threads = 2;
  c.linger_timeout = 200ms;
  c.shutdown_grace = 5s;
  c.error_log = [](std::string_view line) { BOOST_TEST_MESSAGE("server: " << line); };
  return c;
}

route_spec spec(http::verb method, std::string path, std::string name) {
  return route_spec{method,
                    std::move(path),
                    std::move(name),
                    "test route",
                    gateway::access::anonymous,
                    method != http::verb::get};
}

/// A server with a handful of routes on its own io_context, run by two threads.
struct server_fixture {
  explicit server_fixture(http_server_config config = test_config()) {
    routes.add(spec(http::verb::get, "/hello", "hello"),
               [](request_context& ctx) -> asio::awaitable<response> {
                 co_return text_response(http::status::ok, "hello", "text/plain", ctx.req);
               });
    routes.add(spec(http::verb::get, "/slow", "slow"),
               [](request_context& ctx) -> asio::awaitable<response> {
                 const auto ms = std::stoi(std::string(ctx.query("ms").value_or("100")));
                 asio::steady_timer timer(co_await asio::this_coro::executor,
                                          std::chrono::milliseconds(ms));
                 co_await timer.async_wait(asio::use_awaitable);
                 co_return text_response(http::status::ok, "slow done", "text/plain", ctx.req);
               });
    routes.add(
        spec(http::verb::post, "/echo", "echo"),
        [](request_context& ctx) -> asio::awaitable<response> {
          static const json_schema schema{
              json_field::string("name").max_length(50),
              json_field::email("email"),
              json_field::integer("age", 0, 150).optional(),
              json_field::string_array("tags").optional(),
          };
          auto in = parse_json_body(ctx.req, schema);
          if (!in) co_return problem_response(in.err(), ctx.req);
          boost::json::object out{{"name", in->string("name")}, {"email", in->string("email")}};
          co_return json_response(http::status::ok, boost::json::value(std::move(out)), ctx.req);
        });
    routes.add(spec(http::verb::get, "/boom", "boom"),
               [](request_context&) -> asio::awaitable<response> {
                 throw std::runtime_error("handler exploded");
                 co_return response{};
               });
    routes.add(spec(http::verb::get, "/metrics", "metrics"),
               [this](request_context& ctx) -> asio::awaitable<response> {
                 co_return text_response(http::status::ok, registry.render(), metrics::content_type,
                                         ctx.req);
               });
    routes.add(spec(http::verb::delete_, "/hello", "delete_hello"),
               [](request_context& ctx) -> asio::awaitable<response> {
                 co_return empty_response(http::status::no_content, ctx.req);
               });
    server = std::make_unique<http_server>(ioc, std::move(config), routes, registry);
    server->start();
    runner = std::thread([this] {
      server->run();
      finished = true;
    });
  }

  ~server_fixture() {
    server->stop();
    if (!wait_finished(10s)) {
      BOOST_ERROR("the io_context did not run out after stop()");
      ioc.stop();
    }
    runner.join();
  }

  bool wait_finished(std::chrono::milliseconds limit) {
    const auto until = std::chrono::steady_clock::now() + limit;
    while (!finished && std::chrono::steady_clock::now() < until) std::this_thread::sleep_for(10ms);
    return finished;
  }

  template <typename Predicate>
  static bool eventually(Predicate p, std::chrono::milliseconds limit = 3s) {
    const auto until = std::chrono::steady_clock::now() + limit;
    while (!p()) {
      if (std::chrono::steady_clock::now() > until) return false;
      std::this_thread::sleep_for(5ms);
    }
    return true;
  }

  std::uint16_t port() const { return server->port(); }

  metrics::registry registry;
  router routes;
  asio::io_context ioc;
  std::unique_ptr<http_server> server;
  std::atomic<bool> finished{false};
  std::thread runner;
};

/// A blocking client whose every operation has a timeout.
class test_client {
 public:
  explicit test_client(std::uint16_t port) { BOOST_REQUIRE(!try_connect(port)); }

  /// Connects; the error (connection_refused...) or success.
  beast::error_code try_connect(std::uint16_t port) {
    beast::error_code result;
    stream_.expires_after(5s);
    stream_.async_connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), port),
                          [&](beast::error_code ec) { result = ec; });
    run();
    return result;
  }

  void send(http::request<http::string_body> req) {
    req.prepare_payload();
    beast::error_code result;
    stream_.expires_after(5s);
    http::async_write(stream_, req, [&](beast::error_code ec, std::size_t) { result = ec; });
    run();
    BOOST_REQUIRE_MESSAGE(!result, "write: " << result.message());
  }

  void send_raw(const std::string& bytes) {
    beast::error_code result;
    stream_.expires_after(5s);
    asio::async_write(stream_, asio::buffer(bytes),
                      [&](beast::error_code ec, std::size_t) { result = ec; });
    run();
    BOOST_REQUIRE_MESSAGE(!result, "write: " << result.message());
  }

  client_response receive(bool head = false) {
    http::response_parser<http::string_body> parser;
    parser.body_limit(16 * 1024 * 1024);
    parser.skip(head);
    beast::error_code result;
    stream_.expires_after(5s);
    http::async_read(stream_, buffer_, parser,
                     [&](beast::error_code ec, std::size_t) { result = ec; });
    run();
    BOOST_REQUIRE_MESSAGE(!result, "read: " << result.message());
    return parser.release();
  }

  client_response call(http::verb method, const std::string& target, const std::string& body = "",
                       const std::string& content_type = "application/json") {
    http::request<http::string_body> req{method, target, 11};
    req.set(http::field::host, "127.0.0.1");
    if (!body.empty()) {
      req.set(http::field::content_type, content_type);
      req.body() = body;
    }
    send(std::move(req));
    return receive(method == http::verb::head);
  }

  /// True when the server closed the connection (EOF or reset) within `limit`.
  bool closed_by_server(std::chrono::milliseconds limit = 3s) {
    if (buffer_.size() != 0) return false;
    char byte;
    beast::error_code result;
    stream_.expires_after(limit);
    stream_.async_read_some(asio::buffer(&byte, 1),
                            [&](beast::error_code ec, std::size_t) { result = ec; });
    run();
    return result == asio::error::eof || result == asio::error::connection_reset;
  }

  void close() {
    beast::error_code ignored;
    stream_.socket().close(ignored);
  }

 private:
  void run() {
    ioc_.restart();
    ioc_.run();
  }

  asio::io_context ioc_;
  beast::tcp_stream stream_{ioc_};
  beast::flat_buffer buffer_;
};

boost::json::object json_of(const client_response& res) {
  return boost::json::parse(res.body()).as_object();
}

std::vector<std::string> error_fields(const client_response& res) {
  std::vector<std::string> fields;
  const auto body = json_of(res);
  if (!body.contains("errors")) return fields;
  for (const auto& e : body.at("errors").as_array()) {
    fields.emplace_back(e.at("field").as_string());
  }
  return fields;
}

bool contains(const std::vector<std::string>& all, const std::string& one) {
  return std::find(all.begin(), all.end(), one) != all.end();
}

}  // namespace

BOOST_AUTO_TEST_SUITE(http_server_connections)

BOOST_AUTO_TEST_CASE(keep_alive_reuses_one_connection) {
  server_fixture f;
  test_client client(f.port());
  for (int i = 0; i < 3; ++i) {
    const auto res = client.call(http::verb::get, "/hello");
    BOOST_TEST(res.result() == http::status::ok);
    BOOST_TEST(res.body() == "hello");
    BOOST_TEST(res.keep_alive());
    BOOST_TEST(res[http::field::server] == "coachd");
    BOOST_TEST(res[http::field::content_type] == "text/plain");
    BOOST_TEST(res[http::field::content_length] == "5");
    BOOST_TEST(!res[http::field::date].empty());
    BOOST_TEST(res["X-Request-Id"].size() == 32u);
  }
  BOOST_TEST(f.server->connections() == 1u);
}

BOOST_AUTO_TEST_CASE(pipelined_requests_are_answered_in_order) {
  server_fixture f;
  test_client client(f.port());
  // Both requests in one write: the slow one must still be answered first.
  client.send_raw(
      "GET /slow?ms=200 HTTP/1.1\r\nHost: x\r\nX-Request-Id: first\r\n\r\n"
      "GET /hello HTTP/1.1\r\nHost: x\r\nX-Request-Id: second\r\n\r\n");
  const auto first = client.receive();
  const auto second = client.receive();
  BOOST_TEST(first.body() == "slow done");
  BOOST_TEST(first["X-Request-Id"] == "first");
  BOOST_TEST(second.body() == "hello");
  BOOST_TEST(second["X-Request-Id"] == "second");
}

BOOST_AUTO_TEST_CASE(request_id_is_echoed_or_generated) {
  server_fixture f;
  test_client client(f.port());
  http::request<http::string_body> req{http::verb::get, "/hello", 11};
  req.set("X-Request-Id", "abc-123.4");
  client.send(req);
  BOOST_TEST(client.receive()["X-Request-Id"] == "abc-123.4");
  req.set("X-Request-Id", "has spaces and <html>");
  client.send(req);
  const auto generated = std::string(client.receive()["X-Request-Id"]);
  BOOST_TEST(generated.size() == 32u);
  BOOST_TEST(generated.find_first_not_of("0123456789abcdef") == std::string::npos);
}

BOOST_AUTO_TEST_CASE(http_1_0_closes_after_the_response) {
  server_fixture f;
  test_client client(f.port());
  client.send_raw("GET /hello HTTP/1.0\r\n\r\n");
  const auto res = client.receive();
  BOOST_TEST(res.version() == 10u);
  BOOST_TEST(res.body() == "hello");
  BOOST_TEST(client.closed_by_server());
}

BOOST_AUTO_TEST_CASE(head_sends_the_length_without_the_body) {
  server_fixture f;
  test_client client(f.port());
  const auto head = client.call(http::verb::head, "/hello");
  BOOST_TEST(head.result() == http::status::ok);
  BOOST_TEST(head[http::field::content_length] == "5");
  BOOST_TEST(head.body().empty());
  // The connection is still in step: the next answer is whole.
  BOOST_TEST(client.call(http::verb::get, "/hello").body() == "hello");
  const auto none = client.call(http::verb::delete_, "/hello");
  BOOST_TEST(none.result() == http::status::no_content);
  BOOST_TEST(client.call(http::verb::get, "/hello").body() == "hello");
}

BOOST_AUTO_TEST_CASE(idle_connection_is_closed_after_the_idle_timeout) {
  auto config = test_config();
  config.idle_timeout = 300ms;
  server_fixture f(config);
  const auto started = std::chrono::steady_clock::now();
  test_client silent(f.port());
  BOOST_TEST(silent.closed_by_server(5s));
  BOOST_TEST((std::chrono::steady_clock::now() - started < 3s));

  // Also between requests of a keep-alive connection.
  test_client client(f.port());
  BOOST_TEST(client.call(http::verb::get, "/hello").keep_alive());
  BOOST_TEST(client.closed_by_server(5s));
  BOOST_TEST(server_fixture::eventually([&] { return f.server->connections() == 0u; }));
}

BOOST_AUTO_TEST_CASE(expect_100_continue_is_answered) {
  server_fixture f;
  test_client client(f.port());
  const std::string body = R"({"name":"Ada","email":"ada@example.com"})";
  client.send_raw(
      "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
      "Expect: 100-continue\r\nContent-Length: " +
      std::to_string(body.size()) + "\r\n\r\n");
  const auto interim = client.receive();
  BOOST_TEST(interim.result() == http::status::continue_);
  client.send_raw(body);
  const auto res = client.receive();
  BOOST_TEST(res.result() == http::status::ok);
  BOOST_TEST(json_of(res).at("name").as_string() == "Ada");
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(http_server_limits)

BOOST_AUTO_TEST_CASE(body_over_the_limit_is_413_and_the_server_stays_healthy) {
  server_fixture f;
  {
    test_client client(f.port());
    client.send_raw(
        "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        "Content-Length: 2048\r\n\r\n" +
        std::string(100, ' '));
    const auto res = client.receive();
    BOOST_TEST(res.result() == http::status::payload_too_large);
    BOOST_TEST(res[http::field::content_type] == "application/problem+json");
    BOOST_TEST(json_of(res).at("type").as_string() == "https://coachd.dev/problems/too-large");
    BOOST_TEST(!res.keep_alive());
    BOOST_TEST(client.closed_by_server());
  }
  {
    // A chunked body is stopped when it crosses the limit.
    test_client client(f.port());
    std::string chunks;
    for (int i = 0; i < 3; ++i) chunks += "258\r\n" + std::string(600, 'x') + "\r\n";
    client.send_raw(
        "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        "Transfer-Encoding: chunked\r\n\r\n" +
        chunks);
    BOOST_TEST(client.receive().result() == http::status::payload_too_large);
  }
  test_client again(f.port());
  BOOST_TEST(again.call(http::verb::get, "/hello").result() == http::status::ok);
}

BOOST_AUTO_TEST_CASE(oversized_header_is_431) {
  server_fixture f;
  {
    test_client client(f.port());
    client.send_raw("GET /hello HTTP/1.1\r\nHost: x\r\nX-Big: " + std::string(20 * 1024, 'a') +
                    "\r\n\r\n");
    const auto res = client.receive();
    BOOST_TEST(res.result() == http::status::request_header_fields_too_large);
    BOOST_TEST(res[http::field::content_type] == "application/problem+json");
    BOOST_TEST(client.closed_by_server());
  }
  {
    // Just under the limit is fine.
    test_client client(f.port());
    client.send_raw("GET /hello HTTP/1.1\r\nHost: x\r\nX-Big: " + std::string(15 * 1024, 'a') +
                    "\r\n\r\n");
    BOOST_TEST(client.receive().result() == http::status::ok);
  }
}

BOOST_AUTO_TEST_CASE(garbage_is_a_400) {
  server_fixture f;
  test_client client(f.port());
  client.send_raw("THIS IS NOT HTTP\r\n\r\n");
  const auto res = client.receive();
  BOOST_TEST(res.result() == http::status::bad_request);
  BOOST_TEST(client.closed_by_server());
}

BOOST_AUTO_TEST_CASE(handler_past_its_deadline_is_504) {
  auto config = test_config();
  config.request_deadline = 200ms;
  server_fixture f(config);
  test_client client(f.port());
  const auto started = std::chrono::steady_clock::now();
  const auto res = client.call(http::verb::get, "/slow?ms=5000");
  BOOST_TEST(res.result() == http::status::gateway_timeout);
  BOOST_TEST(json_of(res).at("type").as_string() == "https://coachd.dev/problems/timeout");
  BOOST_TEST((std::chrono::steady_clock::now() - started < 3s));
  BOOST_TEST(client.call(http::verb::get, "/slow?ms=10").body() == "slow done");
}

BOOST_AUTO_TEST_CASE(handler_exception_is_a_500_problem) {
  server_fixture f;
  test_client client(f.port());
  const auto res = client.call(http::verb::get, "/boom");
  BOOST_TEST(res.result() == http::status::internal_server_error);
  BOOST_TEST(res[http::field::content_type] == "application/problem+json");
  BOOST_TEST(res.body().find("exploded") == std::string::npos);  // no internals leak
  BOOST_TEST(client.call(http::verb::get, "/hello").body() == "hello");
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(http_server_problems)

BOOST_AUTO_TEST_CASE(unknown_path_is_404_and_wrong_method_405_with_allow) {
  server_fixture f;
  test_client client(f.port());
  auto res = client.call(http::verb::get, "/nowhere");
  BOOST_TEST(res.result() == http::status::not_found);
  BOOST_TEST(res[http::field::content_type] == "application/problem+json");
  BOOST_TEST(json_of(res).at("status").as_int64() == 404);
  BOOST_TEST(json_of(res).at("instance").as_string() == "/nowhere");
  BOOST_TEST(res.keep_alive());

  res = client.call(http::verb::put, "/hello");
  BOOST_TEST(res.result() == http::status::method_not_allowed);
  BOOST_TEST(res[http::field::content_type] == "application/problem+json");
  BOOST_TEST(res[http::field::allow] == "DELETE, GET, HEAD");
}

BOOST_AUTO_TEST_CASE(malformed_json_is_400) {
  server_fixture f;
  test_client client(f.port());
  const auto res = client.call(http::verb::post, "/echo", R"({"name": "Ada",)");
  BOOST_TEST(res.result() == http::status::bad_request);
  BOOST_TEST(res[http::field::content_type] == "application/problem+json");
  BOOST_TEST(json_of(res).at("type").as_string() == "https://coachd.dev/problems/malformed");
}

BOOST_AUTO_TEST_CASE(wrong_content_type_is_400) {
  server_fixture f;
  test_client client(f.port());
  const auto res = client.call(http::verb::post, "/echo", R"({"name":"A","email":"a@b.co"})",
                               "application/x-www-form-urlencoded");
  BOOST_TEST(res.result() == http::status::bad_request);
}

BOOST_AUTO_TEST_CASE(field_problems_are_422_listing_every_field) {
  server_fixture f;
  test_client client(f.port());
  const auto res =
      client.call(http::verb::post, "/echo", R"({"nmae":"Ada","email":42,"age":"old","x":1})");
  BOOST_TEST(res.result() == http::status::unprocessable_entity);
  BOOST_TEST(res[http::field::content_type] == "application/problem+json");
  const auto fields = error_fields(res);
  for (const char* name : {"nmae", "email", "age", "x", "name"}) {
    BOOST_TEST(contains(fields, name), name);
  }
  BOOST_TEST(fields.size() == 5u);
  BOOST_TEST(json_of(res).at("type").as_string() == "https://coachd.dev/problems/invalid");
}

BOOST_AUTO_TEST_CASE(deep_json_is_refused) {
  server_fixture f;
  test_client client(f.port());
  std::string deep = R"({"name":"A","email":"a@b.co","tags":)";
  for (int i = 0; i < 40; ++i) deep += "[";
  for (int i = 0; i < 40; ++i) deep += "]";
  deep += "}";
  const auto res = client.call(http::verb::post, "/echo", deep);
  BOOST_TEST(res.result() == http::status::bad_request);
  BOOST_TEST(json_of(res).at("detail").as_string().find("deeper than 32") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(valid_json_is_served) {
  server_fixture f;
  test_client client(f.port());
  const auto res = client.call(http::verb::post, "/echo",
                               R"({"name":" Ada ","email":"Ada@Example.com","tags":["a"]})");
  BOOST_TEST(res.result() == http::status::ok);
  BOOST_TEST(res[http::field::content_type] == "application/json");
  BOOST_TEST(res.body() == R"({"name":"Ada","email":"Ada@example.com"})");
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(http_server_shutdown_and_metrics)

BOOST_AUTO_TEST_CASE(graceful_stop_finishes_in_flight_work_and_refuses_new_connections) {
  server_fixture f;
  test_client idle(f.port());
  BOOST_TEST(idle.call(http::verb::get, "/hello").keep_alive());
  // The server counts a request done after its write completed, a moment after the client read.
  BOOST_REQUIRE(server_fixture::eventually([&] { return f.server->requests_in_flight() == 0; }));

  test_client busy(f.port());
  http::request<http::string_body> slow{http::verb::get, "/slow?ms=700", 11};
  busy.send(slow);
  BOOST_REQUIRE(server_fixture::eventually([&] { return f.server->requests_in_flight() == 1; }));

  f.server->stop();

  // The idle keep-alive connection is closed at once.
  BOOST_TEST(idle.closed_by_server(2s));
  // New connections are refused.
  BOOST_TEST(server_fixture::eventually(
      [&] {
        asio::io_context ioc;
        beast::tcp_stream probe(ioc);
        beast::error_code ec;
        probe.socket().connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), f.port()), ec);
        return ec == asio::error::connection_refused;
      },
      2s));
  BOOST_TEST(!f.finished);

  // The slow request is answered, with Connection: close, and then the server runs out.
  const auto res = busy.receive();
  BOOST_TEST(res.result() == http::status::ok);
  BOOST_TEST(res.body() == "slow done");
  BOOST_TEST(!res.keep_alive());
  BOOST_TEST(busy.closed_by_server());
  BOOST_TEST(f.wait_finished(5s));
  BOOST_TEST(f.server->connections() == 0u);
}

BOOST_AUTO_TEST_CASE(stop_with_nothing_open_returns_at_once) {
  server_fixture f;
  const auto started = std::chrono::steady_clock::now();
  f.server->stop();
  BOOST_TEST(f.wait_finished(3s));
  BOOST_TEST((std::chrono::steady_clock::now() - started < 1s));
}

BOOST_AUTO_TEST_CASE(grace_expiry_bounds_the_stop) {
  auto config = test_config();
  config.shutdown_grace = 300ms;
  server_fixture f(config);
  test_client busy(f.port());
  http::request<http::string_body> slow{http::verb::get, "/slow?ms=30000", 11};
  busy.send(slow);
  BOOST_REQUIRE(server_fixture::eventually([&] { return f.server->requests_in_flight() == 1; }));
  const auto started = std::chrono::steady_clock::now();
  f.server->stop();
  BOOST_TEST(f.wait_finished(5s));
  BOOST_TEST((std::chrono::steady_clock::now() - started < 3s));
}

BOOST_AUTO_TEST_CASE(metrics_count_and_time_served_routes) {
  server_fixture f;
  test_client client(f.port());
  for (int i = 0; i < 3; ++i) client.call(http::verb::get, "/hello");
  client.call(http::verb::get, "/nowhere");
  const auto res = client.call(http::verb::get, "/metrics");
  BOOST_TEST(res.result() == http::status::ok);
  BOOST_TEST(res[http::field::content_type] == "text/plain; version=0.0.4; charset=utf-8");
  const auto& text = res.body();
  BOOST_TEST_MESSAGE(text);
  BOOST_TEST(text.find("# TYPE coachd_http_requests_total counter") != std::string::npos);
  BOOST_TEST(
      text.find("coachd_http_requests_total{route=\"hello\",method=\"GET\",status=\"200\"} 3\n") !=
      std::string::npos);
  BOOST_TEST(
      text.find(
          "coachd_http_requests_total{route=\"unmatched\",method=\"GET\",status=\"404\"} 1\n") !=
      std::string::npos);
  BOOST_TEST(text.find("# TYPE coachd_http_request_duration_seconds histogram") !=
             std::string::npos);
  BOOST_TEST(text.find("coachd_http_request_duration_seconds_bucket{route=\"hello\",method=\"GET\","
                       "le=\"+Inf\"} 3\n") != std::string::npos);
  BOOST_TEST(
      text.find("coachd_http_request_duration_seconds_count{route=\"hello\",method=\"GET\"} 3\n") !=
      std::string::npos);
  BOOST_TEST(
      text.find("coachd_http_request_duration_seconds_sum{route=\"hello\",method=\"GET\"} ") !=
      std::string::npos);
  BOOST_TEST(text.find("coachd_http_connections_open 1\n") != std::string::npos);
  BOOST_TEST(text.find("coachd_http_requests_in_flight 1\n") != std::string::npos);
}

BOOST_AUTO_TEST_SUITE_END()
