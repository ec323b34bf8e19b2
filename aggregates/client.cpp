#include "aggregates/client.hpp"

namespace coachd {

std::string client_stream(std::string_view client_id) {
  return "client-" + std::string(client_id);
}

namespace client {

decision decide(const create_client_profile& c, const client_state& s) {
  if (s.exists) {
    return make_error(errc::conflict, "client " + c.client_id + " already exists", {},
                      "client-exists");
  }
  std::optional<personal> phone;
  if (c.phone) phone = personal{*c.phone};
  return std::vector<domain_event>{client_profile_created{
      c.client_id, c.coach_id, c.account_id, c.intake_id, personal{c.name}, personal{c.email},
      phone, personal{c.goals}, c.at}};
}

void evolve(client_state& s, const client_profile_created& e) {
  s.exists = true;
  s.client_id = e.client_id;
  s.coach_id = e.coach_id;
  s.account_id = e.account_id;
}

}  // namespace client
}  // namespace coachd
