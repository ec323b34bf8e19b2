// The event codec (events/codec.hpp, events/codec_impl.hpp): round trips of every domain event,
// sealing of personal fields (never in clear, bound to event id and field, shredded by erasure),
// rejection of malformed payloads, upcasting of old schema versions; plus the RFC 3339 helpers
// (events/time.hpp) and Kafka-compatible partitioning (events/partitioning.hpp).

// The test module's entry point. When <boost/test/unit_test.hpp> already came in through the
// precompiled header, a BOOST_TEST_MODULE defined here is too late to generate main().
#ifdef BOOST_TEST_UNIT_TEST_HPP_071894GER
#include <boost/test/unit_test.hpp>
bool init_unit_test() {
  boost::unit_test::framework::master_test_suite().p_name.value = "codec";
  return true;
}
int main(int argc, char* argv[]) {
  return boost::unit_test::unit_test_main(&init_unit_test, argc, argv);
}
#else
#define BOOST_TEST_MODULE codec
#include <boost/test/unit_test.hpp>
#endif

#include <boost/describe/class.hpp>
#include <boost/describe/members.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/mp11/algorithm.hpp>
#include <chrono>
#include <cstdint>
#include <functional>
#include <limits>
#include <optional>
#include <random>
#include <set>
#include <stdexcept>
#include <string>
#include <variant>
#include <vector>

#include "events/codec.hpp"
#include "events/codec_impl.hpp"
#include "events/partitioning.hpp"
#include "events/time.hpp"

using namespace coachd;
using namespace std::chrono;

// ---------------------------------------------------------------------------------------------
// Event types of this test only.

namespace codec_test_types {

/// Schema version 2 of an event whose version 1 called `name` "full_name".
struct test_renamed {
  std::string renamed_id;
  std::string name;
  coachd::personal note;
  std::string data_subject() const { return "test:" + renamed_id; }
  bool operator==(const test_renamed&) const = default;
};
BOOST_DESCRIBE_STRUCT(test_renamed, (), (renamed_id, name, note))

/// Every field type the generic codec supports.
struct test_every_type {
  std::string text;
  bool flag = false;
  int small = 0;
  std::int64_t big = 0;
  coachd::timestamp at;
  std::vector<std::string> tags;
  std::optional<std::string> maybe_text;
  std::optional<std::int64_t> maybe_number;
  std::optional<bool> maybe_flag;
  std::optional<coachd::timestamp> maybe_at;
  std::optional<std::vector<std::string>> maybe_tags;
  bool operator==(const test_every_type&) const = default;
};
BOOST_DESCRIBE_STRUCT(test_every_type, (),
                      (text, flag, small, big, at, tags, maybe_text, maybe_number, maybe_flag,
                       maybe_at, maybe_tags))

}  // namespace codec_test_types

COACHD_EVENT_META(codec_test_types::test_renamed, "TestRenamed", 2, "/test")
COACHD_EVENT_META(codec_test_types::test_every_type, "TestEveryType", 1, "/test")

using codec_test_types::test_every_type;
using codec_test_types::test_renamed;

namespace {

const std::string zelda_name = "Zelda Quuxworth";
const std::string zelda_email = "zelda.q@example.org";
const std::string zelda_phone = "+44 7700 900123";

timestamp at(std::string_view text) {
  auto t = parse_rfc3339(text);
  if (!t) throw std::invalid_argument("bad test timestamp " + std::string(text));
  return *t;
}

intake_submitted sample_submitted(std::string intake_id = "intake-1") {
  return intake_submitted{
      std::move(intake_id),
      "coach-7",
      personal{zelda_name},
      personal{zelda_email},
      personal{zelda_phone},
      personal{"Run a marathon; \"finally\"\nand sleep better"},
      personal{"Zoë Åström — 山田太郎 👩‍💻 says \\ hi \t with \"quotes\"\r\n"},
      at("2026-11-21T09:00:00.123Z")};
}

/// One of every domain event type, with every optional both present and absent.
std::vector<domain_event> every_domain_event() {
  std::vector<domain_event> events;
  events.push_back(sample_submitted());
  auto no_phone = sample_submitted("intake-2");
  no_phone.phone = std::nullopt;
  no_phone.message = personal{""};  // empty personal text
  events.push_back(no_phone);
  events.push_back(intake_accepted{"intake-1", "coach-7", "client-9", personal{zelda_name},
                                   personal{zelda_email}, personal{zelda_phone},
                                   personal{"Marathon"}, personal{"Weekly on Mondays\n\"ok\""},
                                   at("2026-11-22T10:15:00Z")});
  events.push_back(intake_accepted{"intake-2", "coach-7", "client-10", personal{zelda_name},
                                   personal{zelda_email}, std::nullopt, personal{"Sleep"},
                                   personal{""}, at("2026-11-22T10:16:00Z")});
  events.push_back(intake_declined{"intake-3", "coach-7", personal{"Not a fit — sorry"},
                                   at("2026-11-23T08:00:00Z")});
  events.push_back(account_registered{
      "acct-1", "client", personal{zelda_email}, personal{zelda_name},
      personal{"$argon2id$v=19$m=65536,t=2,p=1$c2FsdA$aGFzaA"}, at("2026-11-22T10:15:00.001Z")});
  events.push_back(account_registered{"acct-2", "coach", personal{"coach@example.com"},
                                      personal{"Coach Carter"}, std::nullopt,
                                      at("2026-01-01T00:00:00Z")});
  events.push_back(client_profile_created{"client-9", "coach-7", "acct-1", std::string("intake-1"),
                                          personal{zelda_name}, personal{zelda_email},
                                          personal{zelda_phone}, personal{"Marathon"},
                                          at("2026-11-22T10:15:00.002Z")});
  events.push_back(client_profile_created{"client-11", "coach-7", "acct-3", std::nullopt,
                                          personal{"Yorick Vexley"}, personal{"y@example.net"},
                                          std::nullopt, personal{""}, at("2026-11-24T00:00:00Z")});
  // The coach schedule (scheduling slice).
  events.push_back(availability_set{"coach-7", "Europe/Berlin", {"mon 09:00-12:00", "mon 13:00-17:00"},
                                    {"2026-12-24 off"}, {"2026-12-27..2026-12-31"}, 5, 20, 1440, "refuse",
                                    at("2026-11-21T09:00:00Z")});
  events.push_back(session_type_defined{"coach-7", "type-1", "Coaching", 60, 15, 15, 120, 60, 30, 9000, "EUR",
                                        "https://meet.example/x", at("2026-11-21T09:01:00Z")});
  events.push_back(slot_held{"coach-7", "hold-1", "type-1", "acct-1", at("2026-11-30T09:00:00Z"),
                             at("2026-11-30T10:00:00Z"), at("2026-11-21T09:12:00Z"), at("2026-11-21T09:02:00Z")});
  events.push_back(session_booked{"coach-7", "session-1", "acct-1", std::string("type-1"), std::string("hold-1"),
                                  personal{"Coaching with Zelda"}, "Coaching", at("2026-11-30T09:00:00Z"),
                                  at("2026-11-30T10:00:00Z"), 15, 15, "https://meet.example/x", "acct-1",
                                  at("2026-11-21T09:03:00Z")});
  events.push_back(session_rescheduled{"coach-7", "session-1", at("2026-12-01T09:00:00Z"), at("2026-12-01T10:00:00Z"),
                                       1, "acct-1", at("2026-11-21T09:04:00Z")});
  events.push_back(session_cancelled{"coach-7", "session-1", "coach-7", false, 2, personal{"Ill"},
                                     at("2026-11-21T09:05:00Z")});
  events.push_back(session_confirmed{"coach-7", "session-2", at("2026-11-21T09:06:00Z")});
  events.push_back(session_completed{"coach-7", "session-2", at("2026-11-21T09:07:00Z")});
  events.push_back(session_no_show_marked{"coach-7", "session-3", at("2026-11-21T09:08:00Z")});
  // Identity (issue 3): the account's security and audit events.
  events.push_back(email_verified{"acct-1", at("2026-11-22T10:20:00Z")});
  events.push_back(password_changed{"acct-1", personal{"$argon2id$v=19$m=65536,t=2,p=1$c2FsdA$bmV3"}, "reset",
                                    at("2026-11-22T10:21:00Z")});
  events.push_back(password_reset_requested{"acct-1", personal{"192.0.2.7"}, at("2026-11-22T10:22:00Z")});
  events.push_back(mfa_enabled{"acct-1", personal{"JBSWY3DPEHPK3PXP"}, {"hash-a", "hash-b"}, at("2026-11-22T10:23:00Z")});
  events.push_back(recovery_code_used{"acct-1", "hash-a", at("2026-11-22T10:24:00Z")});
  events.push_back(mfa_disabled{"acct-1", at("2026-11-22T10:25:00Z")});
  events.push_back(signed_in{"acct-1", "sess-1", "password+totp", personal{"192.0.2.7"}, personal{"Firefox/120"},
                             at("2026-11-22T10:26:00Z")});
  events.push_back(sign_in_failed{"acct-1", "password", personal{"192.0.2.8"}, at("2026-11-22T10:27:00Z")});
  events.push_back(session_revoked{"acct-1", "sess-1", "sign-out", at("2026-11-22T10:28:00Z")});
  return events;
}

/// The envelope the log would hold for `e`, encoded with `codec` under `event_id`.
event_envelope envelope_of(const event_codec& codec, const domain_event& e, std::string event_id) {
  auto encoded = codec.encode(e, event_id);
  event_envelope env;
  env.id = std::move(event_id);
  env.source = encoded.source;
  env.type = encoded.type;
  env.time = "2026-11-21T09:00:00.000Z";
  env.subject = "stream-of-" + env.id;
  env.stream_version = 1;
  env.schema_version = encoded.schema_version;
  env.data = std::move(encoded.data);
  return env;
}

/// Calls f(name, value) for every personal field of an event that has a value.
template <typename E, typename F>
void for_each_personal(const E& e, F f) {
  boost::mp11::mp_for_each<boost::describe::describe_members<E, boost::describe::mod_public>>(
      [&](auto d) {
        using M = std::remove_cvref_t<decltype(e.*d.pointer)>;
        if constexpr (std::is_same_v<M, personal>) {
          f(std::string(d.name), (e.*d.pointer));
        } else if constexpr (std::is_same_v<M, std::optional<personal>>) {
          if (e.*d.pointer) f(std::string(d.name), *(e.*d.pointer));
        }
      });
}

/// Calls f(name, value) for every plain (non-personal) string field of an event.
template <typename E, typename F>
void for_each_plain_string(const E& e, F f) {
  boost::mp11::mp_for_each<boost::describe::describe_members<E, boost::describe::mod_public>>(
      [&](auto d) {
        using M = std::remove_cvref_t<decltype(e.*d.pointer)>;
        if constexpr (std::is_same_v<M, std::string>) f(std::string(d.name), e.*d.pointer);
      });
}

boost::json::object parse_object(const std::string& data) {
  auto value = boost::json::parse(data);
  BOOST_REQUIRE(value.is_object());
  return value.as_object();
}

/// `env` with its payload rewritten by `edit`.
template <typename Edit>
event_envelope edited(event_envelope env, Edit edit) {
  auto object = parse_object(env.data);
  edit(object);
  env.data = boost::json::serialize(object);
  return env;
}

}  // namespace

// ---------------------------------------------------------------------------------------------

BOOST_AUTO_TEST_SUITE(round_trips)

BOOST_AUTO_TEST_CASE(every_domain_event_round_trips) {
  memory_key_provider keys;
  event_codec codec(keys);
  int n = 0;
  for (const auto& e : every_domain_event()) {
    const auto env = envelope_of(codec, e, "evt-" + std::to_string(++n));
    BOOST_TEST(env.type == event_type_name(e));
    BOOST_TEST(env.schema_version == (env.type == "SessionBooked" ? 2 : 1), env.type);
    auto decoded = codec.decode(env);
    BOOST_REQUIRE_MESSAGE(decoded.ok(), env.type << ": " << (decoded ? "" : decoded.err().detail));
    BOOST_TEST((decoded.value() == e), "round trip of " << env.type << " #" << n);
    BOOST_TEST(decoded.value().index() == e.index());
  }
  // Every alternative of domain_event was exercised.
  std::set<std::size_t> kinds;
  for (const auto& e : every_domain_event()) kinds.insert(e.index());
  BOOST_TEST(kinds.size() == std::variant_size_v<domain_event>);
}

BOOST_AUTO_TEST_CASE(types_and_sources_come_from_event_meta) {
  memory_key_provider keys;
  event_codec codec(keys);
  const std::vector<std::pair<domain_event, std::pair<std::string, std::string>>> expected = {
      {every_domain_event()[0], {"IntakeSubmitted", "/coachd/intake"}},
      {every_domain_event()[2], {"IntakeAccepted", "/coachd/intake"}},
      {every_domain_event()[4], {"IntakeDeclined", "/coachd/intake"}},
      {every_domain_event()[5], {"AccountRegistered", "/coachd/account"}},
      {every_domain_event()[7], {"ClientProfileCreated", "/coachd/client"}},
  };
  for (const auto& [e, names] : expected) {
    const auto encoded = codec.encode(e, "evt-1");
    BOOST_TEST(encoded.type == names.first);
    BOOST_TEST(encoded.source == names.second);
  }
}

BOOST_AUTO_TEST_CASE(absent_optionals_are_written_as_null_and_read_back_as_nullopt) {
  memory_key_provider keys;
  event_codec codec(keys);
  auto e = sample_submitted();
  e.phone = std::nullopt;
  const auto env = envelope_of(codec, e, "evt-null");
  const auto object = parse_object(env.data);
  BOOST_REQUIRE(object.contains("phone"));
  BOOST_TEST(object.at("phone").is_null());
  auto decoded = codec.decode(env);
  BOOST_REQUIRE(decoded.ok());
  BOOST_TEST(!std::get<intake_submitted>(decoded.value()).phone.has_value());

  // An optional field left out entirely reads as nullopt too.
  auto without = edited(env, [](boost::json::object& o) { o.erase("phone"); });
  auto decoded_without = codec.decode(without);
  BOOST_REQUIRE(decoded_without.ok());
  BOOST_TEST((decoded_without.value() == domain_event{e}));
}

BOOST_AUTO_TEST_CASE(every_supported_field_type_round_trips) {
  memory_key_provider keys;
  codec_detail::basic_event_codec<std::variant<test_every_type>> codec(keys, default_upcasters());
  const std::vector<test_every_type> samples = {
      test_every_type{"plain \"text\"\n",
                      true,
                      -42,
                      std::int64_t{9007199254740993},
                      at("1969-12-31T23:59:59.999Z"),
                      {"a", "", "ünï", "with,comma"},
                      std::string(""),
                      std::int64_t{-1},
                      false,
                      at("2100-01-01T00:00:00Z"),
                      std::vector<std::string>{"x"}},
      test_every_type{"",
                      false,
                      0,
                      std::numeric_limits<std::int64_t>::min(),
                      at("2026-11-21T09:00:00Z"),
                      {},
                      std::nullopt,
                      std::nullopt,
                      std::nullopt,
                      std::nullopt,
                      std::nullopt},
      test_every_type{"x",
                      true,
                      7,
                      std::numeric_limits<std::int64_t>::max(),
                      at("2028-02-29T23:59:59.5Z"),
                      {"only"},
                      std::string("t"),
                      std::int64_t{0},
                      true,
                      std::nullopt,
                      std::vector<std::string>{}},
  };
  for (const auto& sample : samples) {
    auto encoded = codec.encode(sample, "evt-every");
    event_envelope env;
    env.id = "evt-every";
    env.type = encoded.type;
    env.schema_version = encoded.schema_version;
    env.data = encoded.data;
    auto decoded = codec.decode(env);
    BOOST_REQUIRE_MESSAGE(decoded.ok(),
                          encoded.data << ": " << (decoded ? "" : decoded.err().detail));
    BOOST_TEST((std::get<test_every_type>(decoded.value()) == sample), encoded.data);
  }
}

BOOST_AUTO_TEST_SUITE_END()

// ---------------------------------------------------------------------------------------------

BOOST_AUTO_TEST_SUITE(personal_data)

BOOST_AUTO_TEST_CASE(personal_plaintext_never_appears_in_data_and_ids_stay_in_clear) {
  memory_key_provider keys;
  event_codec codec(keys);
  int n = 0;
  for (const auto& e : every_domain_event()) {
    const auto env = envelope_of(codec, e, "evt-" + std::to_string(++n));
    // The distinctive strings themselves, in any event that carries them.
    BOOST_TEST(env.data.find("Zelda") == std::string::npos, env.data);
    BOOST_TEST(env.data.find("Quuxworth") == std::string::npos, env.data);
    BOOST_TEST(env.data.find("zelda.q") == std::string::npos, env.data);
    BOOST_TEST(env.data.find("example.org") == std::string::npos, env.data);
    BOOST_TEST(env.data.find(zelda_phone) == std::string::npos, env.data);
    const auto object = parse_object(env.data);
    std::visit(
        [&](const auto& ev) {
          for_each_personal(ev, [&](const std::string& field, const personal& p) {
            BOOST_REQUIRE(object.contains(field));
            const auto& stored = object.at(field);
            BOOST_REQUIRE_MESSAGE(stored.is_string(), field);
            const std::string sealed(stored.as_string());
            // Every non-empty value is sealed; an empty one is stored empty.
            if (p.value.empty()) {
              BOOST_TEST(sealed == "", field);
            } else {
              BOOST_TEST(is_sealed(sealed), field << " = " << sealed);
            }
            if (p.value.size() >= 5) {  // shorter strings may occur in base64 by chance
              BOOST_TEST(env.data.find(p.value) == std::string::npos,
                         field << " leaked in " << env.data);
            }
          });
          for_each_plain_string(ev, [&](const std::string& field, const std::string& value) {
            BOOST_REQUIRE(object.contains(field));
            BOOST_TEST(object.at(field).as_string() == value, field);
          });
        },
        e);
  }
}

BOOST_AUTO_TEST_CASE(equal_plaintexts_seal_to_different_texts) {
  memory_key_provider keys;
  event_codec codec(keys);
  const auto a = parse_object(codec.encode(sample_submitted(), "evt-a").data);
  const auto b = parse_object(codec.encode(sample_submitted(), "evt-a").data);
  BOOST_TEST(a.at("name").as_string() != b.at("name").as_string());
}

BOOST_AUTO_TEST_CASE(a_sealed_value_moved_to_another_event_fails_to_decode) {
  memory_key_provider keys;
  event_codec codec(keys);
  const auto first = envelope_of(codec, sample_submitted(), "evt-first");
  const auto second = envelope_of(codec, sample_submitted(), "evt-second");
  BOOST_REQUIRE(codec.decode(first).ok());
  BOOST_REQUIRE(codec.decode(second).ok());

  // The whole payload under another event id.
  auto moved = first;
  moved.id = "evt-second";
  auto whole = codec.decode(moved);
  BOOST_REQUIRE(!whole.ok());
  BOOST_TEST((whole.err().code == errc::malformed));

  // One sealed field copied from the first event into the second.
  const auto first_object = parse_object(first.data);
  auto one_field =
      edited(second, [&](boost::json::object& o) { o["name"] = first_object.at("name"); });
  auto r = codec.decode(one_field);
  BOOST_REQUIRE(!r.ok());
  BOOST_TEST((r.err().code == errc::malformed));
  BOOST_TEST(r.err().detail.find("name") != std::string::npos, r.err().detail);
}

BOOST_AUTO_TEST_CASE(a_sealed_value_moved_to_another_field_fails_to_decode) {
  memory_key_provider keys;
  event_codec codec(keys);
  const auto env = envelope_of(codec, sample_submitted(), "evt-1");
  auto swapped = edited(env, [](boost::json::object& o) {
    auto name = o.at("name");
    boost::json::value email = o.at("email");  // a copy: inserting may move the object's storage
    o["name"] = std::move(email);
    o["email"] = name;
  });
  auto r = codec.decode(swapped);
  BOOST_REQUIRE(!r.ok());
  BOOST_TEST((r.err().code == errc::malformed));
}

BOOST_AUTO_TEST_CASE(a_tampered_sealed_value_fails_to_decode) {
  memory_key_provider keys;
  event_codec codec(keys);
  const auto env = envelope_of(codec, sample_submitted(), "evt-1");
  auto tampered = edited(env, [](boost::json::object& o) {
    std::string sealed(o.at("goals").as_string());
    char& c = sealed[sealed.size() / 2];
    c = c == 'A' ? 'B' : 'A';
    o["goals"] = sealed;
  });
  auto r = codec.decode(tampered);
  BOOST_REQUIRE(!r.ok());
  BOOST_TEST((r.err().code == errc::malformed));
}

BOOST_AUTO_TEST_CASE(a_value_sealed_with_another_subjects_key_fails_to_decode) {
  memory_key_provider keys;
  event_codec codec(keys);
  // The same event id and field, but the other intake's (subject's) key.
  const auto mine = envelope_of(codec, sample_submitted("intake-mine"), "evt-1");
  const auto theirs = envelope_of(codec, sample_submitted("intake-theirs"), "evt-1");
  auto moved = edited(
      mine, [&](boost::json::object& o) { o["name"] = parse_object(theirs.data).at("name"); });
  auto r = codec.decode(moved);
  BOOST_REQUIRE(!r.ok());
  BOOST_TEST((r.err().code == errc::malformed));
}

BOOST_AUTO_TEST_CASE(after_erasure_personal_fields_decode_as_erased_and_ids_survive) {
  memory_key_provider keys;
  event_codec codec(keys);
  const auto submitted = envelope_of(codec, sample_submitted("intake-gone"), "evt-1");
  auto no_phone = sample_submitted("intake-gone");
  no_phone.phone = std::nullopt;
  const auto submitted_no_phone = envelope_of(codec, no_phone, "evt-2");
  const auto other = envelope_of(codec, sample_submitted("intake-kept"), "evt-3");
  const auto account = envelope_of(codec, every_domain_event()[5], "evt-4");  // acct-1

  keys.erase("intake:intake-gone");

  auto r = codec.decode(submitted);
  BOOST_REQUIRE_MESSAGE(r.ok(), (r ? "" : r.err().detail));
  const auto& e = std::get<intake_submitted>(r.value());
  BOOST_TEST(e.intake_id == "intake-gone");
  BOOST_TEST(e.coach_id == "coach-7");
  BOOST_TEST((e.submitted_at == sample_submitted().submitted_at));
  const personal erased{"", true};
  BOOST_TEST((e.name == erased));
  BOOST_TEST((e.email == erased));
  BOOST_REQUIRE(e.phone.has_value());
  BOOST_TEST((*e.phone == erased));
  BOOST_TEST((e.goals == erased));
  BOOST_TEST((e.message == erased));

  auto r2 = codec.decode(submitted_no_phone);
  BOOST_REQUIRE(r2.ok());
  BOOST_TEST(!std::get<intake_submitted>(r2.value()).phone.has_value());
  BOOST_TEST(std::get<intake_submitted>(r2.value()).name.erased);

  // Other subjects are untouched.
  auto kept = codec.decode(other);
  BOOST_REQUIRE(kept.ok());
  BOOST_TEST((kept.value() == domain_event{sample_submitted("intake-kept")}));
  auto acct = codec.decode(account);
  BOOST_REQUIRE(acct.ok());
  BOOST_TEST((acct.value() == every_domain_event()[5]));

  // Nothing new may be written about an erased subject.
  BOOST_CHECK_THROW(codec.encode(sample_submitted("intake-gone"), "evt-5"), subject_erased_error);
}

BOOST_AUTO_TEST_CASE(empty_personal_values_are_written_as_they_are_and_need_no_key) {
  memory_key_provider keys;
  event_codec codec(keys);
  auto blank = sample_submitted("intake-blank");
  blank.name = blank.email = blank.goals = blank.message = personal{""};
  blank.phone = personal{""};
  const auto env = envelope_of(codec, blank, "evt-1");
  const auto o = parse_object(env.data);
  for (const char* field : {"name", "email", "phone", "goals", "message"}) {
    BOOST_TEST_CONTEXT(field) { BOOST_TEST(o.at(field).as_string() == ""); }
  }
  // No key was made for a subject the event holds nothing personal about.
  BOOST_TEST(!keys.key_for_read("intake:intake-blank").has_value());
  auto r = codec.decode(env);
  BOOST_REQUIRE(r.ok());
  BOOST_TEST((r.value() == domain_event{blank}));

  // Mixed: the non-empty values are sealed, the empty one is not.
  auto mixed = sample_submitted("intake-mixed");
  mixed.message = personal{""};
  const auto mixed_env = envelope_of(codec, mixed, "evt-2");
  const auto m = parse_object(mixed_env.data);
  BOOST_TEST(m.at("message").as_string() == "");
  BOOST_TEST(is_sealed(m.at("name").as_string()));
  BOOST_TEST(keys.key_for_read("intake:intake-mixed").has_value());

  // After erasure an empty value is still empty (there was nothing to erase), a sealed one is
  // erased, and an event with only empty values may still be written.
  keys.erase("intake:intake-blank");
  keys.erase("intake:intake-mixed");
  auto again = codec.decode(env);
  BOOST_REQUIRE(again.ok());
  BOOST_TEST((again.value() == domain_event{blank}));
  auto mixed_after = codec.decode(mixed_env);
  BOOST_REQUIRE(mixed_after.ok());
  const auto& ma = std::get<intake_submitted>(mixed_after.value());
  BOOST_TEST((ma.message == personal{""}));
  BOOST_TEST((ma.name == personal{"", true}));
  BOOST_CHECK_NO_THROW(codec.encode(blank, "evt-3"));
  BOOST_CHECK_THROW(codec.encode(mixed, "evt-4"), subject_erased_error);
}

BOOST_AUTO_TEST_CASE(a_personal_field_stored_unsealed_is_rejected) {
  memory_key_provider keys;
  event_codec codec(keys);
  const auto env = envelope_of(codec, sample_submitted(), "evt-1");
  for (const std::string& value :
       {zelda_name, std::string("pii:v1:"), std::string("pii:v1:not base64!")}) {
    auto plain = edited(env, [&](boost::json::object& o) { o["name"] = value; });
    auto r = codec.decode(plain);
    BOOST_REQUIRE_MESSAGE(!r.ok(), "accepted name = '" << value << "'");
    BOOST_TEST((r.err().code == errc::malformed));
  }
  // Also an optional personal field, and also when the subject's key is gone.
  auto plain_phone = edited(env, [&](boost::json::object& o) { o["phone"] = zelda_phone; });
  BOOST_TEST(!codec.decode(plain_phone).ok());
  keys.erase("intake:intake-1");
  auto plain_after_erasure = edited(env, [&](boost::json::object& o) { o["name"] = zelda_name; });
  BOOST_TEST(!codec.decode(plain_after_erasure).ok());
}

BOOST_AUTO_TEST_SUITE_END()

// ---------------------------------------------------------------------------------------------

BOOST_AUTO_TEST_SUITE(malformed_payloads)

BOOST_AUTO_TEST_CASE(unknown_event_type_is_an_error) {
  memory_key_provider keys;
  event_codec codec(keys);
  auto env = envelope_of(codec, sample_submitted(), "evt-1");
  for (const std::string& type : {std::string("IntakeSubmittedX"), std::string("intakesubmitted"),
                                  std::string(""), std::string("TestRenamed")}) {
    env.type = type;
    auto r = codec.decode(env);
    BOOST_REQUIRE_MESSAGE(!r.ok(), type);
    BOOST_TEST((r.err().code == errc::invalid));
  }
}

BOOST_AUTO_TEST_CASE(unknown_missing_and_mistyped_fields_are_errors) {
  memory_key_provider keys;
  event_codec codec(keys);
  const auto env = envelope_of(codec, sample_submitted(), "evt-1");
  BOOST_REQUIRE(codec.decode(env).ok());

  struct edit_case {
    std::string name;
    std::function<void(boost::json::object&)> edit;
    std::string mentions;  // what the error detail names
  };
  const std::vector<edit_case> cases = {
      {"unknown field", [](auto& o) { o["favourite_colour"] = "blue"; }, "favourite_colour"},
      {"unknown field null", [](auto& o) { o["extra"] = nullptr; }, "extra"},
      {"missing id", [](auto& o) { o.erase("intake_id"); }, "intake_id"},
      {"missing coach", [](auto& o) { o.erase("coach_id"); }, "coach_id"},
      {"missing personal", [](auto& o) { o.erase("name"); }, "name"},
      {"missing time", [](auto& o) { o.erase("submitted_at"); }, "submitted_at"},
      {"id is a number", [](auto& o) { o["intake_id"] = 42; }, "intake_id"},
      {"id is null", [](auto& o) { o["intake_id"] = nullptr; }, "intake_id"},
      {"id is an object",
       [](auto& o) {
         o["intake_id"] = boost::json::object{{"a", 1}};
       },
       "intake_id"},
      {"id is an array", [](auto& o) { o["intake_id"] = boost::json::array{"a"}; }, "intake_id"},
      {"personal is a number", [](auto& o) { o["email"] = 7; }, "email"},
      {"personal is null", [](auto& o) { o["email"] = nullptr; }, "email"},
      {"optional personal is a bool", [](auto& o) { o["phone"] = true; }, "phone"},
      {"time is not a time", [](auto& o) { o["submitted_at"] = "yesterday"; }, "submitted_at"},
      {"time is an invalid date", [](auto& o) { o["submitted_at"] = "2026-02-30T09:00:00Z"; },
       "submitted_at"},
      {"time is a number", [](auto& o) { o["submitted_at"] = 1700000000; }, "submitted_at"},
  };
  for (const auto& c : cases) {
    auto r = codec.decode(edited(env, c.edit));
    BOOST_REQUIRE_MESSAGE(!r.ok(), c.name);
    BOOST_TEST((r.err().code == errc::malformed), c.name);
    BOOST_TEST(r.err().detail.find(c.mentions) != std::string::npos,
               c.name << ": " << r.err().detail);
  }
}

BOOST_AUTO_TEST_CASE(payloads_that_are_not_json_objects_are_errors) {
  memory_key_provider keys;
  event_codec codec(keys);
  auto env = envelope_of(codec, sample_submitted(), "evt-1");
  for (const std::string& data :
       {std::string(""), std::string("not json"), std::string("[]"), std::string("\"text\""),
        std::string("42"), std::string("null"), std::string("{\"intake_id\":")}) {
    env.data = data;
    auto r = codec.decode(env);
    BOOST_REQUIRE_MESSAGE(!r.ok(), "accepted '" << data << "'");
    BOOST_TEST((r.err().code == errc::malformed), data);
  }
}

BOOST_AUTO_TEST_CASE(wrong_types_in_every_supported_field_type_are_errors) {
  memory_key_provider keys;
  codec_detail::basic_event_codec<std::variant<test_every_type>> codec(keys, default_upcasters());
  test_every_type sample{"t",
                         true,
                         1,
                         2,
                         at("2026-11-21T09:00:00Z"),
                         {"a"},
                         std::nullopt,
                         std::nullopt,
                         std::nullopt,
                         std::nullopt,
                         std::nullopt};
  auto encoded = codec.encode(sample, "evt-1");
  event_envelope env;
  env.id = "evt-1";
  env.type = "TestEveryType";
  env.data = encoded.data;
  BOOST_REQUIRE(codec.decode(env).ok());
  const std::vector<std::pair<std::string, boost::json::value>> wrong = {
      {"flag", 1},
      {"flag", "true"},
      {"small", "1"},
      {"small", 1.5},
      {"big", true},
      {"at", 5},
      {"tags", "a"},
      {"tags", boost::json::array{1}},
      {"maybe_text", 3},
      {"maybe_number", "3"},
      {"maybe_flag", 0},
      {"maybe_at", "now"},
      {"maybe_tags", boost::json::object{}},
  };
  for (const auto& [field, value] : wrong) {
    auto bad = edited(env, [&](boost::json::object& o) { o[field] = value; });
    auto r = codec.decode(bad);
    BOOST_TEST(!r.ok(), field << " = " << boost::json::serialize(value));
  }
}

BOOST_AUTO_TEST_SUITE_END()

// ---------------------------------------------------------------------------------------------

BOOST_AUTO_TEST_SUITE(upcasting)

namespace {

upcaster_registry renaming_upcasters() {
  upcaster_registry registry;
  registry.add("TestRenamed", 1, [](boost::json::object& data) {
    if (auto* old = data.if_contains("full_name")) {
      boost::json::value name = *old;  // a copy: inserting may move the object's storage
      data.erase("full_name");
      data["name"] = std::move(name);
    }
  });
  return registry;
}

/// A version 1 TestRenamed envelope: the version 2 encoding with "name" called "full_name".
event_envelope version_1_envelope(key_provider& keys, const test_renamed& e,
                                  const std::string& id) {
  codec_detail::basic_event_codec<std::variant<test_renamed>> writer(keys, default_upcasters());
  auto encoded = writer.encode(e, id);
  event_envelope env;
  env.id = id;
  env.source = encoded.source;
  env.type = encoded.type;
  env.schema_version = 1;
  env.data = encoded.data;
  return edited(env, [](boost::json::object& o) {
    boost::json::value name = o.at("name");  // a copy: inserting may move the object's storage
    o.erase("name");
    o["full_name"] = std::move(name);
  });
}

}  // namespace

BOOST_AUTO_TEST_CASE(a_version_1_payload_is_upcast_to_the_current_struct) {
  memory_key_provider keys;
  const auto registry = renaming_upcasters();
  codec_detail::basic_event_codec<std::variant<test_renamed>> codec(keys, registry);
  const test_renamed expected{"r-1", "Old Name Field", personal{"sealed note survives"}};
  const auto env = version_1_envelope(keys, expected, "evt-v1");
  BOOST_REQUIRE(env.data.find("full_name") != std::string::npos);
  auto r = codec.decode(env);
  BOOST_REQUIRE_MESSAGE(r.ok(), (r ? "" : r.err().detail));
  BOOST_TEST((std::get<test_renamed>(r.value()) == expected));

  // The current version decodes without any upcaster.
  auto current = codec.encode(expected, "evt-v2");
  BOOST_TEST(current.schema_version == 2);
  event_envelope env2;
  env2.id = "evt-v2";
  env2.type = "TestRenamed";
  env2.schema_version = 2;
  env2.data = current.data;
  auto r2 = codec.decode(env2);
  BOOST_REQUIRE(r2.ok());
  BOOST_TEST((std::get<test_renamed>(r2.value()) == expected));

  // Without the upcaster, the old field name would be an unknown field.
  auto not_upcast = env;
  not_upcast.schema_version = 2;
  BOOST_TEST(!codec.decode(not_upcast).ok());
}

BOOST_AUTO_TEST_CASE(a_version_1_session_booked_keeps_its_sealed_title_and_falls_back_to_session) {
  memory_key_provider keys;
  event_codec codec(keys);
  session_booked v2{"coach-7", "session-1", "acct-1", std::string("type-1"), std::nullopt,
                    personal{"Coaching"}, "Coaching", at("2026-11-30T09:00:00Z"),
                    at("2026-11-30T10:00:00Z"), 0, 0, "", "acct-1", at("2026-11-21T09:03:00Z")};
  BOOST_TEST(codec.encode(v2, "evt-1").schema_version == 2);
  // Version 1 had every booking's title (the type's name when none was given) sealed, and no
  // type_name.
  auto v1 = edited(envelope_of(codec, v2, "evt-1"), [](boost::json::object& o) { o.erase("type_name"); });
  v1.schema_version = 1;
  BOOST_REQUIRE(is_sealed(parse_object(v1.data).at("title").as_string()));
  auto r = codec.decode(v1);
  BOOST_REQUIRE_MESSAGE(r.ok(), (r ? "" : r.err().detail));
  const auto& e = std::get<session_booked>(r.value());
  BOOST_TEST((e.title == personal{"Coaching"}));
  BOOST_TEST(e.type_name == "Session");
  // Without the upcaster step the missing field is an error, as for any version-2 payload.
  auto unversioned = v1;
  unversioned.schema_version = 2;
  BOOST_TEST(!codec.decode(unversioned).ok());
  // Its sealed title is erased with the session's key, as before.
  keys.erase("session:session-1");
  auto after = codec.decode(v1);
  BOOST_REQUIRE(after.ok());
  BOOST_TEST(std::get<session_booked>(after.value()).title.erased);
}

BOOST_AUTO_TEST_CASE(a_schema_version_newer_than_known_is_an_error) {
  memory_key_provider keys;
  const auto registry = renaming_upcasters();
  codec_detail::basic_event_codec<std::variant<test_renamed>> codec(keys, registry);
  auto env = version_1_envelope(keys, test_renamed{"r-1", "n", personal{"x"}}, "evt-1");
  env.schema_version = 3;
  auto r = codec.decode(env);
  BOOST_REQUIRE(!r.ok());
  BOOST_TEST((r.err().code == errc::invalid));
  BOOST_TEST(r.err().detail.find("newer") != std::string::npos, r.err().detail);
}

BOOST_AUTO_TEST_CASE(a_missing_upcaster_step_is_an_error) {
  memory_key_provider keys;
  const auto env = version_1_envelope(keys, test_renamed{"r-1", "n", personal{"x"}}, "evt-1");

  const upcaster_registry empty;
  codec_detail::basic_event_codec<std::variant<test_renamed>> without(keys, empty);
  auto r = without.decode(env);
  BOOST_REQUIRE(!r.ok());
  BOOST_TEST((r.err().code == errc::invalid));
  BOOST_TEST(r.err().detail.find("from schema version 1 to 2") != std::string::npos,
             r.err().detail);

  // A step registered for another type does not count.
  upcaster_registry other;
  other.add("SomethingElse", 1, [](boost::json::object&) {});
  codec_detail::basic_event_codec<std::variant<test_renamed>> wrong_type(keys, other);
  BOOST_TEST(!wrong_type.decode(env).ok());

  // Version 0 needs a 0 → 1 step, which is missing although 1 → 2 exists.
  const auto registry = renaming_upcasters();
  codec_detail::basic_event_codec<std::variant<test_renamed>> codec(keys, registry);
  auto v0 = env;
  v0.schema_version = 0;
  auto r0 = codec.decode(v0);
  BOOST_REQUIRE(!r0.ok());
  BOOST_TEST(r0.err().detail.find("from schema version 0 to 1") != std::string::npos,
             r0.err().detail);
}

BOOST_AUTO_TEST_CASE(upcasting_a_payload_that_is_not_json_is_an_error) {
  memory_key_provider keys;
  const auto registry = renaming_upcasters();
  codec_detail::basic_event_codec<std::variant<test_renamed>> codec(keys, registry);
  event_envelope env;
  env.id = "evt-1";
  env.type = "TestRenamed";
  env.schema_version = 1;
  env.data = "{not json";
  auto r = codec.decode(env);
  BOOST_REQUIRE(!r.ok());
  BOOST_TEST((r.err().code == errc::malformed));
}

BOOST_AUTO_TEST_CASE(the_registry_applies_steps_in_order) {
  upcaster_registry registry;
  registry.add("T", 1, [](boost::json::object& o) {
    o["trail"] = std::string(o["trail"].as_string()) + "1";
  });
  registry.add("T", 2, [](boost::json::object& o) {
    o["trail"] = std::string(o["trail"].as_string()) + "2";
  });
  registry.add("T", 3, [](boost::json::object& o) {
    o["trail"] = std::string(o["trail"].as_string()) + "3";
  });
  auto from_1 = registry.upcast("T", 1, 4, R"({"trail":""})");
  BOOST_REQUIRE(from_1.ok());
  BOOST_TEST(parse_object(from_1.value()).at("trail").as_string() == "123");
  auto from_3 = registry.upcast("T", 3, 4, R"({"trail":""})");
  BOOST_REQUIRE(from_3.ok());
  BOOST_TEST(parse_object(from_3.value()).at("trail").as_string() == "3");
  auto same = registry.upcast("T", 4, 4, "exactly as it was");
  BOOST_REQUIRE(same.ok());
  BOOST_TEST(same.value() == "exactly as it was");
}

BOOST_AUTO_TEST_SUITE_END()

// ---------------------------------------------------------------------------------------------

BOOST_AUTO_TEST_SUITE(rfc3339)

BOOST_AUTO_TEST_CASE(valid_date_times_parse_to_the_right_instant) {
  using namespace std::chrono_literals;
  const auto utc_day = [](int y, unsigned m, unsigned d) {
    return timestamp{sys_days{year{y} / month{m} / day{d}}};
  };
  const std::vector<std::pair<std::string, timestamp>> table = {
      {"2026-11-21T09:00:00Z", utc_day(2026, 11, 21) + 9h},
      {"2026-11-21T09:00:00.000Z", utc_day(2026, 11, 21) + 9h},
      {"2026-11-21T09:00:00.1Z", utc_day(2026, 11, 21) + 9h + 100ms},
      {"2026-11-21T09:00:00.12Z", utc_day(2026, 11, 21) + 9h + 120ms},
      {"2026-11-21T09:00:00.123Z", utc_day(2026, 11, 21) + 9h + 123ms},
      {"2026-11-21T09:00:00.1239Z", utc_day(2026, 11, 21) + 9h + 123ms},       // kept to ms
      {"2026-11-21T09:00:00.123456789Z", utc_day(2026, 11, 21) + 9h + 123ms},  // nanoseconds
      {"2026-11-21T09:00:00.007Z", utc_day(2026, 11, 21) + 9h + 7ms},
      {"2026-11-21t09:00:00z", utc_day(2026, 11, 21) + 9h},  // lowercase t, z
      {"2026-11-21T10:00:00+01:00", utc_day(2026, 11, 21) + 9h},
      {"2026-11-21T10:30:00+01:30", utc_day(2026, 11, 21) + 9h},
      {"2026-11-21T04:00:00-05:00", utc_day(2026, 11, 21) + 9h},
      {"2026-11-21T09:00:00+00:00", utc_day(2026, 11, 21) + 9h},
      {"2026-11-21T09:00:00-00:00", utc_day(2026, 11, 21) + 9h},
      {"2026-11-21T09:00:00.500+05:45", utc_day(2026, 11, 21) + 3h + 15min + 500ms},
      {"2026-01-01T00:30:00+01:00", utc_day(2025, 12, 31) + 23h + 30min},  // previous year
      {"2025-12-31T23:30:00-01:00", utc_day(2026, 1, 1) + 30min},          // next year
      {"2026-11-21T23:59:59.999Z", utc_day(2026, 11, 21) + 23h + 59min + 59s + 999ms},
      {"2028-02-29T12:00:00Z", utc_day(2028, 2, 29) + 12h},  // leap day
      {"2000-02-29T00:00:00Z", utc_day(2000, 2, 29)},        // divisible by 400
      {"1970-01-01T00:00:00Z", timestamp{}},
      {"1969-12-31T23:59:59.999Z", timestamp{} - 1ms},
      {"2026-04-30T00:00:00Z", utc_day(2026, 4, 30)},
  };
  for (const auto& [text, expected] : table) {
    const auto parsed = parse_rfc3339(text);
    BOOST_REQUIRE_MESSAGE(parsed.has_value(), "rejected " << text);
    BOOST_TEST((*parsed == expected), text << " parsed to " << format_rfc3339(*parsed));
  }
}

BOOST_AUTO_TEST_CASE(invalid_date_times_are_rejected) {
  for (const std::string text : {
           "",
           "2026-11-21",
           "2026-11-21T09:00:00",   // no offset
           "2026-11-21T09:00Z",     // no seconds
           "2026-11-21 09:00:00Z",  // space instead of T
           "2026-02-29T00:00:00Z",  // 2026 is not a leap year
           "2026-02-30T00:00:00Z",
           "1900-02-29T00:00:00Z",  // divisible by 100, not by 400
           "2026-04-31T00:00:00Z",
           "2026-13-01T00:00:00Z",
           "2026-00-10T00:00:00Z",
           "2026-11-00T00:00:00Z",
           "2026-11-32T00:00:00Z",
           "2026-11-21T24:00:00Z",
           "2026-11-21T09:60:00Z",
           "2026-11-21T09:00:61Z",
           "2026-11-21T09:00:00.Z",  // empty fraction
           "2026-11-21T09:00:00.1234567890Z",
           "2026-11-21T09:00:00+0100",
           "2026-11-21T09:00:00+01",
           "2026-11-21T09:00:00+1:00",
           "2026-11-21T09:00:00+24:00",
           "2026-11-21T09:00:00+01:60",
           "2026-11-21T09:00:00+01:00x",
           "2026-11-21T09:00:00Zjunk",
           "2026-11-21T09:00:00ZZ",
           "2026-11-21T09:00:00UTC",
           "2026-1-21T09:00:00Z",
           "26-11-21T09:00:00Z",
           "20261121T090000Z",
           "2026-11-21T9:00:00Z",
           "2026/11/21T09:00:00Z",
           "2026-11-21T09:00:00.12a4Z",
           " 2026-11-21T09:00:00Z",
           "2026-11-21T09:00:00Z ",
           "-026-11-21T09:00:00Z",
       }) {
    BOOST_TEST(!parse_rfc3339(text).has_value(), "accepted '" << text << "'");
  }
}

BOOST_AUTO_TEST_CASE(format_writes_utc_with_milliseconds) {
  using namespace std::chrono_literals;
  const std::vector<std::pair<timestamp, std::string>> table = {
      {timestamp{}, "1970-01-01T00:00:00.000Z"},
      {timestamp{} - 1ms, "1969-12-31T23:59:59.999Z"},
      {timestamp{sys_days{2026y / 11 / 21}} + 9h, "2026-11-21T09:00:00.000Z"},
      {timestamp{sys_days{2026y / 11 / 21}} + 9h + 7ms, "2026-11-21T09:00:00.007Z"},
      {timestamp{sys_days{2028y / 2 / 29}} + 23h + 59min + 59s + 999ms, "2028-02-29T23:59:59.999Z"},
      {timestamp{sys_days{9999y / 12 / 31}}, "9999-12-31T00:00:00.000Z"},
  };
  for (const auto& [t, expected] : table) BOOST_TEST(format_rfc3339(t) == expected);
}

BOOST_AUTO_TEST_CASE(format_then_parse_round_trips) {
  std::mt19937_64 rng(20261121);
  // Milliseconds between 1900 and 2200.
  std::uniform_int_distribution<std::int64_t> ms(-2208988800000LL, 7258118400000LL);
  for (int i = 0; i < 20000; ++i) {
    const timestamp t{milliseconds{ms(rng)}};
    const auto text = format_rfc3339(t);
    const auto back = parse_rfc3339(text);
    BOOST_REQUIRE_MESSAGE(back.has_value(), "rejected its own output " << text);
    BOOST_REQUIRE_MESSAGE(*back == t, text);
  }
  const auto now = now_utc();
  BOOST_TEST((parse_rfc3339(format_rfc3339(now)) == now));
}

BOOST_AUTO_TEST_SUITE_END()

// ---------------------------------------------------------------------------------------------

BOOST_AUTO_TEST_SUITE(partitioning)

BOOST_AUTO_TEST_CASE(murmur2_matches_kafkas_own_test_vectors) {
  // org.apache.kafka.common.utils.UtilsTest.testMurmur2
  const std::vector<std::pair<std::string, std::int32_t>> vectors = {
      {"21", -973932308},
      {"foobar", -790332482},
      {"a-little-bit-long-string", -985981536},
      {"a-little-bit-longer-string", -1486304829},
      {"lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8", -58897971},
      {"abc", 479470107},
  };
  for (const auto& [key, expected] : vectors) BOOST_TEST(murmur2(key) == expected, key);
}

BOOST_AUTO_TEST_CASE(partition_for_uses_kafkas_to_positive_not_abs) {
  // Kafka: Utils.toPositive(murmur2(key)) % n, where toPositive clears the sign bit.
  for (const std::string key : {"21", "foobar", "a-little-bit-long-string", "abc"}) {
    const auto h = static_cast<std::uint32_t>(murmur2(key)) & 0x7fffffffu;
    for (int n = 1; n <= 12; ++n) {
      BOOST_TEST(partition_for(key, n) == static_cast<int>(h % static_cast<std::uint32_t>(n)),
                 key << " over " << n);
    }
  }
  // "21" hashes negative; abs() would put it in partition 2 of 3, toPositive puts it in 0.
  BOOST_TEST(murmur2("21") < 0);
  BOOST_TEST(partition_for("21", 3) == 0);
}

BOOST_AUTO_TEST_CASE(partition_for_stays_in_range_is_stable_and_spreads) {
  for (int n : {1, 2, 3, 4, 7, 16, 64}) {
    std::vector<int> counts(static_cast<std::size_t>(n), 0);
    for (int i = 0; i < 20000; ++i) {
      const std::string key = "intake-" + std::to_string(i * 7919) + "-" + std::to_string(i);
      const int p = partition_for(key, n);
      BOOST_REQUIRE_MESSAGE(p >= 0 && p < n, key << " → " << p << " of " << n);
      BOOST_REQUIRE(partition_for(key, n) == p);  // deterministic
      ++counts[static_cast<std::size_t>(p)];
    }
    // No partition is starved: each gets at least half its fair share.
    for (int c : counts) BOOST_TEST(c >= 20000 / n / 2, "partitions " << n);
  }
  // Empty and binary keys too.
  BOOST_TEST(partition_for("", 4) >= 0);
  BOOST_TEST(partition_for("", 4) < 4);
  const std::string binary("\xff\x00\x80\x7f", 4);
  BOOST_TEST(partition_for(binary, 5) >= 0);
  BOOST_TEST(partition_for(binary, 5) < 5);
}

BOOST_AUTO_TEST_SUITE_END()
