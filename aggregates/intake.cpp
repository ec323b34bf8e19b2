#include "aggregates/intake.hpp"

namespace coachd {

std::string intake_stream(std::string_view intake_id) {
  return "intake-" + std::string(intake_id);
}

namespace intake {

namespace {

/// An intake that does not exist, or belongs to another coach, is "not found" for the caller:
/// ids cannot be probed.
std::optional<error> check_owner(const intake_state& s, const std::string& coach_id,
                                  const std::string& intake_id) {
  if (s.status == intake_status::none || s.coach_id != coach_id) {
    return make_error(errc::not_found, "intake " + intake_id + " not found");
  }
  return std::nullopt;
}

}  // namespace

decision decide(const submit_intake& c, const intake_state& s) {
  if (s.status != intake_status::none) {
    return make_error(errc::conflict, "intake " + c.intake_id + " already exists", {},
                      "intake-exists");
  }
  std::optional<personal> phone;
  if (c.phone) phone = personal{*c.phone};
  return std::vector<domain_event>{intake_submitted{c.intake_id, c.coach_id, personal{c.name},
                                                    personal{c.email}, phone, personal{c.goals},
                                                    personal{c.message}, c.at}};
}

decision decide(const accept_intake& c, const intake_state& s) {
  if (auto e = check_owner(s, c.acting_coach_id, c.intake_id)) return *e;
  if (s.status == intake_status::accepted) {
    return make_error(errc::conflict, "intake " + c.intake_id + " was already accepted", {},
                      "intake-already-accepted");
  }
  if (s.status == intake_status::declined) {
    return make_error(errc::conflict, "intake " + c.intake_id + " was declined; it cannot be accepted",
                      {}, "intake-already-declined");
  }
  return std::vector<domain_event>{intake_accepted{c.intake_id, s.coach_id, c.client_id, s.name,
                                                   s.email, s.phone, s.goals, personal{c.notes},
                                                   c.at}};
}

decision decide(const decline_intake& c, const intake_state& s) {
  if (auto e = check_owner(s, c.acting_coach_id, c.intake_id)) return *e;
  if (s.status == intake_status::accepted) {
    return make_error(errc::conflict, "intake " + c.intake_id + " was accepted; it cannot be declined",
                      {}, "intake-already-accepted");
  }
  if (s.status == intake_status::declined) {
    return make_error(errc::conflict, "intake " + c.intake_id + " was already declined", {},
                      "intake-already-declined");
  }
  return std::vector<domain_event>{
      intake_declined{c.intake_id, s.coach_id, personal{c.notes}, c.at}};
}

void evolve(intake_state& s, const intake_submitted& e) {
  s.status = intake_status::pending;
  s.intake_id = e.intake_id;
  s.coach_id = e.coach_id;
  s.name = e.name;
  s.email = e.email;
  s.phone = e.phone;
  s.goals = e.goals;
}

namespace {

/// A decided intake refuses every further decision without looking at the applicant, so its
/// details are dropped (memory per intake, and personal data held no longer than needed).
void forget_applicant(intake_state& s) {
  s.name = personal{};
  s.email = personal{};
  s.goals = personal{};
  s.phone.reset();
}

}  // namespace

void evolve(intake_state& s, const intake_accepted&) {
  s.status = intake_status::accepted;
  forget_applicant(s);
}

void evolve(intake_state& s, const intake_declined&) {
  s.status = intake_status::declined;
  forget_applicant(s);
}

}  // namespace intake
}  // namespace coachd
