// Seeded simulations of experiments with known truth, to check the
// statistics of stats.h: do the intervals cover the true lift as often as
// they claim, how often does an A/A test declare a difference when the
// report is looked at after every batch, how much variance does CUPED
// remove. tests/stats checks them; recsys_stats_sim prints them as the table
// of docs/experiments.md.
//
// The simulated shop (ShopModel; every user independent, each variant gets
// users_per_variant users):
//   GMV per exposed user   a user buys with probability `conversion`
//                          (treatment: conversion·(1 + relative_lift)) and
//                          then spends LogNormal(gmv_log_mean, gmv_log_sd).
//   CTR                    a user sees 1 + Geometric impressions (mean
//                          1 + mean_extra_impressions) and clicks each with
//                          her own probability ctr·LogNormal(-s²/2, s),
//                          s = ctr_user_log_sd (treatment: ctr·(1 +
//                          relative_lift)); CTR = Σclicks / Σimpressions.
//   GMV with pre-period    a user's spending rate λ ~ LogNormal(
//                          spend_log_mean, spend_log_sd); pre-period spend
//                          x = λ·e1, experiment spend y = λ·e2 (treatment:
//                          ·(1 + relative_lift)), e1, e2 independent
//                          LogNormal noise of mean 1 and log-sd
//                          spend_noise_log_sd.
// The true lifts are known in closed form (the relative lift is
// relative_lift for all three; absolute lifts follow from the means).
//
// Run r of a simulation draws from its own Rng seeded from (seed, r), so a
// row is reproducible and run r does not depend on how many runs there are.
//
// Thread safety: free functions without shared state.
#ifndef RECSYS_STATS_SIMULATION_H_
#define RECSYS_STATS_SIMULATION_H_

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "stats/stats.h"

namespace recsys::stats {

struct ShopModel {
  double relative_lift = 0.10;        // true treatment effect, all metrics
  double conversion = 0.10;           // control purchase probability
  double gmv_log_mean = 3.5;          // log-normal spend of a buyer
  double gmv_log_sd = 0.8;            //   (mean exp(3.5 + 0.32) = 45.6)
  double ctr = 0.04;                  // control click probability
  double ctr_user_log_sd = 0.5;       // spread of users' click probabilities
  double mean_extra_impressions = 4;  // impressions per user - 1
  double spend_log_mean = 3.0;        // λ, a user's spending rate
  double spend_log_sd = 1.0;
  double spend_noise_log_sd = 0.5;  // period-to-period noise around λ
};

struct SimulationOptions {
  int runs = 1000;               // simulated experiments per row; >= 1
  uint64_t seed = 1;             // every row derives its streams from it
  int users_per_variant = 5000;  // fixed-horizon experiments; >= 2
  int looks = 50;                // peeking: looks per experiment; >= 1
  int users_per_look = 200;      // peeking: users per variant between looks
  CompareOptions compare;        // confidence and the mSPRT mixing
  ShopModel shop;
};

// Fixed-horizon accuracy of one metric over `runs` experiments.
struct CoverageRow {
  std::string metric;
  double true_absolute = 0;  // treatment mean - control mean, exact
  double true_relative = 0;  // exact
  double mean_absolute = 0;  // average estimate over runs
  double mean_relative = 0;
  // Shares of runs whose interval contains the true lift.
  double coverage_absolute = 0;
  double coverage_relative = 0;
  double coverage_always_valid = 0;    // the mSPRT confidence sequence
  double mean_ci_width = 0;            // of the absolute interval
  double mean_variance_reduction = 0;  // CUPED rows only, else 0
  int runs = 0;
};

// Mean metric: GMV per exposed user.
absl::StatusOr<CoverageRow> SimulateMeanCoverage(
    const SimulationOptions& options);
// Ratio metric: CTR, by the delta method.
absl::StatusOr<CoverageRow> SimulateRatioCoverage(
    const SimulationOptions& options);
// GMV with the pre-period covariate: the CUPED-adjusted comparison, with
// the variance reduction. unadjusted, if not null, receives the same runs'
// unadjusted row.
absl::StatusOr<CoverageRow> SimulateCupedCoverage(
    const SimulationOptions& options, CoverageRow* unadjusted = nullptr);

// The share of experiments that declare a difference (two-sided, at
// alpha = 1 - confidence) when the report is looked at after every batch of
// users_per_look users per variant, stopping at the first significant look.
struct PeekingRow {
  std::string scenario;
  double true_relative = 0;
  int runs = 0;
  int looks = 0;
  double users_per_variant = 0;  // at the last look
  double fixed_last_look = 0;  // fixed-horizon p < alpha at the last look only
  double fixed_any_look = 0;   // fixed-horizon p < alpha at some look
  double msprt_any_look = 0;   // always-valid p < alpha at some look
};

// GMV per exposed user with the treatment effect `relative_lift` (0: an A/A
// test, where every declaration is a false positive).
absl::StatusOr<PeekingRow> SimulatePeeking(const SimulationOptions& options,
                                           double relative_lift);

// How often SampleRatioMismatch flags a 50/50 experiment of `users` users
// whose assignment actually sends each user to the treatment with
// probability treatment_probability (0.5: no mismatch).
struct SrmRow {
  double users = 0;
  double treatment_probability = 0;
  int runs = 0;
  double flagged = 0;  // share of runs flagged
};
absl::StatusOr<SrmRow> SimulateSrm(const SimulationOptions& options, int users,
                                   double treatment_probability);

}  // namespace recsys::stats

#endif  // RECSYS_STATS_SIMULATION_H_
