#include "model/vector_index.h"

#include <algorithm>
#include <cstdint>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "tests/model/test_model.h"
#include "tests/testing/status_matchers.h"
#include "tests/testing/test_files.h"

namespace recsys::model {
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
  const std::string dir = recsys::testing::MakeUniqueDir("vector_index");
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

// n points in `dim` dimensions around `centres` centres; deterministic.
std::vector<float> ClusteredRows(int n, int dim, int centres) {
  uint64_t state = 99;
  auto uniform = [&state] {
    state = state * 6364136223846793005ULL + 1442695040888963407ULL;
    return static_cast<float>((state >> 33) % 100000) / 100000.0f - 0.5f;
  };
  std::vector<float> centre(static_cast<size_t>(centres) * dim);
  for (float& x : centre) x = uniform();
  std::vector<float> rows;
  for (int i = 0; i < n; ++i) {
    const int c = i % centres;
    for (int j = 0; j < dim; ++j) rows.push_back(centre[c * dim + j] + 0.1f * uniform());
  }
  return rows;
}

TEST(VectorIndexTest, SearchBatchMatchesSearch) {
  RECSYS_ASSERT_OK_AND_ASSIGN(auto index, VectorIndex::Create(2, "Flat", Metric::kCosine));
  RECSYS_ASSERT_OK(index->Add(Rows()));
  const std::vector<float> queries = {1.0f, 0.0f, 0.0f, 2.0f, -1.0f, 0.2f};
  RECSYS_ASSERT_OK_AND_ASSIGN(std::vector<int64_t> batch, index->SearchBatch(queries, 4));
  ASSERT_EQ(batch.size(), 12u);
  for (int q = 0; q < 3; ++q) {
    RECSYS_ASSERT_OK_AND_ASSIGN(
        auto hits, index->Search(absl::MakeConstSpan(queries.data() + 2 * q, 2), 4));
    ASSERT_EQ(hits.size(), 4u);
    for (int i = 0; i < 4; ++i) EXPECT_EQ(batch[q * 4 + i], hits[i].id) << q << " " << i;
  }
  // More wanted than held: padded with -1.
  RECSYS_ASSERT_OK_AND_ASSIGN(batch, index->SearchBatch(absl::MakeConstSpan(queries.data(), 2), 8));
  EXPECT_EQ(batch[5], 4);  // (-1, 0): the least similar
  EXPECT_EQ(batch[6], -1);
  EXPECT_EQ(batch[7], -1);
  EXPECT_TRUE(absl::IsInvalidArgument(index->SearchBatch({1.0f, 2.0f, 3.0f}, 1).status()));
  EXPECT_TRUE(absl::IsInvalidArgument(index->SearchBatch(queries, 0).status()));
}

TEST(VectorIndexTest, FlatHasNoSearchParameter) {
  RECSYS_ASSERT_OK_AND_ASSIGN(auto index, VectorIndex::Create(2, "Flat", Metric::kInnerProduct));
  EXPECT_EQ(index->kind(), IndexKind::kFlat);
  EXPECT_EQ(index->default_search_parameter(), 0);
  EXPECT_TRUE(absl::IsInvalidArgument(index->SetDefaultSearchParameter(4)));
}

TEST(VectorIndexTest, IvfParameterIsCappedSavedAndFilterApplies) {
  const std::string dir = recsys::testing::MakeUniqueDir("vector_index_ivf");
  RECSYS_ASSERT_OK_AND_ASSIGN(auto index,
                              VectorIndex::Create(8, "IVF16,Flat", Metric::kInnerProduct));
  EXPECT_EQ(index->kind(), IndexKind::kIvf);
  const std::vector<float> rows = ClusteredRows(2000, 8, 20);
  RECSYS_ASSERT_OK(index->Add(rows));
  EXPECT_EQ(index->size(), 2000);
  EXPECT_TRUE(absl::IsInvalidArgument(index->SetDefaultSearchParameter(0)));
  RECSYS_ASSERT_OK(index->SetDefaultSearchParameter(1000));
  EXPECT_EQ(index->default_search_parameter(), 16);  // capped at nlist
  RECSYS_ASSERT_OK(index->SetDefaultSearchParameter(3));
  RECSYS_ASSERT_OK(index->Save(dir + "/ivf.faiss"));
  RECSYS_ASSERT_OK_AND_ASSIGN(auto loaded,
                              VectorIndex::Load(dir + "/ivf.faiss", Metric::kInnerProduct));
  EXPECT_EQ(loaded->kind(), IndexKind::kIvf);
  EXPECT_EQ(loaded->default_search_parameter(), 3);
  EXPECT_NE(loaded->Describe().find("nprobe=3"), std::string::npos) << loaded->Describe();

  // With every list probed the search is exact, filter included.
  RECSYS_ASSERT_OK_AND_ASSIGN(auto flat, VectorIndex::Create(8, "Flat", Metric::kInnerProduct));
  RECSYS_ASSERT_OK(flat->Add(rows));
  EvenIds even;
  SearchOptions exhaustive;
  exhaustive.nprobe = 16;
  exhaustive.filter = &even;
  SearchOptions exact_filtered;
  exact_filtered.filter = &even;
  absl::Span<const float> q(rows.data() + 5 * 8, 8);
  RECSYS_ASSERT_OK_AND_ASSIGN(auto got, loaded->Search(q, 10, exhaustive));
  RECSYS_ASSERT_OK_AND_ASSIGN(auto want, flat->Search(q, 10, exact_filtered));
  ASSERT_EQ(got.size(), want.size());
  for (size_t i = 0; i < got.size(); ++i) {
    EXPECT_EQ(got[i].id % 2, 0);
    EXPECT_EQ(got[i].id, want[i].id);
  }
}

// The vectorized scan (the default) against faiss::Index::search on the
// same index: same neighbours, same scores up to rounding, for flat and IVF
// indexes, with and without a filter, at several nprobe, with dimensions
// that are and are not a multiple of the vector width.
TEST(VectorIndexTest, FastSearchMatchesFaiss) {
  for (const int dim : {8, 13, 64}) {
    const std::vector<float> rows = ClusteredRows(3000, dim, 30);
    for (const char* spec : {"Flat", "IVF32,Flat"}) {
      for (const Metric metric : {Metric::kInnerProduct, Metric::kCosine}) {
        RECSYS_ASSERT_OK_AND_ASSIGN(auto index, VectorIndex::Create(dim, spec, metric));
        RECSYS_ASSERT_OK(index->Add(rows));
        EvenIds even;
        for (const int nprobe : {1, 4, 32}) {
          for (const IdFilter* filter : {static_cast<const IdFilter*>(nullptr),
                                         static_cast<const IdFilter*>(&even)}) {
            SearchOptions options;
            options.nprobe = nprobe;
            options.filter = filter;
            for (int q = 0; q < 20; ++q) {
              absl::Span<const float> query(rows.data() + (q * 149 % 3000) * dim, dim);
              index->set_fast_search(true);
              RECSYS_ASSERT_OK_AND_ASSIGN(auto fast, index->Search(query, 25, options));
              index->set_fast_search(false);
              RECSYS_ASSERT_OK_AND_ASSIGN(auto faiss, index->Search(query, 25, options));
              const std::string where = absl::StrCat(spec, " dim ", dim, " nprobe ", nprobe,
                                                     filter ? " filtered" : "", " query ", q);
              ASSERT_EQ(fast.size(), faiss.size()) << where;
              // (An IVF probe of one list can hold only odd ids.)
              if (std::string(spec) == "Flat" || nprobe == 32) {
                ASSERT_EQ(fast.size(), 25u) << where;
              }
              for (size_t i = 0; i < fast.size(); ++i) {
                EXPECT_NEAR(fast[i].score, faiss[i].score, 1e-4) << where << " rank " << i;
                // Ids agree except where two scores tie to rounding.
                if (fast[i].id != faiss[i].id) {
                  EXPECT_NEAR(fast[i].score, faiss[i].score, 1e-5) << where << " rank " << i;
                }
                if (filter != nullptr) {
                  EXPECT_EQ(fast[i].id % 2, 0) << where;
                }
              }
            }
          }
          if (std::string(spec) == "Flat") break;  // nprobe is ignored
        }
      }
    }
  }
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
}  // namespace recsys::model
