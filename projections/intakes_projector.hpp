#pragma once
/// The intakes read model: a coach's intake inbox (table `intakes`).

#include "projections/bulk_insert.hpp"
#include "projections/projector.hpp"

namespace coachd {

class intakes_projector final : public projector {
 public:
  intakes_projector();
  std::string name() const override { return "intakes"; }
  std::vector<std::string> tables() const override { return {"intakes"}; }
  std::vector<std::string> query_only_indexes() const override {
    return {"intakes_by_coach_status", "intakes_by_coach"};
  }
  void prepare(pqxx::connection_base& connection) override;
  void apply(pqxx::work& tx, const stored_event& stored, const domain_event& event) override;
  bool handles(std::string_view type) const override {
    return is_one_of<intake_submitted, intake_accepted, intake_declined>(type);
  }
  void begin_batch() override { submitted_.clear(); }
  void set_loading(bool loading) override { submitted_.set_loading(loading); }
  void end_batch(pqxx::work& tx) override { submitted_.flush(tx); }

 private:
  bulk_insert submitted_;  // new intakes of the batch
};

}  // namespace coachd
