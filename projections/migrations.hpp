#pragma once
/// Numbered SQL migrations (projections/migrations/NNN_name.sql), applied in order at start.

#include <string>
#include <vector>

namespace pqxx {
class connection_base;
}

namespace coachd {

/// The directory migrations are read from: $COACHD_MIGRATIONS_DIR, else the source tree's.
std::string migrations_dir();

/// Applies every migration not yet recorded in schema_migrations, each in its own transaction,
/// under an advisory lock (so two processes starting together apply each once). Returns the
/// names applied. Throws on a failing migration (nothing of it stays).
std::vector<std::string> apply_migrations(pqxx::connection_base& connection,
                                          const std::string& dir = migrations_dir());

}  // namespace coachd
