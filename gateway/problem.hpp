#pragma once
/// HTTP responses of the gateway: RFC 9457 problem details (`application/problem+json`) for
/// every error, and JSON/text responses for everything else. The mapping from a domain error
/// code (coachd::errc) to an HTTP status lives here and nowhere else.

#include <boost/beast/http/message.hpp>
#include <boost/beast/http/status.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/json/value.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "events/errors.hpp"

namespace coachd::gateway {

/// A request as the server hands it to handlers: the whole body in a string.
using request = boost::beast::http::request<boost::beast::http::string_body>;
/// A response as handlers return it; the server sets Content-Length, Server and X-Request-Id.
using response = boost::beast::http::response<boost::beast::http::string_body>;

inline constexpr std::string_view problem_content_type = "application/problem+json";
inline constexpr std::string_view json_content_type = "application/json";
/// Prefix of every `type` URI of our own problems; the slug follows it.
inline constexpr std::string_view problem_type_base = "https://coachd.dev/problems/";

/// The HTTP status of each domain error code: the one place where the mapping is made.
boost::beast::http::status status_of(errc code);

/// The slug of a code as used in problem type URIs ("not-found", "version-conflict", ...).
std::string_view slug_of(errc code);

/// The fields of a problem document (RFC 9457 section 3).
struct problem {
  boost::beast::http::status status = boost::beast::http::status::internal_server_error;
  std::string type = "about:blank";
  std::string title;   // a short summary of the problem type, the same for every occurrence
  std::string detail;  // this occurrence, for humans
  std::vector<std::string> fields;  // written as "errors": [{"field": ...}] when not empty
};

/// The problem for a domain error: status from status_of, type
/// `https://coachd.dev/problems/<type_suffix or slug>`, a fixed title per code.
problem to_problem(const error& e);

/// The problem document as JSON (`instance` is the request path, without the query).
boost::json::object problem_json(const problem& p, std::string_view instance);

/// An `application/problem+json` response to `req` (version and keep-alive copied from it).
response problem_response(const problem& p, const request& req);
response problem_response(const error& e, const request& req);
/// For statuses that no domain error stands for (405, 431, 500...): type about:blank, the
/// status's reason phrase as title.
response problem_response(boost::beast::http::status status, std::string detail,
                          const request& req);

/// A JSON response to `req` with the value serialized by Boost.JSON.
response json_response(boost::beast::http::status status, const boost::json::value& body,
                       const request& req);
/// A JSON response whose body is already serialized JSON.
response json_response(boost::beast::http::status status, std::string body, const request& req);

/// Any other response (text, calendar, metrics) with the given Content-Type.
response text_response(boost::beast::http::status status, std::string body,
                       std::string_view content_type, const request& req);

/// An empty response (e.g. 204 No Content) to `req`.
response empty_response(boost::beast::http::status status, const request& req);

/// The path of a request target: everything before '?' (still percent-encoded).
std::string_view target_path(std::string_view target);

}  // namespace coachd::gateway
