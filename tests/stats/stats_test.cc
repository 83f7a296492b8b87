#include "stats/stats.h"

#include <cmath>
#include <string>
#include <vector>

#include "gtest/gtest.h"

namespace recsys::stats {
namespace {

// z_{0.975}, the two-sided 95% normal quantile (not from Boost).
constexpr double kZ975 = 1.959963984540054;

// Two-pass statistics of raw per-user vectors: the expected values are
// computed here independently of the one-pass sums the library sees.
double Mean(const std::vector<double>& v) {
  double s = 0;
  for (double x : v) s += x;
  return s / v.size();
}
double SampleVariance(const std::vector<double>& v) {
  const double m = Mean(v);
  double s = 0;
  for (double x : v) s += (x - m) * (x - m);
  return s / (v.size() - 1);
}
double TwoSidedP(double z) { return std::erfc(std::abs(z) / std::sqrt(2.0)); }

Moments MomentsOf(const std::vector<double>& y,
                  const std::vector<double>& x = {}) {
  Moments m;
  for (size_t i = 0; i < y.size(); ++i) m.Add(y[i], x.empty() ? 0 : x[i]);
  return m;
}

// Differences {1, 2, 2} (the NaN pair skipped): mean 5/3, sample variance
// 1/3, standard error sqrt(1/9) = 1/3, z(0.975) = 1.959964.
TEST(ComparePairedTest, HandComputedSmallCase) {
  const std::vector<double> a = {1, 2, 3, NAN};
  const std::vector<double> b = {0, 0, 1, 5};
  absl::StatusOr<PairedDifference> d = ComparePaired(a, b);
  ASSERT_TRUE(d.ok()) << d.status();
  EXPECT_EQ(d->n, 3);
  EXPECT_NEAR(d->mean, 5.0 / 3, 1e-12);
  EXPECT_NEAR(d->ci.lower, 5.0 / 3 - 1.959964 / 3, 1e-6);
  EXPECT_NEAR(d->ci.upper, 5.0 / 3 + 1.959964 / 3, 1e-6);
  absl::StatusOr<PairedDifference> wide = ComparePaired(a, b, 0.99);
  ASSERT_TRUE(wide.ok());
  EXPECT_NEAR(wide->ci.upper, 5.0 / 3 + 2.575829 / 3, 1e-6);

  const std::vector<double> short_b = {0, 0};
  EXPECT_NE(ComparePaired(a, short_b).status().message().find("b: 2 values for 4"),
            std::string::npos);
  EXPECT_NE(ComparePaired(a, b, 1).status().message().find("confidence"), std::string::npos);
  const std::vector<double> one = {1, NAN};
  const std::vector<double> other = {0, 0};
  EXPECT_EQ(ComparePaired(one, other).status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(CompareMeansTest, HandComputedSmallCase) {
  // Control 1..4 (mean 2.5, variance 5/3), treatment 2, 4, 6, 8 (mean 5,
  // variance 20/3): se = sqrt(5/12 + 20/12), z = 2.5 / se = sqrt(3).
  absl::StatusOr<Comparison> c =
      CompareMeans(MomentsOf({1, 2, 3, 4}), MomentsOf({2, 4, 6, 8}));
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_DOUBLE_EQ(c->control.mean, 2.5);
  EXPECT_DOUBLE_EQ(c->treatment.mean, 5);
  EXPECT_NEAR(c->control.variance, 5.0 / 3, 1e-12);
  EXPECT_NEAR(c->treatment.variance, 20.0 / 3, 1e-12);
  EXPECT_DOUBLE_EQ(c->absolute.estimate, 2.5);
  EXPECT_NEAR(c->absolute.standard_error, 1.4433756729740645, 1e-12);
  EXPECT_NEAR(c->z, std::sqrt(3.0), 1e-12);
  EXPECT_NEAR(c->p_value, 0.08326451666355043, 1e-12);
  EXPECT_NEAR(c->absolute.ci.lower, 2.5 - kZ975 * 1.4433756729740645, 1e-9);
  EXPECT_NEAR(c->absolute.ci.upper, 2.5 + kZ975 * 1.4433756729740645, 1e-9);
  ASSERT_TRUE(c->relative.has_value());
  // 5 / 2.5 - 1; se² = (20/12) / 2.5² + 5² (5/12) / 2.5⁴ = 8/15.
  EXPECT_DOUBLE_EQ(c->relative->estimate, 1.0);
  EXPECT_NEAR(c->relative->standard_error, std::sqrt(8.0 / 15), 1e-12);
  EXPECT_NEAR(c->relative->ci.lower, 1 - kZ975 * std::sqrt(8.0 / 15), 1e-9);
}

TEST(CompareMeansTest, MatchesTwoPassStatisticsOfRawVectors) {
  const std::vector<double> yc = {3.5, 0, 0, 12.25, 7, 0, 1.5, 30, 0, 4};
  const std::vector<double> yt = {0, 9, 14.5, 0, 2, 21, 0, 6.75, 11};
  CompareOptions options;
  options.confidence = 0.9;
  absl::StatusOr<Comparison> c =
      CompareMeans(MomentsOf(yc), MomentsOf(yt), options);
  ASSERT_TRUE(c.ok()) << c.status();
  const double se_c2 = SampleVariance(yc) / yc.size();
  const double se_t2 = SampleVariance(yt) / yt.size();
  const double d = Mean(yt) - Mean(yc);
  const double se = std::sqrt(se_c2 + se_t2);
  EXPECT_NEAR(c->control.variance, SampleVariance(yc), 1e-10);
  EXPECT_NEAR(c->treatment.standard_error, std::sqrt(se_t2), 1e-12);
  EXPECT_NEAR(c->absolute.estimate, d, 1e-12);
  EXPECT_NEAR(c->absolute.standard_error, se, 1e-12);
  EXPECT_NEAR(c->p_value, TwoSidedP(d / se), 1e-12);
  // z_{0.95} = 1.6448536269514722 for the 90% interval.
  EXPECT_NEAR(c->absolute.ci.upper - c->absolute.ci.lower,
              2 * 1.6448536269514722 * se, 1e-9);
  EXPECT_DOUBLE_EQ(c->confidence, 0.9);
}

TEST(CompareMeansTest, AlwaysValidFormulas) {
  // V = 25/12 as in the small case; tau² = 1 fixed by mixing_variance.
  CompareOptions options;
  options.mixing_variance = 1;
  absl::StatusOr<Comparison> c =
      CompareMeans(MomentsOf({1, 2, 3, 4}), MomentsOf({2, 4, 6, 8}), options);
  ASSERT_TRUE(c.ok()) << c.status();
  const double v = 25.0 / 12;
  const double tau2 = 1;
  const double log_lr =
      0.5 * std::log(v / (v + tau2)) + 2.5 * 2.5 * tau2 / (2 * v * (v + tau2));
  EXPECT_DOUBLE_EQ(c->tau2, 1);
  EXPECT_NEAR(c->log_likelihood_ratio, log_lr, 1e-12);
  EXPECT_NEAR(c->log_likelihood_ratio, 0.2904654425984746, 1e-12);
  EXPECT_NEAR(c->always_valid_p_value, 0.7479153748774713, 1e-12);
  const double half =
      6.403527476921794;  // sqrt(V(V+τ²)/τ² (2 log 20 + log(1 + τ²/V)))
  EXPECT_NEAR(c->always_valid_ci.lower, 2.5 - half, 1e-9);
  EXPECT_NEAR(c->always_valid_ci.upper, 2.5 + half, 1e-9);
  // Λ at the interval's ends is exactly 1/alpha = 20.
  const double at_end = 0.5 * std::log(v / (v + tau2)) +
                        half * half * tau2 / (2 * v * (v + tau2));
  EXPECT_NEAR(at_end, std::log(20.0), 1e-9);
}

TEST(CompareMeansTest, DefaultMixingIsScaledToTheMetricAndWiderThanFixed) {
  absl::StatusOr<Comparison> c =
      CompareMeans(MomentsOf({1, 2, 3, 4}), MomentsOf({2, 4, 6, 8}));
  ASSERT_TRUE(c.ok()) << c.status();
  // tau² = (0.05 sigma)², sigma² = (5/3 + 20/3) / 2.
  EXPECT_NEAR(c->tau2, 0.05 * 0.05 * 25.0 / 6, 1e-12);
  EXPECT_LT(c->always_valid_ci.lower, c->absolute.ci.lower);
  EXPECT_GT(c->always_valid_ci.upper, c->absolute.ci.upper);
  EXPECT_GT(c->always_valid_p_value, c->p_value);
  EXPECT_LE(c->always_valid_p_value, 1);
}

TEST(CompareMeansTest, LargeEffectGivesSmallAlwaysValidPWithoutOverflow) {
  Moments control, treatment;
  for (int i = 0; i < 100000; ++i) {
    control.Add(i % 2);
    treatment.Add(10 + i % 2);
  }
  absl::StatusOr<Comparison> c = CompareMeans(control, treatment);
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_TRUE(std::isfinite(c->log_likelihood_ratio));
  EXPECT_GT(c->log_likelihood_ratio, 1000);
  EXPECT_EQ(c->always_valid_p_value, 0);
  EXPECT_EQ(c->p_value, 0);
}

TEST(CompareMeansTest, ConstantVariants) {
  absl::StatusOr<Comparison> same =
      CompareMeans(MomentsOf({2, 2, 2}), MomentsOf({2, 2}));
  ASSERT_TRUE(same.ok()) << same.status();
  EXPECT_EQ(same->absolute.standard_error, 0);
  EXPECT_EQ(same->z, 0);
  EXPECT_EQ(same->p_value, 1);
  EXPECT_EQ(same->always_valid_p_value, 1);
  absl::StatusOr<Comparison> differ =
      CompareMeans(MomentsOf({2, 2, 2}), MomentsOf({3, 3}));
  ASSERT_TRUE(differ.ok()) << differ.status();
  EXPECT_EQ(differ->p_value, 0);
  EXPECT_EQ(differ->always_valid_p_value, 0);
  EXPECT_EQ(differ->always_valid_ci.lower, 1);
  EXPECT_EQ(differ->always_valid_ci.upper, 1);
}

TEST(CompareMeansTest, NoRelativeLiftAgainstAZeroControlMean) {
  absl::StatusOr<Comparison> c =
      CompareMeans(MomentsOf({-1, 1, 0}), MomentsOf({1, 2, 3}));
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_FALSE(c->relative.has_value());
  EXPECT_DOUBLE_EQ(c->absolute.estimate, 2);
}

TEST(CompareMeansTest, RefusesBadInputNamingTheField) {
  const Moments ok = MomentsOf({1, 2, 3});
  struct Case {
    Moments control, treatment;
    CompareOptions options;
    const char* prefix;
  };
  Moments one = MomentsOf({1});
  Moments nan = ok;
  nan.sum_y = std::nan("");
  Moments inf_n = ok;
  inf_n.n = INFINITY;
  Moments negative_variance = ok;
  negative_variance.sum_y2 = 10;  // < 6² / 3 = 12
  Moments negative_square = ok;
  negative_square.sum_x2 = -1;
  Moments bad_xy = MomentsOf({1, 2, 3}, {1, 2, 3});
  bad_xy.sum_xy = 100;
  CompareOptions confidence;
  confidence.confidence = 1;
  CompareOptions mixing;
  mixing.mixing_sd = 0;
  CompareOptions mixing_variance;
  mixing_variance.mixing_variance = -1;
  const Case cases[] = {
      {one, ok, {}, "control.n: "},
      {ok, nan, {}, "treatment.sum_y: "},
      {inf_n, ok, {}, "control.n: "},
      {negative_variance, ok, {}, "control.sum_y2: "},
      {ok, negative_square, {}, "treatment.sum_x2: "},
      {bad_xy, ok, {}, "control.sum_xy: "},
      {ok, ok, confidence, "confidence: "},
      {ok, ok, mixing, "mixing_sd: "},
      {ok, ok, mixing_variance, "mixing_variance: "},
  };
  for (const Case& c : cases) {
    absl::StatusOr<Comparison> r =
        CompareMeans(c.control, c.treatment, c.options);
    ASSERT_TRUE(absl::IsInvalidArgument(r.status())) << c.prefix;
    EXPECT_EQ(r.status().message().find(c.prefix), 0u) << r.status();
  }
  EXPECT_TRUE(absl::IsInvalidArgument(Summarize(one).status()));
  EXPECT_EQ(Summarize(one).status().message().find("n: "), 0u);
}

TEST(CompareMeansTest, RoundingBelowZeroVarianceIsZero) {
  // 0.1 has no exact binary form: Σy² - (Σy)²/n is a rounding error here.
  Moments m;
  for (int i = 0; i < 1000; ++i) m.Add(0.1);
  absl::StatusOr<VariantSummary> s = Summarize(m);
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_GE(s->variance, 0);
  EXPECT_LT(s->variance, 1e-12);
}

TEST(MomentsTest, DisjointUsersAddFieldByField) {
  Moments a = MomentsOf({1, 2}, {3, 4});
  Moments b = MomentsOf({5}, {6});
  Moments all = MomentsOf({1, 2, 5}, {3, 4, 6});
  EXPECT_EQ(a.n + b.n, all.n);
  EXPECT_EQ(a.sum_y + b.sum_y, all.sum_y);
  EXPECT_EQ(a.sum_y2 + b.sum_y2, all.sum_y2);
  EXPECT_EQ(a.sum_x + b.sum_x, all.sum_x);
  EXPECT_EQ(a.sum_x2 + b.sum_x2, all.sum_x2);
  EXPECT_EQ(a.sum_xy + b.sum_xy, all.sum_xy);
}

TEST(CupedTest, MatchesRegressionAdjustedRawVectors) {
  const std::vector<double> xc = {10, 0, 4, 25, 7, 0, 3, 14};
  const std::vector<double> yc = {12, 1, 3, 30, 5, 0, 6, 15};
  const std::vector<double> xt = {2, 18, 9, 0, 11, 6, 30};
  const std::vector<double> yt = {4, 22, 14, 2, 10, 9, 35};
  // theta: the slope of y on x pooled within the variants, two-pass.
  double sxy = 0, sxx = 0;
  for (const auto* v : {&xc, &xt}) {
    const auto& x = *v;
    const auto& y = v == &xc ? yc : yt;
    const double mx = Mean(x), my = Mean(y);
    for (size_t i = 0; i < x.size(); ++i) {
      sxy += (x[i] - mx) * (y[i] - my);
      sxx += (x[i] - mx) * (x[i] - mx);
    }
  }
  const double theta = sxy / sxx;
  std::vector<double> all_x = xc;
  all_x.insert(all_x.end(), xt.begin(), xt.end());
  const double mean_x = Mean(all_x);
  auto adjust = [&](const std::vector<double>& y,
                    const std::vector<double>& x) {
    std::vector<double> out;
    for (size_t i = 0; i < y.size(); ++i) {
      out.push_back(y[i] - theta * (x[i] - mean_x));
    }
    return out;
  };
  const std::vector<double> ac = adjust(yc, xc);
  const std::vector<double> at = adjust(yt, xt);

  absl::StatusOr<CupedComparison> c =
      CompareMeansCuped(MomentsOf(yc, xc), MomentsOf(yt, xt));
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_NEAR(c->theta, theta, 1e-12);
  EXPECT_NEAR(c->adjusted.control.mean, Mean(ac), 1e-10);
  EXPECT_NEAR(c->adjusted.treatment.mean, Mean(at), 1e-10);
  EXPECT_NEAR(c->adjusted.control.variance, SampleVariance(ac), 1e-9);
  EXPECT_NEAR(c->adjusted.treatment.variance, SampleVariance(at), 1e-9);
  EXPECT_NEAR(c->unadjusted.control.variance, SampleVariance(yc), 1e-9);
  const double v_adj =
      SampleVariance(ac) / ac.size() + SampleVariance(at) / at.size();
  const double v_raw =
      SampleVariance(yc) / yc.size() + SampleVariance(yt) / yt.size();
  EXPECT_NEAR(c->adjusted.absolute.standard_error, std::sqrt(v_adj), 1e-10);
  EXPECT_NEAR(c->variance_reduction, 1 - v_adj / v_raw, 1e-10);
  EXPECT_GT(c->variance_reduction, 0.5);  // x and y correlate strongly here
  EXPECT_NEAR(c->adjusted.p_value,
              TwoSidedP((Mean(at) - Mean(ac)) / std::sqrt(v_adj)), 1e-10);
  EXPECT_DOUBLE_EQ(c->adjusted.tau2, c->unadjusted.tau2);
}

TEST(CupedTest, UncorrelatedCovariateRemovesLittle) {
  // x alternates independently of y: theta near 0, reduction near 0.
  const std::vector<double> yc = {1, 2, 3, 4, 5, 6, 7, 8};
  const std::vector<double> xc = {1, 0, 0, 1, 1, 0, 0, 1};
  absl::StatusOr<CupedComparison> c =
      CompareMeansCuped(MomentsOf(yc, xc), MomentsOf(yc, xc));
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_NEAR(c->theta, 0, 1e-12);
  EXPECT_NEAR(c->variance_reduction, 0, 1e-12);
}

TEST(CupedTest, RefusesACovariateWithoutVariance) {
  absl::StatusOr<CupedComparison> c =
      CompareMeansCuped(MomentsOf({1, 2, 3}), MomentsOf({2, 3, 4}));
  ASSERT_TRUE(absl::IsInvalidArgument(c.status()));
  EXPECT_EQ(c.status().message().find("sum_x2: "), 0u) << c.status();
}

TEST(CompareRatiosTest, DeltaMethodMatchesLinearisedRawVectors) {
  const std::vector<double> clicks_c = {0, 1, 0, 3, 1, 0, 2, 0};
  const std::vector<double> impr_c = {4, 5, 1, 12, 3, 2, 9, 6};
  const std::vector<double> clicks_t = {1, 2, 0, 0, 4, 1, 1};
  const std::vector<double> impr_t = {3, 6, 2, 5, 10, 1, 4};
  auto moments = [](const std::vector<double>& num,
                    const std::vector<double>& den) {
    RatioMoments m;
    for (size_t i = 0; i < num.size(); ++i) m.Add(num[i], den[i]);
    return m;
  };
  // The linearisation (num - R den) / mean_den, per user.
  auto linearised = [](const std::vector<double>& num,
                       const std::vector<double>& den) {
    double sn = 0, sd = 0;
    for (size_t i = 0; i < num.size(); ++i) sn += num[i], sd += den[i];
    const double r = sn / sd, mean_den = sd / den.size();
    std::vector<double> out;
    for (size_t i = 0; i < num.size(); ++i) {
      out.push_back((num[i] - r * den[i]) / mean_den);
    }
    return out;
  };
  absl::StatusOr<Comparison> c =
      CompareRatios(moments(clicks_c, impr_c), moments(clicks_t, impr_t));
  ASSERT_TRUE(c.ok()) << c.status();
  const double r_c = 7.0 / 42, r_t = 9.0 / 31;
  EXPECT_NEAR(c->control.mean, r_c, 1e-15);
  EXPECT_NEAR(c->treatment.mean, r_t, 1e-15);
  const double var_c = SampleVariance(linearised(clicks_c, impr_c));
  const double var_t = SampleVariance(linearised(clicks_t, impr_t));
  EXPECT_NEAR(c->control.variance, var_c, 1e-12);
  EXPECT_NEAR(c->treatment.variance, var_t, 1e-12);
  const double se = std::sqrt(var_c / 8 + var_t / 7);
  EXPECT_NEAR(c->absolute.estimate, r_t - r_c, 1e-15);
  EXPECT_NEAR(c->absolute.standard_error, se, 1e-12);
  EXPECT_NEAR(c->p_value, TwoSidedP((r_t - r_c) / se), 1e-12);
  ASSERT_TRUE(c->relative.has_value());
  EXPECT_NEAR(c->relative->estimate, r_t / r_c - 1, 1e-12);
  EXPECT_NEAR(c->relative->standard_error,
              std::sqrt(var_t / 7 / (r_c * r_c) +
                        r_t * r_t * var_c / 8 / std::pow(r_c, 4)),
              1e-12);
}

TEST(CompareRatiosTest, RefusesBadInputNamingTheField) {
  RatioMoments ok;
  ok.Add(1, 2);
  ok.Add(0, 3);
  RatioMoments no_den = ok;
  no_den.sum_den = 0;
  RatioMoments nan = ok;
  nan.sum_num_den = std::nan("");
  RatioMoments one;
  one.Add(1, 2);
  RatioMoments inconsistent = ok;
  inconsistent.sum_num_den = 50;  // |cov| far above sd_num · sd_den
  struct Case {
    RatioMoments control, treatment;
    const char* prefix;
  };
  const Case cases[] = {{no_den, ok, "control.sum_den: "},
                        {ok, nan, "treatment.sum_num_den: "},
                        {ok, one, "treatment.n: "},
                        {inconsistent, ok, "control.sum_num_den: "}};
  for (const Case& c : cases) {
    absl::StatusOr<Comparison> r = CompareRatios(c.control, c.treatment);
    ASSERT_TRUE(absl::IsInvalidArgument(r.status())) << c.prefix;
    EXPECT_EQ(r.status().message().find(c.prefix), 0u) << r.status();
  }
}

TEST(SampleRatioMismatchTest, FiresOnPlanted52To48Of10000Users) {
  const double observed[] = {4800, 5200};
  const double shares[] = {0.5, 0.5};
  absl::StatusOr<SrmResult> r = SampleRatioMismatch(observed, shares);
  ASSERT_TRUE(r.ok()) << r.status();
  // chi² = 2 · 200² / 5000 = 16; with 1 degree of freedom
  // P(chi² >= 16) = erfc(sqrt(16 / 2)).
  EXPECT_DOUBLE_EQ(r->chi_square, 16);
  EXPECT_EQ(r->degrees_of_freedom, 1);
  EXPECT_NEAR(r->p_value, std::erfc(std::sqrt(8.0)), 1e-15);
  EXPECT_NEAR(r->p_value, 6.334248366623977e-05, 1e-15);
  EXPECT_TRUE(r->mismatch);
  EXPECT_EQ(r->expected, (std::vector<double>{5000, 5000}));
}

TEST(SampleRatioMismatchTest, QuietOnAnExact50To50Split) {
  const double observed[] = {5000, 5000};
  const double shares[] = {0.5, 0.5};
  absl::StatusOr<SrmResult> r = SampleRatioMismatch(observed, shares);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->chi_square, 0);
  EXPECT_EQ(r->p_value, 1);
  EXPECT_FALSE(r->mismatch);
}

TEST(SampleRatioMismatchTest, ThreeVariantsWithRelativeShares) {
  // Shares 0.05 / 0.05 / 0.1 of all traffic: expected 250 / 250 / 500.
  const double observed[] = {260, 240, 500};
  const double shares[] = {0.05, 0.05, 0.1};
  absl::StatusOr<SrmResult> r = SampleRatioMismatch(observed, shares);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_NEAR(r->chi_square, 0.8, 1e-12);
  EXPECT_EQ(r->degrees_of_freedom, 2);
  // With 2 degrees of freedom P(chi² >= c) = exp(-c / 2).
  EXPECT_NEAR(r->p_value, std::exp(-0.4), 1e-12);
  EXPECT_FALSE(r->mismatch);
  SrmOptions loose;
  loose.alpha = 0.7;
  EXPECT_TRUE(SampleRatioMismatch(observed, shares, loose)->mismatch);
}

TEST(SampleRatioMismatchTest, RefusesBadInputNamingTheField) {
  const double two[] = {10, 20};
  const double one[] = {10};
  const double negative[] = {10, -1};
  const double nan[] = {10, std::nan("")};
  const double zeros[] = {0, 0};
  const double zero_share[] = {0.5, 0};
  const double three[] = {1, 1, 1};
  struct Case {
    absl::Span<const double> observed, shares;
    const char* prefix;
  };
  const Case cases[] = {
      {one, one, "observed: "},         {two, three, "shares: "},
      {negative, two, "observed[1]: "}, {nan, two, "observed[1]: "},
      {two, zero_share, "shares[1]: "}, {two, nan, "shares[1]: "},
      {zeros, two, "observed: "}};
  for (const Case& c : cases) {
    absl::StatusOr<SrmResult> r = SampleRatioMismatch(c.observed, c.shares);
    ASSERT_TRUE(absl::IsInvalidArgument(r.status())) << c.prefix;
    EXPECT_EQ(r.status().message().find(c.prefix), 0u) << r.status();
  }
  SrmOptions alpha;
  alpha.alpha = 0;
  EXPECT_TRUE(
      absl::IsInvalidArgument(SampleRatioMismatch(two, two, alpha).status()));
}

}  // namespace
}  // namespace recsys::stats

namespace recsys::stats {
namespace {

TEST(ChiSquareIndependenceTest, HandComputedTables) {
  // Rows 30 / 70, columns 40 / 60 of 100: expected 12 18 / 28 42.
  const double two_by_two[] = {10, 20, 30, 40};
  absl::StatusOr<ChiSquareResult> r = ChiSquareIndependence(two_by_two, 2, 2);
  ASSERT_TRUE(r.ok()) << r.status();
  const double chi2 = 4.0 / 12 + 4.0 / 18 + 4.0 / 28 + 4.0 / 42;
  EXPECT_NEAR(r->chi_square, chi2, 1e-12);
  EXPECT_EQ(r->degrees_of_freedom, 1);
  EXPECT_NEAR(r->p_value, std::erfc(std::sqrt(chi2 / 2)), 1e-12);

  // 3 x 2, rows 20 / 30 / 50, columns 50 / 50: expected 10 10 / 15 15 /
  // 25 25; df 2, P(chi² >= c) = exp(-c / 2).
  const double three_by_two[] = {12, 8, 15, 15, 23, 27};
  r = ChiSquareIndependence(three_by_two, 3, 2);
  ASSERT_TRUE(r.ok()) << r.status();
  const double chi3 = 2 * 4.0 / 10 + 0 + 2 * 4.0 / 25;
  EXPECT_NEAR(r->chi_square, chi3, 1e-12);
  EXPECT_EQ(r->degrees_of_freedom, 2);
  EXPECT_NEAR(r->p_value, std::exp(-chi3 / 2), 1e-12);

  const double independent[] = {10, 20, 20, 40};
  r = ChiSquareIndependence(independent, 2, 2);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->chi_square, 0);
  EXPECT_EQ(r->p_value, 1);
}

TEST(ChiSquareIndependenceTest, RefusesBadInputNamingTheField) {
  const double four[] = {1, 2, 3, 4};
  const double negative[] = {1, 2, -3, 4};
  const double empty_row[] = {0, 0, 3, 4};
  const double empty_col[] = {0, 2, 0, 4};
  struct Case {
    absl::Span<const double> counts;
    int rows, cols;
    const char* prefix;
  };
  const Case cases[] = {{four, 1, 4, "rows: "},
                        {four, 4, 1, "cols: "},
                        {four, 2, 3, "counts: "},
                        {negative, 2, 2, "counts[2]: "},
                        {empty_row, 2, 2, "counts: row 0"},
                        {empty_col, 2, 2, "counts: column 0"}};
  for (const Case& c : cases) {
    absl::StatusOr<ChiSquareResult> r =
        ChiSquareIndependence(c.counts, c.rows, c.cols);
    ASSERT_TRUE(absl::IsInvalidArgument(r.status())) << c.prefix;
    EXPECT_EQ(r.status().message().find(c.prefix), 0u) << r.status();
  }
}

}  // namespace
}  // namespace recsys::stats
