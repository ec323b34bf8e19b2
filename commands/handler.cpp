#include "commands/handler.hpp"

namespace coachd {

namespace {

template <typename... F>
struct overloaded : F... {
  using F::operator()...;
};

/// The state of type S in `state`, or a fresh one if the stream is new; nullptr if the stream
/// holds another aggregate type.
template <typename S>
const S* state_as(const aggregate_state& state, const S& fresh) {
  if (std::holds_alternative<std::monostate>(state)) return &fresh;
  return state_if<S>(state);
}

template <typename S, typename C, typename Decide>
decision decide_with(const aggregate_state& state, const C& c, Decide decide) {
  static const S fresh{};
  const S* s = state_as<S>(state, fresh);
  if (s == nullptr) return make_error(errc::invalid, "command addressed to a stream of another kind");
  return decide(c, *s);
}

template <typename S>
S& ensure(aggregate_state& state) {
  if constexpr (held_inline<S>) {
    if (!std::holds_alternative<S>(state)) state = S{};
    return std::get<S>(state);
  } else {
    if (!std::holds_alternative<boxed<S>>(state)) state = boxed<S>{};
    return *std::get<boxed<S>>(state);
  }
}

}  // namespace

std::string_view command_name(const command_body& body) {
  return std::visit(overloaded{
                        [](const submit_intake&) { return std::string_view("SubmitIntake"); },
                        [](const accept_intake&) { return std::string_view("AcceptIntake"); },
                        [](const decline_intake&) { return std::string_view("DeclineIntake"); },
                        [](const register_account&) { return std::string_view("RegisterAccount"); },
                        [](const verify_email&) { return std::string_view("VerifyEmail"); },
                        [](const change_password&) { return std::string_view("ChangePassword"); },
                        [](const request_password_reset&) { return std::string_view("RequestPasswordReset"); },
                        [](const enable_mfa&) { return std::string_view("EnableMfa"); },
                        [](const disable_mfa&) { return std::string_view("DisableMfa"); },
                        [](const use_recovery_code&) { return std::string_view("UseRecoveryCode"); },
                        [](const record_sign_in&) { return std::string_view("RecordSignIn"); },
                        [](const record_sign_in_failure&) { return std::string_view("RecordSignInFailure"); },
                        [](const record_session_revoked&) { return std::string_view("RecordSessionRevoked"); },
                        [](const create_client_profile&) {
                          return std::string_view("CreateClientProfile");
                        },
                        [](const set_availability&) { return std::string_view("SetAvailability"); },
                        [](const define_session_type&) { return std::string_view("DefineSessionType"); },
                        [](const hold_slot&) { return std::string_view("HoldSlot"); },
                        [](const book_session&) { return std::string_view("BookSession"); },
                        [](const reschedule_session&) { return std::string_view("RescheduleSession"); },
                        [](const cancel_session&) { return std::string_view("CancelSession"); },
                        [](const confirm_session&) { return std::string_view("ConfirmSession"); },
                        [](const complete_session&) { return std::string_view("CompleteSession"); },
                        [](const mark_no_show&) { return std::string_view("MarkNoShow"); },
                    },
                    body);
}

decision handle(const command_body& body, const aggregate_state& state) {
  return std::visit(
      overloaded{
          [&](const submit_intake& c) {
            return decide_with<intake_state>(state, c, [](auto& c, auto& s) { return intake::decide(c, s); });
          },
          [&](const accept_intake& c) {
            return decide_with<intake_state>(state, c, [](auto& c, auto& s) { return intake::decide(c, s); });
          },
          [&](const decline_intake& c) {
            return decide_with<intake_state>(state, c, [](auto& c, auto& s) { return intake::decide(c, s); });
          },
          [&](const register_account& c) {
            return decide_with<account_state>(state, c, [](auto& c, auto& s) { return account::decide(c, s); });
          },
          // The account's security commands (identity slice).
          [&](const auto& c) -> decision
            requires is_account_security_command<std::decay_t<decltype(c)>>
          { return decide_with<account_state>(state, c, [](auto& c, auto& s) { return account::decide(c, s); }); },
          [&](const create_client_profile& c) {
            return decide_with<client_state>(state, c, [](auto& c, auto& s) { return client::decide(c, s); });
          },
          // The coach schedule (scheduling slice).
          [&](const auto& c) -> decision
            requires is_schedule_command<std::decay_t<decltype(c)>>
          {
            return decide_with<coach_schedule_state>(state, c,
                                                     [](auto& c, auto& s) { return coach_schedule::decide(c, s); });
          },
      },
      body);
}

void evolve_state(aggregate_state& state, const domain_event& event) {
  std::visit(overloaded{
                 [&](const intake_submitted& e) { intake::evolve(ensure<intake_state>(state), e); },
                 [&](const intake_accepted& e) { intake::evolve(ensure<intake_state>(state), e); },
                 [&](const intake_declined& e) { intake::evolve(ensure<intake_state>(state), e); },
                 [&](const account_registered& e) { account::evolve(ensure<account_state>(state), e); },
                 [&](const auto& e)
                   requires is_account_security_event<std::decay_t<decltype(e)>>
                 { account::evolve(ensure<account_state>(state), e); },
                 [&](const client_profile_created& e) { client::evolve(ensure<client_state>(state), e); },
                 [&](const auto& e)
                   requires is_schedule_event<std::decay_t<decltype(e)>>
                 { coach_schedule::evolve(ensure<coach_schedule_state>(state), e); },
             },
             event);
}

}  // namespace coachd
