#pragma once
/// The scheduling read model (projector "sessions"): each coach's availability settings,
/// session types, active holds and sessions, as the slots query and the session lists need them.

#include "projections/bulk_insert.hpp"
#include "projections/projector.hpp"

namespace coachd {

class sessions_projector final : public projector {
 public:
  sessions_projector();
  std::string name() const override { return "sessions"; }
  std::vector<std::string> tables() const override {
    return {"schedule_availability", "session_types", "slot_holds", "sessions"};
  }
  /// Not slot_holds_by_coach: pruning a coach's expired holds reads it.
  std::vector<std::string> query_only_indexes() const override {
    return {"session_types_by_coach", "sessions_by_coach", "sessions_by_client"};
  }
  void prepare(pqxx::connection_base& connection) override;
  void apply(pqxx::work& tx, const stored_event& stored, const domain_event& event) override;
  bool handles(std::string_view type) const override {
    return is_one_of<availability_set, session_type_defined, slot_held, session_booked,
                     session_rescheduled, session_cancelled, session_confirmed, session_completed,
                     session_no_show_marked>(type);
  }
  void begin_batch() override { booked_.clear(); }
  void set_loading(bool loading) override { booked_.set_loading(loading); }
  void end_batch(pqxx::work& tx) override { booked_.flush(tx); }

 private:
  bulk_insert booked_;  // sessions booked in the batch
};

}  // namespace coachd
