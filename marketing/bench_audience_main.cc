// recsys_bench_audience: times ScanAudience (marketing/audience.h) on a
// random user table.
//
//   recsys_bench_audience --users=1000000 --dim=64 --runs=5
//
// Builds a seeded random table (vectors uniform in [-1, 1), segments, tiers
// and last orders drawn at random), then times, `runs` times each:
//   full:     every user, ranked and delivered in chunks;
//   filtered: dormant + deep_dormant users, last order >= 90 days ago;
//   top1000:  every user, the best 1000 only.
// and prints ms per scan (min / median / max) and users scanned per second
// (from the median), then the times of the runs in order.
#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <random>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "marketing/audience.h"

ABSL_FLAG(int64_t, users, 1000000, "Users in the table.");
ABSL_FLAG(int, dim, 64, "Vector dimension.");
ABSL_FLAG(int, runs, 5, "Timed scans per case.");
ABSL_FLAG(int, threads, 1, "Scoring threads.");
ABSL_FLAG(int, chunk_size, 1000, "Users per delivered chunk.");
ABSL_FLAG(uint64_t, seed, 42, "Seed of the random table.");

namespace {

using recsys::marketing::AudienceFilter;
using recsys::marketing::AudienceMember;
using recsys::marketing::AudienceOptions;
using recsys::marketing::AudienceStats;
using recsys::marketing::AudienceTable;
using recsys::marketing::AudienceUser;
using recsys::marketing::Segment;
using recsys::marketing::Tier;

constexpr int64_t kNow = 1735689600;  // 2025-01-01

int Run() {
  const int64_t n = absl::GetFlag(FLAGS_users);
  const int dim = absl::GetFlag(FLAGS_dim);
  const int runs = absl::GetFlag(FLAGS_runs);
  if (n < 1 || dim < 1 || runs < 1) {
    std::fprintf(
        stderr,
        "recsys_bench_audience: --users, --dim and --runs must be >= 1\n");
    return 1;
  }
  const auto build_start = std::chrono::steady_clock::now();
  std::mt19937_64 rng(absl::GetFlag(FLAGS_seed));
  std::uniform_real_distribution<float> value(-1.0f, 1.0f);
  std::vector<float> vectors(static_cast<size_t>(n) * dim);
  for (float& x : vectors) x = value(rng);
  std::vector<AudienceUser> users(n);
  for (int64_t r = 0; r < n; ++r) {
    AudienceUser& u = users[r];
    u.user_id = absl::StrFormat("u%08d", r);
    u.segment = static_cast<Segment>(rng() % recsys::marketing::kNumSegments);
    u.tier = static_cast<Tier>(rng() % recsys::marketing::kNumTiers);
    u.last_purchase_unix = kNow - static_cast<int64_t>(rng() % (365 * 86400));
  }
  std::vector<float> target(dim);
  for (float& x : target) x = value(rng);
  absl::StatusOr<std::unique_ptr<const AudienceTable>> table =
      AudienceTable::Create(dim, std::move(vectors), std::move(users));
  if (!table.ok()) {
    std::fprintf(stderr, "recsys_bench_audience: %s\n",
                 table.status().ToString().c_str());
    return 1;
  }
  const double build_s = std::chrono::duration<double>(
                             std::chrono::steady_clock::now() - build_start)
                             .count();
  std::printf(
      "table: %lld users x %d dims (%.0f MiB of vectors), built in %.2fs\n",
      static_cast<long long>(n), dim, n * dim * 4.0 / (1 << 20), build_s);
  std::printf("threads %d, chunk_size %d, runs %d\n",
              absl::GetFlag(FLAGS_threads), absl::GetFlag(FLAGS_chunk_size),
              runs);

  struct Case {
    const char* name;
    AudienceFilter filter;
    int64_t limit;
  };
  AudienceFilter dormant;
  dormant.segments = {Segment::kDormant, Segment::kDeepDormant};
  dormant.min_days_since_purchase = 90;
  const Case cases[] = {
      {"full", {}, 0}, {"filtered", dormant, 0}, {"top1000", {}, 1000}};
  for (const Case& c : cases) {
    AudienceOptions options;
    options.limit = c.limit;
    options.threads = absl::GetFlag(FLAGS_threads);
    options.chunk_size = absl::GetFlag(FLAGS_chunk_size);
    std::vector<double> ms;
    AudienceStats stats;
    double checksum = 0;
    for (int run = 0; run < runs; ++run) {
      int64_t chunks = 0;
      const auto start = std::chrono::steady_clock::now();
      absl::StatusOr<AudienceStats> result = recsys::marketing::ScanAudience(
          **table, target, c.filter, absl::FromUnixSeconds(kNow), nullptr,
          options, [&](absl::Span<const AudienceMember> chunk) {
            ++chunks;
            checksum += chunk.front().score;
            return true;
          });
      ms.push_back(std::chrono::duration<double, std::milli>(
                       std::chrono::steady_clock::now() - start)
                       .count());
      if (!result.ok()) {
        std::fprintf(stderr, "recsys_bench_audience: %s\n",
                     result.status().ToString().c_str());
        return 1;
      }
      stats = *result;
    }
    std::string in_order;
    for (double t : ms) absl::StrAppendFormat(&in_order, " %.1f", t);
    std::sort(ms.begin(), ms.end());
    const double median = ms[ms.size() / 2];
    std::printf(
        "%-9s matched %9lld delivered %9lld  ms/scan min %7.1f median %7.1f "
        "max %7.1f  "
        "%6.1f M users/s  (checksum %.3f)\n          runs in order, ms:%s\n",
        c.name, static_cast<long long>(stats.matched),
        static_cast<long long>(stats.delivered), ms.front(), median, ms.back(),
        n / median / 1e3, checksum, in_order.c_str());
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage(
      "Times the audience scan on a random user table.\n"
      "  recsys_bench_audience --users=1000000 --dim=64 --runs=5");
  absl::ParseCommandLine(argc, argv);
  return Run();
}
