#pragma once
/// Events of the intake aggregate: a prospective client asks a coach to take them on.

#include <boost/describe/class.hpp>
#include <optional>
#include <string>

#include "events/event_meta.hpp"
#include "events/personal.hpp"
#include "events/time.hpp"

namespace coachd {

/// A prospective client submitted the coach's public intake form.
struct intake_submitted {
  std::string intake_id;
  std::string coach_id;
  personal name;
  personal email;
  std::optional<personal> phone;
  personal goals;
  personal message;
  timestamp submitted_at;
  /// Whose key seals the personal fields.
  std::string data_subject() const { return "intake:" + intake_id; }
  bool operator==(const intake_submitted&) const = default;
};
BOOST_DESCRIBE_STRUCT(intake_submitted, (),
                      (intake_id, coach_id, name, email, phone, goals, message, submitted_at))

/// The coach accepted the intake; the person becomes a client (client_id is theirs from now on).
/// It carries the applicant's details so that onboarding needs nothing but this event.
struct intake_accepted {
  std::string intake_id;
  std::string coach_id;
  std::string client_id;
  personal name;
  personal email;
  std::optional<personal> phone;
  personal goals;
  personal notes;
  timestamp accepted_at;
  std::string data_subject() const { return "intake:" + intake_id; }
  bool operator==(const intake_accepted&) const = default;
};
BOOST_DESCRIBE_STRUCT(intake_accepted, (),
                      (intake_id, coach_id, client_id, name, email, phone, goals, notes,
                       accepted_at))

/// The coach declined the intake.
struct intake_declined {
  std::string intake_id;
  std::string coach_id;
  personal notes;
  timestamp declined_at;
  std::string data_subject() const { return "intake:" + intake_id; }
  bool operator==(const intake_declined&) const = default;
};
BOOST_DESCRIBE_STRUCT(intake_declined, (), (intake_id, coach_id, notes, declined_at))

}  // namespace coachd

COACHD_EVENT_META(coachd::intake_submitted, "IntakeSubmitted", 1, "/coachd/intake")
COACHD_EVENT_META(coachd::intake_accepted, "IntakeAccepted", 1, "/coachd/intake")
COACHD_EVENT_META(coachd::intake_declined, "IntakeDeclined", 1, "/coachd/intake")
