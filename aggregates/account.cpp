#include "aggregates/account.hpp"

namespace coachd {

std::string account_stream(std::string_view email_hash) {
  return "account-" + std::string(email_hash);
}

namespace account {

decision decide(const register_account& c, const account_state& s) {
  if (s.exists) {
    return make_error(errc::conflict, "an account with this e-mail address already exists",
                      {"email"}, "email-taken");
  }
  if (c.role != "coach" && c.role != "client" && c.role != "admin") {
    return make_error(errc::invalid, "role must be coach, client or admin", {"role"});
  }
  std::optional<personal> hash;
  if (c.password_hash) hash = personal{*c.password_hash};
  return std::vector<domain_event>{account_registered{c.account_id, c.role, personal{c.email},
                                                      personal{c.display_name}, hash, c.at}};
}

void evolve(account_state& s, const account_registered& e) {
  s.exists = true;
  s.account_id = e.account_id;
  s.role = e.role;
}

}  // namespace account
}  // namespace coachd
