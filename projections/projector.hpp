#pragma once
/// A projector: an evolve-only view of the log, kept in PostgreSQL tables. The runner calls
/// apply for each event inside the transaction that also stores the checkpoint.

#include <pqxx/pqxx>
#include <string>
#include <string_view>
#include <vector>

#include "events/domain_event.hpp"
#include "events/envelope.hpp"
#include "events/event_meta.hpp"

namespace coachd {

class projector {
 public:
  virtual ~projector() = default;
  /// Stable name: the checkpoint key and what `coachctl projections rebuild NAME` takes.
  virtual std::string name() const = 0;
  /// Tables whose rows it owns: emptied when it is rebuilt from offset 0.
  virtual std::vector<std::string> tables() const = 0;
  /// Indexes of those tables that only queries read (never apply's own statements, and never a
  /// unique index, which ON CONFLICT and lookups need): a rebuild drops them while it loads the
  /// emptied tables and builds each once from the loaded rows at the end.
  virtual std::vector<std::string> query_only_indexes() const { return {}; }
  /// Prepares its statements on a fresh connection.
  virtual void prepare(pqxx::connection_base& connection) { (void)connection; }
  /// Applies one event. Throwing aborts the whole batch (nothing of it, nor the checkpoint,
  /// is committed) and the runner retries it.
  virtual void apply(pqxx::work& tx, const stored_event& stored, const domain_event& event) = 0;
  /// Around each batch's applies (end_batch inside its transaction, before the checkpoint):
  /// a projector that gathers rows for one bulk statement (projections/bulk_insert.hpp) starts
  /// afresh in begin_batch and writes them in end_batch.
  virtual void begin_batch() {}
  /// Set for a rebuild into the emptied read model (and cleared after it): every row is new,
  /// so bulk rows may go in with COPY (projections/bulk_insert.hpp).
  virtual void set_loading(bool loading) { (void)loading; }
  virtual void end_batch(pqxx::work& tx) { (void)tx; }
  /// Whether it reads events of this type (the envelope's `type`). The runner neither decodes
  /// nor applies the others; their offsets still move the checkpoint (lazily: a batch with
  /// nothing to apply writes nothing at once).
  virtual bool handles(std::string_view type) const {
    (void)type;
    return true;
  }
  /// Whether each batch's commit must reach the disk before the runner goes on. A read model
  /// need not: its rows commit with the checkpoint, so a PostgreSQL crash that loses the last
  /// batches loses their checkpoint with them and the runner applies those events again. A
  /// projector with effects beyond the read model (mail it queues, which a dispatcher may send
  /// at once) says true.
  virtual bool durable_commits() const { return false; }
};

/// handles() for a projector that reads exactly these event types.
template <typename... Events>
bool is_one_of(std::string_view type) {
  return ((type == event_meta<Events>::type) || ...);
}

}  // namespace coachd
