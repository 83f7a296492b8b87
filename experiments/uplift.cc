#include "experiments/uplift.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <optional>
#include <tuple>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/log.h"
#include "experiments/report.h"
#include "stats/stats.h"

namespace recsys::experiments {
namespace {

std::string Key(absl::string_view campaign, absl::string_view segment) {
  return absl::StrCat(campaign, absl::string_view("\0", 1), segment);
}

void Add(const SegmentSums& from, SegmentSums* to) {
  to->exposed_users += from.exposed_users;
  to->converted_users += from.converted_users;
  to->sum_y += from.sum_y;
  to->sum_y2 += from.sum_y2;
  to->sum_d += from.sum_d;
  to->sum_d2 += from.sum_d2;
  to->sum_yd += from.sum_yd;
}

}  // namespace

absl::Status ValidateUpliftOptions(const UpliftOptions& o) {
  if (!(o.prior_sd > 0) || !std::isfinite(o.prior_sd)) {
    return absl::InvalidArgumentError(
        absl::StrCat("uplift.prior_sd: must be > 0, got ", o.prior_sd));
  }
  if (!(o.measured_half_width >= 0) || !std::isfinite(o.measured_half_width)) {
    return absl::InvalidArgumentError(
        absl::StrCat("uplift.measured_half_width: must be >= 0, got ",
                     o.measured_half_width));
  }
  if (!(o.confidence > 0 && o.confidence < 1)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "uplift.confidence: must be in (0, 1), got ", o.confidence));
  }
  if (o.min_users < 2) {
    return absl::InvalidArgumentError(
        absl::StrCat("uplift.min_users: must be >= 2, got ", o.min_users));
  }
  if (o.refresh_interval < absl::ZeroDuration() ||
      o.refresh_timeout <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError(
        "uplift.refresh_interval: must be >= 0 and refresh_timeout > 0");
  }
  return absl::OkStatus();
}

std::vector<UpliftEstimate> EstimateUplift(const Experiment& experiment,
                                           const ExperimentCounts& counts,
                                           const UpliftOptions& options) {
  std::vector<UpliftEstimate> out;
  // Campaigns some variant holds out, in config order.
  std::vector<std::string> campaigns;
  for (const Variant& v : experiment.variants) {
    for (const CouponPolicy& p : v.coupons) {
      if (p.holdout && std::find(campaigns.begin(), campaigns.end(),
                                 p.campaign) == campaigns.end()) {
        campaigns.push_back(p.campaign);
      }
    }
  }
  for (const std::string& campaign : campaigns) {
    // Per segment: holdout and treated users, pooled over variants.
    std::map<std::string, std::pair<SegmentSums, SegmentSums>> by_segment;
    for (const Variant& v : experiment.variants) {
      auto it = counts.find(v.name);
      if (it == counts.end()) continue;
      const CouponPolicy* policy = v.PolicyFor(campaign);
      const bool holdout = policy != nullptr && policy->holdout;
      for (const auto& [segment, sums] : it->second.segments) {
        auto& pair = by_segment[segment];
        Add(sums, holdout ? &pair.first : &pair.second);
      }
    }
    for (const auto& [segment, pair] : by_segment) {
      const SegmentSums& h = pair.first;
      const SegmentSums& t = pair.second;
      if (h.exposed_users < options.min_users ||
          t.exposed_users < options.min_users) {
        continue;
      }
      auto sh = stats::Summarize(SegmentConversionMoments(h));
      auto st = stats::Summarize(SegmentConversionMoments(t));
      if (!sh.ok() || !st.ok() || !(st->mean > 0)) continue;
      UpliftEstimate& e = out.emplace_back();
      e.experiment = experiment.name;
      e.campaign = campaign;
      e.segment = segment;
      e.holdout_users = h.exposed_users;
      e.treated_users = t.exposed_users;
      e.holdout_conversion = sh->mean;
      e.treated_conversion = st->mean;
      const double ct = st->mean;
      const double ch = sh->mean;
      e.incrementality = 1 - ch / ct;
      const double se_h = sh->standard_error;
      const double se_t = st->standard_error;
      e.standard_error = std::sqrt(se_h * se_h / (ct * ct) +
                                   ch * ch * se_t * se_t / (ct * ct * ct * ct));
    }
  }
  return out;
}

absl::string_view UpliftUseName(UpliftUse use) {
  switch (use) {
    case UpliftUse::kPrior:
      return "prior";
    case UpliftUse::kShrunk:
      return "shrunk";
    case UpliftUse::kMeasured:
      return "measured";
  }
  return "prior";
}

Incrementality BlendIncrementality(double prior, const UpliftEstimate* estimate,
                                   const UpliftOptions& options) {
  Incrementality r;
  r.prior = prior;
  r.value = std::clamp(prior, 0.0, 1.0);
  if (estimate == nullptr || !std::isfinite(estimate->incrementality) ||
      !std::isfinite(estimate->standard_error)) {
    return r;
  }
  r.measured = estimate->incrementality;
  r.standard_error = estimate->standard_error;
  r.experiment = estimate->experiment;
  r.holdout_users = estimate->holdout_users;
  r.treated_users = estimate->treated_users;
  const double z =
      stats::NormalQuantile(1 - (1 - options.confidence) / 2).value_or(1.96);
  const double se2 = estimate->standard_error * estimate->standard_error;
  if (z * estimate->standard_error <= options.measured_half_width) {
    r.use = UpliftUse::kMeasured;
    r.weight = 1;
    r.value = std::clamp(r.measured, 0.0, 1.0);
    return r;
  }
  const double tau2 = options.prior_sd * options.prior_sd;
  r.use = UpliftUse::kShrunk;
  r.weight = tau2 / (tau2 + se2);
  r.value =
      std::clamp(r.weight * r.measured + (1 - r.weight) * prior, 0.0, 1.0);
  return r;
}

absl::StatusOr<std::unique_ptr<UpliftSource>> UpliftSource::Create(
    const PlanHolder* plans, const CounterStore* counters,
    const UpliftOptions& options) {
  if (plans == nullptr || counters == nullptr) {
    return absl::InvalidArgumentError(
        "uplift source: plans and counters must not be null");
  }
  if (absl::Status st = ValidateUpliftOptions(options); !st.ok()) return st;
  std::unique_ptr<UpliftSource> source(
      new UpliftSource(plans, counters, options));
  if (options.refresh_interval > absl::ZeroDuration()) {
    source->thread_ = std::thread([s = source.get()] { s->Loop(); });
  }
  return source;
}

UpliftSource::UpliftSource(const PlanHolder* plans,
                           const CounterStore* counters,
                           const UpliftOptions& options)
    : plans_(plans), counters_(counters), options_(options) {}

UpliftSource::~UpliftSource() {
  {
    absl::MutexLock lock(&mu_);
    stop_ = true;
  }
  if (thread_.joinable()) thread_.join();
}

void UpliftSource::Loop() {
  while (true) {
    // Failures keep the previous estimates; the next round tries again.
    const absl::Status refreshed =
        Refresh(absl::Now() + options_.refresh_timeout);
    if (!refreshed.ok()) {
      LogError(absl::StrCat("measured coupon uplift not refreshed (",
                            refreshed.ToString(),
                            "); the previous estimates stay in use"));
    }
    absl::MutexLock lock(&mu_);
    const absl::Time next = absl::Now() + options_.refresh_interval;
    while (!stop_ && absl::Now() < next) {
      mu_.AwaitWithDeadline(absl::Condition(&stop_), next);
    }
    if (stop_) return;
  }
}

absl::Status UpliftSource::Refresh(absl::Time deadline) {
  const std::shared_ptr<const ExperimentPlan> plan = plans_->Get();
  absl::flat_hash_map<std::string, UpliftEstimate> fresh;
  for (const auto& experiment : plan->experiments()) {
    bool any_holdout = false;
    for (const Variant& v : experiment->variants) {
      for (const CouponPolicy& p : v.coupons) any_holdout |= p.holdout;
    }
    if (!any_holdout) continue;
    auto counts = counters_->Read(experiment->name, deadline);
    if (!counts.ok()) return counts.status();
    for (UpliftEstimate& e : EstimateUplift(*experiment, *counts, options_)) {
      const std::string key = Key(e.campaign, e.segment);
      auto it = fresh.find(key);
      if (it == fresh.end()) {
        fresh.emplace(key, std::move(e));
      } else if (e.holdout_users + e.treated_users >
                 it->second.holdout_users + it->second.treated_users) {
        it->second = std::move(e);
      }
    }
  }
  absl::MutexLock lock(&mu_);
  estimates_ = std::move(fresh);
  return absl::OkStatus();
}

std::optional<UpliftEstimate> UpliftSource::Find(
    absl::string_view campaign, absl::string_view segment) const {
  absl::MutexLock lock(&mu_);
  auto it = estimates_.find(Key(campaign, segment));
  if (it == estimates_.end()) return std::nullopt;
  return it->second;
}

std::vector<UpliftEstimate> UpliftSource::All() const {
  absl::MutexLock lock(&mu_);
  std::vector<UpliftEstimate> out;
  for (const auto& [key, e] : estimates_) out.push_back(e);
  std::sort(out.begin(), out.end(),
            [](const UpliftEstimate& a, const UpliftEstimate& b) {
              return std::tie(a.campaign, a.segment) <
                     std::tie(b.campaign, b.segment);
            });
  return out;
}

}  // namespace recsys::experiments
