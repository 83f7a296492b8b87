#include "model/model_format.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <memory>
#include <numeric>
#include <system_error>

#include <google/protobuf/util/json_util.h>
#include <xxhash.h>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "absl/strings/str_format.h"
#include "common/log.h"
#include "common/status_macros.h"
#include "model/vector_index.h"

namespace recsys::model {
namespace {

namespace fs = std::filesystem;

constexpr char kVectorMagic[4] = {'R', 'S', 'V', '1'};
constexpr char kHistoryMagic[4] = {'R', 'S', 'H', '1'};
constexpr char kNeighborsMagic[4] = {'R', 'S', 'N', '1'};

constexpr char kManifestFile[] = "manifest.json";
constexpr char kUsersFile[] = "users.tsv";
constexpr char kItemsFile[] = "items.tsv";
constexpr char kUserVectorsFile[] = "user_vectors.f32";
constexpr char kItemVectorsFile[] = "item_vectors.f32";
constexpr char kItemsIpIndexFile[] = "items_ip.faiss";
constexpr char kItemsCosIndexFile[] = "items_cos.faiss";
constexpr char kPopularFile[] = "popular.tsv";
constexpr char kHistoryFile[] = "history.bin";
constexpr char kComplementsFile[] = "complements.tsv";
constexpr char kSegmentsFile[] = "segments.tsv";
constexpr char kIntelFile[] = "intel.tsv";
constexpr char kNeighborsFile[] = "neighbors.bin";

absl::Status ErrnoError(absl::string_view what, const std::string& path) {
  return absl::UnavailableError(
      absl::StrCat(what, " ", path, ": ", std::strerror(errno)));
}

// A FILE* that is fsynced and closed by Close(); closed without sync by the
// destructor on error paths.
class OutFile {
 public:
  static absl::StatusOr<OutFile> Open(const std::string& path) {
    FILE* f = std::fopen(path.c_str(), "wb");
    if (f == nullptr) return ErrnoError("cannot create", path);
    return OutFile(f, path);
  }
  OutFile(OutFile&& o) noexcept : f_(o.f_), path_(std::move(o.path_)) {
    o.f_ = nullptr;
  }
  ~OutFile() {
    if (f_ != nullptr) std::fclose(f_);
  }
  absl::Status Write(const void* data, size_t n) {
    if (n > 0 && std::fwrite(data, 1, n, f_) != n) {
      return ErrnoError("write failed on", path_);
    }
    return absl::OkStatus();
  }
  absl::Status Write(absl::string_view s) { return Write(s.data(), s.size()); }
  absl::Status Close() {
    FILE* f = f_;
    f_ = nullptr;
    if (std::fflush(f) != 0 || ::fsync(fileno(f)) != 0) {
      std::fclose(f);
      return ErrnoError("sync failed on", path_);
    }
    if (std::fclose(f) != 0) return ErrnoError("close failed on", path_);
    return absl::OkStatus();
  }

 private:
  OutFile(FILE* f, std::string path) : f_(f), path_(std::move(path)) {}
  FILE* f_;
  std::string path_;
};

absl::Status WriteText(const std::string& path, absl::string_view text) {
  RECSYS_ASSIGN_OR_RETURN(OutFile out, OutFile::Open(path));
  RECSYS_RETURN_IF_ERROR(out.Write(text));
  return out.Close();
}

absl::Status WriteVectors(const std::string& path, const std::vector<float>& v,
                          int64_t rows, int32_t dim) {
  RECSYS_ASSIGN_OR_RETURN(OutFile out, OutFile::Open(path));
  RECSYS_RETURN_IF_ERROR(out.Write(kVectorMagic, 4));
  RECSYS_RETURN_IF_ERROR(out.Write(&rows, sizeof(rows)));
  RECSYS_RETURN_IF_ERROR(out.Write(&dim, sizeof(dim)));
  RECSYS_RETURN_IF_ERROR(out.Write(v.data(), v.size() * sizeof(float)));
  return out.Close();
}

absl::Status SyncDir(const std::string& dir) {
  int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY);
  if (fd < 0) return ErrnoError("cannot open directory", dir);
  int rc = ::fsync(fd);
  ::close(fd);
  if (rc != 0) return ErrnoError("cannot sync directory", dir);
  return absl::OkStatus();
}

bool HasSeparator(absl::string_view s) {
  return s.find_first_of("\t\n\r") != absl::string_view::npos;
}

std::string CleanTitle(absl::string_view s) {
  return absl::StrReplaceAll(s, {{"\t", " "}, {"\n", " "}, {"\r", " "}});
}

absl::StatusOr<std::string> ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError(absl::StrCat("cannot open ", path));
  std::string data((std::istreambuf_iterator<char>(in)),
                   std::istreambuf_iterator<char>());
  if (in.bad()) return absl::DataLossError(absl::StrCat("cannot read ", path));
  return data;
}

// XXH3_64bits of the whole file at `path` as 16 lower-case hex digits, and
// its size, read in 1 MiB blocks.
absl::StatusOr<std::pair<std::string, int64_t>> HashFile(const std::string& path) {
  std::unique_ptr<std::FILE, int (*)(std::FILE*)> f(std::fopen(path.c_str(), "rb"), &std::fclose);
  if (f == nullptr) return ErrnoError("cannot open", path);
  std::unique_ptr<XXH3_state_t, XXH_errorcode (*)(XXH3_state_t*)> state(XXH3_createState(),
                                                                       &XXH3_freeState);
  if (state == nullptr || XXH3_64bits_reset(state.get()) != XXH_OK) {
    return absl::InternalError("XXH3 state");
  }
  std::vector<char> buf(1 << 20);
  int64_t size = 0;
  while (true) {
    const size_t n = std::fread(buf.data(), 1, buf.size(), f.get());
    if (n > 0) {
      XXH3_64bits_update(state.get(), buf.data(), n);
      size += static_cast<int64_t>(n);
    }
    if (n < buf.size()) break;
  }
  if (std::ferror(f.get())) return absl::DataLossError(absl::StrCat("cannot read ", path));
  return std::make_pair(
      absl::StrFormat("%016x", static_cast<uint64_t>(XXH3_64bits_digest(state.get()))), size);
}

// Checks every file's size and, when the manifest has them, its checksum,
// before anything is parsed. A manifest without checksums (published before
// they existed) is accepted with a warning.
absl::Status VerifyFiles(const std::string& dir, const recsys::v1::ModelManifest& m) {
  for (const auto& [name, size] : m.files()) {
    std::error_code ec;
    const auto actual = fs::file_size(dir + "/" + name, ec);
    if (ec) return absl::DataLossError(absl::StrCat(dir, "/", name, ": missing"));
    if (static_cast<int64_t>(actual) != size) {
      return absl::DataLossError(absl::StrCat(dir, "/", name, ": size ", actual,
                                              ", manifest says ", size));
    }
  }
  if (m.checksums().empty()) {
    LogWarning(absl::StrCat(dir, ": manifest has no checksums (published by an older "
                            "version); files are loaded unverified"));
    return absl::OkStatus();
  }
  absl::flat_hash_set<std::string> checked;
  for (const recsys::v1::FileChecksum& c : m.checksums()) {
    if (!m.files().contains(c.name())) {
      return absl::DataLossError(absl::StrCat(dir, "/", kManifestFile, ": checksum for ",
                                              c.name(), ", which is not in files"));
    }
    auto hashed = HashFile(dir + "/" + c.name());
    if (!hashed.ok()) {
      return absl::DataLossError(absl::StrCat(dir, "/", c.name(), ": ", hashed.status().message()));
    }
    if (hashed->second != c.size() || hashed->first != c.xxh3_64()) {
      return absl::DataLossError(absl::StrCat(
          dir, "/", c.name(), ": checksum mismatch (xxh3_64 ", hashed->first, ", size ",
          hashed->second, "; manifest says ", c.xxh3_64(), ", size ", c.size(), ")"));
    }
    checked.insert(c.name());
  }
  for (const auto& [name, size] : m.files()) {
    if (!checked.contains(name)) {
      return absl::DataLossError(
          absl::StrCat(dir, "/", kManifestFile, ": no checksum for ", name));
    }
  }
  return absl::OkStatus();
}

absl::Status ReadVectors(const std::string& path, int64_t want_rows,
                         int32_t want_dim, std::vector<float>* out) {
  RECSYS_ASSIGN_OR_RETURN(std::string data, ReadFile(path));
  const size_t header = 4 + sizeof(int64_t) + sizeof(int32_t);
  if (data.size() < header || std::memcmp(data.data(), kVectorMagic, 4) != 0) {
    return absl::DataLossError(absl::StrCat(path, ": not a vector file"));
  }
  int64_t rows;
  int32_t dim;
  std::memcpy(&rows, data.data() + 4, sizeof(rows));
  std::memcpy(&dim, data.data() + 4 + sizeof(rows), sizeof(dim));
  if (rows != want_rows || dim != want_dim) {
    return absl::DataLossError(absl::StrCat(path, ": holds ", rows, "x", dim,
                                            ", manifest says ", want_rows, "x",
                                            want_dim));
  }
  const size_t bytes = static_cast<size_t>(rows) * dim * sizeof(float);
  if (data.size() != header + bytes) {
    return absl::DataLossError(absl::StrCat(path, ": truncated"));
  }
  out->resize(static_cast<size_t>(rows) * dim);
  std::memcpy(out->data(), data.data() + header, bytes);
  for (float x : *out) {
    if (!std::isfinite(x)) {
      return absl::DataLossError(absl::StrCat(path, ": non-finite value"));
    }
  }
  return absl::OkStatus();
}

// `vectors` false: the factors are not held (ReadModelOptions::vectors)
// and not checked.
absl::Status CheckData(const ModelData& d, bool vectors = true) {
  const size_t nu = d.user_ids.size(), ni = d.items.size();
  if (d.dim < 1) return absl::InvalidArgumentError("dim: must be >= 1");
  if (ni == 0) return absl::InvalidArgumentError("items: no items");
  if (vectors) {
    if (d.user_factors.size() != nu * d.dim) {
      return absl::InvalidArgumentError(absl::StrCat(
          "user_factors: size ", d.user_factors.size(), " != users ", nu,
          " x dim ", d.dim));
    }
    if (d.item_factors.size() != ni * d.dim) {
      return absl::InvalidArgumentError(absl::StrCat(
          "item_factors: size ", d.item_factors.size(), " != items ", ni,
          " x dim ", d.dim));
    }
    for (const auto* v : {&d.user_factors, &d.item_factors}) {
      for (float x : *v) {
        if (!std::isfinite(x)) {
          return absl::InvalidArgumentError(
              v == &d.user_factors ? "user_factors: non-finite value"
                                   : "item_factors: non-finite value");
        }
      }
    }
  }
  absl::flat_hash_set<absl::string_view> seen;
  for (const auto& u : d.user_ids) {
    if (u.empty() || HasSeparator(u)) {
      return absl::InvalidArgumentError(
          absl::StrCat("user_ids: empty or contains tab/newline: '", u, "'"));
    }
    if (!seen.insert(u).second) {
      return absl::InvalidArgumentError(absl::StrCat("user_ids: duplicate '", u, "'"));
    }
  }
  seen.clear();
  for (const auto& it : d.items) {
    if (it.item_id.empty() || HasSeparator(it.item_id) ||
        HasSeparator(it.category)) {
      return absl::InvalidArgumentError(absl::StrCat(
          "items: id or category empty or contains tab/newline: '", it.item_id,
          "'"));
    }
    if (!seen.insert(it.item_id).second) {
      return absl::InvalidArgumentError(
          absl::StrCat("items: duplicate '", it.item_id, "'"));
    }
  }
  if (!d.complements.empty()) {
    if (d.complements.size() != ni) {
      return absl::InvalidArgumentError(absl::StrCat(
          "complements: ", d.complements.size(), " lists for ", ni, " items"));
    }
    for (const auto& list : d.complements) {
      for (const auto& [item, score] : list) {
        if (item < 0 || static_cast<size_t>(item) >= ni || !std::isfinite(score)) {
          return absl::InvalidArgumentError("complements: item row out of range or bad score");
        }
      }
    }
  }
  if (!d.history_indptr.empty()) {
    if (d.history_indptr.size() != nu + 1 || d.history_indptr.front() != 0 ||
        d.history_indptr.back() != static_cast<int64_t>(d.history.size())) {
      return absl::InvalidArgumentError("history_indptr: inconsistent with history");
    }
    for (size_t u = 0; u < nu; ++u) {
      if (d.history_indptr[u] > d.history_indptr[u + 1]) {
        return absl::InvalidArgumentError("history_indptr: not monotonic");
      }
    }
    for (const auto& h : d.history) {
      if (h.item < 0 || static_cast<size_t>(h.item) >= ni) {
        return absl::InvalidArgumentError(
            absl::StrCat("history: item row ", h.item, " out of range"));
      }
    }
  }
  if (!d.ranker_neighbors.indptr.empty()) {
    const ItemNeighbors& n = d.ranker_neighbors;
    if (n.indptr.size() != ni + 1 || n.indptr.front() != 0 ||
        n.indptr.back() != static_cast<int64_t>(n.items.size()) ||
        n.sims.size() != n.items.size()) {
      return absl::InvalidArgumentError(absl::StrCat(
          "ranker_neighbors: ", n.indptr.size(), " offsets for ", ni, " items, ",
          n.items.size(), " rows and ", n.sims.size(), " similarities"));
    }
    for (size_t i = 0; i < ni; ++i) {
      if (n.indptr[i] > n.indptr[i + 1]) {
        return absl::InvalidArgumentError("ranker_neighbors: offsets not monotonic");
      }
    }
    for (size_t k = 0; k < n.items.size(); ++k) {
      if (n.items[k] < 0 || static_cast<size_t>(n.items[k]) >= ni || !std::isfinite(n.sims[k])) {
        return absl::InvalidArgumentError(absl::StrCat(
            "ranker_neighbors: entry ", k, " has item row ", n.items[k], " or similarity ",
            n.sims[k], " out of range"));
      }
    }
  }
  return absl::OkStatus();
}

std::string NewVersion(const std::string& root) {
  int64_t v = VersionNumber(absl::FormatTime("%Y%m%d%H%M%S", absl::Now(), absl::UTCTimeZone()));
  // Never go backwards relative to what is already there.
  auto versions = ListModelVersions(root);
  if (versions.ok() && !versions->empty()) {
    const int64_t newest = VersionNumber(versions->front());
    if (newest >= v) v = newest + 1;
  }
  return absl::StrCat(v);
}

std::vector<int32_t> PopularOrder(const std::vector<ItemMeta>& items) {
  std::vector<int32_t> order(items.size());
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](int32_t a, int32_t b) {
    if (items[a].buyers != items[b].buyers) return items[a].buyers > items[b].buyers;
    return items[a].purchases > items[b].purchases;
  });
  return order;
}

// Rows `count` of `rows` (n x dim), sampled without replacement by a seeded
// generator (all rows, in order, when n <= count).
std::vector<float> SampleRows(const std::vector<float>& rows, int dim, int count,
                              uint64_t seed) {
  const int64_t n = static_cast<int64_t>(rows.size()) / dim;
  std::vector<int64_t> picked(n);
  std::iota(picked.begin(), picked.end(), 0);
  if (n > count) {
    // Partial Fisher-Yates with splitmix64.
    uint64_t state = seed;
    auto next = [&state] {
      uint64_t z = (state += 0x9e3779b97f4a7c15ULL);
      z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
      z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
      return z ^ (z >> 31);
    };
    for (int64_t i = 0; i < count; ++i) {
      const int64_t j = i + static_cast<int64_t>(next() % static_cast<uint64_t>(n - i));
      std::swap(picked[i], picked[j]);
    }
    picked.resize(count);
  }
  std::vector<float> out;
  out.reserve(picked.size() * dim);
  for (int64_t row : picked) {
    out.insert(out.end(), rows.begin() + row * dim, rows.begin() + (row + 1) * dim);
  }
  return out;
}

// Mean fraction of each query's exact top-k (`truth`, n x k, -1 padded)
// found in the approximate top-k (`got`).
double Recall(const std::vector<int64_t>& truth, const std::vector<int64_t>& got, int k) {
  const size_t n = truth.size() / k;
  int64_t wanted = 0, found = 0;
  for (size_t q = 0; q < n; ++q) {
    const int64_t* t = truth.data() + q * k;
    const int64_t* g = got.data() + q * k;
    for (int i = 0; i < k; ++i) {
      if (t[i] < 0) continue;
      ++wanted;
      found += std::find(g, g + k, t[i]) != g + k;
    }
  }
  return wanted == 0 ? 1.0 : static_cast<double>(found) / wanted;
}

// The search parameter values tried, smallest first.
std::vector<int> ParameterLadder(IndexKind kind) {
  if (kind == IndexKind::kHnsw) return {16, 24, 32, 48, 64, 96, 128, 192, 256, 384, 512};
  std::vector<int> ladder;  // IVF: nprobe, capped at nlist by the index
  for (int v = 1; v <= 4096; v *= 2) ladder.push_back(v);
  return ladder;
}

// Builds the index of `metric` over the item vectors, tunes its search
// parameter towards options.target_recall on `queries`, records the result
// in `tuning` and saves it to `path`.
absl::Status BuildIndex(const std::string& path, const ModelData& data, Metric metric,
                        const std::string& spec, absl::Span<const float> queries,
                        const PublishOptions& options, recsys::v1::IndexTuning* tuning) {
  RECSYS_ASSIGN_OR_RETURN(auto index, VectorIndex::Create(data.dim, spec, metric));
  RECSYS_RETURN_IF_ERROR(index->Add(data.item_factors));
  const IndexKind kind = index->kind();
  tuning->set_recall(1.0);
  if (kind != IndexKind::kFlat) {
    const int k = options.recall_k;
    RECSYS_ASSIGN_OR_RETURN(auto exact, VectorIndex::Create(data.dim, "Flat", metric));
    RECSYS_RETURN_IF_ERROR(exact->Add(data.item_factors));
    RECSYS_ASSIGN_OR_RETURN(std::vector<int64_t> truth, exact->SearchBatch(queries, k));
    exact.reset();
    if (kind == IndexKind::kOther) {
      RECSYS_ASSIGN_OR_RETURN(std::vector<int64_t> got, index->SearchBatch(queries, k));
      tuning->set_recall(Recall(truth, got, k));
    } else {
      tuning->set_parameter(kind == IndexKind::kIvf ? "nprobe" : "efSearch");
      int last = 0;
      for (int value : ParameterLadder(kind)) {
        RECSYS_RETURN_IF_ERROR(index->SetDefaultSearchParameter(value));
        const int effective = index->default_search_parameter();
        if (effective == last) break;  // IVF: nprobe reached nlist
        last = effective;
        RECSYS_ASSIGN_OR_RETURN(std::vector<int64_t> got, index->SearchBatch(queries, k));
        tuning->set_value(effective);
        tuning->set_recall(Recall(truth, got, k));
        if (tuning->recall() >= options.target_recall) break;
      }
      RECSYS_RETURN_IF_ERROR(index->SetDefaultSearchParameter(tuning->value()));
    }
  }
  if (options.log) {
    options.log(absl::StrCat(
        "index ", metric == Metric::kCosine ? "cos" : "ip", ": ", index->Describe(),
        kind == IndexKind::kFlat
            ? ", exact"
            : absl::StrCat(", recall@", options.recall_k, " ",
                           absl::SixDigits(tuning->recall()), " over ",
                           queries.size() / data.dim, " queries (target ",
                           options.target_recall, ")")));
  }
  return index->Save(path);
}

absl::Status BuildIndexes(const std::string& dir, const ModelData& data,
                          const PublishOptions& options,
                          recsys::v1::ModelManifest* manifest) {
  if (options.recall_k < 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("recall_k: must be >= 1, got ", options.recall_k));
  }
  if (options.recall_queries < 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("recall_queries: must be >= 1, got ", options.recall_queries));
  }
  if (!(options.target_recall > 0 && options.target_recall <= 1)) {
    return absl::InvalidArgumentError(
        absl::StrCat("target_recall: must be in (0, 1], got ", options.target_recall));
  }
  if (options.flat_max_items < 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("flat_max_items: must be >= 0, got ", options.flat_max_items));
  }
  const absl::Time start = absl::Now();
  const auto [spec, reason] = ChooseIndexSpec(static_cast<int64_t>(data.items.size()), options);
  recsys::v1::IndexInfo* info = manifest->mutable_index();
  info->Clear();
  info->set_requested(options.index_spec);
  info->set_spec(spec);
  info->set_reason(reason);
  info->set_recall_k(options.recall_k);
  info->set_target_recall(options.target_recall);
  const std::vector<float>& user_queries =
      data.user_factors.empty() ? data.item_factors : data.user_factors;
  const std::vector<float> ip_queries =
      SampleRows(user_queries, data.dim, options.recall_queries, options.recall_seed);
  const std::vector<float> cos_queries =
      SampleRows(data.item_factors, data.dim, options.recall_queries, options.recall_seed + 1);
  info->set_recall_queries(static_cast<int32_t>(ip_queries.size() / data.dim));
  RECSYS_RETURN_IF_ERROR(BuildIndex(dir + "/" + kItemsIpIndexFile, data,
                                    Metric::kInnerProduct, spec, ip_queries, options,
                                    info->mutable_ip()));
  RECSYS_RETURN_IF_ERROR(BuildIndex(dir + "/" + kItemsCosIndexFile, data, Metric::kCosine,
                                    spec, cos_queries, options, info->mutable_cos()));
  info->set_build_seconds(absl::ToDoubleSeconds(absl::Now() - start));
  return absl::OkStatus();
}

absl::Status WriteAll(const std::string& dir, const ModelData& data,
                      const PublishOptions& options,
                      recsys::v1::ModelManifest* manifest) {
  const int64_t nu = data.user_ids.size(), ni = data.items.size();
  std::string text;
  for (const auto& u : data.user_ids) absl::StrAppend(&text, u, "\n");
  RECSYS_RETURN_IF_ERROR(WriteText(dir + "/" + kUsersFile, text));

  text.clear();
  for (const auto& it : data.items) {
    absl::StrAppend(&text, it.item_id, "\t", it.category, "\t", it.price, "\t",
                    it.purchases, "\t", it.buyers, "\t", CleanTitle(it.title),
                    "\n");
  }
  RECSYS_RETURN_IF_ERROR(WriteText(dir + "/" + kItemsFile, text));

  text.clear();
  for (int32_t row : PopularOrder(data.items)) {
    absl::StrAppend(&text, row, "\t", data.items[row].item_id, "\t",
                    data.items[row].buyers, "\n");
  }
  RECSYS_RETURN_IF_ERROR(WriteText(dir + "/" + kPopularFile, text));

  RECSYS_RETURN_IF_ERROR(WriteVectors(dir + "/" + kUserVectorsFile,
                                      data.user_factors, nu, data.dim));
  RECSYS_RETURN_IF_ERROR(WriteVectors(dir + "/" + kItemVectorsFile,
                                      data.item_factors, ni, data.dim));

  {
    RECSYS_ASSIGN_OR_RETURN(OutFile out, OutFile::Open(dir + "/" + kHistoryFile));
    const uint64_t users = nu;
    const uint64_t nnz = data.history_indptr.empty() ? 0 : data.history.size();
    RECSYS_RETURN_IF_ERROR(out.Write(kHistoryMagic, 4));
    RECSYS_RETURN_IF_ERROR(out.Write(&users, sizeof(users)));
    RECSYS_RETURN_IF_ERROR(out.Write(&nnz, sizeof(nnz)));
    if (data.history_indptr.empty()) {
      std::vector<int64_t> zeros(nu + 1, 0);
      RECSYS_RETURN_IF_ERROR(out.Write(zeros.data(), zeros.size() * sizeof(int64_t)));
    } else {
      RECSYS_RETURN_IF_ERROR(out.Write(data.history_indptr.data(),
                                       data.history_indptr.size() * sizeof(int64_t)));
      for (const HistoryEntry& h : data.history) {
        RECSYS_RETURN_IF_ERROR(out.Write(&h.item, sizeof(h.item)));
        RECSYS_RETURN_IF_ERROR(out.Write(&h.count, sizeof(h.count)));
        RECSYS_RETURN_IF_ERROR(out.Write(&h.last_unix, sizeof(h.last_unix)));
      }
    }
    RECSYS_RETURN_IF_ERROR(out.Close());
  }

  std::vector<const char*> files = {kUsersFile, kItemsFile, kPopularFile, kUserVectorsFile,
                                    kItemVectorsFile, kHistoryFile, kItemsIpIndexFile,
                                    kItemsCosIndexFile};
  if (!data.complements.empty()) {
    text.clear();
    for (size_t i = 0; i < data.complements.size(); ++i) {
      if (data.complements[i].empty()) continue;
      absl::StrAppend(&text, i, "\t");
      for (size_t k = 0; k < data.complements[i].size(); ++k) {
        absl::StrAppend(&text, k == 0 ? "" : ",", data.complements[i][k].first, ":",
                        data.complements[i][k].second);
      }
      absl::StrAppend(&text, "\n");
    }
    RECSYS_RETURN_IF_ERROR(WriteText(dir + "/" + kComplementsFile, text));
    files.push_back(kComplementsFile);
  }
  if (!data.ranker_neighbors.indptr.empty()) {
    const ItemNeighbors& n = data.ranker_neighbors;
    RECSYS_ASSIGN_OR_RETURN(OutFile out, OutFile::Open(dir + "/" + kNeighborsFile));
    const uint64_t items = ni, entries = n.items.size();
    RECSYS_RETURN_IF_ERROR(out.Write(kNeighborsMagic, 4));
    RECSYS_RETURN_IF_ERROR(out.Write(&items, sizeof(items)));
    RECSYS_RETURN_IF_ERROR(out.Write(&entries, sizeof(entries)));
    RECSYS_RETURN_IF_ERROR(out.Write(n.indptr.data(), n.indptr.size() * sizeof(int64_t)));
    RECSYS_RETURN_IF_ERROR(out.Write(n.items.data(), entries * sizeof(int32_t)));
    RECSYS_RETURN_IF_ERROR(out.Write(n.sims.data(), entries * sizeof(float)));
    RECSYS_RETURN_IF_ERROR(out.Close());
    files.push_back(kNeighborsFile);
  }
  if (!data.segments_tsv.empty()) {
    RECSYS_RETURN_IF_ERROR(WriteText(dir + "/" + kSegmentsFile, data.segments_tsv));
    files.push_back(kSegmentsFile);
  }
  if (!data.intel_tsv.empty()) {
    RECSYS_RETURN_IF_ERROR(WriteText(dir + "/" + kIntelFile, data.intel_tsv));
    files.push_back(kIntelFile);
  }

  RECSYS_RETURN_IF_ERROR(BuildIndexes(dir, data, options, manifest));

  manifest->set_format_version(kModelFormatVersion);
  manifest->set_num_users(nu);
  manifest->set_num_items(ni);
  manifest->set_dim(data.dim);
  manifest->set_index_type(manifest->index().spec());
  manifest->mutable_params()->set_index_spec(options.index_spec);
  if (manifest->created_unix() == 0) manifest->set_created_unix(absl::ToUnixSeconds(absl::Now()));
  manifest->clear_files();
  for (const char* f : files) {
    std::error_code ec;
    const auto size = fs::file_size(dir + "/" + f, ec);
    if (ec) return absl::UnavailableError(absl::StrCat("stat ", f, ": ", ec.message()));
    (*manifest->mutable_files())[f] = static_cast<int64_t>(size);
  }
  manifest->clear_checksums();
  for (const char* f : files) {
    RECSYS_ASSIGN_OR_RETURN(auto hashed, HashFile(dir + "/" + f));
    recsys::v1::FileChecksum* c = manifest->add_checksums();
    c->set_name(f);
    c->set_size(hashed.second);
    c->set_xxh3_64(hashed.first);
  }
  std::string json;
  google::protobuf::util::JsonPrintOptions json_options;
  json_options.add_whitespace = true;
  json_options.preserve_proto_field_names = true;
  auto st = google::protobuf::util::MessageToJsonString(*manifest, &json, json_options);
  if (!st.ok()) {
    return absl::InternalError(absl::StrCat("manifest to JSON: ", st.ToString()));
  }
  // The manifest goes last: a directory without it is never valid.
  RECSYS_RETURN_IF_ERROR(WriteText(dir + "/" + kManifestFile, json));
  return SyncDir(dir);
}

}  // namespace

void AppendNeighborRow(std::vector<std::pair<float, int32_t>>* candidates, int keep,
                       ItemNeighbors* out) {
  if (out->indptr.empty()) out->indptr.push_back(0);
  const size_t n = std::min<size_t>(std::max(0, keep), candidates->size());
  std::partial_sort(candidates->begin(), candidates->begin() + n, candidates->end(),
                    [](const std::pair<float, int32_t>& a, const std::pair<float, int32_t>& b) {
                      if (a.first != b.first) return a.first > b.first;
                      return a.second < b.second;
                    });
  for (size_t r = 0; r < n; ++r) {
    out->items.push_back((*candidates)[r].second);
    out->sims.push_back((*candidates)[r].first);
  }
  out->indptr.push_back(static_cast<int64_t>(out->items.size()));
}

std::pair<std::string, std::string> ChooseIndexSpec(int64_t num_items,
                                                    const PublishOptions& options) {
  if (options.index_spec != kAutoIndexSpec) {
    return {options.index_spec, "requested"};
  }
  if (num_items <= options.flat_max_items) {
    return {"Flat", absl::StrCat("auto: ", num_items, " items <= flat_max_items ",
                                 options.flat_max_items)};
  }
  int64_t nlist = 1;
  while (static_cast<double>(nlist * 2) <= 4 * std::sqrt(static_cast<double>(num_items))) {
    nlist *= 2;
  }
  while (nlist > 1 && nlist * 39 > num_items) nlist /= 2;
  return {absl::StrCat("IVF", nlist, ",Flat"),
          absl::StrCat("auto: ", num_items, " items > flat_max_items ",
                       options.flat_max_items)};
}

int64_t VersionNumber(absl::string_view version) {
  int64_t v = 0;
  return absl::SimpleAtoi(version, &v) ? v : 0;
}

absl::StatusOr<std::vector<std::string>> ListModelVersions(const std::string& root) {
  std::error_code ec;
  if (!fs::is_directory(root, ec)) {
    return absl::NotFoundError(absl::StrCat("model root ", root, " does not exist"));
  }
  std::vector<std::pair<int64_t, std::string>> found;
  for (const auto& entry : fs::directory_iterator(root, ec)) {
    const std::string name = entry.path().filename().string();
    int64_t v;
    if (name.empty() || name[0] == '.' || !entry.is_directory()) continue;
    if (name.find_first_not_of("0123456789") != std::string::npos) continue;
    if (!absl::SimpleAtoi(name, &v)) continue;
    found.emplace_back(v, name);
  }
  if (ec) return absl::UnavailableError(absl::StrCat("listing ", root, ": ", ec.message()));
  std::sort(found.begin(), found.end(), std::greater<>());
  std::vector<std::string> out;
  for (auto& [v, name] : found) out.push_back(std::move(name));
  return out;
}

absl::StatusOr<std::string> PublishModel(const std::string& root,
                                         const ModelData& data,
                                         const PublishOptions& options) {
  RECSYS_RETURN_IF_ERROR(CheckData(data));
  std::error_code ec;
  fs::create_directories(root, ec);
  if (ec) {
    return absl::UnavailableError(absl::StrCat("cannot create ", root, ": ", ec.message()));
  }
  std::string version = options.version.empty() ? data.manifest.version() : options.version;
  if (version.empty()) version = NewVersion(root);
  if (version.find_first_not_of("0123456789") != std::string::npos) {
    return absl::InvalidArgumentError(
        absl::StrCat("version: must be decimal digits, got '", version, "'"));
  }
  const std::string final_dir = root + "/" + version;
  if (fs::exists(final_dir, ec)) {
    return absl::AlreadyExistsError(absl::StrCat("model version ", final_dir, " exists"));
  }
  const std::string tmp_dir = root + "/.tmp-" + version;
  fs::remove_all(tmp_dir, ec);
  fs::create_directories(tmp_dir, ec);
  if (ec) {
    return absl::UnavailableError(absl::StrCat("cannot create ", tmp_dir, ": ", ec.message()));
  }
  recsys::v1::ModelManifest manifest = data.manifest;
  manifest.set_version(version);
  absl::Status st = WriteAll(tmp_dir, data, options, &manifest);
  if (st.ok() && std::rename(tmp_dir.c_str(), final_dir.c_str()) != 0) {
    st = ErrnoError("cannot rename to", final_dir);
  }
  if (!st.ok()) {
    fs::remove_all(tmp_dir, ec);
    return st;
  }
  RECSYS_RETURN_IF_ERROR(SyncDir(root));
  return final_dir;
}

absl::StatusOr<recsys::v1::ModelManifest> ReadManifest(const std::string& dir) {
  RECSYS_ASSIGN_OR_RETURN(std::string json, ReadFile(dir + "/" + kManifestFile));
  google::protobuf::util::JsonParseOptions parse_options;
  parse_options.ignore_unknown_fields = true;
  recsys::v1::ModelManifest manifest;
  auto st = google::protobuf::util::JsonStringToMessage(json, &manifest, parse_options);
  if (!st.ok()) {
    return absl::DataLossError(absl::StrCat(dir, "/", kManifestFile, ": ", st.ToString()));
  }
  return manifest;
}

absl::Status RewriteManifest(const std::string& dir,
                             const recsys::v1::ModelManifest& manifest) {
  std::string json;
  google::protobuf::util::JsonPrintOptions json_options;
  json_options.add_whitespace = true;
  json_options.preserve_proto_field_names = true;
  auto st = google::protobuf::util::MessageToJsonString(manifest, &json, json_options);
  if (!st.ok()) {
    return absl::InternalError(absl::StrCat("manifest to JSON: ", st.ToString()));
  }
  const std::string path = dir + "/" + kManifestFile;
  const std::string tmp = path + ".tmp";
  RECSYS_RETURN_IF_ERROR(WriteText(tmp, json));
  if (std::rename(tmp.c_str(), path.c_str()) != 0) {
    return ErrnoError("cannot rename manifest", tmp);
  }
  return SyncDir(dir);
}

absl::StatusOr<ModelData> ReadModelData(const std::string& dir,
                                        const ReadModelOptions& options) {
  ModelData d;
  RECSYS_ASSIGN_OR_RETURN(std::string json, ReadFile(dir + "/" + kManifestFile));
  google::protobuf::util::JsonParseOptions parse_options;
  parse_options.ignore_unknown_fields = true;
  auto st = google::protobuf::util::JsonStringToMessage(json, &d.manifest, parse_options);
  if (!st.ok()) {
    return absl::DataLossError(absl::StrCat(dir, "/", kManifestFile, ": ", st.ToString()));
  }
  const auto& m = d.manifest;
  if (m.format_version() != kModelFormatVersion) {
    return absl::FailedPreconditionError(absl::StrCat(
        dir, ": format_version ", m.format_version(), ", this server reads ",
        kModelFormatVersion));
  }
  if (m.dim() < 1 || m.num_items() < 1 || m.num_users() < 0) {
    return absl::DataLossError(absl::StrCat(dir, "/", kManifestFile,
                                            ": bad dim/num_items/num_users"));
  }
  RECSYS_RETURN_IF_ERROR(VerifyFiles(dir, m));
  d.dim = m.dim();

  RECSYS_ASSIGN_OR_RETURN(std::string users_text, ReadFile(dir + "/" + kUsersFile));
  for (absl::string_view line : absl::StrSplit(users_text, '\n', absl::SkipEmpty())) {
    d.user_ids.emplace_back(line);
  }
  if (static_cast<int64_t>(d.user_ids.size()) != m.num_users()) {
    return absl::DataLossError(absl::StrCat(dir, "/", kUsersFile, ": ", d.user_ids.size(),
                                            " users, manifest says ", m.num_users()));
  }
  RECSYS_ASSIGN_OR_RETURN(std::string items, ReadFile(dir + "/" + kItemsFile));
  int line_no = 0;
  for (absl::string_view line : absl::StrSplit(items, '\n', absl::SkipEmpty())) {
    ++line_no;
    std::vector<absl::string_view> f = absl::StrSplit(line, '\t');
    ItemMeta it;
    if (f.size() != 6 || !absl::SimpleAtod(f[2], &it.price) ||
        !absl::SimpleAtoi(f[3], &it.purchases) || !absl::SimpleAtoi(f[4], &it.buyers)) {
      return absl::DataLossError(
          absl::StrCat(dir, "/", kItemsFile, ": malformed line ", line_no));
    }
    it.item_id = std::string(f[0]);
    it.category = std::string(f[1]);
    it.title = std::string(f[5]);
    d.items.push_back(std::move(it));
  }
  if (static_cast<int64_t>(d.items.size()) != m.num_items()) {
    return absl::DataLossError(absl::StrCat(dir, "/", kItemsFile, ": ", d.items.size(),
                                            " items, manifest says ", m.num_items()));
  }
  if (options.vectors) {
    RECSYS_RETURN_IF_ERROR(ReadVectors(dir + "/" + kUserVectorsFile, m.num_users(),
                                       m.dim(), &d.user_factors));
    RECSYS_RETURN_IF_ERROR(ReadVectors(dir + "/" + kItemVectorsFile, m.num_items(),
                                       m.dim(), &d.item_factors));
  }

  RECSYS_ASSIGN_OR_RETURN(std::string hist, ReadFile(dir + "/" + kHistoryFile));
  const size_t header = 4 + 2 * sizeof(uint64_t);
  uint64_t users = 0, nnz = 0;
  if (hist.size() >= header && std::memcmp(hist.data(), kHistoryMagic, 4) == 0) {
    std::memcpy(&users, hist.data() + 4, sizeof(users));
    std::memcpy(&nnz, hist.data() + 4 + sizeof(users), sizeof(nnz));
  }
  constexpr size_t kEntryBytes = sizeof(int32_t) * 2 + sizeof(int64_t);
  // users equals num_users (as many as users.tsv holds); nnz is bounded by
  // the file size before it is multiplied, so the size check cannot wrap.
  const uint64_t max_entries = hist.size() >= header ? (hist.size() - header) / kEntryBytes : 0;
  if (users != static_cast<uint64_t>(m.num_users()) || nnz > max_entries ||
      hist.size() != header + (users + 1) * sizeof(int64_t) + nnz * kEntryBytes) {
    return absl::DataLossError(absl::StrCat(dir, "/", kHistoryFile, ": malformed"));
  }
  d.history_indptr.resize(users + 1);
  std::memcpy(d.history_indptr.data(), hist.data() + header, (users + 1) * sizeof(int64_t));
  d.history.resize(nnz);
  const char* p = hist.data() + header + (users + 1) * sizeof(int64_t);
  for (uint64_t i = 0; i < nnz; ++i, p += kEntryBytes) {
    std::memcpy(&d.history[i].item, p, sizeof(int32_t));
    std::memcpy(&d.history[i].count, p + sizeof(int32_t), sizeof(int32_t));
    std::memcpy(&d.history[i].last_unix, p + 2 * sizeof(int32_t), sizeof(int64_t));
  }
  if (options.extras && m.files().contains(kComplementsFile)) {
    RECSYS_ASSIGN_OR_RETURN(std::string comp, ReadFile(dir + "/" + kComplementsFile));
    d.complements.resize(d.items.size());
    int comp_line = 0;
    for (absl::string_view line : absl::StrSplit(comp, '\n', absl::SkipEmpty())) {
      ++comp_line;
      std::pair<absl::string_view, absl::string_view> parts = absl::StrSplit(line, '\t');
      int32_t row;
      if (!absl::SimpleAtoi(parts.first, &row) || row < 0 ||
          static_cast<size_t>(row) >= d.items.size()) {
        return absl::DataLossError(
            absl::StrCat(dir, "/", kComplementsFile, ": malformed line ", comp_line));
      }
      for (absl::string_view entry : absl::StrSplit(parts.second, ',', absl::SkipEmpty())) {
        std::pair<absl::string_view, absl::string_view> kv = absl::StrSplit(entry, ':');
        int32_t item;
        float score;
        if (!absl::SimpleAtoi(kv.first, &item) || !absl::SimpleAtof(kv.second, &score)) {
          return absl::DataLossError(
              absl::StrCat(dir, "/", kComplementsFile, ": malformed line ", comp_line));
        }
        d.complements[row].push_back({item, score});
      }
    }
  }
  if (options.extras && m.files().contains(kNeighborsFile)) {
    RECSYS_ASSIGN_OR_RETURN(std::string nb, ReadFile(dir + "/" + kNeighborsFile));
    uint64_t items = 0, entries = 0;
    if (nb.size() >= header && std::memcmp(nb.data(), kNeighborsMagic, 4) == 0) {
      std::memcpy(&items, nb.data() + 4, sizeof(items));
      std::memcpy(&entries, nb.data() + 4 + sizeof(items), sizeof(entries));
    }
    constexpr size_t kNeighborBytes = sizeof(int32_t) + sizeof(float);
    // entries is bounded by the file size before it is multiplied.
    const uint64_t max_neighbors = nb.size() >= header ? (nb.size() - header) / kNeighborBytes : 0;
    if (items != d.items.size() || entries > max_neighbors ||
        nb.size() != header + (items + 1) * sizeof(int64_t) + entries * kNeighborBytes) {
      return absl::DataLossError(absl::StrCat(dir, "/", kNeighborsFile, ": malformed"));
    }
    ItemNeighbors& n = d.ranker_neighbors;
    n.indptr.resize(items + 1);
    n.items.resize(entries);
    n.sims.resize(entries);
    const char* q = nb.data() + header;
    std::memcpy(n.indptr.data(), q, n.indptr.size() * sizeof(int64_t));
    q += n.indptr.size() * sizeof(int64_t);
    std::memcpy(n.items.data(), q, entries * sizeof(int32_t));
    q += entries * sizeof(int32_t);
    std::memcpy(n.sims.data(), q, entries * sizeof(float));
  }
  if (m.files().contains(kSegmentsFile)) {
    RECSYS_ASSIGN_OR_RETURN(d.segments_tsv, ReadFile(dir + "/" + kSegmentsFile));
  }
  if (options.extras && m.files().contains(kIntelFile)) {
    RECSYS_ASSIGN_OR_RETURN(d.intel_tsv, ReadFile(dir + "/" + kIntelFile));
  }
  absl::Status check = CheckData(d, options.vectors);
  if (!check.ok()) {
    return absl::DataLossError(absl::StrCat(dir, ": ", check.message()));
  }
  return d;
}

feature_store::ItemFeatures ItemFeaturesFromMeta(const ItemMeta& item) {
  feature_store::ItemFeatures f;
  f.item_id = item.item_id;
  f.category = item.category;
  f.price = item.price;
  f.title = item.title;
  return f;
}

absl::Status LoadIntoFeatureStore(const ModelData& data,
                                  feature_store::FeatureStore* store, int batch) {
  if (batch < 1) batch = 1;
  std::vector<feature_store::ItemFeatures> items;
  items.reserve(std::min<size_t>(batch, data.items.size()));
  for (const ItemMeta& it : data.items) {
    items.push_back(ItemFeaturesFromMeta(it));
    if (static_cast<int>(items.size()) == batch) {
      RECSYS_RETURN_IF_ERROR(store->PutItems(items));
      items.clear();
    }
  }
  if (!items.empty()) RECSYS_RETURN_IF_ERROR(store->PutItems(items));
  if (data.history_indptr.empty()) {
    return store->MarkLoaded(data.manifest.version(), absl::Now());
  }

  std::vector<feature_store::UserFeatures> users;
  for (size_t u = 0; u < data.user_ids.size(); ++u) {
    const int64_t begin = data.history_indptr[u], end = data.history_indptr[u + 1];
    if (begin == end) continue;
    feature_store::UserFeatures f;
    f.user_id = data.user_ids[u];
    f.purchases.reserve(end - begin);
    for (int64_t i = begin; i < end; ++i) {
      const HistoryEntry& h = data.history[i];
      f.purchases.push_back({data.items[h.item].item_id, h.count,
                             absl::FromUnixSeconds(h.last_unix)});
    }
    users.push_back(std::move(f));
    if (static_cast<int>(users.size()) == batch) {
      RECSYS_RETURN_IF_ERROR(store->PutUsers(users));
      users.clear();
    }
  }
  if (!users.empty()) RECSYS_RETURN_IF_ERROR(store->PutUsers(users));
  // Last, so the marker means "a complete load" (FeatureStore::MarkLoaded).
  return store->MarkLoaded(data.manifest.version(), absl::Now());
}

}  // namespace recsys::model
