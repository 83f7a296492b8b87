// VectorIndex: a FAISS index over item vectors, behind an interface that
// speaks absl::Status. FAISS exceptions stop here: every FAISS call is wrapped
// and turned into InvalidArgument / Internal.
//
// Ids are the item rows of the model (0 .. size()-1).
//
// Thread safety: Search() and SearchBatch() are const and safe to call
// concurrently (FAISS const search is reentrant). Add(),
// SetDefaultSearchParameter() and Save() need external exclusion; the model
// store builds an index completely before publishing it to readers.
#ifndef RECSYS_MODEL_VECTOR_INDEX_H_
#define RECSYS_MODEL_VECTOR_INDEX_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"

namespace faiss {
struct Index;
}  // namespace faiss

namespace recsys::model {

enum class Metric { kInnerProduct, kCosine };

struct Neighbor {
  int64_t id = -1;
  float score = 0;
};

// Decides which ids a search may return. Implementations must be safe to
// call from the searching thread while the index is shared.
class IdFilter {
 public:
  virtual ~IdFilter() = default;
  virtual bool Allowed(int64_t id) const = 0;
};

struct SearchOptions {
  // When set, only ids it allows are returned. Borrowed for the call.
  const IdFilter* filter = nullptr;
  // HNSW: efSearch for this query (0: the index's default, at least k).
  // Ignored by other index types. FAISS 1.7.3 (Debian 12) ignores a
  // per-query efSearch and always uses the index's default (fixed upstream
  // in faiss#3233), so with that version set it through
  // SetDefaultSearchParameter() instead.
  int ef_search = 0;
  // IVF: number of lists probed for this query (0: the index's default).
  int nprobe = 0;
};

// The family of a FAISS index, as far as search parameters are concerned.
enum class IndexKind {
  kFlat,   // exact search, no parameter
  kIvf,    // inverted lists; parameter nprobe
  kHnsw,   // graph; parameter efSearch
  kOther,  // anything else index_factory builds (no parameter handled here)
};

class VectorIndex {
 public:
  // An empty index of dimension `dim` built by faiss::index_factory(spec).
  // With Metric::kCosine, vectors (added and queried) are L2-normalized
  // first, so scores are cosine similarities. InvalidArgument for a bad
  // spec or dim < 1.
  static absl::StatusOr<std::unique_ptr<VectorIndex>> Create(
      int dim, absl::string_view spec, Metric metric);

  // Reads an index written by Save(). NotFound / DataLoss on I/O or format
  // errors.
  static absl::StatusOr<std::unique_ptr<VectorIndex>> Load(
      const std::string& path, Metric metric);

  ~VectorIndex();
  VectorIndex(const VectorIndex&) = delete;
  VectorIndex& operator=(const VectorIndex&) = delete;

  // Trains (when the index type needs it) and adds `rows` (n x dim,
  // row-major) with ids 0..n-1 following those already present.
  absl::Status Add(absl::Span<const float> rows);

  absl::Status Save(const std::string& path) const;

  // The k best ids for `query` (dim floats), best first. Fewer than k when
  // the index (or the filter) has fewer ids. InvalidArgument for a query of
  // the wrong size or k < 1.
  absl::StatusOr<std::vector<Neighbor>> Search(
      absl::Span<const float> query, int k,
      const SearchOptions& options = {}) const;

  // The k best ids of each of the n = queries.size() / dim queries, as an
  // n x k row-major array; -1 pads rows with fewer than k results. One
  // FAISS call, parallel over the queries with FAISS's OpenMP threads: for
  // offline work (publish-time recall, benchmarks), not the request path.
  // InvalidArgument for a size that is not a multiple of dim or k < 1.
  absl::StatusOr<std::vector<int64_t>> SearchBatch(
      absl::Span<const float> queries, int k,
      const SearchOptions& options = {}) const;

  IndexKind kind() const;
  // The search parameter used when SearchOptions leaves it at 0 (IVF:
  // nprobe; HNSW: efSearch, raised to k per query); 0 for other kinds. It is
  // saved with the index.
  int default_search_parameter() const;
  // Sets that parameter. IVF: nprobe, capped at the number of lists; HNSW:
  // efSearch. InvalidArgument for value < 1 or an index kind without a
  // parameter.
  absl::Status SetDefaultSearchParameter(int value);

  // Search() of flat and IVF-flat inner-product indexes scans FAISS's data
  // with the CPU's vector unit instead of calling faiss::Index::search
  // (whose Debian build is scalar). On by default; off: every search goes
  // through FAISS (for comparisons). Not thread-safe against Search().
  void set_fast_search(bool on) { use_fast_search_ = on; }

  int dim() const { return dim_; }
  int64_t size() const;
  Metric metric() const { return metric_; }
  // Human-readable type, e.g. "Flat(d=64, n=1000, inner product)" or
  // "IVF(d=64, n=100000, nlist=1024, nprobe=8, cosine)".
  std::string Describe() const;

 private:
  VectorIndex(std::unique_ptr<faiss::Index> index, Metric metric);

  const std::unique_ptr<faiss::Index> index_;
  const Metric metric_;
  const int dim_;
  bool use_fast_search_ = true;
};

// L2-normalizes `v` in place; zero vectors are left as they are.
void Normalize(absl::Span<float> v);

}  // namespace recsys::model

#endif  // RECSYS_MODEL_VECTOR_INDEX_H_
