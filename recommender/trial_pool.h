// TrialPool: new catalog items in their trial window, as the request path
// sees them.
//
// Items enter the pool when the catalog records a listing time for them
// (Admin.UpdateItems listed_unix -> FeatureStore::PutItems, kept in the
// store's listing index). Slots with a trial_share (slot_config.h) reserve
// that share of their positions for pool items that are within
// Rules::trial_days of their listing at the request time; impressions,
// clicks and purchases of such items are counted per item
// (FeatureStore::GetTrialCounts) so the trial's outcome can be read.
//
// An item the served model has no vector for (listed after the last
// training) is given the mean direction of its category's item vectors,
// scaled to their mean norm, so it can be scored for a user and used as a
// SimilarItems anchor before the next training. Items of a category the
// model does not know get no vector; they are shown to every user alike,
// least recently shown first.
//
// A TrialSnapshot is built from the store's listing index for one model
// version and is immutable; TrialPool caches one snapshot per model version
// (the served one and those serving experiment variants side by side, at
// most TrialPoolOptions::max_models) and rebuilds one when it is older than
// the refresh interval, so the request path reads the store's listing index
// at most once per interval and model. Membership in the window is decided per
// request time, not when the snapshot was built.
//
// Thread safety: TrialSnapshot is immutable; TrialPool is safe for
// concurrent use (one request refreshes while the others read the previous
// snapshot of the same model).
#ifndef RECSYS_RECOMMENDER_TRIAL_POOL_H_
#define RECSYS_RECOMMENDER_TRIAL_POOL_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "feature_store/feature_store.h"
#include "model/model_store.h"

namespace recsys::recommender {

enum class TrialVectorSource { kNone, kModel, kCategoryMean };

// "none", "model", "category_mean".
absl::string_view TrialVectorSourceName(TrialVectorSource source);

struct TrialItem {
  std::string item_id;
  absl::Time listed = absl::InfinitePast();
  // Catalog fields from the feature store (the model's when the store has
  // none).
  std::string category;
  std::string title;
  double price = 0;
  // Row in the snapshot's model; -1 for items the model does not know.
  int32_t row = -1;
  // The model's vector, or the category mean; empty when neither exists.
  std::vector<float> vector;
  TrialVectorSource vector_source = TrialVectorSource::kNone;
};

class TrialSnapshot {
 public:
  TrialSnapshot(std::string model_version, absl::Time built_at,
                std::vector<TrialItem> items);

  const std::string& model_version() const { return model_version_; }
  absl::Time built_at() const { return built_at_; }
  // Newest listing first.
  const std::vector<TrialItem>& items() const { return items_; }
  // nullptr when `item_id` is not in the listing index.
  const TrialItem* Find(absl::string_view item_id) const;

 private:
  std::string model_version_;
  absl::Time built_at_;
  std::vector<TrialItem> items_;
  absl::flat_hash_map<std::string, size_t> by_id_;
};

// True when `t` falls in [listed, listed + days).
bool InTrialWindow(const TrialItem& item, absl::Time t, int days);
// True when `t` falls in [listed - early_days, listed + days): the window of
// a customer with early access (Rules::early_access_days; early_days 0 is
// InTrialWindow).
bool InTrialWindowWithEarlyAccess(const TrialItem& item, absl::Time t, int days, int early_days);

// The mean direction of `category`'s item vectors scaled to their mean
// norm; empty when the model has no item of that category.
std::vector<float> CategoryMeanVector(const model::ModelBundle& bundle,
                                      absl::string_view category);

// Reads the `max_items` most recently listed items and their catalog
// fields from `store` and resolves them against `bundle`. Fails with the
// store's error.
absl::StatusOr<std::shared_ptr<const TrialSnapshot>> BuildTrialSnapshot(
    const model::ModelBundle& bundle, const feature_store::FeatureStore& store,
    int max_items, absl::Time deadline);

struct TrialPoolOptions {
  // A snapshot older than this is rebuilt on the next use.
  absl::Duration refresh = absl::Seconds(2);
  // Most listed items read (newest first).
  int max_items = 2000;
  // After a failed rebuild, the previous snapshot (or an empty one) is used
  // for this long before trying again.
  absl::Duration retry_after_failure = absl::Seconds(1);
  // Model versions whose snapshots are kept (the least recently used one
  // goes first): the served model, the previous one, and the versions of
  // experiment variants.
  int max_models = 4;
};

class TrialPool {
 public:
  // `store` is borrowed and must outlive the pool.
  TrialPool(const feature_store::FeatureStore* store,
            const TrialPoolOptions& options = {});

  // The snapshot for `bundle`: cached when fresh, else rebuilt (bounded by
  // `deadline`). Never null: a store failure yields the last snapshot of
  // the same model, or an empty one.
  std::shared_ptr<const TrialSnapshot> Get(const model::ModelBundle& bundle,
                                           absl::Time deadline) const;

  // Makes the next Get rebuild (after a catalog update through this
  // process; other processes see it within `refresh`).
  void Invalidate();

 private:
  const feature_store::FeatureStore* const store_;
  const TrialPoolOptions options_;
  // Serializes rebuilds; readers never wait for it unless the model
  // changed.
  mutable absl::Mutex rebuild_mu_;
  mutable absl::Mutex mu_ ABSL_ACQUIRED_AFTER(rebuild_mu_);
  struct Cached {
    std::shared_ptr<const TrialSnapshot> snapshot;
    absl::Time next_try = absl::InfinitePast();
    absl::Time used = absl::InfinitePast();
  };
  // By model version.
  mutable absl::flat_hash_map<std::string, Cached> cache_ ABSL_GUARDED_BY(mu_);
};

}  // namespace recsys::recommender

#endif  // RECSYS_RECOMMENDER_TRIAL_POOL_H_
