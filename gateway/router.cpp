#include "gateway/router.hpp"

#include <algorithm>
#include <boost/url/parse.hpp>
#include <boost/url/url_view.hpp>
#include <set>
#include <stdexcept>

namespace coachd::gateway {

namespace http = boost::beast::http;

std::string_view to_string(access a) {
  switch (a) {
    case access::anonymous:
      return "anonymous";
    case access::signed_in:
      return "signed_in";
    case access::coach:
      return "coach";
    case access::client:
      return "client";
    case access::admin:
      return "admin";
  }
  return "unknown";
}

bool valid_scope(std::string_view scope) {
  if (scope == "public" || scope == "caller" || scope == "all") return true;
  const auto colon = scope.find(':');
  if (colon == std::string_view::npos || colon == 0 || colon + 1 == scope.size()) return false;
  return std::all_of(scope.begin(), scope.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == ':' || (c >= 'A' && c <= 'Z');
  });
}

std::string_view request_context::param(std::string_view name) const {
  const auto it = path_params.find(name);
  return it == path_params.end() ? std::string_view{} : std::string_view(it->second);
}

std::optional<std::string_view> request_context::query(std::string_view name) const {
  for (const auto& [key, value] : query_params) {
    if (key == name) return std::string_view(value);
  }
  return std::nullopt;
}

std::vector<std::string_view> request_context::query_all(std::string_view name) const {
  std::vector<std::string_view> values;
  for (const auto& [key, value] : query_params) {
    if (key == name) values.emplace_back(value);
  }
  return values;
}

namespace {

/// One segment of a path template: a literal, or a parameter with literal text around it.
struct segment_pattern {
  bool is_param = false;
  std::string literal;  // whole segment when !is_param
  std::string prefix;
  std::string name;
  std::string suffix;
};

std::vector<std::string_view> split_path(std::string_view path) {
  std::vector<std::string_view> parts;
  if (path == "/") return parts;
  path.remove_prefix(1);
  for (;;) {
    const auto slash = path.find('/');
    parts.push_back(path.substr(0, slash));
    if (slash == std::string_view::npos) break;
    path.remove_prefix(slash + 1);
  }
  return parts;
}

bool valid_param_name(std::string_view name) {
  if (name.empty()) return false;
  return std::all_of(name.begin(), name.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
  });
}

std::vector<segment_pattern> compile_template(const std::string& path_template) {
  auto fail = [&](std::string_view why) {
    throw std::invalid_argument("route template '" + path_template + "': " + std::string(why));
  };
  if (path_template.empty() || path_template.front() != '/') fail("must start with '/'");
  std::vector<segment_pattern> segments;
  std::set<std::string, std::less<>> names;
  for (const auto part : split_path(path_template)) {
    segment_pattern seg;
    const auto open = part.find('{');
    if (open == std::string_view::npos) {
      if (part.find('}') != std::string_view::npos) fail("unbalanced '}'");
      if (part.empty()) fail("empty segment");
      seg.literal = std::string(part);
    } else {
      const auto close = part.find('}', open);
      if (close == std::string_view::npos) fail("unbalanced '{'");
      seg.is_param = true;
      seg.prefix = std::string(part.substr(0, open));
      seg.name = std::string(part.substr(open + 1, close - open - 1));
      seg.suffix = std::string(part.substr(close + 1));
      if (!valid_param_name(seg.name)) fail("invalid parameter name");
      if (seg.prefix.find('}') != std::string::npos ||
          seg.suffix.find_first_of("{}") != std::string::npos) {
        fail("at most one parameter per segment");
      }
      if (!names.insert(seg.name).second) fail("repeated parameter name");
    }
    segments.push_back(std::move(seg));
  }
  return segments;
}

/// The template with parameter names erased: two routes of one method and one shape would be
/// ambiguous.
std::string shape_of(const std::vector<segment_pattern>& segments) {
  std::string shape;
  for (const auto& seg : segments) {
    shape += '/';
    shape += seg.is_param ? seg.prefix + "{}" + seg.suffix : seg.literal;
  }
  return shape;
}

// How specific a template is, segment by segment: a literal beats a parameter with literal
// text around it, which beats a bare parameter; more literal text beats less.
using specificity = std::vector<std::pair<int, std::size_t>>;

std::vector<std::string_view> allowed_methods(std::set<http::verb> verbs) {
  if (verbs.count(http::verb::get) != 0) verbs.insert(http::verb::head);
  std::vector<std::string_view> names;
  for (const auto v : verbs) names.push_back(http::to_string(v));
  std::sort(names.begin(), names.end());
  return names;
}

}  // namespace

struct router::compiled_route {
  route_spec spec;
  handler run;
  std::vector<segment_pattern> segments;
  specificity rank;

  /// Matches decoded path segments; fills `params` on success.
  bool match(const std::vector<std::string>& path,
             std::map<std::string, std::string, std::less<>>& params) const {
    if (path.size() != segments.size()) return false;
    for (std::size_t i = 0; i < path.size(); ++i) {
      const auto& seg = segments[i];
      const std::string_view value = path[i];
      if (!seg.is_param) {
        if (value != seg.literal) return false;
        continue;
      }
      if (value.size() <= seg.prefix.size() + seg.suffix.size() || !value.starts_with(seg.prefix) ||
          !value.ends_with(seg.suffix)) {
        return false;
      }
    }
    params.clear();
    for (std::size_t i = 0; i < path.size(); ++i) {
      const auto& seg = segments[i];
      if (!seg.is_param) continue;
      const std::string_view value = path[i];
      params.emplace(seg.name,
                     std::string(value.substr(
                         seg.prefix.size(), value.size() - seg.prefix.size() - seg.suffix.size())));
    }
    return true;
  }
};

router::router() = default;
router::~router() = default;

void router::add(route_spec spec, handler h) {
  if (!h) throw std::invalid_argument("route " + spec.name + ": no handler");
  if (spec.name.empty()) throw std::invalid_argument("route " + spec.path_template + ": no name");
  if (!spec.scope.empty() && !valid_scope(spec.scope)) {
    throw std::invalid_argument("route " + spec.name + ": malformed scope '" + spec.scope + "'");
  }
  auto route = std::make_unique<compiled_route>();
  route->segments = compile_template(spec.path_template);
  const auto shape = shape_of(route->segments);
  for (const auto& other : routes_) {
    if (other->spec.method == spec.method && shape_of(other->segments) == shape) {
      throw std::invalid_argument("route " + spec.name + " duplicates route " + other->spec.name);
    }
    if (other->spec.name == spec.name) {
      throw std::invalid_argument("route name " + spec.name + " is used twice");
    }
  }
  for (const auto& seg : route->segments) {
    if (!seg.is_param) {
      route->rank.emplace_back(3, seg.literal.size());
    } else if (!seg.prefix.empty() || !seg.suffix.empty()) {
      route->rank.emplace_back(2, seg.prefix.size() + seg.suffix.size());
    } else {
      route->rank.emplace_back(1, 0);
    }
  }
  route->spec = std::move(spec);
  route->run = std::move(h);
  routes_.push_back(std::move(route));
}

void router::set_scope(std::string_view name, std::string scope) {
  if (!valid_scope(scope)) throw std::invalid_argument("malformed scope '" + scope + "'");
  for (auto& route : routes_) {
    if (route->spec.name == name) {
      route->spec.scope = std::move(scope);
      return;
    }
  }
  throw std::invalid_argument("no route named " + std::string(name));
}

void router::set_before(before_hook hook) { before_ = std::move(hook); }

std::vector<route_spec> router::routes() const {
  std::vector<route_spec> specs;
  specs.reserve(routes_.size());
  for (const auto& route : routes_) specs.push_back(route->spec);
  return specs;
}

boost::asio::awaitable<response> router::dispatch(request_context& ctx) const {
  const request& req = ctx.req;
  const auto parsed = boost::urls::parse_origin_form(req.target());
  if (!parsed) {
    co_return problem_response(make_error(errc::malformed,
                                          "the request target is not a valid "
                                          "origin-form URI"),
                               req);
  }
  const boost::urls::url_view url = *parsed;

  std::vector<std::string> path;
  for (std::string segment : url.segments()) {
    if (segment.find('\0') != std::string::npos) {
      co_return problem_response(make_error(errc::malformed, "the path contains a NUL byte"), req);
    }
    path.push_back(std::move(segment));
  }

  // The most specific template whose method fits; HEAD falls back to GET.
  const compiled_route* best = nullptr;
  const compiled_route* best_get = nullptr;
  std::set<http::verb> methods;
  std::map<std::string, std::string, std::less<>> params;
  for (const auto& route : routes_) {
    if (!route->match(path, params)) continue;
    methods.insert(route->spec.method);
    if (route->spec.method == req.method()) {
      if (best == nullptr || route->rank > best->rank) best = route.get();
    } else if (req.method() == http::verb::head && route->spec.method == http::verb::get) {
      if (best_get == nullptr || route->rank > best_get->rank) best_get = route.get();
    }
  }
  if (best == nullptr) best = best_get;

  if (best == nullptr) {
    if (methods.empty()) {
      co_return problem_response(
          make_error(errc::not_found, "no resource at " + std::string(url.path())), req);
    }
    std::string allow;
    for (const auto name : allowed_methods(methods)) {
      if (!allow.empty()) allow += ", ";
      allow += name;
    }
    auto res =
        problem_response(http::status::method_not_allowed, "this resource allows " + allow, req);
    res.set(http::field::allow, allow);
    co_return res;
  }

  best->match(path, ctx.path_params);
  ctx.query_params.clear();
  for (const auto p : url.params(boost::urls::encoding_opts(true, false, false))) {
    if (p.key.find('\0') != std::string::npos || p.value.find('\0') != std::string::npos) {
      co_return problem_response(make_error(errc::malformed, "the query contains a NUL byte"), req);
    }
    ctx.query_params.emplace_back(p.key, p.value);
  }
  ctx.route = &best->spec;

  if (before_) {
    auto early = co_await before_(ctx, best->spec);
    if (early) co_return std::move(*early);
  }
  co_return co_await best->run(ctx);
}

}  // namespace coachd::gateway
