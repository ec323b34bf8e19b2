#pragma once
/// A projector: an evolve-only view of the log, kept in PostgreSQL tables. The runner calls
/// apply for each event inside the transaction that also stores the checkpoint.

#include <pqxx/pqxx>
#include <string>
#include <vector>

#include "events/domain_event.hpp"
#include "events/envelope.hpp"


namespace coachd {

class projector {
 public:
  virtual ~projector() = default;
  /// Stable name: the checkpoint key and what `coachctl projections rebuild NAME` takes.
  virtual std::string name() const = 0;
  /// Tables whose rows it owns: emptied when it is rebuilt from offset 0.
  virtual std::vector<std::string> tables() const = 0;
  /// Prepares its statements on a fresh connection.
  virtual void prepare(pqxx::connection_base& connection) { (void)connection; }
  /// Applies one event. Throwing aborts the whole batch (nothing of it, nor the checkpoint,
  /// is committed) and the runner retries it.
  virtual void apply(pqxx::work& tx, const stored_event& stored,
                     const domain_event& event) = 0;
};

}  // namespace coachd
