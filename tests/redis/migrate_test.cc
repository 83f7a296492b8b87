// redis::MigrateKeys and redis::VerifyKeys between two real redis-servers:
// every type, expiries and binary key names copied; only the prefix; a
// rerun copies nothing, REPLACE overwrites; a dry run writes nothing; a
// stopped run completes on a rerun; the same server is refused; verify
// names missing, different and extra keys, and compares values that DUMP
// encodes differently by content. The copy into a Redis Cluster through
// the real stores is tests/tools/redis_migrate_test.cc (label cluster).
#include "redis/migrate.h"

#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "redis/client.h"
#include "tests/testing/redis_server.h"
#include "tests/testing/status_matchers.h"

namespace recsys::redis {
namespace {

using recsys::testing::RedisServer;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

// A key name holding a NUL, a brace, a colon and a byte above 0x7f.
const std::string kBinaryKey = std::string("rs:u:{a}\0:b}\xff", 13);

class MigrateTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    source_server_ = RedisServer::Start().value_or(nullptr).release();
    target_server_ = RedisServer::Start().value_or(nullptr).release();
  }
  static void TearDownTestSuite() {
    delete source_server_;
    delete target_server_;
  }

  void SetUp() override {
    ASSERT_NE(source_server_, nullptr);
    ASSERT_NE(target_server_, nullptr);
    RECSYS_ASSERT_OK(source_server_->FlushAll());
    RECSYS_ASSERT_OK(target_server_->FlushAll());
    RECSYS_ASSERT_OK_AND_ASSIGN(source_, Client::Create(For(*source_server_)));
    RECSYS_ASSERT_OK_AND_ASSIGN(target_, Client::Create(For(*target_server_)));
  }

  static Options For(const RedisServer& server, int db = 0) {
    Options options;
    options.host = server.host();
    options.port = server.port();
    options.db = db;
    options.connect_timeout = absl::Seconds(5);
    options.default_timeout = absl::Seconds(10);
    return options;
  }

  static absl::Time Deadline() { return absl::Now() + absl::Seconds(10); }

  // Runs `commands` on `client`; every reply must be a success.
  static void Run(const Client& client, std::vector<Command> commands) {
    absl::StatusOr<std::vector<Value>> replies =
        client.Execute(commands, Deadline());
    ASSERT_TRUE(replies.ok()) << replies.status();
  }

  static Value One(const Client& client, Command command) {
    absl::StatusOr<std::vector<Value>> replies =
        client.RoundTrip({&command, 1}, Deadline(), CallKind::kRead);
    EXPECT_TRUE(replies.ok()) << replies.status();
    return replies.ok() ? (*replies)[0] : Value();
  }

  // One key of each type under rs:, one with an expiry, one binary name,
  // and one key outside the prefix.
  void Fill() {
    Run(*source_, {{"SET", "rs:s", "v"},
                   {"HSET", "rs:i:{7}", "category", "tea", "price", "2.5"},
                   {"RPUSH", "rs:u:{7}:act", "view|1|a", "view|2|b"},
                   {"SADD", "rs:u:{7}:seg", "gold", "dormant"},
                   {"ZADD", "rs:listed", "10", "a", "20", "b"},
                   {"SET", "rs:ev:{7}:h:1", "1", "EX", "3600"},
                   {"SET", kBinaryKey, std::string("x\0y", 3)},
                   {"SET", "other:s", "not ours"}});
  }

  static RedisServer* source_server_;
  static RedisServer* target_server_;
  std::unique_ptr<Client> source_;
  std::unique_ptr<Client> target_;
};
RedisServer* MigrateTest::source_server_ = nullptr;
RedisServer* MigrateTest::target_server_ = nullptr;

TEST_F(MigrateTest, CopiesEveryTypeExpiryAndBinaryNameUnderThePrefix) {
  Fill();
  RECSYS_ASSERT_OK_AND_ASSIGN(MigrateResult result,
                              MigrateKeys(*source_, *target_, {}));
  EXPECT_TRUE(result.complete);
  EXPECT_EQ(result.totals.scanned, 7);
  EXPECT_EQ(result.totals.copied, 7);
  EXPECT_EQ(result.totals.skipped_existing, 0);
  EXPECT_EQ(result.totals.expired, 0);
  EXPECT_GT(result.totals.bytes, 0);
  ASSERT_EQ(result.per_node.size(), 1u);
  EXPECT_EQ(result.per_node.begin()->first, source_->address());
  EXPECT_EQ(result.per_node.begin()->second.copied, 7);
  EXPECT_THAT(result.ToString(), HasSubstr("scanned 7, copied 7, existing 0"));

  EXPECT_EQ(One(*target_, {"GET", "rs:s"}).text, "v");
  EXPECT_EQ(One(*target_, {"HGET", "rs:i:{7}", "price"}).text, "2.5");
  EXPECT_EQ(One(*target_, {"LINDEX", "rs:u:{7}:act", "1"}).text, "view|2|b");
  EXPECT_EQ(One(*target_, {"SCARD", "rs:u:{7}:seg"}).integer, 2);
  EXPECT_EQ(One(*target_, {"ZSCORE", "rs:listed", "b"}).text, "20");
  EXPECT_EQ(One(*target_, {"GET", kBinaryKey}).text, std::string("x\0y", 3));
  EXPECT_TRUE(One(*target_, {"GET", "other:s"}).is_nil());
  // The expiry is the source's instant; keys without one have none.
  EXPECT_EQ(One(*target_, {"PEXPIRETIME", "rs:ev:{7}:h:1"}).integer,
            One(*source_, {"PEXPIRETIME", "rs:ev:{7}:h:1"}).integer);
  EXPECT_GT(One(*target_, {"PTTL", "rs:ev:{7}:h:1"}).integer, 0);
  EXPECT_EQ(One(*target_, {"PTTL", "rs:s"}).integer, -1);

  RECSYS_ASSERT_OK_AND_ASSIGN(VerifyResult verify,
                              VerifyKeys(*source_, *target_, {}));
  EXPECT_TRUE(verify.ok()) << verify.ToString();
  EXPECT_EQ(verify.source_keys, 7);
  EXPECT_EQ(verify.target_keys, 7);
}

TEST_F(MigrateTest, ARerunCopiesNothingAndReplaceOverwrites) {
  Fill();
  RECSYS_ASSERT_OK(MigrateKeys(*source_, *target_, {}).status());
  Run(*target_, {{"SET", "rs:s", "changed on the target"}});

  RECSYS_ASSERT_OK_AND_ASSIGN(MigrateResult again,
                              MigrateKeys(*source_, *target_, {}));
  EXPECT_EQ(again.totals.copied, 0);
  EXPECT_EQ(again.totals.skipped_existing, 7);
  EXPECT_EQ(One(*target_, {"GET", "rs:s"}).text, "changed on the target");

  RECSYS_ASSERT_OK_AND_ASSIGN(
      MigrateResult replaced,
      MigrateKeys(*source_, *target_, {.replace = true}));
  EXPECT_EQ(replaced.totals.copied, 7);
  EXPECT_EQ(replaced.totals.skipped_existing, 0);
  EXPECT_EQ(One(*target_, {"GET", "rs:s"}).text, "v");
}

TEST_F(MigrateTest, ADryRunWritesNothingAndCountsWhatItWouldDo) {
  Fill();
  Run(*target_, {{"SET", "rs:s", "already there"}});
  RECSYS_ASSERT_OK_AND_ASSIGN(
      MigrateResult result, MigrateKeys(*source_, *target_, {.dry_run = true}));
  EXPECT_EQ(result.totals.copied, 6);
  EXPECT_EQ(result.totals.skipped_existing, 1);
  EXPECT_EQ(One(*target_, {"DBSIZE"}).integer, 1);
}

TEST_F(MigrateTest, AStoppedRunCompletesOnARerun) {
  std::vector<Command> sets;
  for (int i = 0; i < 100; ++i) {
    sets.push_back({"SET", absl::StrCat("rs:k", i), absl::StrCat(i)});
  }
  Run(*source_, sets);
  int batches = 0;
  RECSYS_ASSERT_OK_AND_ASSIGN(
      MigrateResult first,
      MigrateKeys(*source_, *target_,
                  {.batch_size = 10, .progress = [&](const MigrateProgress& p) {
                     EXPECT_EQ(p.nodes, 1);
                     return ++batches < 3;
                   }}));
  EXPECT_FALSE(first.complete);
  EXPECT_EQ(batches, 3);
  EXPECT_GT(first.totals.copied, 0);
  EXPECT_LT(first.totals.copied, 100);
  EXPECT_THAT(first.ToString(), HasSubstr("stopped before the end"));
  RECSYS_ASSERT_OK_AND_ASSIGN(VerifyResult partial,
                              VerifyKeys(*source_, *target_, {}));
  EXPECT_EQ(partial.missing, 100 - first.totals.copied);
  EXPECT_FALSE(partial.ok());

  RECSYS_ASSERT_OK_AND_ASSIGN(MigrateResult second,
                              MigrateKeys(*source_, *target_, {}));
  EXPECT_TRUE(second.complete);
  EXPECT_EQ(second.totals.copied + second.totals.skipped_existing,
            second.totals.scanned);
  EXPECT_EQ(first.totals.copied + second.totals.copied, 100);
  EXPECT_EQ(One(*target_, {"DBSIZE"}).integer, 100);
  RECSYS_ASSERT_OK_AND_ASSIGN(VerifyResult verify,
                              VerifyKeys(*source_, *target_, {}));
  EXPECT_TRUE(verify.ok()) << verify.ToString();
}

TEST_F(MigrateTest, RefusesTheSameServerButNotAnotherDatabase) {
  Fill();
  RECSYS_ASSERT_OK_AND_ASSIGN(std::unique_ptr<Client> again,
                              Client::Create(For(*source_server_)));
  absl::StatusOr<MigrateResult> same = MigrateKeys(*source_, *again, {});
  EXPECT_EQ(same.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(same.status().message(), HasSubstr("same Redis server"));
  EXPECT_EQ(VerifyKeys(*source_, *again, {}).status().code(),
            absl::StatusCode::kFailedPrecondition);

  RECSYS_ASSERT_OK_AND_ASSIGN(std::unique_ptr<Client> db1,
                              Client::Create(For(*source_server_, 1)));
  RECSYS_ASSERT_OK_AND_ASSIGN(MigrateResult other_db,
                              MigrateKeys(*source_, *db1, {}));
  EXPECT_EQ(other_db.totals.copied, 7);
}

TEST_F(MigrateTest, RefusesBadOptionsNamingTheField) {
  absl::StatusOr<MigrateResult> r =
      MigrateKeys(*source_, *target_, {.batch_size = 0});
  EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(r.status().message(), HasSubstr("batch_size"));
  r = MigrateKeys(*source_, *target_, {.call_timeout = absl::ZeroDuration()});
  EXPECT_THAT(r.status().message(), HasSubstr("call_timeout"));
  EXPECT_THAT(
      VerifyKeys(*source_, *target_, {.examples = -1}).status().message(),
      HasSubstr("examples"));
}

TEST_F(MigrateTest, VerifyNamesMissingDifferentAndExtraKeysEscaped) {
  Fill();
  RECSYS_ASSERT_OK(MigrateKeys(*source_, *target_, {}).status());
  Run(*target_, {{"DEL", kBinaryKey},
                 {"HSET", "rs:i:{7}", "price", "3"},
                 {"PERSIST", "rs:ev:{7}:h:1"},
                 {"SET", "rs:only_on_target", "1"},
                 {"SET", "other:t", "outside the prefix"}});
  RECSYS_ASSERT_OK_AND_ASSIGN(VerifyResult verify,
                              VerifyKeys(*source_, *target_, {}));
  EXPECT_FALSE(verify.ok());
  EXPECT_EQ(verify.missing, 1);
  EXPECT_EQ(verify.different, 2);
  EXPECT_EQ(verify.extra, 1);
  EXPECT_THAT(verify.missing_examples, ElementsAre("rs:u:{a}\\000:b}\\377"));
  EXPECT_THAT(verify.extra_examples, ElementsAre("rs:only_on_target"));
  EXPECT_THAT(verify.ToString(),
              HasSubstr("missing 1, different 2, extra 1; missing: "
                        "\"rs:u:{a}\\000:b}\\377\""));
}

TEST_F(MigrateTest, VerifyComparesByContentWhenPayloadsDiffer) {
  // Above the listpack limits a hash and a set are hash tables, whose DUMP
  // order depends on each server's hash seed: equal contents, other bytes.
  std::vector<Command> fill;
  Command hset = {"HSET", "rs:big_hash"};
  Command sadd = {"SADD", "rs:big_set"};
  for (int i = 0; i < 600; ++i) {
    hset.push_back(absl::StrCat("field", i));
    hset.push_back(absl::StrCat("value", i));
    sadd.push_back(absl::StrCat("member", i));
  }
  Run(*source_, {hset, sadd});
  // Written on the target in another order, not restored.
  Command hset_reversed = {"HSET", "rs:big_hash"};
  Command sadd_reversed = {"SADD", "rs:big_set"};
  for (int i = 599; i >= 0; --i) {
    hset_reversed.push_back(absl::StrCat("field", i));
    hset_reversed.push_back(absl::StrCat("value", i));
    sadd_reversed.push_back(absl::StrCat("member", i));
  }
  Run(*target_, {hset_reversed, sadd_reversed});
  RECSYS_ASSERT_OK_AND_ASSIGN(VerifyResult same,
                              VerifyKeys(*source_, *target_, {}));
  EXPECT_TRUE(same.ok()) << same.ToString();

  Run(*target_, {{"HSET", "rs:big_hash", "field7", "other"},
                 {"SREM", "rs:big_set", "member9"}});
  RECSYS_ASSERT_OK_AND_ASSIGN(VerifyResult changed,
                              VerifyKeys(*source_, *target_, {}));
  EXPECT_EQ(changed.different, 2);
}

}  // namespace
}  // namespace recsys::redis
