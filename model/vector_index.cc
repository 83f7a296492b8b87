#include "model/vector_index.h"

#include <algorithm>
#include <cmath>
#include <exception>
#include <typeinfo>
#include <utility>
#include <vector>

#include <faiss/Index.h>
#include <faiss/IndexFlat.h>
#include <faiss/IndexHNSW.h>
#include <faiss/IndexIVF.h>
#include <faiss/IndexIVFFlat.h>
#include <faiss/invlists/InvertedLists.h>
#include <faiss/impl/AuxIndexStructures.h>
#include <faiss/impl/IDSelector.h>
#include <faiss/index_factory.h>
#include <faiss/index_io.h>

#include "absl/strings/str_cat.h"
#include "common/dot.h"

namespace recsys::model {
namespace {

using idx_t = faiss::Index::idx_t;

// Adapts an IdFilter to FAISS's selector interface.
class FilterSelector : public faiss::IDSelector {
 public:
  explicit FilterSelector(const IdFilter* filter) : filter_(filter) {}
  bool is_member(idx_t id) const override { return filter_->Allowed(id); }

 private:
  const IdFilter* filter_;
};

// The k best (score, id) seen, kept as a min-heap on score.
class TopK {
 public:
  explicit TopK(int k) : k_(k) { heap_.reserve(k); }

  // The score an id must beat to enter (when full).
  bool Full() const { return static_cast<int>(heap_.size()) == k_; }
  float Worst() const { return heap_.front().score; }

  void Push(float score, int64_t id) {
    if (!Full()) {
      heap_.push_back({id, score});
      std::push_heap(heap_.begin(), heap_.end(), Greater);
    } else if (score > heap_.front().score) {
      std::pop_heap(heap_.begin(), heap_.end(), Greater);
      heap_.back() = {id, score};
      std::push_heap(heap_.begin(), heap_.end(), Greater);
    }
  }

  // Best first; equal scores by id.
  std::vector<Neighbor> Take() {
    std::sort(heap_.begin(), heap_.end(), [](const Neighbor& a, const Neighbor& b) {
      return a.score != b.score ? a.score > b.score : a.id < b.id;
    });
    return std::move(heap_);
  }

 private:
  static bool Greater(const Neighbor& a, const Neighbor& b) { return a.score > b.score; }

  const int k_;
  std::vector<Neighbor> heap_;
};

// Exact inner-product scan of `n` row-major vectors.
void ScanRows(const float* query, const float* rows, const idx_t* ids, size_t n, int dim,
              const IdFilter* filter, TopK& top) {
  for (size_t i = 0; i < n; ++i) {
    const idx_t id = ids != nullptr ? ids[i] : static_cast<idx_t>(i);
    if (filter != nullptr && !filter->Allowed(id)) continue;
    top.Push(Dot(query, rows + i * dim, dim), id);
  }
}

// The request path's search for the two index types the model publishes
// (docs/model_format.md): exact inner product (IndexFlatIP) and
// IndexIVFFlat over an exact inner-product quantizer. FAISS from Debian is
// built for baseline x86-64, so its distance loop is scalar; this scan
// uses the CPU's vector unit (AVX2/FMA, checked at run time) over FAISS's
// own data (the flat codes, the coarse centroids, the inverted lists). It
// visits the same vectors as IndexIVF::search with the same nprobe, so the
// answers are FAISS's up to rounding (tests/recommender/vector_index_test.cc).
// Other index types return false and go through faiss::Index::search.
bool FastSearch(const faiss::Index& index, const float* query, int k, int nprobe,
                const IdFilter* filter, std::vector<Neighbor>* out) {
  if (index.metric_type != faiss::METRIC_INNER_PRODUCT) return false;
  const int dim = index.d;
  if (typeid(index) == typeid(faiss::IndexFlatIP) ||
      typeid(index) == typeid(faiss::IndexFlat)) {
    const auto& flat = static_cast<const faiss::IndexFlat&>(index);
    TopK top(k);
    ScanRows(query, flat.get_xb(), nullptr, static_cast<size_t>(flat.ntotal), dim, filter, top);
    *out = top.Take();
    return true;
  }
  if (typeid(index) != typeid(faiss::IndexIVFFlat)) return false;
  const auto& ivf = static_cast<const faiss::IndexIVFFlat&>(index);
  const faiss::Index* quantizer = ivf.quantizer;
  if (quantizer == nullptr || quantizer->metric_type != faiss::METRIC_INNER_PRODUCT ||
      (typeid(*quantizer) != typeid(faiss::IndexFlatIP) &&
       typeid(*quantizer) != typeid(faiss::IndexFlat)) ||
      ivf.invlists == nullptr || ivf.code_size != sizeof(float) * dim) {
    return false;
  }
  const auto& centroids = static_cast<const faiss::IndexFlat&>(*quantizer);
  const int lists = static_cast<int>(std::min<int64_t>(nprobe, centroids.ntotal));
  if (lists < 1) return false;
  TopK probe(lists);
  ScanRows(query, centroids.get_xb(), nullptr, static_cast<size_t>(centroids.ntotal), dim,
           nullptr, probe);
  TopK top(k);
  for (const Neighbor& list : probe.Take()) {
    const size_t n = ivf.invlists->list_size(list.id);
    if (n == 0) continue;
    faiss::InvertedLists::ScopedCodes codes(ivf.invlists, list.id);
    faiss::InvertedLists::ScopedIds ids(ivf.invlists, list.id);
    ScanRows(query, reinterpret_cast<const float*>(codes.get()), ids.get(), n, dim, filter,
             top);
  }
  *out = top.Take();
  return true;
}

}  // namespace

void Normalize(absl::Span<float> v) {
  double norm = 0;
  for (float x : v) norm += static_cast<double>(x) * x;
  if (norm <= 0) return;
  const float inv = static_cast<float>(1.0 / std::sqrt(norm));
  for (float& x : v) x *= inv;
}

VectorIndex::VectorIndex(std::unique_ptr<faiss::Index> index, Metric metric)
    : index_(std::move(index)), metric_(metric), dim_(index_->d) {}

VectorIndex::~VectorIndex() = default;

absl::StatusOr<std::unique_ptr<VectorIndex>> VectorIndex::Create(
    int dim, absl::string_view spec, Metric metric) {
  if (dim < 1) {
    return absl::InvalidArgumentError(absl::StrCat("dim must be >= 1, got ", dim));
  }
  try {
    std::unique_ptr<faiss::Index> index(faiss::index_factory(
        dim, std::string(spec).c_str(), faiss::METRIC_INNER_PRODUCT));
    return std::unique_ptr<VectorIndex>(new VectorIndex(std::move(index), metric));
  } catch (const std::exception& e) {
    return absl::InvalidArgumentError(
        absl::StrCat("index spec '", spec, "': ", e.what()));
  }
}

absl::StatusOr<std::unique_ptr<VectorIndex>> VectorIndex::Load(
    const std::string& path, Metric metric) {
  try {
    std::unique_ptr<faiss::Index> index(faiss::read_index(path.c_str()));
    if (index->metric_type != faiss::METRIC_INNER_PRODUCT) {
      return absl::DataLossError(
          absl::StrCat(path, ": index metric is not inner product"));
    }
    return std::unique_ptr<VectorIndex>(new VectorIndex(std::move(index), metric));
  } catch (const std::exception& e) {
    return absl::DataLossError(absl::StrCat(path, ": ", e.what()));
  }
}

absl::Status VectorIndex::Add(absl::Span<const float> rows) {
  if (rows.size() % dim_ != 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        "rows: size ", rows.size(), " is not a multiple of dim ", dim_));
  }
  const idx_t n = static_cast<idx_t>(rows.size() / dim_);
  if (n == 0) return absl::OkStatus();
  std::vector<float> normalized;
  const float* data = rows.data();
  if (metric_ == Metric::kCosine) {
    normalized.assign(rows.begin(), rows.end());
    for (idx_t i = 0; i < n; ++i) {
      Normalize(absl::MakeSpan(normalized.data() + i * dim_, dim_));
    }
    data = normalized.data();
  }
  try {
    if (!index_->is_trained) index_->train(n, data);
    index_->add(n, data);
  } catch (const std::exception& e) {
    return absl::InternalError(absl::StrCat("faiss add: ", e.what()));
  }
  return absl::OkStatus();
}

absl::Status VectorIndex::Save(const std::string& path) const {
  try {
    faiss::write_index(index_.get(), path.c_str());
  } catch (const std::exception& e) {
    return absl::InternalError(absl::StrCat(path, ": ", e.what()));
  }
  return absl::OkStatus();
}

int64_t VectorIndex::size() const { return index_->ntotal; }

IndexKind VectorIndex::kind() const {
  if (dynamic_cast<const faiss::IndexHNSW*>(index_.get()) != nullptr) {
    return IndexKind::kHnsw;
  }
  if (dynamic_cast<const faiss::IndexIVF*>(index_.get()) != nullptr) {
    return IndexKind::kIvf;
  }
  if (dynamic_cast<const faiss::IndexFlat*>(index_.get()) != nullptr) {
    return IndexKind::kFlat;
  }
  return IndexKind::kOther;
}

int VectorIndex::default_search_parameter() const {
  if (const auto* hnsw = dynamic_cast<const faiss::IndexHNSW*>(index_.get())) {
    return hnsw->hnsw.efSearch;
  }
  if (const auto* ivf = dynamic_cast<const faiss::IndexIVF*>(index_.get())) {
    return static_cast<int>(ivf->nprobe);
  }
  return 0;
}

absl::Status VectorIndex::SetDefaultSearchParameter(int value) {
  if (value < 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("search parameter must be >= 1, got ", value));
  }
  if (auto* hnsw = dynamic_cast<faiss::IndexHNSW*>(index_.get())) {
    hnsw->hnsw.efSearch = value;
    return absl::OkStatus();
  }
  if (auto* ivf = dynamic_cast<faiss::IndexIVF*>(index_.get())) {
    ivf->nprobe = std::min<size_t>(value, ivf->nlist);
    return absl::OkStatus();
  }
  return absl::InvalidArgumentError(
      absl::StrCat("index ", Describe(), " has no search parameter"));
}

std::string VectorIndex::Describe() const {
  std::string type;
  switch (kind()) {
    case IndexKind::kHnsw:
      type = absl::StrCat("HNSW(efSearch=", default_search_parameter(), ", ");
      break;
    case IndexKind::kIvf:
      type = absl::StrCat(
          "IVF(nlist=", static_cast<const faiss::IndexIVF*>(index_.get())->nlist,
          ", nprobe=", default_search_parameter(), ", ");
      break;
    case IndexKind::kFlat:
      type = "Flat(";
      break;
    case IndexKind::kOther:
      type = "Index(";
      break;
  }
  return absl::StrCat(type, "d=", dim_, ", n=", index_->ntotal, ", ",
                      metric_ == Metric::kCosine ? "cosine" : "inner product",
                      ")");
}

absl::StatusOr<std::vector<Neighbor>> VectorIndex::Search(
    absl::Span<const float> query, int k, const SearchOptions& options) const {
  if (static_cast<int>(query.size()) != dim_) {
    return absl::InvalidArgumentError(absl::StrCat(
        "query: expected ", dim_, " floats, got ", query.size()));
  }
  if (k < 1) {
    return absl::InvalidArgumentError(absl::StrCat("k must be >= 1, got ", k));
  }
  const int64_t n = index_->ntotal;
  if (n == 0) return std::vector<Neighbor>();
  if (k > n) k = static_cast<int>(n);

  std::vector<float> q(query.begin(), query.end());
  if (metric_ == Metric::kCosine) Normalize(absl::MakeSpan(q));

  if (use_fast_search_) {
    int nprobe = options.nprobe;
    if (nprobe <= 0) {
      const auto* ivf = dynamic_cast<const faiss::IndexIVF*>(index_.get());
      nprobe = ivf != nullptr ? static_cast<int>(ivf->nprobe) : 1;
    }
    std::vector<Neighbor> out;
    if (FastSearch(*index_, q.data(), k, nprobe, options.filter, &out)) return out;
  }

  FilterSelector selector(options.filter);
  faiss::SearchParametersHNSW hnsw_params;
  faiss::SearchParametersIVF ivf_params;
  faiss::SearchParameters plain_params;
  faiss::SearchParameters* params = &plain_params;
  if (dynamic_cast<const faiss::IndexHNSW*>(index_.get()) != nullptr) {
    // FAISS 1.7.3 reads the index's own efSearch and ignores this one
    // (vector_index.h); set it anyway for versions that honour it.
    const int stored = static_cast<const faiss::IndexHNSW*>(index_.get())->hnsw.efSearch;
    hnsw_params.efSearch = options.ef_search > 0 ? options.ef_search : std::max(stored, k);
    params = &hnsw_params;
  } else if (dynamic_cast<const faiss::IndexIVF*>(index_.get()) != nullptr) {
    if (options.nprobe > 0) ivf_params.nprobe = options.nprobe;
    else ivf_params.nprobe = static_cast<const faiss::IndexIVF*>(index_.get())->nprobe;
    params = &ivf_params;
  }
  if (options.filter != nullptr) params->sel = &selector;

  std::vector<float> scores(k);
  std::vector<idx_t> ids(k);
  try {
    index_->search(1, q.data(), k, scores.data(), ids.data(), params);
  } catch (const std::exception& e) {
    return absl::InternalError(absl::StrCat("faiss search: ", e.what()));
  }
  std::vector<Neighbor> out;
  out.reserve(k);
  for (int i = 0; i < k; ++i) {
    if (ids[i] < 0) break;
    out.push_back({ids[i], scores[i]});
  }
  return out;
}

absl::StatusOr<std::vector<int64_t>> VectorIndex::SearchBatch(
    absl::Span<const float> queries, int k, const SearchOptions& options) const {
  if (queries.size() % dim_ != 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        "queries: size ", queries.size(), " is not a multiple of dim ", dim_));
  }
  if (k < 1) {
    return absl::InvalidArgumentError(absl::StrCat("k must be >= 1, got ", k));
  }
  const idx_t n = static_cast<idx_t>(queries.size() / dim_);
  std::vector<int64_t> out(static_cast<size_t>(n) * k, -1);
  if (n == 0 || index_->ntotal == 0) return out;
  const int kk = static_cast<int>(std::min<int64_t>(k, index_->ntotal));

  std::vector<float> normalized;
  const float* data = queries.data();
  if (metric_ == Metric::kCosine) {
    normalized.assign(queries.begin(), queries.end());
    for (idx_t i = 0; i < n; ++i) {
      Normalize(absl::MakeSpan(normalized.data() + i * dim_, dim_));
    }
    data = normalized.data();
  }
  FilterSelector selector(options.filter);
  faiss::SearchParametersHNSW hnsw_params;
  faiss::SearchParametersIVF ivf_params;
  faiss::SearchParameters plain_params;
  faiss::SearchParameters* params = &plain_params;
  if (const auto* hnsw = dynamic_cast<const faiss::IndexHNSW*>(index_.get())) {
    hnsw_params.efSearch =
        options.ef_search > 0 ? options.ef_search : std::max(hnsw->hnsw.efSearch, kk);
    params = &hnsw_params;
  } else if (const auto* ivf = dynamic_cast<const faiss::IndexIVF*>(index_.get())) {
    ivf_params.nprobe = options.nprobe > 0 ? options.nprobe : ivf->nprobe;
    params = &ivf_params;
  }
  if (options.filter != nullptr) params->sel = &selector;

  std::vector<float> scores(static_cast<size_t>(n) * kk);
  std::vector<idx_t> ids(static_cast<size_t>(n) * kk);
  try {
    index_->search(n, data, kk, scores.data(), ids.data(), params);
  } catch (const std::exception& e) {
    return absl::InternalError(absl::StrCat("faiss search: ", e.what()));
  }
  for (idx_t i = 0; i < n; ++i) {
    for (int j = 0; j < kk; ++j) out[i * k + j] = ids[i * kk + j];
  }
  return out;
}

}  // namespace recsys::model
