// Snapshots of the command processor (commands/snapshot.hpp, commands/pg_snapshot_store.hpp):
// the encoding keeps personal data sealed, a restart reads only the events after the snapshot
// and decides exactly as a full rebuild would, and an unusable snapshot falls back to the log.

#define BOOST_TEST_MODULE snapshot
#include <boost/test/unit_test.hpp>

#include <atomic>
#include <chrono>
#include <future>

#include "commands/command.hpp"
#include "commands/pg_snapshot_store.hpp"
#include "commands/processor.hpp"
#include "commands/snapshot.hpp"
#include "events/codec.hpp"
#include "events/partitioning.hpp"
#include "infra/crypto.hpp"
#include "infra/pg_event_log.hpp"
#include "tests/support/pg_test_db.hpp"

using namespace coachd;

namespace {

const timestamp at = *parse_rfc3339("2026-11-21T09:00:00Z");

result<command_outcome> run(command_processor& p, command c) {
  auto promise = std::make_shared<std::promise<result<command_outcome>>>();
  auto future = promise->get_future();
  p.submit(std::move(c), [promise](result<command_outcome> r) { promise->set_value(std::move(r)); });
  return future.get();
}

command submit(const std::string& id, const std::string& command_id, const std::string& name) {
  return command{command_id, intake_stream(id), std::nullopt, "anonymous", "c", "c", at,
                 submit_intake{id, "6b0f3c2e-1d4a-4f5b-9c8d-7e6f5a4b3c2d", name, "p@example.org", std::nullopt,
                               "goals", "message", at}};
}

}  // namespace

BOOST_AUTO_TEST_CASE(encoding_seals_personal_data_and_round_trips) {
  BOOST_TEST_REQUIRE(snapshots_supported());
  memory_key_provider keys;
  partition_state state;
  intake_state intake;
  intake.status = intake_status::accepted;
  intake.intake_id = "i-1";
  intake.coach_id = "c-1";
  intake.name = personal{"Wilhelmina Snapshotova"};
  intake.email = personal{"wilhelmina@example.org"};
  intake.phone = personal{"+49 30 1234"};
  state.streams["intake-i-1"] = stream_snapshot{intake, 2};
  account_state account;
  account.exists = true;
  account.account_id = "a-1";
  account.role = "coach";
  state.streams["account-x"] = stream_snapshot{account, 1};
  client_state client;
  client.exists = true;
  client.client_id = "y";
  client.coach_id = "c-1";
  client.account_id = "a-1";
  state.streams["client-y"] = stream_snapshot{client, 1};
  coach_schedule_state schedule;  // held boxed
  schedule.coach_id = "c-1";
  schedule.sessions["s-1"] = scheduled_session{
      "a-1", std::nullopt, at, at + std::chrono::minutes(30), 0, 0, session_status::confirmed, 3};
  state.streams["schedule-c-1"] = stream_snapshot{boxed<coach_schedule_state>(schedule), 4};
  state.remembered.remember("k:abc", remembered_command{"intake-i-1", 1, 17, "abcd", at});

  const auto chunks = encode_partition_state(state, 42, keys);
  std::string data;
  for (const auto& c : chunks) data += c;
  BOOST_TEST(data.find("Wilhelmina") == std::string::npos);
  BOOST_TEST(data.find("wilhelmina@example.org") == std::string::npos);
  BOOST_TEST(data.find("1234") == std::string::npos);
  BOOST_TEST(data.find("i-1") != std::string::npos);

  // Decoding needs no key: personal fields stay sealed until the stream is first used.
  partition_state_decoder decoder;
  for (const auto& c : chunks) BOOST_TEST_REQUIRE(decoder.add(c));
  BOOST_TEST(decoder.position() == 42);
  auto decoded = decoder.finish();
  BOOST_TEST_REQUIRE(decoded.has_value());
  auto& sealed = decoded->streams.at("intake-i-1");
  BOOST_TEST(!sealed.sealed_personal.empty());
  BOOST_TEST(std::get<intake_state>(sealed.state).name.value.empty());
  BOOST_TEST(std::get<intake_state>(sealed.state).intake_id == "i-1");
  BOOST_TEST(decoded->streams.at("account-x").sealed_personal.empty());
  // Re-encoding a state that was never opened keeps its sealed fields as they were.
  const auto again = decode_partition_state(encode_partition_state(*decoded, 42, keys), keys);
  BOOST_TEST_REQUIRE(again.has_value());
  BOOST_TEST(std::get<intake_state>(again->streams.at("intake-i-1").state).name.value ==
             "Wilhelmina Snapshotova");
  for (auto& [stream, record] : decoded->streams) open_personal(record, stream, keys);
  BOOST_TEST(sealed.sealed_personal.empty());
  const auto& back = std::get<intake_state>(decoded->streams.at("intake-i-1").state);
  BOOST_TEST((back.status == intake_status::accepted));
  BOOST_TEST(back.name.value == "Wilhelmina Snapshotova");
  BOOST_TEST(!back.name.erased);
  BOOST_TEST(back.phone->value == "+49 30 1234");
  BOOST_TEST(back.goals.value.empty());
  BOOST_TEST(decoded->streams.at("intake-i-1").version == 2);
  BOOST_TEST(std::get<account_state>(decoded->streams.at("account-x").state).role == "coach");
  BOOST_TEST(std::get<client_state>(decoded->streams.at("client-y").state).account_id == "a-1");
  const auto* schedule_back =
      state_if<coach_schedule_state>(decoded->streams.at("schedule-c-1").state);
  BOOST_TEST_REQUIRE(schedule_back != nullptr);
  BOOST_TEST(schedule_back->coach_id == "c-1");
  BOOST_TEST((schedule_back->sessions.at("s-1").status == session_status::confirmed));
  BOOST_TEST(schedule_back->sessions.at("s-1").sequence == 3);
  // The time index is derived, not stored: decisions after a decode rebuild it and still see s-1.
  BOOST_TEST(schedule_back->by_time.by_start.empty());
  const auto busy = busy_times(*schedule_back, at - std::chrono::hours(1), {}, {},
                               std::make_pair(at, at + std::chrono::minutes(30)));
  BOOST_TEST_REQUIRE(busy.size() == 1u);
  BOOST_TEST((busy[0].start == at));
  BOOST_TEST(decoded->streams.at("schedule-c-1").version == 4);
  BOOST_TEST_REQUIRE(decoded->remembered.find("k:abc") != nullptr);
  BOOST_TEST(decoded->remembered.find("k:abc")->offset == 17);
  BOOST_TEST(decoded->remembered.find("k:abc")->fingerprint == "abcd");
  BOOST_TEST((decoded->remembered.find("k:abc")->issued_at == at));

  // Sealed personal data that does not open (another stream's, here) is damage, not erasure.
  partition_state_decoder damaged;
  BOOST_TEST_REQUIRE(damaged.add(chunks.front()));
  auto moved = damaged.finish();
  BOOST_TEST_REQUIRE(moved.has_value());
  auto& intake_record = moved->streams.at("intake-i-1");
  BOOST_CHECK_THROW(open_personal(intake_record, "intake-i-2", keys), snapshot_damaged);

  // Erasing the subject reaches snapshots too: the fields come back erased.
  keys.erase("intake:i-1");
  auto after = decode_partition_state(chunks, keys);
  BOOST_TEST_REQUIRE(after.has_value());
  const auto& erased = std::get<intake_state>(after->streams.at("intake-i-1").state);
  BOOST_TEST(erased.name.erased);
  BOOST_TEST(erased.name.value.empty());
  BOOST_TEST(erased.phone->erased);
  BOOST_TEST(erased.intake_id == "i-1");
  // And a snapshot taken after the erasure, from a state that still held the values, stores
  // them as erased (it does not fail, and holds nothing of them).
  const auto later = decode_partition_state(encode_partition_state(state, 43, keys), keys);
  BOOST_TEST_REQUIRE(later.has_value());
  BOOST_TEST(std::get<intake_state>(later->streams.at("intake-i-1").state).email.erased);

  // Damaged or foreign snapshots are refused, never half-read.
  BOOST_TEST(!decode_partition_state({"{}"}, keys).has_value());
  BOOST_TEST(!decode_partition_state({""}, keys).has_value());
  BOOST_TEST(!decode_partition_state({}, keys).has_value());
  std::string foreign = chunks.front();
  foreign[std::string_view("coachd-snapshot-3\n").size() + 3] ^= 1;  // inside the fingerprint
  BOOST_TEST(!decode_partition_state({foreign}, keys).has_value());
  std::string truncated = chunks.front();
  truncated.resize(truncated.size() - 3);
  BOOST_TEST(!decode_partition_state({truncated}, keys).has_value());
}

BOOST_AUTO_TEST_CASE(chunks_hold_whole_records_and_must_all_come_from_one_snapshot) {
  memory_key_provider keys;
  partition_state state;
  for (int i = 0; i < 500; ++i) {
    intake_state intake;
    intake.status = intake_status::pending;
    intake.intake_id = "i-" + std::to_string(i);
    intake.coach_id = "c-1";
    intake.name = personal{"Person " + std::to_string(i)};
    state.streams["intake-i-" + std::to_string(i)] = stream_snapshot{intake, 1};
  }
  // Small chunks: many of them, each decodable on its own.
  const auto chunks = encode_partition_state(state, 500, keys, 1024);
  BOOST_TEST_REQUIRE(chunks.size() > 10u);
  const auto whole = decode_partition_state(chunks, keys);
  BOOST_TEST_REQUIRE(whole.has_value());
  BOOST_TEST(whole->streams.size() == 500u);
  BOOST_TEST(std::get<intake_state>(whole->streams.at("intake-i-321").state).name.value ==
             "Person 321");

  // A missing last chunk, chunks out of order, or a chunk of another save are refused.
  auto missing = chunks;
  missing.pop_back();
  BOOST_TEST(!decode_partition_state(missing, keys).has_value());
  auto swapped = chunks;
  std::swap(swapped[1], swapped[2]);
  BOOST_TEST(!decode_partition_state(swapped, keys).has_value());
  auto mixed = chunks;
  mixed[3] =
      encode_partition_state(state, 500, keys, 1024)[3];  // same state and position, another save
  BOOST_TEST(!decode_partition_state(mixed, keys).has_value());
}

BOOST_AUTO_TEST_CASE(a_restart_reads_only_events_after_the_snapshot) {
  test::test_database db;
  memory_key_provider keys;
  event_codec codec(keys);
  pg_snapshot_store store(db.conninfo(), "postgres");
  processor_options options;
  options.snapshots = &store;
  options.keys = &keys;
  options.snapshot_every = 20;
  std::vector<std::string> ids;
  {
    pg_event_log log(db.conninfo(), 2);
    command_processor first(log, codec, options);
    first.start();
    for (int i = 0; i < 60; ++i) {
      ids.push_back(new_uuid());
      auto r = run(first, submit(ids.back(), i == 0 ? "k:first" : new_uuid(), "Person " + std::to_string(i)));
      BOOST_TEST_REQUIRE(r.ok());
    }
    first.stop();  // a graceful stop leaves a snapshot of every partition
    BOOST_TEST(first.stats().snapshots.load() >= 2u);
  }
  {
    pg_event_log log(db.conninfo(), 2);
    command_processor second(log, codec, options);
    second.start();
    BOOST_TEST(second.stats().rebuilt_events.load() == 0u);  // everything came from snapshots
    BOOST_TEST(second.stream_count() == 60u);
    // Decisions see the restored state: the intake exists, the derived id is remembered.
    auto again = run(second, submit(ids[5], new_uuid(), "x"));
    BOOST_TEST_REQUIRE(!again.ok());
    BOOST_TEST(again.err().type_suffix == "intake-exists");
    auto replay = run(second, submit(ids[0], "k:first", "Person 0"));
    BOOST_TEST_REQUIRE(replay.ok());
    BOOST_TEST(replay.value().replayed);
    auto accept = run(second, command{new_uuid(), intake_stream(ids[7]), std::int64_t{1}, "account:c", "c", "c", at,
                                      accept_intake{ids[7], "6b0f3c2e-1d4a-4f5b-9c8d-7e6f5a4b3c2d", new_uuid(), "",
                                                    at}});
    BOOST_TEST_REQUIRE(accept.ok());
    BOOST_TEST(accept.value().stream_version == 2);
    // The restored intake's details were opened for the decision: the acceptance carries them.
    auto reader = log.open_reader({{accept.value().partition, accept.value().offset}});
    std::vector<stored_event> read;
    for (int tries = 0; read.empty() && tries < 600; ++tries)
      read = reader->poll(std::chrono::milliseconds(100), 1);
    BOOST_TEST_REQUIRE(!read.empty());
    const auto accepted = codec.decode(read.front().envelope);
    BOOST_TEST_REQUIRE(accepted.ok());
    const auto* event = std::get_if<intake_accepted>(&accepted.value());
    BOOST_TEST_REQUIRE(event != nullptr);
    BOOST_TEST(event->name.value == "Person 7");
    BOOST_TEST(event->email.value == "p@example.org");
    second.stop();
  }
  {
    // A snapshot of other state shapes is ignored: the log alone rebuilds the same state.
    pqxx::connection c(db.conninfo());
    pqxx::work tx(c);
    tx.exec("UPDATE command_snapshots SET data = '{\"format\":1,\"fingerprint\":\"other\"}'");
    tx.exec("DELETE FROM command_snapshot_chunks");
    tx.commit();
    pg_event_log log(db.conninfo(), 2);
    command_processor third(log, codec, options);
    third.start();
    BOOST_TEST(third.stats().rebuilt_events.load() == 61u);
    BOOST_TEST(third.stream_count() == 60u);
    auto twice = run(third, command{new_uuid(), intake_stream(ids[7]), std::nullopt, "account:c", "c", "c", at,
                                    accept_intake{ids[7], "6b0f3c2e-1d4a-4f5b-9c8d-7e6f5a4b3c2d", new_uuid(), "",
                                                  at}});
    BOOST_TEST_REQUIRE(!twice.ok());
    BOOST_TEST(twice.err().type_suffix == "intake-already-accepted");
    third.stop();
  }
}

// A snapshot is encoded and saved on a thread of its own: while one partition's snapshot is
// being saved, the other partitions decided by the same thread go on; that partition's own
// commands wait for it and then go on too.
BOOST_AUTO_TEST_CASE(a_snapshot_in_progress_holds_up_only_its_own_partition) {
  test::test_database db;
  memory_key_provider keys;
  event_codec codec(keys);
  pg_snapshot_store real(db.conninfo(), "postgres");
  // The real store, its saves of partition 0 held until the test lets them through.
  struct held_store final : snapshot_store {
    snapshot_store& inner;
    std::promise<void> entered;
    std::shared_future<void> release;
    std::atomic<bool> armed{true};
    explicit held_store(snapshot_store& s, std::shared_future<void> r) : inner(s), release(std::move(r)) {}
    std::optional<std::int64_t> load(int partition, const std::function<bool(std::string_view)>& on_chunk) override {
      return inner.load(partition, on_chunk);
    }
    void save(const partition_snapshot& snapshot) override {
      if (snapshot.partition == 0 && armed.exchange(false)) {
        entered.set_value();
        BOOST_REQUIRE(release.wait_for(std::chrono::seconds(120)) == std::future_status::ready);
      }
      inner.save(snapshot);
    }
  };
  std::promise<void> release;
  held_store store(real, release.get_future().share());
  auto entered = store.entered.get_future();
  processor_options options;
  options.snapshots = &store;
  options.keys = &keys;
  options.snapshot_every = 5;
  pg_event_log log(db.conninfo(), 2);
  command_processor processor(log, codec, options);  // one thread decides both partitions
  processor.start();
  const auto in_partition = [](int p) {
    for (;;) {
      auto id = new_uuid();
      if (partition_for(intake_stream(id), 2) == p) return id;
    }
  };
  for (int i = 0; i < 5; ++i) {
    BOOST_TEST_REQUIRE(run(processor, submit(in_partition(0), new_uuid(), "Zero " + std::to_string(i))).ok());
  }
  BOOST_REQUIRE(entered.wait_for(std::chrono::seconds(120)) == std::future_status::ready);

  // Partition 0's snapshot is held in its save. A command for partition 0 waits ...
  auto waiting = std::make_shared<std::promise<result<command_outcome>>>();
  auto waiting_answer = waiting->get_future();
  processor.submit(submit(in_partition(0), new_uuid(), "Zero late"),
                   [waiting](result<command_outcome> r) { waiting->set_value(std::move(r)); });
  // ... while partition 1's are decided and answered.
  for (int i = 0; i < 3; ++i) {
    auto answer = std::make_shared<std::promise<result<command_outcome>>>();
    auto answered = answer->get_future();
    processor.submit(submit(in_partition(1), new_uuid(), "One " + std::to_string(i)),
                     [answer](result<command_outcome> r) { answer->set_value(std::move(r)); });
    BOOST_REQUIRE_MESSAGE(answered.wait_for(std::chrono::seconds(120)) == std::future_status::ready,
                          "partition 1 waited for partition 0's snapshot");
    BOOST_TEST_REQUIRE(answered.get().ok());
  }
  BOOST_TEST((waiting_answer.wait_for(std::chrono::seconds(0)) == std::future_status::timeout));
  release.set_value();
  BOOST_REQUIRE(waiting_answer.wait_for(std::chrono::seconds(120)) == std::future_status::ready);
  BOOST_TEST(waiting_answer.get().ok());
  BOOST_TEST(processor.stats().snapshots.load() >= 1u);
  processor.stop();
  BOOST_TEST(processor.stream_count() == 9u);
}

BOOST_AUTO_TEST_CASE(the_store_hands_chunks_back_in_order_and_a_save_replaces_them_all) {
  test::test_database db;
  pg_snapshot_store store(db.conninfo(), "postgres");
  BOOST_TEST(!store.load(0, [](std::string_view) { return true; }).has_value());
  const std::string binary("\0\x01\xff chunk", 9);
  store.save(partition_snapshot{0, 120, {"first", binary, "third"}});
  store.save(partition_snapshot{1, 7, {"other partition"}});
  std::vector<std::string> read;
  const auto position = store.load(0, [&](std::string_view chunk) {
    read.emplace_back(chunk);
    return true;
  });
  BOOST_TEST(position.value_or(-1) == 120);
  BOOST_TEST(read == (std::vector<std::string>{"first", binary, "third"}),
             boost::test_tools::per_element());

  // A shorter snapshot leaves nothing of the longer one behind; a refused chunk stops reading.
  store.save(partition_snapshot{0, 200, {"only"}});
  read.clear();
  BOOST_TEST(store
                 .load(0,
                       [&](std::string_view chunk) {
                         read.emplace_back(chunk);
                         return false;
                       })
                 .value_or(-1) == 200);
  BOOST_TEST(read == (std::vector<std::string>{"only"}), boost::test_tools::per_element());
}
