#pragma once
/// The onboarding process manager: when an intake is accepted it creates the client's account
/// (or finds the one the address already has), creates the client profile, and queues the
/// welcome e-mail. Every command id and the mail id derive from the triggering event, so a
/// redelivered IntakeAccepted creates nothing twice.

#include <optional>
#include <string>

#include "events/errors.hpp"
#include "projections/projector.hpp"

namespace coachd {

/// The commands onboarding issues, implemented by whoever owns the command processor (the
/// gateway's composition root), so projections need not depend on commands.
class onboarding_commands {
 public:
  virtual ~onboarding_commands() = default;

  struct client_account {
    std::string command_id, causation_id, correlation_id;
    std::string account_id, email, display_name;
    timestamp at;
  };
  /// Registers a client account; an error with reason "email-taken" when the address has one.
  virtual result<bool> register_client_account(const client_account& request) = 0;

  struct client_profile {
    std::string command_id, causation_id, correlation_id;
    std::string client_id, coach_id, account_id, intake_id, name, email, goals;
    std::optional<std::string> phone;
    timestamp at;
  };
  /// Creates the client profile; an error with reason "client-exists" when it exists already.
  virtual result<bool> create_client_profile(const client_profile& request) = 0;
};

/// Settings of the welcome e-mail.
struct onboarding_options {
  std::string mail_from = "coachd <no-reply@coachd.local>";
  std::string portal_url = "http://127.0.0.1:8080";
};

class onboarding_process final : public projector {
 public:
  onboarding_process(onboarding_commands& commands, onboarding_options options);
  std::string name() const override { return "onboarding"; }
  std::vector<std::string> tables() const override { return {}; }
  void prepare(pqxx::connection_base& connection) override;
  void apply(pqxx::work& tx, const stored_event& stored, const domain_event& event) override;
  bool handles(std::string_view type) const override {
    return is_one_of<intake_accepted>(type);
  }
  /// Effects beyond its tables (queued mail) must not be lost and redone.
  bool durable_commits() const override { return true; }

  /// The namespace of every id onboarding derives (UUIDv5).
  static constexpr const char* id_namespace = "3f0c8a52-61a4-4d3e-9c55-6a1c2d7b9e10";

 private:
  onboarding_commands& commands_;
  onboarding_options options_;
};

}  // namespace coachd
