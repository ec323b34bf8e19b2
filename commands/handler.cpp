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
  return std::get_if<S>(&state);
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
  if (!std::holds_alternative<S>(state)) state = S{};
  return std::get<S>(state);
}

}  // namespace

std::string_view command_name(const command_body& body) {
  return std::visit(overloaded{
                        [](const submit_intake&) { return std::string_view("SubmitIntake"); },
                        [](const accept_intake&) { return std::string_view("AcceptIntake"); },
                        [](const decline_intake&) { return std::string_view("DeclineIntake"); },
                        [](const register_account&) { return std::string_view("RegisterAccount"); },
                        [](const create_client_profile&) {
                          return std::string_view("CreateClientProfile");
                        },
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
          [&](const create_client_profile& c) {
            return decide_with<client_state>(state, c, [](auto& c, auto& s) { return client::decide(c, s); });
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
                 [&](const client_profile_created& e) { client::evolve(ensure<client_state>(state), e); },
             },
             event);
}

}  // namespace coachd
