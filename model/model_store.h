// ModelBundle and ModelStore: the served model and its hot swapping.
//
// A ModelBundle is one loaded model version: vectors, id maps, item metadata,
// FAISS indexes, popularity order and training-time purchase history. It is
// immutable once built and shared as shared_ptr<const ModelBundle>, so a
// request pins the version it started with while a reload swaps in another.
//
// ModelStore owns the current bundle. It loads the newest valid version under
// a model root at creation, can reload (newest or a named version), roll back
// to the previously served version, and optionally polls the root in a
// background thread. A version that fails validation (a checksum mismatch,
// a bad file) never replaces the served one; it is remembered with its
// reason and its files' fingerprint (name, size, mtime of every file in its
// directory) and is not tried again by the poller or by Reload("") until
// that fingerprint changes (the version was rewritten).
//
// Beside the served (default) bundle, the store holds the versions that
// experiment variants ask for (SetVariantVersions), at most
// options.max_variant_versions of them. Every bundle is a
// shared_ptr<const ModelBundle>: whoever took one (a request, a compiled
// experiments plan) keeps it alive, so neither a swap nor a change of the
// variant versions frees a model in use.
#ifndef RECSYS_MODEL_MODEL_STORE_H_
#define RECSYS_MODEL_MODEL_STORE_H_

#include <cstdint>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/hash/hash.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "absl/time/time.h"
#include "absl/types/span.h"
#include "model/model_format.h"
#include "model/ranker.h"
#include "model/vector_index.h"
#include "recsys/v1/model_manifest.pb.h"

namespace recsys::model {

class ModelBundle {
 public:
  // Loads and validates the model directory `dir` (model_format.h) and its
  // indexes, and derives the ranker's item statistics from the history
  // (model::ComputeRankerItemStats for the manifest's ranker), taking the
  // item neighbours from neighbors.bin when the model has one. DataLoss /
  // FailedPrecondition name the bad file.
  static absl::StatusOr<std::shared_ptr<const ModelBundle>> Load(
      const std::string& dir);

  const std::string& version() const { return manifest_.version(); }
  const std::string& path() const { return path_; }
  absl::Time loaded_at() const { return loaded_at_; }
  const recsys::v1::ModelManifest& manifest() const { return manifest_; }
  int dim() const { return dim_; }
  int32_t num_users() const { return static_cast<int32_t>(user_ids_.size()); }
  int32_t num_items() const { return static_cast<int32_t>(items_.size()); }

  // Row of a user / item id; -1 when unknown.
  int32_t UserRow(absl::string_view user_id) const;
  int32_t ItemRow(absl::string_view item_id) const;

  const std::string& user_id(int32_t row) const { return user_ids_[row]; }
  const ItemMeta& item(int32_t row) const { return items_[row]; }
  absl::Span<const float> user_vector(int32_t row) const {
    return {user_factors_.data() + static_cast<size_t>(row) * dim_,
            static_cast<size_t>(dim_)};
  }
  absl::Span<const float> item_vector(int32_t row) const {
    return {item_factors_.data() + static_cast<size_t>(row) * dim_,
            static_cast<size_t>(dim_)};
  }
  // "Frequently bought together" complements of an item row (item row,
  // score), best first; empty when the model has none.
  absl::Span<const std::pair<int32_t, float>> complements(int32_t item_row) const {
    if (item_row < 0 || static_cast<size_t>(item_row) >= complements_.size()) return {};
    return complements_[item_row];
  }
  // Training-time purchase history of a user row.
  absl::Span<const HistoryEntry> history(int32_t user_row) const;
  // Item rows, most popular first.
  const std::vector<int32_t>& popular() const { return popular_; }
  // Item rows of one category, most popular first (at most 500); empty for
  // unknown categories.
  const std::vector<int32_t>& category_popular(absl::string_view category) const;
  // YᵀY of the item vectors (dim x dim, row-major), for fold-in.
  const std::vector<double>& item_gram() const { return item_gram_; }
  // Squared Euclidean norm of an item vector, summed in double in index
  // order (so a cosine computed from it equals one summed on the spot).
  double item_squared_norm(int32_t row) const { return item_squared_norms_[row]; }

  // Inner-product index (user vector -> items) and cosine index
  // (item -> similar items).
  const VectorIndex& ip_index() const { return *ip_index_; }
  const VectorIndex& cos_index() const { return *cos_index_; }

  // The production ranker over this model: weights from the manifest (or
  // the defaults), item statistics from the training history, the
  // inner-product index. Valid while the bundle lives.
  const RankerWeights& ranker_weights() const { return ranker_weights_; }
  const RankerItemStats& ranker_item_stats() const { return ranker_item_stats_; }
  RankerModel ranker_model() const;

 private:
  ModelBundle() = default;
  // user_rows_ points into user_ids_: never copied or moved.
  ModelBundle(const ModelBundle&) = delete;
  ModelBundle& operator=(const ModelBundle&) = delete;

  std::string path_;
  absl::Time loaded_at_;
  recsys::v1::ModelManifest manifest_;
  int dim_ = 0;
  std::vector<std::string> user_ids_;
  std::vector<ItemMeta> items_;
  std::vector<float> user_factors_;
  std::vector<float> item_factors_;
  std::vector<int64_t> history_indptr_;
  std::vector<HistoryEntry> history_;
  std::vector<std::vector<std::pair<int32_t, float>>> complements_;
  std::vector<int32_t> popular_;
  absl::flat_hash_map<std::string, std::vector<int32_t>> category_popular_;
  std::vector<double> item_gram_;
  std::vector<double> item_squared_norms_;  // one per item row
  // Row of each user id, stored as the row alone (4 bytes a slot instead of
  // a copy of the id): hashing and equality look the id up in user_ids_,
  // and find() takes the id itself (transparent lookup).
  struct RowIdHash {
    using is_transparent = void;
    const std::vector<std::string>* ids;
    size_t operator()(int32_t row) const { return (*this)(absl::string_view((*ids)[row])); }
    size_t operator()(absl::string_view id) const { return absl::Hash<absl::string_view>()(id); }
  };
  struct RowIdEq {
    using is_transparent = void;
    const std::vector<std::string>* ids;
    bool operator()(int32_t a, int32_t b) const { return a == b; }
    bool operator()(int32_t row, absl::string_view id) const { return (*ids)[row] == id; }
    bool operator()(absl::string_view id, int32_t row) const { return (*ids)[row] == id; }
  };
  absl::flat_hash_set<int32_t, RowIdHash, RowIdEq> user_rows_{0, RowIdHash{&user_ids_},
                                                             RowIdEq{&user_ids_}};
  absl::flat_hash_map<std::string, int32_t> item_rows_;
  std::unique_ptr<VectorIndex> ip_index_;
  std::unique_ptr<VectorIndex> cos_index_;
  RankerWeights ranker_weights_;
  RankerItemStats ranker_item_stats_;
};

struct ModelStoreOptions {
  // Directory holding the numeric version directories.
  std::string root;
  // How often the background poller looks for a newer version;
  // absl::ZeroDuration() disables polling.
  absl::Duration poll_interval = absl::Seconds(30);
  // Most versions held beside the served one for experiment variants
  // (SetVariantVersions); the ones asked for beyond it are not loaded and
  // their variants fall back to the served model. Each held version costs
  // about one model's memory (its vectors and two indexes: roughly the size
  // of its directory), on top of the served and the previously served one.
  // 0: none.
  int max_variant_versions = 2;
};

// A model version that experiment variants ask for.
struct VariantVersionRequest {
  std::string version;
  // Who asks, e.g. "layout/v2"; reported back as it is.
  std::vector<std::string> used_by;
};

// A model version held (or not) for experiment variants.
struct VariantVersion {
  std::string version;
  std::vector<std::string> used_by;
  // The loaded model; null when it is not held, and `status` says why:
  // InvalidArgument (not a version name), NotFound (not under the root),
  // FailedPrecondition (failed to load: the reason names the bad file),
  // ResourceExhausted (over options.max_variant_versions).
  std::shared_ptr<const ModelBundle> bundle;
  absl::Status status;
};

// A version that failed to load.
struct RejectedVersion {
  std::string version;
  // The load error, naming the bad file.
  std::string reason;
  absl::Time rejected_at;
};

struct SwapResult {
  std::string previous_version;
  std::string version;
  bool changed = false;
};

class ModelStore {
 public:
  // Loads the newest version under options.root that validates; broken
  // newer versions are skipped (and logged). NotFound when the root has no
  // versions, FailedPrecondition when none validates. Starts the poller when
  // poll_interval > 0.
  static absl::StatusOr<std::unique_ptr<ModelStore>> Create(
      const ModelStoreOptions& options);

  ~ModelStore();
  ModelStore(const ModelStore&) = delete;
  ModelStore& operator=(const ModelStore&) = delete;

  // The served bundle; never null. Thread-safe; cheap (one shared_ptr copy).
  std::shared_ptr<const ModelBundle> Current() const;

  // Loads `version` and serves it; empty: the newest valid version (newer
  // versions that fail to load are recorded as rejected and skipped; ones
  // rejected before whose files have not changed are skipped without
  // loading). A named version is always loaded again, even if rejected
  // before. A bundle that fails to load leaves the served one in place and
  // returns FailedPrecondition with the reason; NotFound for an unknown
  // version (or an empty root). Unpins.
  absl::StatusOr<SwapResult> Reload(absl::string_view version = "");

  // Serves the previously served bundle (or, if none is held, the newest
  // valid version older than the current one) and pins it so the poller
  // stops moving forward until Reload. FailedPrecondition when there is
  // nothing to roll back to.
  absl::StatusOr<SwapResult> Rollback();

  // One poll, unless pinned: serves the newest version newer than the
  // served one that loads, trying newest first and skipping versions
  // rejected before whose files have not changed (a broken newest version
  // does not hide an older valid one, nor a later one). Returns whether the
  // served version changed.
  bool PollOnce();

  // Versions that failed to load and have not been rewritten since, newest
  // first. Thread-safe.
  std::vector<RejectedVersion> RejectedVersions() const;

  // Holds exactly the versions of `requests` (in order, merged by version)
  // beside the served one, replacing the previous set: a version already
  // held, served, or previously served is shared, not loaded again; any
  // other is loaded now (always tried, even if rejected before). At most
  // options.max_variant_versions are held; the rest, and those that do not
  // load, are returned with a null bundle and the reason (and logged as
  // warnings). Never fails as a whole. Versions dropped from the set are
  // freed once nothing else holds them. Serialized with Reload, Rollback
  // and PollOnce; the served model is not changed. Thread-safe.
  std::vector<VariantVersion> SetVariantVersions(
      const std::vector<VariantVersionRequest>& requests);

  // The result of the last SetVariantVersions (empty before). Thread-safe.
  std::vector<VariantVersion> VariantVersions() const;

  bool pinned() const;
  const std::string& root() const { return options_.root; }
  // Versions present under the root, newest first.
  std::vector<std::string> AvailableVersions() const;

 private:
  explicit ModelStore(const ModelStoreOptions& options);
  void PollLoop();
  absl::StatusOr<SwapResult> ReloadLocked(absl::string_view version)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(swap_mu_);
  void Swap(std::shared_ptr<const ModelBundle> next) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Loads root/version; on failure records it as rejected (with the
  // fingerprint taken before loading), on success forgets any rejection.
  absl::StatusOr<std::shared_ptr<const ModelBundle>> LoadVersion(const std::string& version)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(swap_mu_);
  // True when `version` was rejected and its files have not changed since;
  // forgets the rejection when they have.
  bool RejectedAndUnchanged(const std::string& version) ABSL_EXCLUSIVE_LOCKS_REQUIRED(swap_mu_);
  // Drops the rejections of versions no longer under the root.
  void ForgetRemovedVersions(const std::vector<std::string>& versions);
  // Name, size and mtime of every file in the version's directory.
  std::string Fingerprint(const std::string& version) const;

  const ModelStoreOptions options_;
  // Serializes Reload / Rollback / PollOnce (loading happens outside mu_).
  absl::Mutex swap_mu_;
  mutable absl::Mutex mu_;
  std::shared_ptr<const ModelBundle> current_ ABSL_GUARDED_BY(mu_);
  std::shared_ptr<const ModelBundle> previous_ ABSL_GUARDED_BY(mu_);
  bool pinned_ ABSL_GUARDED_BY(mu_) = false;
  struct Rejection {
    RejectedVersion info;
    std::string fingerprint;
  };
  // Changed only while swap_mu_ is held too (by loads).
  absl::flat_hash_map<std::string, Rejection> rejected_ ABSL_GUARDED_BY(mu_);
  // Set only while swap_mu_ is held too.
  std::vector<VariantVersion> variant_versions_ ABSL_GUARDED_BY(mu_);
  absl::Notification stop_;
  std::thread poller_;
};

}  // namespace recsys::model

#endif  // RECSYS_MODEL_MODEL_STORE_H_
