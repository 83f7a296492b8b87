#include "model/fold_in.h"

#include <cmath>
#include <vector>

#include "gtest/gtest.h"
#include "tests/model/test_model.h"
#include "tests/testing/status_matchers.h"
#include "tests/testing/test_files.h"

namespace recsys::model {
namespace {

std::shared_ptr<const ModelBundle> LoadPlanted() {
  const std::string root = recsys::testing::MakeUniqueDir("fold_in");
  PublishOptions options;
  options.version = "1";
  auto dir = PublishModel(root, testing::MakePlantedModel(), options);
  EXPECT_TRUE(dir.ok()) << dir.status();
  auto bundle = ModelBundle::Load(*dir);
  EXPECT_TRUE(bundle.ok()) << bundle.status();
  return *bundle;
}

TEST(FoldInTest, SolvesTheNormalEquations) {
  auto bundle = LoadPlanted();
  std::vector<WeightedItem> items = {{2, 3.0f}, {5, 1.0f}, {12, 0.25f}};
  RECSYS_ASSERT_OK_AND_ASSIGN(std::vector<float> x, FoldInUser(*bundle, items));
  const int f = bundle->dim();
  const auto& params = bundle->manifest().params();
  // Residual of (YtY + sum (c-1) y y^T + reg I) x = sum c y.
  std::vector<double> ax(f, 0.0), b(f, 0.0);
  for (int r = 0; r < f; ++r) {
    for (int c = 0; c < f; ++c) ax[r] += bundle->item_gram()[r * f + c] * x[c];
    ax[r] += params.regularization() * x[r];
  }
  for (const auto& w : items) {
    const double conf = Confidence(params, w.strength);
    auto y = bundle->item_vector(w.item);
    double yx = 0;
    for (int d = 0; d < f; ++d) yx += y[d] * x[d];
    for (int d = 0; d < f; ++d) {
      ax[d] += (conf - 1) * yx * y[d];
      b[d] += conf * y[d];
    }
  }
  for (int d = 0; d < f; ++d) EXPECT_NEAR(ax[d], b[d], 1e-4);
}

TEST(FoldInTest, FollowsTheItemsGroup) {
  auto bundle = LoadPlanted();
  std::vector<WeightedItem> alpha = {{bundle->ItemRow("a3"), 1.0f}};
  RECSYS_ASSERT_OK_AND_ASSIGN(std::vector<float> x, FoldInUser(*bundle, alpha));
  EXPECT_GT(x[0], x[1]);
  std::vector<WeightedItem> beta = {{bundle->ItemRow("b3"), 1.0f}, {bundle->ItemRow("b4"), 2.0f}};
  RECSYS_ASSERT_OK_AND_ASSIGN(x, FoldInUser(*bundle, beta));
  EXPECT_GT(x[1], x[0]);
}

TEST(FoldInTest, ConfidenceFormulas) {
  recsys::v1::TrainingParams p;
  p.set_alpha(2);
  p.set_epsilon(1);
  p.set_confidence("log");
  EXPECT_NEAR(Confidence(p, 1.0f), 1 + 2 * std::log(2.0), 1e-6);
  p.set_confidence("linear");
  EXPECT_NEAR(Confidence(p, 3.0f), 7.0, 1e-6);
}

TEST(FoldInTest, BadInput) {
  auto bundle = LoadPlanted();
  EXPECT_TRUE(absl::IsInvalidArgument(FoldInUser(*bundle, {}).status()));
  std::vector<WeightedItem> bad = {{999, 1.0f}};
  EXPECT_TRUE(absl::IsInvalidArgument(FoldInUser(*bundle, bad).status()));
}

}  // namespace
}  // namespace recsys::model
