#include "evaluation/intent_eval.h"

#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/random.h"
#include "gtest/gtest.h"
#include "tests/testing/status_matchers.h"

namespace recsys::evaluation {
namespace {

constexpr int64_t kT = 1700000000;
constexpr int64_t kDay = 86400;

// Customers buy in a week with probability q while active and stop for good
// with a hazard of 3% a week, for a year.
std::vector<training::PurchaseRow> Shop() {
  Rng rng(11);
  std::vector<training::PurchaseRow> rows;
  for (int u = 0; u < 1500; ++u) {
    const double q = 0.1 + 0.8 * (u % 5) / 4.0;
    for (int week = 0; week < 52; ++week) {
      if (rng.Bernoulli(0.03)) break;
      if (!rng.Bernoulli(q)) continue;
      training::PurchaseRow r;
      r.user_id = absl::StrCat("u", u);
      r.item_id = absl::StrCat("i", rng.UniformModulo(20));
      r.timestamp_unix =
          kT + (week * 7 + static_cast<int64_t>(rng.UniformModulo(7))) * kDay;
      r.quantity = 1;
      r.price = 5 + u % 7;
      rows.push_back(r);
    }
  }
  return rows;
}

IntentEvalOptions At(int64_t as_of_unix) {
  IntentEvalOptions options;
  options.as_of_unix = as_of_unix;
  return options;
}

TEST(IntentEvalTest, ModelAndBaselineOnTheSameUsers) {
  const std::vector<training::PurchaseRow> rows = Shop();
  RECSYS_ASSERT_OK_AND_ASSIGN(
      IntentEvalReport report,
      EvaluateIntent(rows, At(kT + 300 * kDay)));
  ASSERT_EQ(report.rows.size(), 2u);
  EXPECT_GT(report.users, 500);
  EXPECT_GT(report.positive_rate, 0.1);
  EXPECT_LT(report.positive_rate, 0.9);
  EXPECT_TRUE(report.fit.fitted);
  // Both informative; the model sees the overdue ratio the rule lacks.
  EXPECT_GT(report.rows[0].auc, 0.75);
  EXPECT_GT(report.rows[1].auc, 0.6);
  EXPECT_GT(report.rows[0].auc, report.rows[1].auc);
  EXPECT_GT(report.rows[0].top_decile_lift, 1.2);
  EXPECT_LT(report.rows[0].ece, 0.1);
  const std::string table = FormatIntentTable(report);
  EXPECT_NE(table.find("| intent model (logistic, Platt) | "),
            std::string::npos)
      << table;
  EXPECT_NE(table.find("| RFM rule (r+f+m, rate per sum) | "),
            std::string::npos)
      << table;
}

TEST(IntentEvalTest, RefusesASplitWithoutLabels) {
  const std::vector<training::PurchaseRow> rows = Shop();
  EXPECT_EQ(EvaluateIntent(rows, {}).status().code(),
            absl::StatusCode::kInvalidArgument);
  // After the data's end nobody buys: one class only.
  EXPECT_EQ(
      EvaluateIntent(rows, At(kT + 400 * kDay)).status().code(),
      absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace recsys::evaluation
