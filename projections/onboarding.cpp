#include "projections/onboarding.hpp"

#include <stdexcept>

#include "infra/crypto.hpp"
#include "infra/mail_outbox.hpp"

namespace coachd {

onboarding_process::onboarding_process(onboarding_commands& commands, onboarding_options options)
    : commands_(commands), options_(std::move(options)) {}

void onboarding_process::prepare(pqxx::connection_base& connection) {
  connection.prepare("onboarding_account_by_email", "SELECT account_id FROM accounts WHERE email = $1");
  connection.prepare("onboarding_coach_name", "SELECT display_name FROM accounts WHERE account_id = $1");
}

void onboarding_process::apply(pqxx::work& tx, const stored_event& stored, const domain_event& event) {
  const auto* accepted = std::get_if<intake_accepted>(&event);
  if (accepted == nullptr) return;
  if (accepted->email.erased) return;  // the applicant was erased before onboarding ran
  const std::string& trigger = stored.envelope.id;
  const auto derived = [&](std::string_view what) { return uuid_from_name(id_namespace, trigger + "/" + std::string(what)); };

  // 1. The client's account: a new one, or the one the address already has.
  std::string account_id = derived("account");
  auto registered = commands_.register_client_account(
      {"d:" + account_id, trigger, stored.envelope.correlation_id, account_id, accepted->email.value,
       accepted->name.value, accepted->accepted_at});
  if (!registered) {
    if (registered.err().type_suffix != "email-taken") {
      throw std::runtime_error("onboarding: registering the client account failed: " + registered.err().detail);
    }
    auto rows = tx.exec_prepared("onboarding_account_by_email", accepted->email.value);
    if (rows.empty()) {
      // The account exists but its read model has not caught up yet: retry the batch later.
      throw std::runtime_error("onboarding: the existing account for the address is not visible yet");
    }
    account_id = rows[0][0].as<std::string>();
  }

  // 2. The client profile, under the id the accepted intake announced.
  std::optional<std::string> phone;
  if (accepted->phone) phone = accepted->phone->value;
  auto created = commands_.create_client_profile(
      {"d:" + derived("client"), trigger, stored.envelope.correlation_id, accepted->client_id,
       accepted->coach_id, account_id, accepted->intake_id, accepted->name.value, accepted->email.value,
       accepted->goals.value, phone, accepted->accepted_at});
  if (!created && created.err().type_suffix != "client-exists") {
    throw std::runtime_error("onboarding: creating the client profile failed: " + created.err().detail);
  }

  // 3. The welcome e-mail, committed with this process manager's checkpoint.
  std::string coach_name = "Your coach";
  if (auto rows = tx.exec_prepared("onboarding_coach_name", accepted->coach_id); !rows.empty()) {
    coach_name = rows[0][0].as<std::string>();
  }
  mail_message mail;
  mail.id = derived("welcome-mail");
  mail.from = options_.mail_from;
  mail.to = accepted->email.value;
  mail.subject = coach_name + " accepted you as a client";
  mail.text_body = "Hello " + accepted->name.value + ",\n\n" + coach_name +
                   " has accepted your request and set up your client account.\n\n"
                   "Sign in at " + options_.portal_url + " with this e-mail address (" +
                   accepted->email.value +
                   "): choose \"Sign in with Google\" if this is a Google address, or set a password "
                   "with \"Forgot password\".\n\nYour hub shows your next session, action items, "
                   "resources and invoices.\n";
  mail.extra_headers.emplace_back("Auto-Submitted", "auto-generated");
  mail.date = std::chrono::system_clock::time_point(accepted->accepted_at.time_since_epoch());
  mail_outbox::enqueue(tx, mail);
}

}  // namespace coachd
