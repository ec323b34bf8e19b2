#pragma once
/// The intake aggregate: a prospective client's request to work with a coach, and the coach's
/// answer. Every rule about intakes is here.

#include <boost/describe/class.hpp>
#include <boost/describe/enum.hpp>
#include <optional>
#include <string>

#include "aggregates/decision.hpp"
#include "events/intake_events.hpp"

namespace coachd {

/// Stream id of an intake.
std::string intake_stream(std::string_view intake_id);

/// A prospective client submits a coach's public intake form.
struct submit_intake {
  std::string intake_id;
  std::string coach_id;
  std::string name;
  std::string email;  // normalized
  std::optional<std::string> phone;
  std::string goals;
  std::string message;
  timestamp at;
};

/// The coach (acting_coach_id) accepts; the new client gets client_id.
struct accept_intake {
  std::string intake_id;
  std::string acting_coach_id;
  std::string client_id;
  std::string notes;
  timestamp at;
};

/// The coach (acting_coach_id) declines.
struct decline_intake {
  std::string intake_id;
  std::string acting_coach_id;
  std::string notes;
  timestamp at;
};

enum class intake_status { none, pending, accepted, declined };
BOOST_DESCRIBE_ENUM(intake_status, none, pending, accepted, declined)

/// What an intake's decisions depend on, and nothing more: the command processor holds one of
/// these for every intake, so each byte here is paid per intake. The applicant's details are
/// kept only while the intake is pending (accepting copies them into IntakeAccepted), and the
/// message is not kept at all (no decision reads it; the read model has it).
struct intake_state {
  intake_status status = intake_status::none;
  std::string intake_id;
  std::string coach_id;
  personal name, email, goals;  // empty once accepted or declined
  std::optional<personal> phone;
  /// Whose key seals the personal fields in a snapshot.
  std::string data_subject() const { return "intake:" + intake_id; }
};
BOOST_DESCRIBE_STRUCT(intake_state, (), (status, intake_id, coach_id, name, email, goals, phone))

namespace intake {
decision decide(const submit_intake& c, const intake_state& s);
decision decide(const accept_intake& c, const intake_state& s);
decision decide(const decline_intake& c, const intake_state& s);
void evolve(intake_state& s, const intake_submitted& e);
void evolve(intake_state& s, const intake_accepted& e);
void evolve(intake_state& s, const intake_declined& e);
}  // namespace intake

}  // namespace coachd
