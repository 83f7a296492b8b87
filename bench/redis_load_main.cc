// recsys_bench_redis_load: bulk-load throughput of redis::Client, without
// process start or model read. Writes keys the way the trainer's bulk load
// writes them (feature_store/redis_feature_store.cc, PutUsers / PutItems):
// per user DEL, HSET of the purchase counts, HSET of the purchase times (two
// hashes of --purchases fields, tagged with the user), as a load writes its
// generation; with --transactions wrapped in MULTI ... EXEC, as a serving
// store writes generation 0; per item one HSET of four fields (tagged with
// the item); pipelined through
// Client::Execute in batches of --batch commands, sent through
// redis::BulkWriter on --threads lanes, with the bulk deadline
// (Options::default_timeout per batch). The data is built before the clock
// starts; the figure is keys written per second of the load alone.
//
//   recsys_bench_redis_load --redis=redis-cluster://127.0.0.1:7001
//       --users=200000 --items=20000 [--batch=1000] [--transactions]
//       [--threads=1] [--prefix=rsbench:]
//
// Keys are written under --prefix (default "rsbench:", not the service's
// "rs:"), overwriting a previous run's; the program deletes nothing.
#include <cstdint>
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "redis/bulk_writer.h"
#include "redis/client.h"
#include "redis/password.h"

ABSL_FLAG(std::string, redis, "",
          "Redis address, as every program takes it (redis/client.h).");
ABSL_FLAG(std::string, redis_user, "", recsys::redis::kUserFlagHelp);
ABSL_FLAG(
    std::string, redis_password_file, "",
    "File holding the Redis password (else RECSYS_REDIS_PASSWORD; else none).");
ABSL_FLAG(int, users, 200000, "Users written (two hashes each).");
ABSL_FLAG(int, items, 20000, "Items written (one hash each).");
ABSL_FLAG(int, purchases, 5, "Purchase fields per user hash.");
ABSL_FLAG(int, batch, 1000,
          "Commands per pipelined batch (the loader's "
          "RedisFeatureStoreOptions::bulk_batch).");
ABSL_FLAG(bool, transactions, false,
          "Wrap each user's commands in MULTI ... EXEC, as a serving store "
          "writes generation 0 (default: as a load writes its generation).");
ABSL_FLAG(int, threads, 1,
          "Lanes of redis::BulkWriter (the loader's "
          "RedisFeatureStoreOptions::bulk_threads), batch b on lane b % "
          "threads.");
ABSL_FLAG(int, pool, 8,
          "Connections per Redis node (--redis_pool of the programs).");
ABSL_FLAG(std::string, prefix, "rsbench:", "Prefix of every key written.");

namespace {

using recsys::redis::Client;
using recsys::redis::Command;

int Fail(const absl::Status& status) {
  std::fprintf(stderr, "recsys_bench_redis_load: %s\n",
               std::string(status.message()).c_str());
  return 1;
}

}  // namespace

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage(
      "Measures bulk-load keys/s of redis::Client: recsys_bench_redis_load "
      "--redis=ADDRESS");
  absl::ParseCommandLine(argc, argv);
  const int users = absl::GetFlag(FLAGS_users);
  const int items = absl::GetFlag(FLAGS_items);
  const int purchases = absl::GetFlag(FLAGS_purchases);
  const int batch_size = absl::GetFlag(FLAGS_batch);
  const bool transactions = absl::GetFlag(FLAGS_transactions);
  const int threads = absl::GetFlag(FLAGS_threads);
  if (absl::GetFlag(FLAGS_redis).empty()) {
    return Fail(absl::InvalidArgumentError("--redis: required"));
  }
  if (users < 0 || items < 0 || purchases < 1 || batch_size < 1 ||
      threads < 1) {
    return Fail(absl::InvalidArgumentError(
        "--users and --items must be >= 0, --purchases, --batch and "
        "--threads >= 1"));
  }
  absl::StatusOr<recsys::redis::Options> options =
      recsys::redis::ParseAddress(absl::GetFlag(FLAGS_redis));
  if (!options.ok()) return Fail(options.status());
  if (!absl::GetFlag(FLAGS_redis_user).empty())
    options->user = absl::GetFlag(FLAGS_redis_user);
  absl::StatusOr<std::string> password =
      recsys::redis::ReadPassword(absl::GetFlag(FLAGS_redis_password_file));
  if (!password.ok()) return Fail(password.status());
  options->password = *password;
  options->pool_size = absl::GetFlag(FLAGS_pool);
  absl::StatusOr<std::unique_ptr<Client>> client = Client::Create(*options);
  if (!client.ok()) return Fail(client.status());

  // The batches, built before the clock starts.
  const std::string prefix = absl::GetFlag(FLAGS_prefix);
  const int64_t now = absl::ToUnixSeconds(absl::Now());
  std::vector<std::vector<Command>> batches(1);
  auto add = [&](Command command) {
    batches.back().push_back(std::move(command));
  };
  auto end_unit = [&] {
    if (batches.back().size() >= static_cast<size_t>(batch_size))
      batches.emplace_back();
  };
  for (int u = 0; u < users; ++u) {
    const std::string tag = absl::StrCat("{u", u, "}");
    const std::string counts_key = absl::StrCat(prefix, "u:", tag, ":pc");
    const std::string times_key = absl::StrCat(prefix, "u:", tag, ":pt");
    Command counts = {"HSET", counts_key};
    Command times = {"HSET", times_key};
    for (int p = 0; p < purchases; ++p) {
      const std::string item =
          absl::StrCat("i", (u * 7 + p * 13) % (items > 0 ? items : 1));
      counts.push_back(item);
      counts.push_back(absl::StrCat(1 + p % 3));
      times.push_back(item);
      times.push_back(absl::StrCat(now - 86400 * p));
    }
    if (transactions) add({"MULTI"});
    add({"DEL", counts_key, times_key});
    add(std::move(counts));
    add(std::move(times));
    if (transactions) add({"EXEC"});
    end_unit();
  }
  for (int i = 0; i < items; ++i) {
    add({"HSET", absl::StrCat(prefix, "i:{i", i, "}"), "cat",
         absl::StrCat("c", i % 50), "price", absl::StrCat(1 + i % 200, ".99"),
         "title", absl::StrCat("Item ", i), "listed", absl::StrCat(now - i)});
    end_unit();
  }
  if (batches.back().empty()) batches.pop_back();
  const int64_t keys = 2 * static_cast<int64_t>(users) + items;
  size_t commands = 0;
  for (const auto& b : batches) commands += b.size();

  const absl::Time start = absl::Now();
  // The batches go through redis::BulkWriter as PutUsers sends them, on
  // --threads lanes (batch b on lane b % threads).
  absl::Status status;
  {
    recsys::redis::BulkWriter writer(client->get(), threads);
    for (size_t b = 0; b < batches.size() && status.ok(); ++b) {
      status =
          writer.Send(static_cast<int>(b % threads), std::move(batches[b]));
    }
    if (status.ok()) status = writer.Finish();
  }
  const double seconds = absl::ToDoubleSeconds(absl::Now() - start);
  if (!status.ok()) return Fail(status);
  std::printf(
      "redis %s: %lld keys (%d users x 2 hashes, %d items), %zu commands in "
      "%zu batches of "
      "<= %d, %d thread(s): %.3f s, %.0f keys/s, %.0f commands/s\n",
      (*client)->address().c_str(), static_cast<long long>(keys), users, items,
      commands, batches.size(), batch_size, threads, seconds, keys / seconds,
      commands / seconds);
  std::printf("%s\n", (*client)->GetStats().ToString().c_str());
  return 0;
}
