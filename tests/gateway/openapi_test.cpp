#define BOOST_TEST_MODULE openapi_test
#include <boost/test/unit_test.hpp>

#include <boost/beast/http/verb.hpp>
#include <boost/json.hpp>
#include <fstream>
#include <sstream>

#include "gateway/router.hpp"
#include "gateway/routes.hpp"

using namespace coachd::gateway;

namespace {
boost::json::object load_document() { return boost::json::parse(openapi_document()).as_object(); }

std::string lower(std::string_view s) {
  std::string out(s);
  for (auto& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}
}  // namespace

// Every registered route must be in the OpenAPI document with its method, and the document
// must not describe routes that do not exist.
BOOST_AUTO_TEST_CASE(every_registered_route_is_documented_and_nothing_else) {
  router r;
  services s;  // registration only: no handler runs here
  add_all_routes(r, s);
  const auto doc = load_document();
  BOOST_TEST(boost::json::value_to<std::string>(doc.at("openapi")) == "3.1.0");
  const auto& paths = doc.at("paths").as_object();
  std::size_t documented = 0;
  for (const auto& [path, item] : paths) documented += item.as_object().size();
  const auto routes = r.routes();
  BOOST_TEST(routes.size() == documented);
  for (const auto& spec : routes) {
    BOOST_TEST_CONTEXT(spec.path_template << " " << boost::beast::http::to_string(spec.method)) {
      auto path = paths.find(spec.path_template);
      BOOST_TEST_REQUIRE((path != paths.end()));
      const auto& item = path->value().as_object();
      auto op = item.find(lower(boost::beast::http::to_string(spec.method)));
      BOOST_TEST_REQUIRE((op != item.end()));
      BOOST_TEST(boost::json::value_to<std::string>(op->value().as_object().at("operationId")) == spec.name);
      // Anonymous routes say so (security: []); the others name a scheme.
      const auto& security = op->value().as_object().at("security").as_array();
      BOOST_TEST(security.empty() == (spec.required == access::anonymous));
    }
  }
}
