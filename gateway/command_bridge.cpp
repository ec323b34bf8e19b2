#include "gateway/command_bridge.hpp"

#include <boost/asio/async_result.hpp>
#include <boost/asio/associated_executor.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/http.hpp>
#include <charconv>
#include <memory>

#include "gateway/auth.hpp"
#include "infra/crypto.hpp"

namespace coachd::gateway {

namespace http = boost::beast::http;
namespace asio = boost::asio;

namespace {
constexpr const char* idempotency_namespace = "8e4b7d1c-2a5f-4c0e-b3d9-5f7a1e6c2b40";

std::optional<std::string_view> header(const request& req, std::string_view name) {
  auto it = req.find(name);
  if (it == req.end()) return std::nullopt;
  return it->value();
}

/// The Idempotency-Key scoped to who sent it and where: the same key from another caller or on
/// another route is another command.
std::optional<std::string> scoped_key(const request_context& ctx) {
  auto key = header(ctx.req, "Idempotency-Key");
  if (!key) return std::nullopt;
  std::string scope = actor_of(ctx) + "\n" + std::string(ctx.req.method_string()) + " " +
                      std::string(target_path(ctx.req.target())) + "\n" + std::string(*key);
  return scope;
}
}  // namespace

std::string actor_of(const request_context& ctx) {
  if (const auto* who = caller(ctx)) return who->actor();
  return "anonymous";
}

asio::awaitable<result<command_outcome>> execute(command_processor& processor, command cmd) {
  return asio::async_initiate<decltype(asio::use_awaitable), void(result<command_outcome>)>(
      [&processor](auto handler, command cmd) {
        auto shared = std::make_shared<decltype(handler)>(std::move(handler));
        processor.submit(std::move(cmd), [shared](result<command_outcome> outcome) {
          auto executor = asio::get_associated_executor(*shared);
          asio::post(executor, [shared, outcome = std::move(outcome)]() mutable {
            (*shared)(std::move(outcome));
          });
        });
      },
      asio::use_awaitable, std::move(cmd));
}

std::string new_entity_id(const request_context& ctx, std::string_view purpose) {
  if (auto key = scoped_key(ctx)) return uuid_from_name(idempotency_namespace, *key + "\n" + std::string(purpose));
  return new_uuid();
}

result<command> command_from_request(const request_context& ctx, std::string stream, command_body body) {
  command cmd;
  if (auto key = header(ctx.req, "Idempotency-Key")) {
    if (key->empty() || key->size() > 255) {
      return make_error(errc::malformed, "Idempotency-Key must be 1 to 255 characters", {"Idempotency-Key"});
    }
    // The key names the command; the request's fingerprint (method, path, body) lets a reuse of
    // the key for a different request be refused instead of answered with the first outcome.
    const std::string request = std::string(ctx.req.method_string()) + " " + std::string(ctx.req.target()) + "\n" +
                                ctx.req.body();
    cmd.id = "k:" + uuid_from_name(idempotency_namespace, *scoped_key(ctx)) + ":" + sha256_hex(request).substr(0, 32);
  } else {
    cmd.id = new_uuid();
  }
  if (auto match = header(ctx.req, "If-Match")) {
    std::string_view v = *match;
    if (v.size() >= 2 && v.front() == '"' && v.back() == '"') v = v.substr(1, v.size() - 2);
    std::int64_t version = -1;
    auto [end, ec] = std::from_chars(v.data(), v.data() + v.size(), version);
    if (ec != std::errc() || end != v.data() + v.size() || version < 0) {
      return make_error(errc::malformed, "If-Match must be a stream version such as \"3\"", {"If-Match"});
    }
    cmd.expected_version = version;
  }
  cmd.stream = std::move(stream);
  cmd.actor = actor_of(ctx);
  cmd.correlation_id = ctx.request_id;
  cmd.causation_id = ctx.request_id;
  cmd.issued_at = now_utc();
  cmd.body = std::move(body);
  return cmd;
}

response command_response(const request_context& ctx, http::status status, const command_outcome& outcome,
                          boost::json::object body) {
  body["stream_version"] = outcome.stream_version;
  body["consistency_token"] = outcome.consistency_token();
  auto r = json_response(status, boost::json::value(std::move(body)), ctx.req);
  r.set(http::field::etag, "\"" + std::to_string(outcome.stream_version) + "\"");
  r.set("X-Consistency-Token", outcome.consistency_token());
  if (outcome.replayed) r.set("Idempotent-Replayed", "true");
  return r;
}

asio::awaitable<std::optional<response>> await_read_model(const request_context& ctx, services& s,
                                                          std::string_view projector) {
  std::optional<std::string_view> token = header(ctx.req, "X-Consistency-Token");
  if (!token) token = ctx.query("after");
  if (!token) co_return std::nullopt;
  int partition = -1;
  std::int64_t offset = -1;
  const auto colon = token->find(':');
  bool ok = colon != std::string_view::npos;
  if (ok) {
    auto [e1, ec1] = std::from_chars(token->data(), token->data() + colon, partition);
    auto [e2, ec2] = std::from_chars(token->data() + colon + 1, token->data() + token->size(), offset);
    ok = ec1 == std::errc() && ec2 == std::errc() && e1 == token->data() + colon &&
         e2 == token->data() + token->size() && partition >= 0 && partition < s.log->partitions();
  }
  if (!ok) {
    co_return problem_response(make_error(errc::malformed, "consistency token must be 'partition:offset' as a "
                                                           "command answer gave it",
                                          {"X-Consistency-Token"}),
                               ctx.req);
  }
  auto runner = s.runners.find(projector);
  if (runner == s.runners.end()) co_return std::nullopt;  // projector runs in another process
  const auto deadline = std::chrono::steady_clock::now() + s.settings.consistency_wait;
  asio::steady_timer timer(co_await asio::this_coro::executor);
  while (runner->second->position(partition) <= offset) {
    if (std::chrono::steady_clock::now() >= deadline) {
      co_return problem_response(
          make_error(errc::timeout, "the " + std::string(projector) + " read model has not reached " +
                                        std::string(*token) + " within " +
                                        std::to_string(s.settings.consistency_wait.count()) + " ms; retry"),
          ctx.req);
    }
    timer.expires_after(std::chrono::milliseconds(2));
    co_await timer.async_wait(asio::use_awaitable);
  }
  co_return std::nullopt;
}

}  // namespace coachd::gateway
