#pragma once
/// Key → partition mapping, identical to Kafka's default partitioner (murmur2, positive, mod n),
/// so a downstream Kafka consumer and coachd agree on where a stream lives.

#include <cstdint>
#include <string_view>

namespace coachd {

/// Kafka's murmur2 (seed 0x9747b28c) of the key bytes.
std::int32_t murmur2(std::string_view key);

/// The partition a key (an aggregate id) belongs to among `partitions`.
int partition_for(std::string_view key, int partitions);

}  // namespace coachd
