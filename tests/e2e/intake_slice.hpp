#pragma once
// The intake → client slice, driven over HTTP against a running coachd. Included by the
// end-to-end suites of each event-log adapter (intake_pg_e2etest, intake_kafka_e2etest), which
// start coachd their way and say how to read their raw log.

#include <boost/json.hpp>
#include <boost/test/unit_test.hpp>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <functional>
#include <future>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "gateway/app.hpp"
#include "tests/support/http_client.hpp"

namespace coachd::test {

namespace json = boost::json;

inline json::object as_object(const http_reply& r) {
  BOOST_TEST_INFO("body: " << r.body);
  return json::parse(r.body).as_object();
}

inline std::string str(const json::object& o, const char* key) { return json::value_to<std::string>(o.at(key)); }

/// Signs in and returns (token, csrf token, account id).
struct session {
  std::string token, csrf, account_id;
  std::vector<std::pair<std::string, std::string>> bearer() const { return {{"Authorization", "Bearer " + token}}; }
};

inline session sign_in(std::uint16_t port, const std::string& email, const std::string& password,
                       const std::string& after = "") {
  auto r = http_call(port, "POST", "/api/v1/auth/sign-in",
                     json::serialize(json::object{{"email", email}, {"password", password}}),
                     after.empty() ? std::vector<std::pair<std::string, std::string>>{}
                                   : std::vector<std::pair<std::string, std::string>>{{"X-Consistency-Token", after}});
  BOOST_TEST_REQUIRE(r.status == 200, "sign-in of " << email << ": " << r.status << " " << r.body);
  auto o = as_object(r);
  return {str(o, "token"), str(o, "csrf_token"), str(o.at("account").as_object(), "id")};
}

/// Polls `check` until it returns true or 15 s pass.
inline bool eventually(const std::function<bool()>& check) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(15);
  while (std::chrono::steady_clock::now() < deadline) {
    if (check()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return check();
}

/// Runs the whole slice. `raw_log` returns every stored event payload and header as one text
/// (what a person reading the log without coachd would see). `mail_dir` is coachd's file
/// transport directory.
inline void run_intake_slice(std::uint16_t port, const std::function<std::string()>& raw_log,
                             const std::filesystem::path& mail_dir) {
  // Health first.
  BOOST_TEST(http_call(port, "GET", "/healthz").status == 200);
  BOOST_TEST(eventually([&] { return http_call(port, "GET", "/readyz").status == 200; }));

  // Two coaches: the demo coach and one who signs up.
  auto signup = http_call(port, "POST", "/api/v1/auth/sign-up",
                          R"({"email":"Other.Coach@Example.com","password":"a long enough secret","display_name":"Olive Other","role":"coach"})");
  BOOST_TEST_REQUIRE(signup.status == 201, signup.body);
  const std::string signup_token = signup.header("X-Consistency-Token");
  auto coach = sign_in(port, "coach@example.com", "coach-demo-pass-2026");
  auto other = sign_in(port, "other.coach@example.com", "a long enough secret", signup_token);
  BOOST_TEST(coach.account_id != other.account_id);

  // /me.
  auto me = http_call(port, "GET", "/api/v1/me", "", coach.bearer());
  BOOST_TEST_REQUIRE(me.status == 200);
  BOOST_TEST(str(as_object(me), "role") == "coach");
  BOOST_TEST(http_call(port, "GET", "/api/v1/me").status == 401);

  // A prospective client submits the public intake form (no sign-in).
  const std::string distinctive_name = "Zelda Quuxworth-Fennimore";
  const std::string distinctive_email = "zelda.quuxworth@example.org";
  const std::string intake_body = json::serialize(json::object{
      {"name", distinctive_name},
      {"email", distinctive_email},
      {"phone", "+1 555 0100"},
      {"goals", "Run a marathon without injuries"},
      {"message", "I found you through a friend.\nLooking forward!"}});
  const std::string intake_path = "/api/v1/coaches/" + coach.account_id + "/intakes";
  auto submitted = http_call(port, "POST", intake_path, intake_body, {{"Idempotency-Key", "form-123"}});
  BOOST_TEST_REQUIRE(submitted.status == 201, submitted.body);
  const auto submitted_json = as_object(submitted);
  const std::string intake_id = str(submitted_json, "id");
  const std::string token = submitted.header("X-Consistency-Token");
  BOOST_TEST(!token.empty());
  BOOST_TEST(submitted.header("Location") == "/api/v1/intakes/" + intake_id);

  // The same Idempotency-Key: the first answer again, nothing appended.
  auto retried = http_call(port, "POST", intake_path, intake_body, {{"Idempotency-Key", "form-123"}});
  BOOST_TEST_REQUIRE(retried.status == 201, retried.body);
  BOOST_TEST(str(as_object(retried), "id") == intake_id);
  BOOST_TEST(retried.header("X-Consistency-Token") == token);
  BOOST_TEST(retried.header("Idempotent-Replayed") == "true");
  // The same key for a different request is refused, not answered with the first outcome.
  auto reused = http_call(port, "POST", intake_path,
                          R"({"name":"Someone Else","email":"else@example.org","goals":"g","message":"m"})",
                          {{"Idempotency-Key", "form-123"}});
  BOOST_TEST(reused.status == 422);
  BOOST_TEST(reused.body.find("Idempotency-Key") != std::string::npos);

  // Unknown coach → 404; bad input → precise problems, nothing written.
  BOOST_TEST(http_call(port, "POST", "/api/v1/coaches/00000000-0000-4000-8000-000000000000/intakes", intake_body).status == 404);
  auto malformed = http_call(port, "POST", intake_path, "{\"name\": ");
  BOOST_TEST(malformed.status == 400);
  BOOST_TEST(malformed.header("Content-Type") == "application/problem+json");
  auto unknown_field = http_call(port, "POST", intake_path,
                                 R"({"name":"A","email":"a@example.com","goals":"g","message":"m","admin":true})");
  BOOST_TEST(unknown_field.status == 422);
  BOOST_TEST(unknown_field.body.find("admin") != std::string::npos);
  auto bad_email = http_call(port, "POST", intake_path, R"({"name":"A","email":"not-an-email","goals":"g","message":"m"})");
  BOOST_TEST(bad_email.status == 422);
  BOOST_TEST(bad_email.body.find("email") != std::string::npos);
  auto wrong_types = http_call(port, "POST", intake_path, R"({"name":5,"email":"a@example.com","goals":"g"})");
  BOOST_TEST(wrong_types.status == 422);
  BOOST_TEST(wrong_types.body.find("name") != std::string::npos);
  BOOST_TEST(wrong_types.body.find("message") != std::string::npos);
  BOOST_TEST(http_call(port, "POST", intake_path, std::string(2 * 1024 * 1024, 'x')).status == 413);
  BOOST_TEST(http_call(port, "GET", "/api/v1/nowhere").status == 404);
  auto wrong_method = http_call(port, "DELETE", "/api/v1/intakes", "", coach.bearer());
  BOOST_TEST(wrong_method.status == 405);
  BOOST_TEST(!wrong_method.header("Allow").empty());

  // The coach's inbox shows it once the read model has the token (read-your-writes).
  auto pending = http_call(port, "GET", "/api/v1/intakes?status=pending&after=" + token, "", coach.bearer());
  BOOST_TEST_REQUIRE(pending.status == 200, pending.body);
  auto items = as_object(pending).at("items").as_array();
  BOOST_TEST_REQUIRE(items.size() == 1u);  // the idempotent retry added nothing
  BOOST_TEST(str(items[0].as_object(), "name") == distinctive_name);
  BOOST_TEST(str(items[0].as_object(), "email") == distinctive_email);
  auto one = http_call(port, "GET", "/api/v1/intakes/" + intake_id, "", coach.bearer());
  BOOST_TEST(one.status == 200);
  BOOST_TEST(str(as_object(one), "phone") == "+1 555 0100");

  // Another coach sees nothing of it: 404, not 403, so ids cannot be probed.
  BOOST_TEST(http_call(port, "GET", "/api/v1/intakes/" + intake_id, "", other.bearer()).status == 404);
  auto others = http_call(port, "GET", "/api/v1/intakes?after=" + token, "", other.bearer());
  BOOST_TEST(as_object(others).at("items").as_array().empty());
  BOOST_TEST(http_call(port, "POST", "/api/v1/intakes/" + intake_id + "/accept", "{}", other.bearer()).status == 404);
  // Anonymous: 401.
  BOOST_TEST(http_call(port, "GET", "/api/v1/intakes").status == 401);

  // Personal data never reaches the log in clear.
  const std::string raw = raw_log();
  BOOST_TEST(!raw.empty());
  BOOST_TEST(raw.find("Zelda") == std::string::npos);
  BOOST_TEST(raw.find("Quuxworth") == std::string::npos);
  BOOST_TEST(raw.find(distinctive_email) == std::string::npos);
  BOOST_TEST(raw.find("555 0100") == std::string::npos);
  BOOST_TEST(raw.find("marathon") == std::string::npos);
  BOOST_TEST(raw.find(intake_id) != std::string::npos);  // ids are not personal

  // A stale If-Match is refused with the current version.
  auto stale = http_call(port, "POST", "/api/v1/intakes/" + intake_id + "/decline", "{}",
                         {{"Authorization", "Bearer " + coach.token}, {"If-Match", "\"7\""}});
  BOOST_TEST(stale.status == 409);
  BOOST_TEST(stale.body.find("version 1") != std::string::npos);

  // Accept; accepting twice or declining afterwards is 409.
  auto accepted = http_call(port, "POST", "/api/v1/intakes/" + intake_id + "/accept",
                            R"({"notes":"Great fit"})", {{"Authorization", "Bearer " + coach.token}, {"If-Match", "\"1\""}});
  BOOST_TEST_REQUIRE(accepted.status == 200, accepted.body);
  const std::string client_id = str(as_object(accepted), "client_id");
  BOOST_TEST(http_call(port, "POST", "/api/v1/intakes/" + intake_id + "/accept", "{}", coach.bearer()).status == 409);
  auto decline_after = http_call(port, "POST", "/api/v1/intakes/" + intake_id + "/decline", "{}", coach.bearer());
  BOOST_TEST(decline_after.status == 409);
  BOOST_TEST(decline_after.body.find("accepted") != std::string::npos);

  // Onboarding creates the client (account + profile) and queues the welcome mail.
  http_reply clients;
  BOOST_TEST_REQUIRE(eventually([&] {
    clients = http_call(port, "GET", "/api/v1/clients", "", coach.bearer());
    if (clients.status != 200) return false;
    const auto listed = as_object(clients);
    for (const auto& c : listed.at("items").as_array()) {
      if (str(c.as_object(), "id") == client_id) return true;
    }
    return false;
  }));
  auto profile = http_call(port, "GET", "/api/v1/clients/" + client_id, "", coach.bearer());
  BOOST_TEST_REQUIRE(profile.status == 200, profile.body);
  auto p = as_object(profile);
  BOOST_TEST(str(p, "display_name") == distinctive_name);
  BOOST_TEST(str(p, "email") == distinctive_email);
  BOOST_TEST(str(p, "phone") == "+1 555 0100");
  BOOST_TEST(str(p, "goals") == "Run a marathon without injuries");
  BOOST_TEST(http_call(port, "GET", "/api/v1/clients/" + client_id, "", other.bearer()).status == 404);
  auto other_clients = http_call(port, "GET", "/api/v1/clients", "", other.bearer());
  BOOST_TEST(as_object(other_clients).at("items").as_array().empty());

  std::string welcome;
  BOOST_TEST_REQUIRE(eventually([&] {
    if (!std::filesystem::exists(mail_dir)) return false;
    for (const auto& f : std::filesystem::directory_iterator(mail_dir)) {
      std::ifstream in(f.path());
      std::stringstream text;
      text << in.rdbuf();
      if (text.str().find("To: " + distinctive_email) != std::string::npos ||
          text.str().find(distinctive_email) != std::string::npos) {
        welcome = text.str();
        return true;
      }
    }
    return false;
  }));
  BOOST_TEST(welcome.find("Subject:") != std::string::npos);
  BOOST_TEST(welcome.find("\r\n") != std::string::npos);

  // Declining another intake works and its listing filters by status.
  auto second = http_call(port, "POST", intake_path,
                          R"({"name":"Second Person","email":"second@example.org","goals":"g","message":"m"})");
  BOOST_TEST_REQUIRE(second.status == 201);
  const std::string second_id = str(as_object(second), "id");
  auto declined = http_call(port, "POST", "/api/v1/intakes/" + second_id + "/decline", R"({"notes":"Not now"})", coach.bearer());
  BOOST_TEST_REQUIRE(declined.status == 200, declined.body);
  auto declined_list = http_call(port, "GET", "/api/v1/intakes?status=declined&after=" + declined.header("X-Consistency-Token"), "",
                                 coach.bearer());
  auto dl = as_object(declined_list).at("items").as_array();
  BOOST_TEST_REQUIRE(dl.size() == 1u);
  BOOST_TEST(str(dl[0].as_object(), "id") == second_id);
  BOOST_TEST(http_call(port, "POST", "/api/v1/intakes/" + second_id + "/accept", "{}", coach.bearer()).status == 409);

  // Cursor paging over the coach's intakes: limit 1 walks both, newest first.
  auto page1 = as_object(http_call(port, "GET", "/api/v1/intakes?limit=1", "", coach.bearer()));
  BOOST_TEST_REQUIRE(page1.at("items").as_array().size() == 1u);
  BOOST_TEST(str(page1.at("items").as_array()[0].as_object(), "id") == second_id);
  const std::string next = str(page1, "next_cursor");
  auto page2 = as_object(http_call(port, "GET", "/api/v1/intakes?limit=1&cursor=" + next, "", coach.bearer()));
  BOOST_TEST_REQUIRE(page2.at("items").as_array().size() == 1u);
  BOOST_TEST(str(page2.at("items").as_array()[0].as_object(), "id") == intake_id);
  BOOST_TEST(http_call(port, "GET", "/api/v1/intakes?cursor=garbage", "", coach.bearer()).status == 422);

  // 50 concurrent sign-ups with one address → exactly one account.
  std::vector<std::future<int>> racers;
  for (int i = 0; i < 50; ++i) {
    racers.push_back(std::async(std::launch::async, [port, i] {
      return http_call(port, "POST", "/api/v1/auth/sign-up",
                       R"({"email":"race@example.com","password":"racing password )" + std::to_string(i) +
                           R"(","display_name":"Racer","role":"client"})")
          .status;
    }));
  }
  int created = 0, conflicts = 0;
  for (auto& f : racers) {
    const int status = f.get();
    if (status == 201) ++created;
    if (status == 409) ++conflicts;
  }
  BOOST_TEST(created == 1);
  BOOST_TEST(conflicts == 49);

  // Cookie sessions: unsafe methods need the CSRF token and a same-origin Origin.
  auto cookie_session = sign_in(port, "coach@example.com", "coach-demo-pass-2026");
  const std::string cookie = "coachd_session=" + cookie_session.token;
  BOOST_TEST(http_call(port, "GET", "/api/v1/me", "", {{"Cookie", cookie}}).status == 200);
  BOOST_TEST(http_call(port, "POST", "/api/v1/auth/sign-out", "", {{"Cookie", cookie}}).status == 403);
  BOOST_TEST(http_call(port, "POST", "/api/v1/auth/sign-out", "",
                       {{"Cookie", cookie}, {"X-CSRF-Token", cookie_session.csrf}, {"Origin", "http://evil.example"}})
                 .status == 403);
  BOOST_TEST(http_call(port, "POST", "/api/v1/auth/sign-out", "", {{"Cookie", cookie}, {"X-CSRF-Token", cookie_session.csrf}})
                 .status == 204);
  BOOST_TEST(http_call(port, "GET", "/api/v1/me", "", {{"Cookie", cookie}}).status == 401);
  // Wrong password: 401 with a problem.
  BOOST_TEST(http_call(port, "POST", "/api/v1/auth/sign-in", R"({"email":"coach@example.com","password":"wrong password"})")
                 .status == 401);

  // Metrics and the OpenAPI document.
  auto metrics = http_call(port, "GET", "/metrics");
  BOOST_TEST(metrics.status == 200);
  BOOST_TEST(metrics.body.find("coachd_http_requests_total") != std::string::npos);
  BOOST_TEST(metrics.body.find("coachd_projection_lag_events") != std::string::npos);
  BOOST_TEST(metrics.body.find("coachd_append_batch_commands") != std::string::npos);
  BOOST_TEST(http_call(port, "GET", "/api/v1/openapi.json").status == 200);
}

}  // namespace coachd::test
