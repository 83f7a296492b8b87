#include "stats/simulation.h"

#include <algorithm>
#include <cmath>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "common/random.h"
#include "common/status_macros.h"

namespace recsys::stats {
namespace {

// Stream tags: one per simulation, so rows do not share draws.
constexpr uint64_t kMeanTag = 1;
constexpr uint64_t kRatioTag = 2;
constexpr uint64_t kCupedTag = 3;
constexpr uint64_t kPeekingTag = 4;
constexpr uint64_t kSrmTag = 5;

Rng RunRng(uint64_t seed, uint64_t tag, int run) {
  return Rng(Mix64(Mix64(seed ^ Mix64(tag)) + static_cast<uint64_t>(run)));
}

absl::Status CheckOptions(const SimulationOptions& o) {
  if (o.runs < 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("runs: must be >= 1, got ", o.runs));
  }
  if (o.users_per_variant < 2) {
    return absl::InvalidArgumentError(absl::StrCat(
        "users_per_variant: must be >= 2, got ", o.users_per_variant));
  }
  if (o.looks < 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("looks: must be >= 1, got ", o.looks));
  }
  if (o.users_per_look < 2) {
    return absl::InvalidArgumentError(
        absl::StrCat("users_per_look: must be >= 2, got ", o.users_per_look));
  }
  const ShopModel& s = o.shop;
  if (!(s.relative_lift > -1) || !std::isfinite(s.relative_lift)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "shop.relative_lift: must be finite and > -1, got ", s.relative_lift));
  }
  const double top = std::max(1.0, 1 + s.relative_lift);
  if (!(s.conversion > 0 && s.conversion * top <= 1)) {
    return absl::InvalidArgumentError(
        absl::StrCat("shop.conversion: must be in (0, 1] with the lift, got ",
                     s.conversion));
  }
  if (!(s.ctr > 0 && s.ctr * top <= 1)) {
    return absl::InvalidArgumentError(
        absl::StrCat("shop.ctr: must be in (0, 1] with the lift, got ", s.ctr));
  }
  if (!(s.mean_extra_impressions >= 0)) {
    return absl::InvalidArgumentError(
        absl::StrCat("shop.mean_extra_impressions: must be >= 0, got ",
                     s.mean_extra_impressions));
  }
  return absl::OkStatus();
}

// One user's GMV in a variant with purchase probability `conversion`.
double DrawGmv(Rng& rng, const ShopModel& shop, double conversion) {
  if (!rng.Bernoulli(conversion)) return 0;
  return rng.LogNormal(shop.gmv_log_mean, shop.gmv_log_sd);
}

double MeanGmv(const ShopModel& shop, double conversion) {
  return conversion *
         std::exp(shop.gmv_log_mean + shop.gmv_log_sd * shop.gmv_log_sd / 2);
}

bool Covers(const Interval& ci, double truth) {
  return ci.lower <= truth && truth <= ci.upper;
}

// Accumulates one metric's runs into a CoverageRow.
class CoverageAccumulator {
 public:
  CoverageAccumulator(std::string metric, double true_absolute,
                      double true_relative) {
    row_.metric = std::move(metric);
    row_.true_absolute = true_absolute;
    row_.true_relative = true_relative;
  }
  void Add(const Comparison& c, double variance_reduction = 0) {
    ++row_.runs;
    row_.mean_absolute += c.absolute.estimate;
    row_.coverage_absolute += Covers(c.absolute.ci, row_.true_absolute);
    row_.coverage_always_valid += Covers(c.always_valid_ci, row_.true_absolute);
    row_.mean_ci_width += c.absolute.ci.upper - c.absolute.ci.lower;
    if (c.relative.has_value()) {
      ++relative_runs_;
      row_.mean_relative += c.relative->estimate;
      row_.coverage_relative += Covers(c.relative->ci, row_.true_relative);
    }
    row_.mean_variance_reduction += variance_reduction;
  }
  CoverageRow Finish() {
    const double runs = row_.runs;
    row_.mean_absolute /= runs;
    row_.coverage_absolute /= runs;
    row_.coverage_always_valid /= runs;
    row_.mean_ci_width /= runs;
    row_.mean_variance_reduction /= runs;
    // A run without a relative estimate (control mean 0) counts as not
    // covered.
    row_.coverage_relative /= runs;
    if (relative_runs_ > 0) row_.mean_relative /= relative_runs_;
    return row_;
  }

 private:
  CoverageRow row_;
  int relative_runs_ = 0;
};

}  // namespace

absl::StatusOr<CoverageRow> SimulateMeanCoverage(
    const SimulationOptions& options) {
  RECSYS_RETURN_IF_ERROR(CheckOptions(options));
  const ShopModel& shop = options.shop;
  const double p_c = shop.conversion;
  const double p_t = shop.conversion * (1 + shop.relative_lift);
  CoverageAccumulator acc("GMV per exposed user",
                          MeanGmv(shop, p_t) - MeanGmv(shop, p_c),
                          shop.relative_lift);
  for (int run = 0; run < options.runs; ++run) {
    Rng rng = RunRng(options.seed, kMeanTag, run);
    Moments control, treatment;
    for (int i = 0; i < options.users_per_variant; ++i) {
      control.Add(DrawGmv(rng, shop, p_c));
      treatment.Add(DrawGmv(rng, shop, p_t));
    }
    RECSYS_ASSIGN_OR_RETURN(const Comparison c,
                            CompareMeans(control, treatment, options.compare));
    acc.Add(c);
  }
  return acc.Finish();
}

absl::StatusOr<CoverageRow> SimulateRatioCoverage(
    const SimulationOptions& options) {
  RECSYS_RETURN_IF_ERROR(CheckOptions(options));
  const ShopModel& shop = options.shop;
  const double ctr_c = shop.ctr;
  const double ctr_t = shop.ctr * (1 + shop.relative_lift);
  const double log_one_minus_q =
      std::log1p(-1 / (1 + shop.mean_extra_impressions));
  const double s = shop.ctr_user_log_sd;
  auto add_user = [&](Rng& rng, double ctr, RatioMoments& m) {
    const double impressions = 1 + rng.Geometric(log_one_minus_q);
    const double p = std::min(1.0, ctr * rng.LogNormal(-s * s / 2, s));
    double clicks = 0;
    for (int k = 0; k < impressions; ++k) clicks += rng.Bernoulli(p);
    m.Add(clicks, impressions);
  };
  // Users' click probabilities have mean ctr (the cap at 1 is reached with
  // probability below 1e-10 at the defaults), independent of impressions,
  // so Σclicks / Σimpressions estimates ctr.
  CoverageAccumulator acc("CTR (clicks / impressions)", ctr_t - ctr_c,
                          shop.relative_lift);
  for (int run = 0; run < options.runs; ++run) {
    Rng rng = RunRng(options.seed, kRatioTag, run);
    RatioMoments control, treatment;
    for (int i = 0; i < options.users_per_variant; ++i) {
      add_user(rng, ctr_c, control);
      add_user(rng, ctr_t, treatment);
    }
    RECSYS_ASSIGN_OR_RETURN(const Comparison c,
                            CompareRatios(control, treatment, options.compare));
    acc.Add(c);
  }
  return acc.Finish();
}

absl::StatusOr<CoverageRow> SimulateCupedCoverage(
    const SimulationOptions& options, CoverageRow* unadjusted) {
  RECSYS_RETURN_IF_ERROR(CheckOptions(options));
  const ShopModel& shop = options.shop;
  const double mean_c =
      std::exp(shop.spend_log_mean + shop.spend_log_sd * shop.spend_log_sd / 2);
  const double mean_t = mean_c * (1 + shop.relative_lift);
  const double noise_sd = shop.spend_noise_log_sd;
  auto add_user = [&](Rng& rng, double factor, Moments& m) {
    const double rate = rng.LogNormal(shop.spend_log_mean, shop.spend_log_sd);
    const double x = rate * rng.LogNormal(-noise_sd * noise_sd / 2, noise_sd);
    const double y =
        factor * rate * rng.LogNormal(-noise_sd * noise_sd / 2, noise_sd);
    m.Add(y, x);
  };
  CoverageAccumulator adjusted("GMV per exposed user, CUPED", mean_t - mean_c,
                               shop.relative_lift);
  CoverageAccumulator plain("GMV per exposed user, same runs unadjusted",
                            mean_t - mean_c, shop.relative_lift);
  for (int run = 0; run < options.runs; ++run) {
    Rng rng = RunRng(options.seed, kCupedTag, run);
    Moments control, treatment;
    for (int i = 0; i < options.users_per_variant; ++i) {
      add_user(rng, 1, control);
      add_user(rng, 1 + shop.relative_lift, treatment);
    }
    RECSYS_ASSIGN_OR_RETURN(
        const CupedComparison c,
        CompareMeansCuped(control, treatment, options.compare));
    adjusted.Add(c.adjusted, c.variance_reduction);
    plain.Add(c.unadjusted);
  }
  if (unadjusted != nullptr) *unadjusted = plain.Finish();
  return adjusted.Finish();
}

absl::StatusOr<PeekingRow> SimulatePeeking(const SimulationOptions& options,
                                           double relative_lift) {
  SimulationOptions checked = options;
  checked.shop.relative_lift = relative_lift;
  RECSYS_RETURN_IF_ERROR(CheckOptions(checked));
  const ShopModel& shop = options.shop;
  const double alpha = 1 - options.compare.confidence;
  const double p_c = shop.conversion;
  const double p_t = shop.conversion * (1 + relative_lift);
  PeekingRow row;
  row.scenario = relative_lift == 0
                     ? "A/A (no effect)"
                     : absl::StrCat("A/B (+", relative_lift * 100, "% GMV)");
  row.true_relative = relative_lift;
  row.runs = options.runs;
  row.looks = options.looks;
  row.users_per_variant =
      static_cast<double>(options.looks) * options.users_per_look;
  for (int run = 0; run < options.runs; ++run) {
    // The seed does not depend on the lift: the A/A and A/B rows see the
    // same uniforms.
    Rng rng = RunRng(options.seed, kPeekingTag, run);
    Moments control, treatment;
    bool fixed_any = false;
    bool msprt_any = false;
    for (int look = 1; look <= options.looks; ++look) {
      for (int i = 0; i < options.users_per_look; ++i) {
        control.Add(DrawGmv(rng, shop, p_c));
        treatment.Add(DrawGmv(rng, shop, p_t));
      }
      RECSYS_ASSIGN_OR_RETURN(
          const Comparison c,
          CompareMeans(control, treatment, options.compare));
      fixed_any = fixed_any || c.p_value < alpha;
      // The running minimum of the always-valid p-value is below alpha
      // exactly when some look's value is.
      msprt_any = msprt_any || c.always_valid_p_value < alpha;
      if (look == options.looks) row.fixed_last_look += c.p_value < alpha;
    }
    row.fixed_any_look += fixed_any;
    row.msprt_any_look += msprt_any;
  }
  row.fixed_last_look /= options.runs;
  row.fixed_any_look /= options.runs;
  row.msprt_any_look /= options.runs;
  return row;
}

absl::StatusOr<SrmRow> SimulateSrm(const SimulationOptions& options, int users,
                                   double treatment_probability) {
  RECSYS_RETURN_IF_ERROR(CheckOptions(options));
  if (users < 2) {
    return absl::InvalidArgumentError(
        absl::StrCat("users: must be >= 2, got ", users));
  }
  if (!(treatment_probability > 0 && treatment_probability < 1)) {
    return absl::InvalidArgumentError(
        absl::StrCat("treatment_probability: must be in (0, 1), got ",
                     treatment_probability));
  }
  SrmRow row;
  row.users = users;
  row.treatment_probability = treatment_probability;
  row.runs = options.runs;
  const double shares[] = {0.5, 0.5};
  for (int run = 0; run < options.runs; ++run) {
    Rng rng = RunRng(options.seed, kSrmTag, run);
    double treated = 0;
    for (int i = 0; i < users; ++i)
      treated += rng.Bernoulli(treatment_probability);
    const double observed[] = {users - treated, treated};
    RECSYS_ASSIGN_OR_RETURN(const SrmResult srm,
                            SampleRatioMismatch(observed, shares));
    row.flagged += srm.mismatch;
  }
  row.flagged /= options.runs;
  return row;
}

}  // namespace recsys::stats
