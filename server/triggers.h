// The triggered offers in the server: the adapter that hands the stored
// item events of RecordEvents to the marketing engine's TriggerEngine (the
// recommender and marketing are peers that do not include each other, so
// it lives here, at the composition layer), and the loop that runs the
// engine's pass periodically.
//
// Thread safety: TriggerEventObserver is as safe as TriggerEngine (any
// number of threads). TriggerLoop owns one thread; Start and the destructor
// are called from one thread.
#ifndef RECSYS_SERVER_TRIGGERS_H_
#define RECSYS_SERVER_TRIGGERS_H_

#include <memory>
#include <thread>

#include "absl/synchronization/notification.h"
#include "absl/time/time.h"
#include "marketing/trigger_engine.h"
#include "recommender/storefront.h"

namespace recsys::server {

class TriggerEventObserver final : public recommender::EventObserver {
 public:
  // `engine` is borrowed and must outlive the observer.
  explicit TriggerEventObserver(const marketing::TriggerEngine* engine)
      : engine_(engine) {}

  absl::Status ObserveEvents(absl::Span<const feature_store::Event> events,
                             absl::Time deadline) const override {
    return engine_->ObserveEvents(events, deadline);
  }

 private:
  const marketing::TriggerEngine* const engine_;
};

// Runs engine->Run({now}) every `interval` (the first after one interval)
// until destroyed; a failed pass is logged and the next one tries again
// (claimed checks come back after their lease).
class TriggerLoop {
 public:
  // `engine` is borrowed and must outlive the loop. REQUIRES: interval > 0.
  TriggerLoop(const marketing::TriggerEngine* engine, absl::Duration interval);
  ~TriggerLoop();  // stops and joins
  TriggerLoop(const TriggerLoop&) = delete;
  TriggerLoop& operator=(const TriggerLoop&) = delete;

 private:
  void Loop();

  // Immutable after construction.
  const marketing::TriggerEngine* const engine_;
  const absl::Duration interval_;
  absl::Notification stop_;
  std::thread thread_;
};

}  // namespace recsys::server

#endif  // RECSYS_SERVER_TRIGGERS_H_
