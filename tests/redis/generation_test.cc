// redis::Generations and redis::GenerationCache on a real redis-server: the
// pointer's scripts (begin, flip, rollback), the key prefixes, and the
// readers' cache (no pointer read while fresh, one re-read after a flip).
#include "redis/generation.h"

#include <atomic>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "gtest/gtest.h"
#include "redis/client.h"
#include "redis/slot.h"
#include "tests/testing/redis_server.h"
#include "tests/testing/status_matchers.h"

namespace recsys::redis {
namespace {

std::string NextPrefix() {
  static std::atomic<int> next{0};
  return absl::StrCat("gt", next.fetch_add(1), ":");
}

class GenerationTest : public ::testing::Test {
 protected:
  void SetUp() override {
    absl::StatusOr<recsys::testing::RedisServer*> server =
        recsys::testing::SharedRedisServer();
    ASSERT_TRUE(server.ok()) << server.status();
    Options options;
    options.host = (*server)->host();
    options.port = (*server)->port();
    options.connect_timeout = absl::Seconds(5);
    options.default_timeout = absl::Seconds(10);
    RECSYS_ASSERT_OK_AND_ASSIGN(client_, Client::Create(options));
    prefix_ = NextPrefix();
  }

  absl::Time Deadline() const { return absl::Now() + absl::Seconds(10); }

  absl::Status Run(const Command& command) {
    return client_->Execute({&command, 1}, Deadline()).status();
  }

  // Starts and flips a load of `version`; returns its generation.
  int64_t LoadAndFlip(const Generations& g, const std::string& version) {
    absl::StatusOr<Generations::Begun> begun = g.Begin(version, Deadline());
    EXPECT_TRUE(begun.ok()) << begun.status();
    if (!begun.ok()) return -1;
    FlipInfo flip;
    flip.generation = begun->generation;
    flip.cutoff_unix = 1000 + begun->generation;
    flip.model_version = version;
    flip.keep = 2;
    flip.now = absl::Now();
    absl::Status flipped = g.Flip(flip, Deadline());
    EXPECT_TRUE(flipped.ok()) << flipped;
    return begun->generation;
  }

  std::unique_ptr<Client> client_;
  std::string prefix_;
};

TEST_F(GenerationTest, KeyPrefixes) {
  EXPECT_EQ(GenerationKeyPrefix("rs:", 0), "rs:");
  EXPECT_EQ(GenerationKeyPrefix("rs:", 7), "rs:g7:");
  EXPECT_EQ(GenerationPointerKey("rs:"), "rs:{gen}");
  EXPECT_EQ(GenerationMetaKey("rs:", 7), "rs:{gen}:meta:7");
  // The flip and rollback scripts' keys share one Redis Cluster slot; a
  // user's keys keep their own tag in every generation.
  EXPECT_EQ(KeySlot(GenerationPointerKey("rs:")),
            KeySlot(GenerationMetaKey("rs:", 7)));
  EXPECT_EQ(KeySlot(GenerationKeyPrefix("rs:", 7) + "u:{alice}:pc"),
            KeySlot("rs:u:{alice}:act"));
}

TEST_F(GenerationTest, BeginResumesTheSameLoadAndAllocatesAboveEveryOther) {
  const Generations g(client_.get(), prefix_);
  RECSYS_ASSERT_OK_AND_ASSIGN(GenerationState empty, g.Read(Deadline()));
  EXPECT_EQ(empty.live.generation, 0);
  EXPECT_EQ(empty.live.cutoff_unix, kNoCutoff);
  EXPECT_TRUE(empty.history.empty());

  RECSYS_ASSERT_OK_AND_ASSIGN(Generations::Begun a, g.Begin("v1", Deadline()));
  EXPECT_EQ(a.generation, 1);
  EXPECT_FALSE(a.already_live);
  RECSYS_ASSERT_OK_AND_ASSIGN(Generations::Begun again,
                              g.Begin("v1", Deadline()));
  EXPECT_EQ(again.generation, 1);
  // Another version abandons generation 1 and takes 2.
  RECSYS_ASSERT_OK_AND_ASSIGN(Generations::Begun b, g.Begin("v2", Deadline()));
  EXPECT_EQ(b.generation, 2);
  // The abandoned load can no longer be switched to.
  FlipInfo stale;
  stale.generation = 1;
  stale.model_version = "v1";
  EXPECT_EQ(g.Flip(stale, Deadline()).code(),
            absl::StatusCode::kFailedPrecondition);

  FlipInfo flip;
  flip.generation = 2;
  flip.cutoff_unix = 1234;
  flip.model_version = "v2";
  RECSYS_ASSERT_OK(g.Flip(flip, Deadline()));
  RECSYS_ASSERT_OK(g.Flip(flip, Deadline()));  // again: already live, OK
  RECSYS_ASSERT_OK_AND_ASSIGN(GenerationState state, g.Read(Deadline()));
  EXPECT_EQ(state.live.generation, 2);
  EXPECT_EQ(state.live.cutoff_unix, 1234);
  EXPECT_EQ(state.model_version, "v2");
  EXPECT_EQ(state.history, std::vector<int64_t>({2}));
  EXPECT_EQ(state.loading, 0);
  RECSYS_ASSERT_OK_AND_ASSIGN(Generations::Begun live,
                              g.Begin("v2", Deadline()));
  EXPECT_EQ(live.generation, 2);
  EXPECT_TRUE(live.already_live);
}

TEST_F(GenerationTest, PruneKeepsTheHistoryAndRollbackWalksBack) {
  const Generations g(client_.get(), prefix_);
  for (int v = 1; v <= 3; ++v) {
    const int64_t n = LoadAndFlip(g, absl::StrCat("v", v));
    RECSYS_ASSERT_OK(
        Run({"SET", GenerationKeyPrefix(prefix_, n) + "u:{x}:pc", "1"}));
  }
  // A key that only looks like a generation's is left alone.
  RECSYS_ASSERT_OK(Run({"SET", prefix_ + "gx:1", "1"}));
  RECSYS_ASSERT_OK_AND_ASSIGN(int64_t removed, g.Prune(2, absl::Seconds(10)));
  EXPECT_EQ(removed, 2);  // g1's key and its meta
  const Command meta_exists = {"EXISTS", GenerationMetaKey(prefix_, 1)};
  RECSYS_ASSERT_OK_AND_ASSIGN(
      std::vector<Value> meta_left,
      client_->Execute({&meta_exists, 1}, Deadline(), CallKind::kRead));
  EXPECT_EQ(meta_left[0].AsInt(), 0);
  RECSYS_ASSERT_OK_AND_ASSIGN(GenerationCounts g2, g.Count(2, absl::Seconds(10)));
  EXPECT_EQ(g2.users, 1);
  RECSYS_ASSERT_OK_AND_ASSIGN(GenerationCounts g1, g.Count(1, absl::Seconds(10)));
  EXPECT_EQ(g1.keys, 0);

  RECSYS_ASSERT_OK_AND_ASSIGN(int64_t live, g.Rollback(Deadline()));
  EXPECT_EQ(live, 2);
  RECSYS_ASSERT_OK_AND_ASSIGN(GenerationState state, g.Read(Deadline()));
  EXPECT_EQ(state.live.cutoff_unix, 1002);
  EXPECT_EQ(state.model_version, "v2");
  EXPECT_EQ(g.Rollback(Deadline()).status().code(),
            absl::StatusCode::kFailedPrecondition);
}

// Each prune records what it left (the pointer's `swept`); the next one
// walks only the generations that can still hold keys, and a pointer
// without the record gets the walk over every generation key.
TEST_F(GenerationTest, PruneRecordsWhatItLeftAndTheNextWalksOnlyTheRest) {
  const Generations g(client_.get(), prefix_);
  auto plant = [&](int64_t n) {
    RECSYS_ASSERT_OK(
        Run({"SET", GenerationKeyPrefix(prefix_, n) + "u:{x}:pc", "1"}));
  };
  for (int v = 1; v <= 3; ++v) plant(LoadAndFlip(g, absl::StrCat("v", v)));
  // The first load recorded that only generation 0 could hold keys.
  RECSYS_ASSERT_OK_AND_ASSIGN(GenerationState before, g.Read(Deadline()));
  EXPECT_EQ(before.swept_through, 0);
  EXPECT_EQ(before.swept_survivors, (std::vector<int64_t>{0}));
  RECSYS_ASSERT_OK_AND_ASSIGN(int64_t removed, g.Prune(2, absl::Seconds(10)));
  EXPECT_EQ(removed, 2);  // g1's key and its meta
  RECSYS_ASSERT_OK_AND_ASSIGN(GenerationState after, g.Read(Deadline()));
  EXPECT_EQ(after.swept_through, 3);
  EXPECT_EQ(after.swept_survivors, (std::vector<int64_t>{2, 3}));

  // Generation 4: g2 leaves the history and is the one walked.
  plant(LoadAndFlip(g, "v4"));
  RECSYS_ASSERT_OK_AND_ASSIGN(removed, g.Prune(2, absl::Seconds(10)));
  EXPECT_EQ(removed, 2);  // g2's key and its meta
  RECSYS_ASSERT_OK_AND_ASSIGN(GenerationCounts g2, g.Count(2, absl::Seconds(10)));
  EXPECT_EQ(g2.keys, 0);
  RECSYS_ASSERT_OK_AND_ASSIGN(GenerationCounts g3, g.Count(3, absl::Seconds(10)));
  EXPECT_EQ(g3.keys, 1);
  RECSYS_ASSERT_OK_AND_ASSIGN(after, g.Read(Deadline()));
  EXPECT_EQ(after.swept_through, 4);
  EXPECT_EQ(after.swept_survivors, (std::vector<int64_t>{3, 4}));
  // Nothing more to remove: nothing walked, nothing removed.
  RECSYS_ASSERT_OK_AND_ASSIGN(removed, g.Prune(2, absl::Seconds(10)));
  EXPECT_EQ(removed, 0);

  // Without the record (a pointer from before it), a key left in g1 is
  // found by the walk over every generation key.
  plant(1);
  RECSYS_ASSERT_OK(Run({"HDEL", GenerationPointerKey(prefix_), "swept"}));
  RECSYS_ASSERT_OK_AND_ASSIGN(removed, g.Prune(2, absl::Seconds(10)));
  EXPECT_EQ(removed, 1);
  RECSYS_ASSERT_OK_AND_ASSIGN(after, g.Read(Deadline()));
  EXPECT_EQ(after.swept_through, 4);
}

TEST_F(GenerationTest,
       TheCacheReadsThePointerOnlyWhenStaleAndRereadsAfterAFlip) {
  const Generations g(client_.get(), prefix_);
  LoadAndFlip(g, "v1");
  auto build = [&](const GenerationView& view) {
    return std::vector<Command>{
        {"GET", GenerationKeyPrefix(prefix_, view.generation) + "probe"}};
  };
  for (int n = 1; n <= 2; ++n) {
    RECSYS_ASSERT_OK(Run({"SET", GenerationKeyPrefix(prefix_, n) + "probe",
                          absl::StrCat("from ", n)}));
  }

  // The first read of any cache checks the pointer, in the same call.
  const GenerationCache never(client_.get(), prefix_, absl::InfiniteDuration());
  RECSYS_ASSERT_OK_AND_ASSIGN(auto fixed, never.RoundTrip(build, Deadline()));
  EXPECT_EQ(fixed.first.generation, 1);
  const GenerationCache always(client_.get(), prefix_, absl::ZeroDuration());
  RECSYS_ASSERT_OK_AND_ASSIGN(auto first, always.RoundTrip(build, Deadline()));
  EXPECT_EQ(first.first.generation, 1);
  EXPECT_EQ(first.first.cutoff_unix, 1001);
  ASSERT_EQ(first.second.size(), 1u);
  EXPECT_EQ(first.second[0].text, "from 1");

  LoadAndFlip(g, "v2");
  RECSYS_ASSERT_OK_AND_ASSIGN(auto second, always.RoundTrip(build, Deadline()));
  EXPECT_EQ(second.first.generation, 2);
  EXPECT_EQ(second.second[0].text, "from 2");
  EXPECT_EQ(always.Current().generation, 2);
  // A cache that is still fresh does not look: it keeps reading generation 1.
  RECSYS_ASSERT_OK_AND_ASSIGN(auto cached, never.RoundTrip(build, Deadline()));
  EXPECT_EQ(cached.first.generation, 1);
  EXPECT_EQ(cached.second[0].text, "from 1");

  // Resolve reads the pointer now.
  RECSYS_ASSERT_OK_AND_ASSIGN(GenerationView resolved,
                              never.Resolve(Deadline()));
  EXPECT_EQ(resolved.generation, 2);
  EXPECT_EQ(never.Current().generation, 2);
}

TEST_F(GenerationTest, AMalformedPointerIsInternal) {
  RECSYS_ASSERT_OK(
      Run({"HSET", GenerationPointerKey(prefix_), "live", "seven"}));
  const GenerationCache cache(client_.get(), prefix_, absl::ZeroDuration());
  EXPECT_EQ(cache.Resolve(Deadline()).status().code(),
            absl::StatusCode::kInternal);
}

}  // namespace
}  // namespace recsys::redis
