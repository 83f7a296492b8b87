// recsys_stats_sim: prints the simulation table of docs/experiments.md —
// true vs estimated lift and interval coverage per metric, false positives
// of an A/A test looked at after every batch (fixed-horizon vs mSPRT), the
// variance CUPED removes, and how often the sample-ratio check fires.
//
//   recsys_stats_sim --runs=1000 --seed=1
//
// Same flags, same output: every draw comes from common/random.h seeded by
// --seed.
#include <cstdint>
#include <cstdio>
#include <string>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/status/status.h"
#include "absl/strings/str_format.h"
#include "stats/simulation.h"
#include "stats/stats.h"

ABSL_FLAG(int, runs, 1000, "Simulated experiments per row.");
ABSL_FLAG(uint64_t, seed, 1, "Seed of every row's random streams.");
ABSL_FLAG(int, users_per_variant, 5000,
          "Users per variant of a fixed-horizon experiment.");
ABSL_FLAG(int, looks, 50, "Peeking: looks at the report per experiment.");
ABSL_FLAG(int, users_per_look, 200,
          "Peeking: users per variant between two looks.");
ABSL_FLAG(double, confidence, 0.95, "Confidence level (alpha = 1 - it).");
ABSL_FLAG(double, mixing_sd, recsys::stats::CompareOptions{}.mixing_sd,
          "mSPRT mixing: tau in standard deviations of the metric.");

namespace {

using recsys::stats::CoverageRow;
using recsys::stats::PeekingRow;
using recsys::stats::SrmRow;

void PrintCoverage(const CoverageRow& r) {
  absl::PrintF(
      "| %s | %.4f | %.4f | %+.2f%% | %+.2f%% | %.3f | %.3f | %.3f | %.4f |\n",
      r.metric, r.true_absolute, r.mean_absolute, 100 * r.true_relative,
      100 * r.mean_relative, r.coverage_absolute, r.coverage_relative,
      r.coverage_always_valid, r.mean_ci_width);
}

void PrintPeeking(const PeekingRow& r) {
  absl::PrintF("| %s | %.3f | %.3f | %.3f |\n", r.scenario, r.fixed_last_look,
               r.fixed_any_look, r.msprt_any_look);
}

int Fail(const absl::Status& status) {
  std::fprintf(stderr, "recsys_stats_sim: %s\n", status.ToString().c_str());
  return 1;
}

}  // namespace

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage(
      "Prints the experiment-statistics simulation table.\n"
      "  recsys_stats_sim --runs=1000 --seed=1");
  absl::ParseCommandLine(argc, argv);
  recsys::stats::SimulationOptions o;
  o.runs = absl::GetFlag(FLAGS_runs);
  o.seed = absl::GetFlag(FLAGS_seed);
  o.users_per_variant = absl::GetFlag(FLAGS_users_per_variant);
  o.looks = absl::GetFlag(FLAGS_looks);
  o.users_per_look = absl::GetFlag(FLAGS_users_per_look);
  o.compare.confidence = absl::GetFlag(FLAGS_confidence);
  o.compare.mixing_sd = absl::GetFlag(FLAGS_mixing_sd);
  const double level = 100 * o.compare.confidence;

  absl::PrintF(
      "Fixed-horizon accuracy: %d experiments per row, %d users per "
      "variant, true relative lift %+.0f%%, %.0f%% intervals.\n\n",
      o.runs, o.users_per_variant, 100 * o.shop.relative_lift, level);
  absl::PrintF(
      "| metric | true abs. lift | mean est. abs. lift | true rel. lift | "
      "mean est. rel. lift | coverage abs. CI | coverage rel. CI | coverage "
      "always-valid CI | mean abs. CI width |\n"
      "|---|---:|---:|---:|---:|---:|---:|---:|---:|\n");
  auto mean = recsys::stats::SimulateMeanCoverage(o);
  if (!mean.ok()) return Fail(mean.status());
  PrintCoverage(*mean);
  auto ratio = recsys::stats::SimulateRatioCoverage(o);
  if (!ratio.ok()) return Fail(ratio.status());
  PrintCoverage(*ratio);
  CoverageRow unadjusted;
  auto cuped = recsys::stats::SimulateCupedCoverage(o, &unadjusted);
  if (!cuped.ok()) return Fail(cuped.status());
  PrintCoverage(unadjusted);
  PrintCoverage(*cuped);
  absl::PrintF(
      "\nCUPED (pre-period spend as covariate): mean variance reduction of "
      "the lift estimate %.3f; mean interval width %.4f -> %.4f.\n\n",
      cuped->mean_variance_reduction, unadjusted.mean_ci_width,
      cuped->mean_ci_width);

  absl::PrintF(
      "Peeking: the report is read after every %d users per variant, %d "
      "looks (%d users per variant at the end), %d experiments per row; "
      "share of experiments declaring a difference at alpha = %.2f.\n\n",
      o.users_per_look, o.looks, o.users_per_look * o.looks, o.runs,
      1 - o.compare.confidence);
  absl::PrintF(
      "| scenario | fixed horizon, last look only | fixed horizon, any look "
      "| mSPRT (always valid), any look |\n|---|---:|---:|---:|\n");
  for (double lift : {0.0, o.shop.relative_lift}) {
    auto peeking = recsys::stats::SimulatePeeking(o, lift);
    if (!peeking.ok()) return Fail(peeking.status());
    PrintPeeking(*peeking);
  }

  absl::PrintF(
      "\nSample-ratio mismatch (alpha = %g) on a configured 50/50 split of "
      "10000 users, %d experiments per row.\n\n| actual treatment share | "
      "flagged |\n|---:|---:|\n",
      recsys::stats::SrmOptions{}.alpha, o.runs);
  for (double p : {0.50, 0.52}) {
    auto srm = recsys::stats::SimulateSrm(o, 10000, p);
    if (!srm.ok()) return Fail(srm.status());
    absl::PrintF("| %.2f | %.3f |\n", srm->treatment_probability, srm->flagged);
  }
  return 0;
}
