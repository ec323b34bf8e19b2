#include "gateway/problem.hpp"

#include <boost/json/serialize.hpp>

namespace coachd::gateway {

namespace http = boost::beast::http;

http::status status_of(errc code) {
  switch (code) {
    case errc::malformed:
      return http::status::bad_request;
    case errc::invalid:
      return http::status::unprocessable_entity;
    case errc::unauthenticated:
      return http::status::unauthorized;
    case errc::forbidden:
      return http::status::forbidden;
    case errc::not_found:
      return http::status::not_found;
    case errc::conflict:
      return http::status::conflict;
    case errc::version_conflict:
      return http::status::conflict;
    case errc::precondition_failed:
      return http::status::precondition_failed;
    case errc::too_large:
      return http::status::payload_too_large;
    case errc::rate_limited:
      return http::status::too_many_requests;
    case errc::timeout:
      return http::status::gateway_timeout;
    case errc::unavailable:
      return http::status::service_unavailable;
  }
  return http::status::internal_server_error;
}

std::string_view slug_of(errc code) {
  switch (code) {
    case errc::malformed:
      return "malformed";
    case errc::invalid:
      return "invalid";
    case errc::unauthenticated:
      return "unauthenticated";
    case errc::forbidden:
      return "forbidden";
    case errc::not_found:
      return "not-found";
    case errc::conflict:
      return "conflict";
    case errc::version_conflict:
      return "version-conflict";
    case errc::precondition_failed:
      return "precondition-failed";
    case errc::too_large:
      return "too-large";
    case errc::rate_limited:
      return "rate-limited";
    case errc::timeout:
      return "timeout";
    case errc::unavailable:
      return "unavailable";
  }
  return "internal";
}

namespace {

std::string_view title_of(errc code) {
  switch (code) {
    case errc::malformed:
      return "Malformed request";
    case errc::invalid:
      return "Invalid request";
    case errc::unauthenticated:
      return "Authentication required";
    case errc::forbidden:
      return "Forbidden";
    case errc::not_found:
      return "Not found";
    case errc::conflict:
      return "Conflict";
    case errc::version_conflict:
      return "Version conflict";
    case errc::precondition_failed:
      return "Precondition failed";
    case errc::too_large:
      return "Request too large";
    case errc::rate_limited:
      return "Too many requests";
    case errc::timeout:
      return "Timed out";
    case errc::unavailable:
      return "Service unavailable";
  }
  return "Internal server error";
}

response make_response(http::status status, std::string body, std::string_view content_type,
                       const request& req) {
  response res{status, req.version()};
  res.keep_alive(req.keep_alive());
  if (!content_type.empty()) res.set(http::field::content_type, content_type);
  res.body() = std::move(body);
  return res;
}

}  // namespace

problem to_problem(const error& e) {
  problem p;
  p.status = status_of(e.code);
  p.type = std::string(problem_type_base);
  p.type += e.type_suffix.empty() ? slug_of(e.code) : std::string_view(e.type_suffix);
  p.title = std::string(title_of(e.code));
  p.detail = e.detail;
  p.fields = e.fields;
  return p;
}

std::string_view target_path(std::string_view target) { return target.substr(0, target.find('?')); }

boost::json::object problem_json(const problem& p, std::string_view instance) {
  boost::json::object o;
  o["type"] = p.type;
  o["title"] = p.title;
  o["status"] = static_cast<unsigned>(p.status);
  if (!p.detail.empty()) o["detail"] = p.detail;
  if (!instance.empty()) o["instance"] = instance;
  if (!p.fields.empty()) {
    boost::json::array errors;
    errors.reserve(p.fields.size());
    for (const auto& field : p.fields) errors.push_back(boost::json::object{{"field", field}});
    o["errors"] = std::move(errors);
  }
  return o;
}

response problem_response(const problem& p, const request& req) {
  // The target comes from the wire: percent-encode anything that is not printable ASCII so the
  // document stays valid UTF-8 whatever the client sent.
  std::string instance;
  for (const char c : target_path(req.target())) {
    const auto byte = static_cast<unsigned char>(c);
    if (byte > 0x20 && byte < 0x7f) {
      instance += c;
    } else {
      static constexpr char hex[] = "0123456789ABCDEF";
      instance += '%';
      instance += hex[byte >> 4];
      instance += hex[byte & 0xf];
    }
  }
  return make_response(p.status, boost::json::serialize(problem_json(p, instance)),
                       problem_content_type, req);
}

response problem_response(const error& e, const request& req) {
  return problem_response(to_problem(e), req);
}

response problem_response(http::status status, std::string detail, const request& req) {
  problem p;
  p.status = status;
  p.title = std::string(http::obsolete_reason(status));
  p.detail = std::move(detail);
  return problem_response(p, req);
}

response json_response(http::status status, const boost::json::value& body, const request& req) {
  return make_response(status, boost::json::serialize(body), json_content_type, req);
}

response json_response(http::status status, std::string body, const request& req) {
  return make_response(status, std::move(body), json_content_type, req);
}

response text_response(http::status status, std::string body, std::string_view content_type,
                       const request& req) {
  return make_response(status, std::move(body), content_type, req);
}

response empty_response(http::status status, const request& req) {
  return make_response(status, {}, {}, req);
}

}  // namespace coachd::gateway
