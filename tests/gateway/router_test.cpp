// The router (matching, parameters, 404/405, HEAD, the before hook) and problem responses.
#define BOOST_TEST_MODULE router_test
#include "gateway/router.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/json.hpp>
#include <boost/test/unit_test.hpp>
#include <optional>
#include <stdexcept>
#include <string>

#include "gateway/problem.hpp"

using namespace coachd;
using namespace coachd::gateway;
namespace asio = boost::asio;
namespace http = boost::beast::http;

namespace {

request make_request(http::verb method, std::string target) {
  request req{method, target, 11};
  req.set(http::field::host, "localhost");
  return req;
}

/// Dispatches on a private io_context and returns the answer (rethrowing handler exceptions).
response run(const router& r, request_context& ctx) {
  asio::io_context ioc;
  std::optional<response> out;
  std::exception_ptr failure;
  asio::co_spawn(ioc, r.dispatch(ctx), [&](std::exception_ptr e, response res) {
    failure = e;
    out = std::move(res);
  });
  ioc.run();
  if (failure) std::rethrow_exception(failure);
  return std::move(*out);
}

response call(const router& r, http::verb method, std::string target) {
  const auto req = make_request(method, std::move(target));
  request_context ctx(req, "127.0.0.1", "test-id");
  return run(r, ctx);
}

/// A handler answering "<route name> <params and query as name=value;>".
handler echo(std::string name) {
  return [name](request_context& ctx) -> asio::awaitable<response> {
    std::string body = name;
    for (const auto& [k, v] : ctx.path_params) body += " " + k + "=" + v;
    for (const auto& [k, v] : ctx.query_params) body += " ?" + k + "=" + v;
    co_return text_response(http::status::ok, body, "text/plain", ctx.req);
  };
}

route_spec spec(http::verb method, std::string path, std::string name,
                gateway::access required = gateway::access::anonymous) {
  return route_spec{method,    std::move(path), std::move(name),
                    "summary", required,        method != http::verb::get};
}

void fill(router& r) {
  r.add(spec(http::verb::get, "/api/v1/intakes/{id}", "getIntake"), echo("getIntake"));
  r.add(spec(http::verb::get, "/api/v1/intakes/mine", "myIntakes"), echo("myIntakes"));
  r.add(spec(http::verb::post, "/api/v1/intakes/{id}/accept", "acceptIntake"),
        echo("acceptIntake"));
  r.add(spec(http::verb::get, "/api/v1/coaches/{coach}/intakes", "listIntakes"),
        echo("listIntakes"));
  r.add(spec(http::verb::post, "/api/v1/coaches/{coach}/intakes", "submitIntake"),
        echo("submitIntake"));
  r.add(spec(http::verb::get, "/api/v1/sessions/{id}", "getSession"), echo("getSession"));
  r.add(spec(http::verb::get, "/api/v1/sessions/{id}.ics", "sessionCalendar"),
        echo("sessionCalendar"));
  r.add(spec(http::verb::delete_, "/api/v1/sessions/{id}", "cancelSession"), echo("cancelSession"));
  r.add(spec(http::verb::get, "/", "root"), echo("root"));
}

boost::json::object body_json(const response& res) {
  return boost::json::parse(res.body()).as_object();
}

}  // namespace

BOOST_AUTO_TEST_SUITE(router_matching)

BOOST_AUTO_TEST_CASE(path_parameters_are_extracted) {
  router r;
  fill(r);
  auto res = call(r, http::verb::get, "/api/v1/coaches/c-1/intakes");
  BOOST_TEST(res.result() == http::status::ok);
  BOOST_TEST(res.body() == "listIntakes coach=c-1");
  res = call(r, http::verb::post, "/api/v1/intakes/abc/accept");
  BOOST_TEST(res.body() == "acceptIntake id=abc");
  res = call(r, http::verb::get, "/");
  BOOST_TEST(res.body() == "root");
}

BOOST_AUTO_TEST_CASE(literal_segment_wins_over_parameter) {
  router r;
  fill(r);
  BOOST_TEST(call(r, http::verb::get, "/api/v1/intakes/mine").body() == "myIntakes");
  BOOST_TEST(call(r, http::verb::get, "/api/v1/intakes/other").body() == "getIntake id=other");
}

BOOST_AUTO_TEST_CASE(suffix_after_parameter) {
  router r;
  fill(r);
  BOOST_TEST(call(r, http::verb::get, "/api/v1/sessions/s1.ics").body() == "sessionCalendar id=s1");
  BOOST_TEST(call(r, http::verb::get, "/api/v1/sessions/s1").body() == "getSession id=s1");
  // Only the bare template has DELETE: it takes the whole segment.
  BOOST_TEST(call(r, http::verb::delete_, "/api/v1/sessions/s1.ics").body() ==
             "cancelSession id=s1.ics");
  // The suffix alone is no value.
  BOOST_TEST(call(r, http::verb::get, "/api/v1/sessions/.ics").body() == "getSession id=.ics");
}

BOOST_AUTO_TEST_CASE(parameters_and_query_are_percent_decoded) {
  router r;
  fill(r);
  const auto req =
      make_request(http::verb::get, "/api/v1/intakes/a%20b%2Fc?q=x+y%26z&tag=1&tag=2&flag");
  request_context ctx(req, "127.0.0.1", "id");
  const auto res = run(r, ctx);
  BOOST_TEST(res.result() == http::status::ok);
  BOOST_TEST(ctx.param("id") == "a b/c");
  BOOST_TEST(ctx.param("missing").empty());
  BOOST_TEST(ctx.query("q").value() == "x y&z");
  BOOST_TEST(ctx.query("tag").value() == "1");
  BOOST_TEST(ctx.query_all("tag").size() == 2u);
  BOOST_TEST(ctx.query_all("tag")[1] == "2");
  BOOST_TEST(ctx.query("flag").has_value());
  BOOST_TEST(!ctx.query("nope").has_value());
  BOOST_REQUIRE(ctx.route != nullptr);
  BOOST_TEST(ctx.route->name == "getIntake");
}

BOOST_AUTO_TEST_CASE(unknown_path_is_a_404_problem) {
  router r;
  fill(r);
  for (const char* target : {"/api/v1/nothing", "/api/v1/intakes/x/y/z", "/api/v1/intakes/",
                             "/api/v1/intakes/x/../mine"}) {
    const auto res = call(r, http::verb::get, target);
    BOOST_TEST(res.result() == http::status::not_found, target);
    BOOST_TEST(res[http::field::content_type] == "application/problem+json");
    const auto body = body_json(res);
    BOOST_TEST(body.at("status").as_int64() == 404);
    BOOST_TEST(body.at("type").as_string() == "https://coachd.dev/problems/not-found");
    BOOST_TEST(body.at("instance").as_string() == std::string(target));
  }
}

BOOST_AUTO_TEST_CASE(known_path_wrong_method_is_405_with_allow) {
  router r;
  fill(r);
  auto res = call(r, http::verb::put, "/api/v1/coaches/c-1/intakes");
  BOOST_TEST(res.result() == http::status::method_not_allowed);
  BOOST_TEST(res[http::field::allow] == "GET, HEAD, POST");
  BOOST_TEST(res[http::field::content_type] == "application/problem+json");
  const auto body = body_json(res);
  BOOST_TEST(body.at("status").as_int64() == 405);
  BOOST_TEST(body.at("title").as_string() == "Method Not Allowed");
  BOOST_TEST(body.at("type").as_string() == "about:blank");

  res = call(r, http::verb::get, "/api/v1/intakes/x/accept");
  BOOST_TEST(res.result() == http::status::method_not_allowed);
  BOOST_TEST(res[http::field::allow] == "POST");
}

BOOST_AUTO_TEST_CASE(head_falls_back_to_get) {
  router r;
  fill(r);
  const auto res = call(r, http::verb::head, "/api/v1/intakes/x");
  BOOST_TEST(res.result() == http::status::ok);
  BOOST_TEST(res.body() == "getIntake id=x");  // the server drops the body
}

BOOST_AUTO_TEST_CASE(invalid_target_is_a_400_problem) {
  router r;
  fill(r);
  const auto res = call(r, http::verb::get, "http://example.com/absolute");
  BOOST_TEST(res.result() == http::status::bad_request);
  BOOST_TEST(body_json(res).at("type").as_string() == "https://coachd.dev/problems/malformed");
  BOOST_TEST(call(r, http::verb::get, "/api/v1/intakes/a%00b").result() ==
             http::status::bad_request);
}

BOOST_AUTO_TEST_CASE(before_hook_can_answer_or_fill_the_principal) {
  router r;
  r.add(spec(http::verb::get, "/open", "open"),
        [](request_context& ctx) -> asio::awaitable<response> {
          const auto* who = std::any_cast<std::string>(&ctx.principal);
          co_return text_response(http::status::ok, who != nullptr ? *who : "nobody", "text/plain",
                                  ctx.req);
        });
  r.add(spec(http::verb::get, "/admin", "admin", gateway::access::admin), echo("admin"));
  int hook_calls = 0;
  r.set_before([&hook_calls](request_context& ctx,
                             const route_spec& route) -> asio::awaitable<std::optional<response>> {
    ++hook_calls;
    if (route.required == gateway::access::admin) {
      co_return problem_response(make_error(errc::forbidden, "admins only"), ctx.req);
    }
    ctx.principal = std::string("alice");
    co_return std::nullopt;
  });
  auto res = call(r, http::verb::get, "/open");
  BOOST_TEST(res.body() == "alice");
  res = call(r, http::verb::get, "/admin");
  BOOST_TEST(res.result() == http::status::forbidden);
  BOOST_TEST(body_json(res).at("detail").as_string() == "admins only");
  // Not run for unknown routes.
  call(r, http::verb::get, "/nowhere");
  BOOST_TEST(hook_calls == 2);
}

BOOST_AUTO_TEST_CASE(handler_exceptions_propagate) {
  router r;
  r.add(spec(http::verb::get, "/boom", "boom"), [](request_context&) -> asio::awaitable<response> {
    throw std::runtime_error("boom");
    co_return response{};
  });
  BOOST_CHECK_THROW(call(r, http::verb::get, "/boom"), std::runtime_error);
}

BOOST_AUTO_TEST_CASE(routes_lists_every_spec_in_order) {
  router r;
  fill(r);
  const auto all = r.routes();
  BOOST_REQUIRE_EQUAL(all.size(), 9u);
  BOOST_TEST(all[0].name == "getIntake");
  BOOST_TEST(all[0].path_template == "/api/v1/intakes/{id}");
  BOOST_TEST(all[2].method == http::verb::post);
  BOOST_TEST(all[2].mutating);
  BOOST_TEST(all[6].path_template == "/api/v1/sessions/{id}.ics");
}

BOOST_AUTO_TEST_CASE(bad_registrations_throw) {
  router r;
  r.add(spec(http::verb::get, "/a/{id}", "a"), echo("a"));
  BOOST_CHECK_THROW(r.add(spec(http::verb::get, "/a/{other}", "a2"), echo("a2")),
                    std::invalid_argument);  // same shape
  BOOST_CHECK_THROW(r.add(spec(http::verb::post, "/b", "a"), echo("a")),
                    std::invalid_argument);  // same name
  BOOST_CHECK_THROW(r.add(spec(http::verb::get, "no-slash", "c"), echo("c")),
                    std::invalid_argument);
  BOOST_CHECK_THROW(r.add(spec(http::verb::get, "/c/{id", "c"), echo("c")), std::invalid_argument);
  BOOST_CHECK_THROW(r.add(spec(http::verb::get, "/c/{a}{b}", "c"), echo("c")),
                    std::invalid_argument);
  BOOST_CHECK_THROW(r.add(spec(http::verb::get, "/c/{id}/{id}", "c"), echo("c")),
                    std::invalid_argument);
  BOOST_CHECK_THROW(r.add(spec(http::verb::get, "/c//d", "c"), echo("c")), std::invalid_argument);
  BOOST_CHECK_THROW(r.add(spec(http::verb::get, "/c", "c"), handler{}), std::invalid_argument);
  r.add(spec(http::verb::post, "/a/{id}", "a_post"), echo("a_post"));  // another method is fine
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(problem_responses)

BOOST_AUTO_TEST_CASE(each_error_code_maps_to_one_status) {
  const std::vector<std::pair<errc, unsigned>> table{
      {errc::malformed, 400},        {errc::invalid, 422},
      {errc::unauthenticated, 401},  {errc::forbidden, 403},
      {errc::not_found, 404},        {errc::conflict, 409},
      {errc::version_conflict, 409}, {errc::precondition_failed, 412},
      {errc::too_large, 413},        {errc::rate_limited, 429},
      {errc::timeout, 504},          {errc::unavailable, 503},
  };
  const auto req = make_request(http::verb::post, "/api/v1/things?x=1");
  for (const auto& [code, status] : table) {
    const auto res = problem_response(make_error(code, "what happened"), req);
    BOOST_TEST(res.result_int() == status);
    BOOST_TEST(res[http::field::content_type] == "application/problem+json");
    const auto body = body_json(res);
    BOOST_TEST(body.at("status").as_int64() == status);
    BOOST_TEST(body.at("type").as_string() ==
               "https://coachd.dev/problems/" + std::string(slug_of(code)));
    BOOST_TEST(!body.at("title").as_string().empty());
    BOOST_TEST(body.at("detail").as_string() == "what happened");
    BOOST_TEST(body.at("instance").as_string() == "/api/v1/things");
    BOOST_TEST(!body.contains("errors"));
  }
}

BOOST_AUTO_TEST_CASE(fields_and_reason_are_written) {
  const auto req = make_request(http::verb::post, "/x");
  const auto res = problem_response(
      make_error(errc::conflict, "already \"done\"", {"name", "email"}, "already-accepted"), req);
  const auto body = body_json(res);
  BOOST_TEST(body.at("type").as_string() == "https://coachd.dev/problems/already-accepted");
  BOOST_TEST(body.at("detail").as_string() == "already \"done\"");
  const auto& errors = body.at("errors").as_array();
  BOOST_REQUIRE_EQUAL(errors.size(), 2u);
  BOOST_TEST(errors[0].at("field").as_string() == "name");
  BOOST_TEST(errors[1].at("field").as_string() == "email");
}

BOOST_AUTO_TEST_CASE(version_and_keep_alive_follow_the_request) {
  auto req = make_request(http::verb::get, "/x");
  req.version(10);
  auto res = json_response(http::status::ok, boost::json::value{{"a", 1}}, req);
  BOOST_TEST(res.version() == 10u);
  BOOST_TEST(!res.keep_alive());
  BOOST_TEST(res[http::field::content_type] == "application/json");
  BOOST_TEST(res.body() == R"({"a":1})");
  req.version(11);
  req.keep_alive(false);
  res = json_response(http::status::created, std::string(R"({"b":2})"), req);
  BOOST_TEST(!res.keep_alive());
  BOOST_TEST(res.result() == http::status::created);
  req.keep_alive(true);
  BOOST_TEST(empty_response(http::status::no_content, req).keep_alive());
}

BOOST_AUTO_TEST_CASE(instance_stays_valid_json_for_any_target) {
  const auto req = make_request(http::verb::get, "/caf\xc3\xa9/\xff\"?q=1");
  const auto res = problem_response(make_error(errc::not_found, "nope"), req);
  const auto body = body_json(res);
  BOOST_TEST(body.at("instance").as_string() == "/caf%C3%A9/%FF\"");
}

BOOST_AUTO_TEST_SUITE_END()
