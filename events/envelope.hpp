#pragma once
/// The envelope every event travels in: CloudEvents 1.0 attributes plus coachd's own.

#include <cstdint>
#include <string>

namespace coachd {

/// One event as the log stores it. `data` is the JSON payload with personal fields already
/// encrypted (see events/pii.hpp); `subject` is the aggregate id and the log's partition key.
struct event_envelope {
  std::string id;              // CloudEvents id: a UUID, unique per event
  std::string source;          // CloudEvents source, e.g. "/coachd/intake"
  std::string type;            // past tense, e.g. "IntakeSubmitted"
  std::string specversion = "1.0";
  std::string time;            // RFC 3339 UTC with milliseconds, e.g. 2026-11-21T09:00:00.000Z
  std::string subject;         // aggregate (stream) id, e.g. "intake-<uuid>"
  std::int64_t stream_version = 0;  // 1 for the first event of a stream
  std::string command_id;      // the command that produced it (idempotency)
  std::string correlation_id;  // the request/flow it belongs to
  std::string causation_id;    // the command or event that caused it
  std::string actor;           // who: "account:<id>", "anonymous", "system:<name>"
  int schema_version = 1;
  std::string data;            // JSON object text

  bool operator==(const event_envelope&) const = default;
};

/// An event as read back from the log: where it sits and what it is.
struct stored_event {
  int partition = 0;
  std::int64_t offset = 0;
  event_envelope envelope;
};

}  // namespace coachd
