#include "recommender/vector_index.h"

#include <algorithm>
#include <cstdint>
#include <vector>

#include "gtest/gtest.h"
#include "tests/recommender/test_model.h"
#include "tests/testing/status_matchers.h"

namespace recsys::recommender {
namespace {

class EvenIds : public IdFilter {
 public:
  bool Allowed(int64_t id) const override { return id % 2 == 0; }
};

std::vector<float> Rows() {
  // 6 vectors in 2-d with known inner products against (1, 0).
  return {1.0f, 0.0f,  0.9f, 0.1f,  0.8f, 0.5f,  0.1f, 1.0f,  -1.0f, 0.0f,  0.5f, 0.5f};
}

TEST(VectorIndexTest, FlatInnerProductIsExact) {
  RECSYS_ASSERT_OK_AND_ASSIGN(auto index, VectorIndex::Create(2, "Flat", Metric::kInnerProduct));
  RECSYS_ASSERT_OK(index->Add(Rows()));
  EXPECT_EQ(index->size(), 6);
  std::vector<float> q = {1.0f, 0.0f};
  RECSYS_ASSERT_OK_AND_ASSIGN(auto hits, index->Search(q, 3));
  ASSERT_EQ(hits.size(), 3u);
  EXPECT_EQ(hits[0].id, 0);
  EXPECT_EQ(hits[1].id, 1);
  EXPECT_EQ(hits[2].id, 2);
  EXPECT_FLOAT_EQ(hits[0].score, 1.0f);
}

TEST(VectorIndexTest, FilterIsApplied) {
  RECSYS_ASSERT_OK_AND_ASSIGN(auto index, VectorIndex::Create(2, "Flat", Metric::kInnerProduct));
  RECSYS_ASSERT_OK(index->Add(Rows()));
  EvenIds even;
  SearchOptions options;
  options.filter = &even;
  std::vector<float> q = {1.0f, 0.0f};
  RECSYS_ASSERT_OK_AND_ASSIGN(auto hits, index->Search(q, 6, options));
  ASSERT_EQ(hits.size(), 3u);
  for (const auto& h : hits) EXPECT_EQ(h.id % 2, 0);
  EXPECT_EQ(hits[0].id, 0);
  EXPECT_EQ(hits[1].id, 2);
  EXPECT_EQ(hits[2].id, 4);
}

TEST(VectorIndexTest, CosineNormalizes) {
  RECSYS_ASSERT_OK_AND_ASSIGN(auto index, VectorIndex::Create(2, "Flat", Metric::kCosine));
  std::vector<float> rows = {10.0f, 0.0f, 0.7f, 0.7f, 0.0f, 0.1f};
  RECSYS_ASSERT_OK(index->Add(rows));
  std::vector<float> q = {0.0f, 3.0f};
  RECSYS_ASSERT_OK_AND_ASSIGN(auto hits, index->Search(q, 3));
  ASSERT_EQ(hits.size(), 3u);
  EXPECT_EQ(hits[0].id, 2);  // short vector, same direction
  EXPECT_NEAR(hits[0].score, 1.0f, 1e-5);
  EXPECT_EQ(hits[2].id, 0);
  EXPECT_NEAR(hits[2].score, 0.0f, 1e-5);
}

TEST(VectorIndexTest, SaveLoadRoundTrip) {
  const std::string dir = testing::FreshDir("vector_index");
  RECSYS_ASSERT_OK_AND_ASSIGN(auto index, VectorIndex::Create(2, "Flat", Metric::kInnerProduct));
  RECSYS_ASSERT_OK(index->Add(Rows()));
  RECSYS_ASSERT_OK(index->Save(dir + "/i.faiss"));
  RECSYS_ASSERT_OK_AND_ASSIGN(auto loaded, VectorIndex::Load(dir + "/i.faiss", Metric::kInnerProduct));
  EXPECT_EQ(loaded->size(), 6);
  std::vector<float> q = {0.0f, 1.0f};
  RECSYS_ASSERT_OK_AND_ASSIGN(auto hits, loaded->Search(q, 1));
  EXPECT_EQ(hits[0].id, 3);
}

TEST(VectorIndexTest, HnswFindsTrueNeighboursOnSmallSet) {
  RECSYS_ASSERT_OK_AND_ASSIGN(auto flat, VectorIndex::Create(8, "Flat", Metric::kInnerProduct));
  RECSYS_ASSERT_OK_AND_ASSIGN(auto hnsw, VectorIndex::Create(8, "HNSW32", Metric::kInnerProduct));
  std::vector<float> rows;
  uint64_t state = 12345;
  for (int i = 0; i < 2000 * 8; ++i) {
    state = state * 6364136223846793005ULL + 1442695040888963407ULL;
    rows.push_back(static_cast<float>((state >> 33) % 1000) / 1000.0f - 0.5f);
  }
  RECSYS_ASSERT_OK(flat->Add(rows));
  RECSYS_ASSERT_OK(hnsw->Add(rows));
  int found = 0, total = 0;
  for (int qi = 0; qi < 20; ++qi) {
    absl::Span<const float> q(rows.data() + qi * 97 * 8, 8);
    RECSYS_ASSERT_OK_AND_ASSIGN(auto exact, flat->Search(q, 10));
    SearchOptions options;
    options.ef_search = 200;
    RECSYS_ASSERT_OK_AND_ASSIGN(auto approx, hnsw->Search(q, 10, options));
    for (const auto& e : exact) {
      ++total;
      found += std::any_of(approx.begin(), approx.end(),
                           [&](const Neighbor& a) { return a.id == e.id; });
    }
  }
  // Inner-product HNSW is approximate; with a generous efSearch on 2,000
  // points it finds nearly all true neighbours.
  EXPECT_GE(found, total * 8 / 10);
}

TEST(VectorIndexTest, BadArguments) {
  EXPECT_TRUE(absl::IsInvalidArgument(
      VectorIndex::Create(4, "NoSuchIndex", Metric::kInnerProduct).status()));
  EXPECT_TRUE(absl::IsInvalidArgument(VectorIndex::Create(0, "Flat", Metric::kInnerProduct).status()));
  RECSYS_ASSERT_OK_AND_ASSIGN(auto index, VectorIndex::Create(2, "Flat", Metric::kInnerProduct));
  RECSYS_ASSERT_OK(index->Add(Rows()));
  std::vector<float> wrong = {1.0f, 2.0f, 3.0f};
  EXPECT_TRUE(absl::IsInvalidArgument(index->Search(wrong, 1).status()));
  std::vector<float> q = {1.0f, 0.0f};
  EXPECT_TRUE(absl::IsInvalidArgument(index->Search(q, 0).status()));
  EXPECT_TRUE(absl::IsDataLoss(VectorIndex::Load("/nonexistent/x.faiss", Metric::kCosine).status()));
}

}  // namespace
}  // namespace recsys::recommender
