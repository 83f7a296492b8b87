// Live interest tags in the server (intelligence/live_tags.h): the
// observer that hands the stored item events of RecordEvents to the
// intelligence store, with each item's category from the served model's
// catalog, and a fan-out for a Storefront with several observers. They live
// here, at the composition layer, like the triggered offers' observer.
//
// Thread safety: both classes are safe for concurrent calls once built.
#ifndef RECSYS_SERVER_LIVE_TAGS_H_
#define RECSYS_SERVER_LIVE_TAGS_H_

#include <vector>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "absl/types/span.h"
#include "intelligence/intel_store.h"
#include "metrics/metrics.h"
#include "model/model_store.h"
#include "recommender/storefront.h"

namespace recsys::server {

// Purchases, views and add-to-carts of items the served model knows (its
// items.tsv category) go to IntelStore::ApplyLiveEvents; other events are
// left alone. A store error does not fail RecordEvents (the events are
// stored; the tags are a best effort until the next training run, which
// recomputes them): ObserveEvents logs it, counts it in
// recsys_live_tag_events_total{outcome="error"} and returns OK.
class LiveTagObserver final : public recommender::EventObserver {
 public:
  // `models` and `intel` are borrowed and must outlive the observer;
  // `metrics` may be null (no counter).
  LiveTagObserver(const model::ModelStore* models,
                  intelligence::IntelStore* intel, metrics::Registry* metrics);

  absl::Status ObserveEvents(absl::Span<const feature_store::Event> events,
                             absl::Time deadline) const override;

 private:
  // Immutable after construction.
  const model::ModelStore* const models_;
  intelligence::IntelStore* const intel_;  // thread-safe
  metrics::Counter* applied_ = nullptr;    // events handed to the store
  metrics::Counter* failed_ = nullptr;     // events of failed calls
};

// Calls every observer in order with the batch (all of them, even after a
// failure) and returns the first error.
class EventObservers final : public recommender::EventObserver {
 public:
  // The observers are borrowed and must outlive this; nulls are skipped.
  explicit EventObservers(std::vector<const recommender::EventObserver*> all)
      : all_(std::move(all)) {}

  absl::Status ObserveEvents(absl::Span<const feature_store::Event> events,
                             absl::Time deadline) const override;

 private:
  const std::vector<const recommender::EventObserver*> all_;
};

}  // namespace recsys::server

#endif  // RECSYS_SERVER_LIVE_TAGS_H_
