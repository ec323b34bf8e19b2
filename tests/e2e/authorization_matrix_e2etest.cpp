// The authorization matrix: every registered route (router::routes(), so routes added later
// join by themselves) called as anonymous, the owning coach, another coach, the owning client,
// another coach's client and an admin. Each route declares who may call it (route_spec::required)
// and whose data it touches (route_spec::scope); the expected outcome follows from that:
//   401 anonymous on a signed-in route; 403 the wrong role; 404 someone else's resource (so ids
//   cannot be probed); otherwise let through (2xx/3xx, or 409/422 for a body or state the matrix
//   does not bother to make valid, 503 for a feature not configured — never 401/403/404/500).
// A route without a scope fails, and so does a scope naming a resource kind the matrix has no
// fixture for: add the kind to `fixtures` below. The matrix it checked is printed.

#ifdef BOOST_TEST_UNIT_TEST_HPP_071894GER
#include <boost/test/unit_test.hpp>
bool init_unit_test() {
  boost::unit_test::framework::master_test_suite().p_name.value = "authorization_matrix";
  return true;
}
int main(int argc, char* argv[]) {
  return boost::unit_test::unit_test_main(&init_unit_test, argc, argv);
}
#else
#define BOOST_TEST_MODULE authorization_matrix
#include <boost/test/unit_test.hpp>
#endif

#include <boost/beast/http/verb.hpp>
#include <iomanip>
#include <iostream>
#include <map>
#include <pqxx/pqxx>
#include <set>

#include "gateway/app.hpp"
#include "gateway/authorization.hpp"
#include "gateway/router.hpp"
#include "gateway/routes.hpp"
#include "gateway/services.hpp"
#include "infra/crypto.hpp"
#include "tests/e2e/intake_slice.hpp"
#include "tests/support/pg_test_db.hpp"
#include "tests/support/e2e_config.hpp"

using namespace coachd;
namespace json = boost::json;

using test::http_call;

namespace {

enum class who { anonymous, coach, other_coach, client, other_client, admin };
const who everyone[] = {who::anonymous, who::coach, who::other_coach, who::client, who::other_client, who::admin};

const char* name_of(who w) {
  switch (w) {
    case who::anonymous: return "anonymous";
    case who::coach: return "coach";
    case who::other_coach: return "other coach";
    case who::client: return "client";
    case who::other_client: return "other client";
    case who::admin: return "admin";
  }
  return "?";
}

std::string role_of(who w) {
  switch (w) {
    case who::coach:
    case who::other_coach: return "coach";
    case who::client:
    case who::other_client: return "client";
    case who::admin: return "admin";
    default: return "";
  }
}

/// An instance of a resource kind and who owns it.
struct fixture {
  std::string id;
  std::set<who> owners;
  bool fresh_per_call = false;  // recreated before every call (the call may consume it)
};

std::string sql_one(const std::string& conninfo, const std::string& query) {
  pqxx::connection c(conninfo);
  pqxx::work tx(c);
  auto rows = tx.exec(query);
  tx.commit();
  return rows.empty() || rows[0][0].is_null() ? std::string() : rows[0][0].as<std::string>();
}

/// A fresh session for an account, minted in the database (so a route that ends sessions
/// cannot disturb the next call); returns (token, session id).
std::pair<std::string, std::string> mint_session(const std::string& conninfo, const std::string& account_id,
                                                 const std::string& role) {
  const std::string token = random_token(32);
  pqxx::connection c(conninfo);
  pqxx::work tx(c);
  auto row = tx.exec_params1(
      "INSERT INTO auth_sessions (token_hash, account_id, role, csrf_token, user_agent, created_at, last_seen_at, "
      "expires_at) VALUES ($1, $2::uuid, $3, $4, 'authorization-matrix', now(), now(), now() + interval '1 hour') "
      "RETURNING session_id::text",
      token_hash_hex(token), account_id, role, random_token(24));
  tx.commit();
  return {token, row[0].as<std::string>()};
}

/// A fresh calendar-feed token for an account, minted in the database (it replaces the account's
/// feed, as POST /api/v1/me/calendar-feed does, so a call that rotates or revokes it cannot
/// disturb the next one); returns the token.
std::string mint_feed_token(const std::string& conninfo, const std::string& account_id) {
  const std::string token = random_token(32);
  pqxx::connection c(conninfo);
  pqxx::work tx(c);
  tx.exec_params(
      "INSERT INTO calendar_feeds (account_id, token_hash, created_at) VALUES ($1::uuid, $2, now()) "
      "ON CONFLICT (account_id) DO UPDATE SET token_hash = EXCLUDED.token_hash",
      account_id, token_hash_hex(token));
  tx.commit();
  return token;
}

bool role_allows(gateway::access required, const std::string& role) {
  switch (required) {
    case gateway::access::anonymous:
    case gateway::access::signed_in: return true;
    case gateway::access::coach: return role == "coach";
    case gateway::access::client: return role == "client";
    case gateway::access::admin: return role == "admin";
  }
  return false;
}

}  // namespace

BOOST_AUTO_TEST_CASE(every_route_answers_every_caller_exactly_as_declared) {
  test::test_database db;
  const auto mail_dir = test::mail_dir_for(db);
  gateway::app_config config = test::e2e_config(db, mail_dir);
  gateway::app app(config);
  app.start();
  app.seed_demo_accounts();
  const auto port = app.port();
  const std::string& pg = db.conninfo();

  // The cast: the demo coach and their demo client, another coach with a client of their own
  // (through the intake flow), the demo admin.
  std::map<who, std::string> account;
  account[who::coach] = sql_one(pg, "SELECT account_id::text FROM accounts WHERE email = 'coach@example.com'");
  account[who::client] = sql_one(pg, "SELECT account_id::text FROM accounts WHERE email = 'client@example.com'");
  account[who::admin] = sql_one(pg, "SELECT account_id::text FROM accounts WHERE email = 'admin@example.com'");
  auto signup = http_call(port, "POST", "/api/v1/auth/sign-up",
                          R"({"email":"rival@example.org","password":"a rival coach's passphrase","display_name":"Rival","role":"coach"})");
  BOOST_TEST_REQUIRE(signup.status == 201, signup.body);
  account[who::other_coach] = test::str(test::as_object(signup), "id");
  BOOST_TEST_REQUIRE(test::eventually([&] {
    return !sql_one(pg, "SELECT 1 FROM accounts WHERE account_id = '" + account[who::other_coach] + "'").empty();
  }));
  const auto rival = mint_session(pg, account[who::other_coach], "coach");
  auto intake = http_call(port, "POST", "/api/v1/coaches/" + account[who::other_coach] + "/intakes",
                          R"({"name":"Rory Rival-Client","email":"rory@example.org","goals":"g","message":"m"})");
  BOOST_TEST_REQUIRE(intake.status == 201, intake.body);
  const std::string rival_intake = test::str(test::as_object(intake), "id");
  auto accepted = http_call(port, "POST", "/api/v1/intakes/" + rival_intake + "/accept", "{}",
                            {{"Authorization", "Bearer " + rival.first}});
  BOOST_TEST_REQUIRE(accepted.status == 200, accepted.body);
  BOOST_TEST_REQUIRE(test::eventually([&] {
    account[who::other_client] = sql_one(pg, "SELECT account_id::text FROM clients WHERE coach_id = '" +
                                                 account[who::other_coach] + "'");
    return !account[who::other_client].empty();
  }));
  for (const auto w : everyone) {
    if (w != who::anonymous) BOOST_TEST_REQUIRE(!account[w].empty(), name_of(w));
  }

  // Fixtures by resource kind (route_spec::scope "<kind>:<param>"), owned by the demo coach
  // (and, where the client takes part, the demo client).
  auto own_intake = http_call(port, "POST", "/api/v1/coaches/" + account[who::coach] + "/intakes",
                              R"({"name":"Matrix Applicant","email":"applicant@example.org","goals":"g","message":"m"})");
  BOOST_TEST_REQUIRE(own_intake.status == 201, own_intake.body);
  std::map<std::string, fixture> fixtures;
  fixtures["coach"] = {account[who::coach], {who::coach}};
  fixtures["intake"] = {test::str(test::as_object(own_intake), "id"), {who::coach}};
  BOOST_TEST_REQUIRE(test::eventually([&] {
    fixtures["client"] = {sql_one(pg, "SELECT client_id::text FROM clients WHERE account_id = '" +
                                          account[who::client] + "'"),
                          {who::coach, who::client}};
    return !fixtures["client"].id.empty() &&
           !sql_one(pg, "SELECT 1 FROM intakes WHERE intake_id = '" + fixtures["intake"].id + "'").empty();
  }));
  fixtures["auth_session"] = {"", {who::coach}, true};
  // The demo coach's calendar feed token: the public feed route's {feed_token} (the token is
  // the credential, so every caller gets the feed).
  fixtures["feed_token"] = {"", {who::coach}, true};
  // A coaching session of the demo coach with the demo client (the coach publishes availability
  // and books directly), so the scheduling routes have something to find.
  const auto coach_session = mint_session(pg, account[who::coach], "coach");
  const std::vector<std::pair<std::string, std::string>> as_coach{{"Authorization", "Bearer " + coach_session.first}};
  auto published = http_call(port, "PUT", "/api/v1/me/availability",
                             R"({"time_zone":"Europe/Berlin","weekly":[{"day":"monday","start":"09:00","end":"17:00"}]})",
                             as_coach);
  BOOST_TEST_REQUIRE(published.status == 200, published.body);
  auto booked = http_call(port, "POST", "/api/v1/coaches/" + account[who::coach] + "/sessions",
                          json::serialize(json::object{{"start", "2030-03-04T10:00:00Z"},
                                                       {"client_account_id", account[who::client]},
                                                       {"title", "Matrix check-in"},
                                                       {"duration_minutes", 60}}),
                          as_coach);
  BOOST_TEST_REQUIRE(booked.status == 201, booked.body);
  fixtures["session"] = {test::str(test::as_object(booked), "id"), {who::coach, who::client}};
  BOOST_TEST_REQUIRE(test::eventually([&] {
    return http_call(port, "GET", "/api/v1/sessions/" + fixtures["session"].id, "", as_coach).status == 200 &&
           http_call(port, "GET", "/api/v1/coaches/" + account[who::coach] + "/availability").status == 200;
  }));

  // The routes, as the running gateway registered them.
  gateway::router routes;
  gateway::services probe_services;
  gateway::add_all_routes(routes, probe_services);
  // (the app declares the core groups' scopes the same way)
  gateway::declare_core_route_scopes(routes);

  std::ostringstream matrix;
  matrix << std::left << std::setw(52) << "route";
  for (const auto w : everyone) matrix << std::setw(14) << name_of(w);
  matrix << "\n";
  int checked = 0;
  for (const auto& spec : routes.routes()) {
    const std::string method(boost::beast::http::to_string(spec.method));
    const std::string label = method + " " + spec.path_template;
    BOOST_TEST_CONTEXT(label << " (" << spec.name << ", requires " << gateway::to_string(spec.required)
                             << ", scope '" << spec.scope << "')") {
      BOOST_TEST(!spec.scope.empty(), "route " << spec.name << " declares no scope (route_spec::scope)");
      if (spec.scope.empty()) continue;
      std::string kind, param;
      if (const auto colon = spec.scope.find(':'); colon != std::string::npos) {
        kind = spec.scope.substr(0, colon);
        param = spec.scope.substr(colon + 1);
        const bool known = fixtures.count(kind) != 0;
        BOOST_TEST(known, "no fixture for resource kind '" << kind << "': add one to the authorization matrix");
        if (!known) continue;
        BOOST_TEST(spec.path_template.find("{" + param + "}") != std::string::npos,
                   "scope names {" << param << "}, which the path does not have");
      }
      matrix << std::setw(52) << label;
      for (const auto w : everyone) {
        // Fresh credentials and (where a call may consume it) a fresh fixture.
        std::string token;
        if (w != who::anonymous) token = mint_session(pg, account[w], role_of(w)).first;
        std::map<std::string, std::string> ids;
        for (auto& [k, f] : fixtures) {
          if (f.fresh_per_call && k == "auth_session") f.id = mint_session(pg, account[who::coach], "coach").second;
          if (f.fresh_per_call && k == "feed_token") f.id = mint_feed_token(pg, account[who::coach]);
          ids[k] = f.id;
        }
        // Fill the path: the scoped parameter with its fixture, others by kind name or a
        // well-formed id that names nothing.
        std::string target = spec.path_template;
        for (std::size_t open = target.find('{'); open != std::string::npos; open = target.find('{')) {
          const auto close = target.find('}', open);
          const std::string name = target.substr(open + 1, close - open - 1);
          std::string value = "00000000-0000-4000-8000-000000000000";
          if (name == param) {
            value = ids[kind];
          } else if (ids.count(name) != 0) {
            value = ids[name];
          }
          target.replace(open, close - open + 1, value);
        }
        std::vector<std::pair<std::string, std::string>> headers;
        if (!token.empty()) headers.emplace_back("Authorization", "Bearer " + token);
        const bool has_body = spec.method == boost::beast::http::verb::post ||
                              spec.method == boost::beast::http::verb::put ||
                              spec.method == boost::beast::http::verb::patch;
        const auto reply = http_call(port, method, target, has_body ? "{}" : "", headers);

        // What the declaration says must happen.
        int expected = 0;  // 0: let through
        if (spec.required != gateway::access::anonymous) {
          if (w == who::anonymous) {
            expected = 401;
          } else if (!role_allows(spec.required, role_of(w))) {
            expected = 403;
          } else if (!kind.empty() && fixtures[kind].owners.count(w) == 0) {
            expected = 404;
          }
        }
        bool ok;
        if (expected != 0) {
          ok = reply.status == expected;
        } else {
          // Let through: any answer of the route itself (a redirect, 409/422 for the placeholder body
          // or state, 503 for a feature not configured here) — never an authorization refusal.
          ok = (reply.status >= 200 && reply.status < 400) || reply.status == 409 || reply.status == 422 ||
               reply.status == 503;
        }
        BOOST_TEST(ok, name_of(w) << " got " << reply.status << " but the declaration says "
                                  << (expected == 0 ? std::string("let through") : std::to_string(expected)) << ": "
                                  << reply.body.substr(0, 300));
        matrix << std::setw(14) << (std::to_string(reply.status) + (ok ? " ok" : " FAIL"));
        ++checked;
      }
      matrix << "\n";
    }
  }
  std::cout << "authorization matrix (" << checked << " calls):\n" << matrix.str() << std::flush;
  BOOST_TEST(checked >= 6 * 20);
  app.stop();
  std::filesystem::remove_all(mail_dir);
}
