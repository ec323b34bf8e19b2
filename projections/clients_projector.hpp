#pragma once
/// The clients read model: a coach's client list and profiles (table `clients`).

#include "projections/projector.hpp"

namespace coachd {

class clients_projector final : public projector {
 public:
  std::string name() const override { return "clients"; }
  std::vector<std::string> tables() const override { return {"clients"}; }
  std::vector<std::string> query_only_indexes() const override {
    return {"clients_by_coach", "clients_by_account"};
  }
  void prepare(pqxx::connection_base& connection) override;
  void apply(pqxx::work& tx, const stored_event& stored, const domain_event& event) override;
  bool handles(std::string_view type) const override {
    return is_one_of<client_profile_created>(type);
  }
};

}  // namespace coachd
