#pragma once
/// From HTTP to the command processor and back: command metadata from request headers
/// (Idempotency-Key, If-Match, request id), awaiting the outcome, the answer's shape, and
/// read-your-writes waits on consistency tokens.

#include <boost/asio/awaitable.hpp>
#include <boost/json/object.hpp>
#include <optional>
#include <string>

#include "commands/processor.hpp"
#include "gateway/router.hpp"
#include "gateway/services.hpp"

namespace coachd::gateway {

/// Submits `cmd` and resumes the coroutine with its outcome once the events are durable.
boost::asio::awaitable<result<command_outcome>> execute(command_processor& processor, command cmd);

/// A command addressed to `stream` with the request's metadata: a derived id when the request
/// carries an Idempotency-Key (scoped to the caller and the route), the expected version from
/// If-Match, the actor, the request id as correlation id, and the current time. A malformed
/// header is an error.
result<command> command_from_request(const request_context& ctx, std::string stream, command_body body);

/// The id of an entity a request creates: derived from the Idempotency-Key when there is one
/// (so a retry addresses the same stream), random otherwise.
std::string new_entity_id(const request_context& ctx, std::string_view purpose);

/// The answer to an accepted command: `body` plus stream_version and consistency_token, with
/// ETag (the stream version) and X-Consistency-Token headers.
response command_response(const request_context& ctx, boost::beast::http::status status,
                          const command_outcome& outcome, boost::json::object body);

/// When the request names a consistency token (X-Consistency-Token header or ?after=), waits
/// until `projector` has passed it; a problem response when the token is malformed (400) or
/// the bounded wait runs out (504).
boost::asio::awaitable<std::optional<response>> await_read_model(const request_context& ctx, services& s,
                                                                 std::string_view projector);

/// The actor of the request's caller ("account:<id>", or "anonymous").
std::string actor_of(const request_context& ctx);

}  // namespace coachd::gateway
