#include "experiments/report.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "stats/stats.h"

namespace recsys::experiments {
namespace {

stats::Moments GmvMoments(const VariantSums& s) {
  stats::Moments m;
  m.n = static_cast<double>(s.exposed_users);
  m.sum_y = s.sum_y;
  m.sum_y2 = s.sum_y2;
  m.sum_x = s.sum_x;
  m.sum_x2 = s.sum_x2;
  m.sum_xy = s.sum_xy;
  return m;
}

stats::Moments ConversionMoments(const VariantSums& s) {
  stats::Moments m;
  m.n = static_cast<double>(s.exposed_users);
  m.sum_y = static_cast<double>(s.converted_users);
  m.sum_y2 = m.sum_y;  // an indicator: y² = y
  return m;
}

stats::RatioMoments CtrMoments(const VariantSums& s) {
  stats::RatioMoments m;
  m.n = static_cast<double>(s.exposed_users);
  m.sum_num = s.sum_num;
  m.sum_den = s.sum_den;
  m.sum_num2 = s.sum_num2;
  m.sum_den2 = s.sum_den2;
  m.sum_num_den = s.sum_num_den;
  return m;
}

LiftReport FromComparison(absl::string_view metric, const stats::Comparison& c,
                          absl::string_view method) {
  LiftReport r;
  r.metric = std::string(metric);
  r.control = c.control.mean;
  r.treatment = c.treatment.mean;
  r.absolute = c.absolute.estimate;
  r.absolute_low = c.always_valid_ci.lower;
  r.absolute_high = c.always_valid_ci.upper;
  if (c.relative.has_value()) {
    r.relative = c.relative->estimate;
    r.relative_low = c.relative->ci.lower;
    r.relative_high = c.relative->ci.upper;
  }
  r.p_value = c.always_valid_p_value;
  r.standard_error = c.absolute.standard_error;
  r.method = std::string(method);
  return r;
}

LiftReport NotEnough(absl::string_view metric, const absl::Status& why) {
  LiftReport r;
  r.metric = std::string(metric);
  r.method = absl::StrCat("not enough data: ", why.message());
  return r;
}

std::vector<LiftReport> Lifts(const VariantSums& control,
                              const VariantSums& treatment) {
  std::vector<LiftReport> out;
  constexpr char kMethod[] =
      "absolute: mSPRT always-valid 95% confidence sequence and p-value; "
      "relative: "
      "delta method, fixed horizon";
  auto cuped =
      stats::CompareMeansCuped(GmvMoments(control), GmvMoments(treatment));
  if (cuped.ok()) {
    out.push_back(FromComparison(
        "gmv_per_user", cuped->adjusted,
        absl::StrCat(
            kMethod, "; CUPED on pre-period spend (variance reduced by ",
            absl::StrFormat("%.1f%%", 100 * cuped->variance_reduction), ")")));
  } else {
    auto plain =
        stats::CompareMeans(GmvMoments(control), GmvMoments(treatment));
    out.push_back(plain.ok() ? FromComparison("gmv_per_user", *plain, kMethod)
                             : NotEnough("gmv_per_user", plain.status()));
  }
  auto conversion = stats::CompareMeans(ConversionMoments(control),
                                        ConversionMoments(treatment));
  out.push_back(conversion.ok()
                    ? FromComparison("conversion", *conversion, kMethod)
                    : NotEnough("conversion", conversion.status()));
  auto ctr = stats::CompareRatios(CtrMoments(control), CtrMoments(treatment));
  out.push_back(ctr.ok() ? FromComparison("ctr", *ctr, kMethod)
                         : NotEnough("ctr", ctr.status()));
  return out;
}

void AddSegments(const Experiment& experiment, const ExperimentCounts& counts,
                 double margin, ExperimentReport* report) {
  const int baseline = SegmentBaseline(experiment);
  report->segment_baseline = experiment.variants[baseline].name;
  const std::map<std::string, SegmentSums>* base = nullptr;
  if (auto it = counts.find(experiment.variants[baseline].name);
      it != counts.end()) {
    base = &it->second.segments;
  }
  constexpr char kMethod[] =
      "mSPRT always-valid 95% confidence sequence and p-value against the "
      "baseline's users of the segment";
  for (size_t i = 0; i < experiment.variants.size(); ++i) {
    auto it = counts.find(experiment.variants[i].name);
    if (it == counts.end()) continue;
    for (const auto& [name, s] : it->second.segments) {
      SegmentReport& r = report->variants[i].segments.emplace_back();
      r.segment = name;
      r.exposed_users = s.exposed_users;
      r.converted_users = s.converted_users;
      r.gmv = s.sum_y;
      r.coupon_cost = s.sum_d;
      if (s.exposed_users > 0) {
        r.conversion_rate =
            static_cast<double>(s.converted_users) / s.exposed_users;
        r.margin_per_user = (margin * s.sum_y - s.sum_d) / s.exposed_users;
      }
      if (static_cast<int>(i) == baseline) continue;
      static const SegmentSums* const kEmpty = new SegmentSums();
      const SegmentSums* b = kEmpty;
      if (base != nullptr) {
        if (auto bit = base->find(name); bit != base->end()) b = &bit->second;
      }
      auto conversion = stats::CompareMeans(SegmentConversionMoments(*b),
                                            SegmentConversionMoments(s));
      r.lifts.push_back(
          conversion.ok()
              ? FromComparison("incremental_conversion", *conversion, kMethod)
              : NotEnough("incremental_conversion", conversion.status()));
      auto net = stats::CompareMeans(SegmentMarginMoments(*b, margin),
                                     SegmentMarginMoments(s, margin));
      r.lifts.push_back(
          net.ok() ? FromComparison("incremental_margin", *net, kMethod)
                   : NotEnough("incremental_margin", net.status()));
    }
  }
}

}  // namespace

int SegmentBaseline(const Experiment& experiment) {
  for (size_t i = 0; i < experiment.variants.size(); ++i) {
    for (const CouponPolicy& p : experiment.variants[i].coupons) {
      if (p.holdout) return static_cast<int>(i);
    }
  }
  return experiment.control;
}

stats::Moments SegmentConversionMoments(const SegmentSums& s) {
  stats::Moments m;
  m.n = static_cast<double>(s.exposed_users);
  m.sum_y = static_cast<double>(s.converted_users);
  m.sum_y2 = m.sum_y;  // an indicator: y² = y
  return m;
}

stats::Moments SegmentMarginMoments(const SegmentSums& s, double margin) {
  stats::Moments m;
  m.n = static_cast<double>(s.exposed_users);
  m.sum_y = margin * s.sum_y - s.sum_d;
  m.sum_y2 = margin * margin * s.sum_y2 - 2 * margin * s.sum_yd + s.sum_d2;
  return m;
}

ExperimentReport BuildReport(const Experiment& experiment,
                             const ExperimentCounts& counts, double margin,
                             absl::Time now) {
  ExperimentReport report;
  report.experiment = experiment.name;
  report.layer = experiment.layer;
  report.running = experiment.RunningAt(now);
  static const VariantCounts* const kNone = new VariantCounts();
  std::vector<double> exposed;
  std::vector<double> shares;
  for (size_t i = 0; i < experiment.variants.size(); ++i) {
    const Variant& v = experiment.variants[i];
    auto it = counts.find(v.name);
    const VariantCounts& c = it == counts.end() ? *kNone : it->second;
    VariantReport& r = report.variants.emplace_back();
    r.variant = v.name;
    r.control = static_cast<int>(i) == experiment.control;
    r.share = v.share;
    r.exposed_users = c.sums.exposed_users;
    r.converted_users = c.sums.converted_users;
    r.slots = c.slots;
    for (const auto& [slot, s] : c.slots) {
      r.impressions += s.impressions;
      r.clicks += s.clicks;
      r.gmv += s.gmv;
      r.coupons_issued += s.coupons_issued;
      r.coupons_redeemed += s.coupons_redeemed;
      r.coupon_cost += s.discount;
    }
    if (r.impressions > 0)
      r.ctr = static_cast<double>(r.clicks) / r.impressions;
    if (r.exposed_users > 0) {
      r.conversion_rate =
          static_cast<double>(r.converted_users) / r.exposed_users;
      r.gmv_per_exposed_user = r.gmv / r.exposed_users;
    }
    r.net_margin = r.gmv * margin - r.coupon_cost;
    exposed.push_back(static_cast<double>(r.exposed_users));
    shares.push_back(v.share);
  }
  const VariantCounts* control = kNone;
  if (auto it = counts.find(experiment.variants[experiment.control].name);
      it != counts.end()) {
    control = &it->second;
  }
  for (size_t i = 0; i < experiment.variants.size(); ++i) {
    if (report.variants[i].control) continue;
    auto it = counts.find(experiment.variants[i].name);
    report.variants[i].lifts = Lifts(
        control->sums, it == counts.end() ? kNone->sums : it->second.sums);
  }
  AddSegments(experiment, counts, margin, &report);
  auto srm = stats::SampleRatioMismatch(exposed, shares);
  if (srm.ok()) {
    report.srm_p_value = srm->p_value;
    report.srm = srm->mismatch;
  }
  report.statistics =
      "users are the unit; absolute lifts: mSPRT always-valid 95% confidence "
      "sequences and "
      "p-values at this look (valid under continuous monitoring); relative "
      "lifts: delta "
      "method, fixed horizon; GMV per user adjusted by CUPED on pre-period "
      "spend; SRM: "
      "chi-square of exposed users against the configured shares, flagged at p "
      "< 0.001";
  return report;
}

absl::StatusOr<std::vector<ExperimentReport>> ReadReports(
    const ExperimentPlan& plan, const CounterStore& counters,
    absl::string_view name, absl::Time deadline) {
  std::vector<const Experiment*> wanted;
  if (name.empty()) {
    for (const auto& e : plan.experiments()) wanted.push_back(e.get());
  } else {
    const Experiment* e = plan.Find(name);
    if (e == nullptr) {
      return absl::NotFoundError(
          absl::StrCat("experiment: unknown experiment '", name, "'"));
    }
    wanted.push_back(e);
  }
  std::vector<ExperimentReport> out;
  const absl::Time now = absl::Now();
  for (const Experiment* e : wanted) {
    auto counts = counters.Read(e->name, deadline);
    if (!counts.ok()) return counts.status();
    out.push_back(BuildReport(*e, *counts, plan.margin(), now));
  }
  return out;
}

}  // namespace recsys::experiments
