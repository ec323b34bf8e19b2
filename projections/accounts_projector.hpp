#pragma once
/// The accounts read model: who can sign in, with which role (table `accounts`).

#include "projections/projector.hpp"

namespace coachd {

class accounts_projector final : public projector {
 public:
  std::string name() const override { return "accounts"; }
  std::vector<std::string> tables() const override { return {"accounts"}; }
  void prepare(pqxx::connection_base& connection) override;
  void apply(pqxx::work& tx, const stored_event& stored, const domain_event& event) override;
  bool handles(std::string_view type) const override {
    return is_one_of<account_registered>(type);
  }
};

}  // namespace coachd
