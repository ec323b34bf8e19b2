#include <boost/beast/http.hpp>
#include <boost/json.hpp>
#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "gateway/routes.hpp"

namespace coachd::gateway {

namespace http = boost::beast::http;
namespace json = boost::json;
using boost::asio::awaitable;

std::string openapi_directory() {
  if (const char* env = std::getenv("COACHD_OPENAPI_DIR"); env != nullptr && *env != '\0') return env;
  return COACHD_SOURCE_DIR "/gateway/openapi";
}

std::string openapi_document() {
  // gateway/openapi/NN_<group>.json, merged in name order: 00_base.json holds info, servers and
  // components; each route group's file adds its paths (and may add components). Keeping one
  // file per route group lets groups change independently.
  namespace fs = std::filesystem;
  std::vector<fs::path> files;
  for (const auto& entry : fs::directory_iterator(openapi_directory())) {
    if (entry.path().extension() == ".json") files.push_back(entry.path());
  }
  std::sort(files.begin(), files.end());
  if (files.empty()) throw std::runtime_error("no OpenAPI fragments in " + openapi_directory());
  json::object document;
  for (const auto& file : files) {
    std::ifstream in(file);
    std::stringstream text;
    text << in.rdbuf();
    boost::system::error_code ec;
    auto fragment = json::parse(text.str(), ec);
    if (ec || !fragment.is_object()) throw std::runtime_error("OpenAPI fragment " + file.string() + " is not a JSON object");
    for (auto& [key, value] : fragment.as_object()) {
      if ((key == "paths" || key == "components") && document.contains(key) && value.is_object()) {
        // Merge one level down (paths by path; components by kind, then by name).
        auto& into = document[key].as_object();
        for (auto& [name, item] : value.as_object()) {
          if (key == "components" && into.contains(name) && item.is_object()) {
            for (auto& [n, v] : item.as_object()) into[name].as_object()[n] = v;
          } else if (into.contains(name)) {
            throw std::runtime_error("OpenAPI fragment " + file.string() + " repeats " + std::string(name));
          } else {
            into[name] = item;
          }
        }
      } else {
        document[key] = value;
      }
    }
  }
  return json::serialize(document);
}

namespace {

const std::string& cached_openapi_document() {
  static const std::string document = openapi_document();
  return document;
}

}  // namespace

void add_system_routes(router& r, services& s) {
  (void)cached_openapi_document();  // fail at start, not at the first request, when it is missing

  r.add({http::verb::get, "/healthz", "healthz", "Liveness: the process answers", access::anonymous, false},
        [](request_context& ctx) -> awaitable<response> {
          co_return json_response(http::status::ok, json::value{{"status", "ok"}}, ctx.req);
        });

  r.add({http::verb::get, "/readyz", "readyz",
         "Readiness: event log and PostgreSQL reachable, command partitions owned, projections caught up",
         access::anonymous, false},
        [&s](request_context& ctx) -> awaitable<response> {
          json::object checks;
          bool ready = true;
          const bool commands = s.processor == nullptr || s.processor->ready();
          checks["commands"] = commands ? "ok" : "partitions not owned";
          ready = ready && commands;
          auto report = co_await s.pool->run([&](pqxx::connection& c) {
            json::object out;
            bool ok = true;
            try {
              pqxx::nontransaction tx(c);
              tx.exec("SELECT 1");
              out["postgres"] = "ok";
            } catch (const std::exception& e) {
              out["postgres"] = std::string("unreachable: ") + e.what();
              ok = false;
            }
            std::vector<std::int64_t> ends;
            try {
              for (int p = 0; p < s.log->partitions(); ++p) ends.push_back(s.log->end_offset(p));
              out["event_log"] = "ok";
            } catch (const std::exception& e) {
              out["event_log"] = std::string("unreachable: ") + e.what();
              return std::make_pair(false, out);
            }
            json::object lags;
            for (const auto& [name, runner] : s.runners) {
              std::int64_t lag = 0;
              for (int p = 0; p < s.log->partitions(); ++p) {
                lag += std::max<std::int64_t>(0, ends[static_cast<std::size_t>(p)] - runner->position(p));
              }
              lags[name] = lag;
              if (lag > 10000 || !runner->last_error().empty()) ok = false;
            }
            out["projection_lag_events"] = std::move(lags);
            return std::make_pair(ok, out);
          });
          ready = ready && report.first;
          for (auto& [k, v] : report.second) checks[k] = v;
          json::object body{{"status", ready ? "ready" : "not ready"}, {"checks", std::move(checks)}};
          co_return json_response(ready ? http::status::ok : http::status::service_unavailable,
                                  json::value(std::move(body)), ctx.req);
        });

  r.add({http::verb::get, "/metrics", "metrics", "Prometheus metrics (text format 0.0.4)", access::anonymous, false},
        [&s](request_context& ctx) -> awaitable<response> {
          co_return text_response(http::status::ok, s.metrics->render(), metrics::content_type, ctx.req);
        });

  r.add({http::verb::get, "/api/v1/openapi.json", "openapi", "This API's OpenAPI 3.1 document", access::anonymous,
         false},
        [](request_context& ctx) -> awaitable<response> {
          co_return json_response(http::status::ok, cached_openapi_document(), ctx.req);
        });
}

void add_all_routes(router& r, services& s) {
  add_system_routes(r, s);
  add_auth_routes(r, s);
  add_intake_routes(r, s);
  add_client_routes(r, s);
  add_schedule_routes(r, s);
  add_calendar_feed_routes(r, s);
}

}  // namespace coachd::gateway
