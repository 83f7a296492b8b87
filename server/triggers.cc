#include "server/triggers.h"

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/log.h"

namespace recsys::server {

TriggerLoop::TriggerLoop(const marketing::TriggerEngine* engine,
                         absl::Duration interval)
    : engine_(engine), interval_(interval), thread_([this] { Loop(); }) {}

TriggerLoop::~TriggerLoop() {
  stop_.Notify();
  thread_.join();
}

void TriggerLoop::Loop() {
  while (!stop_.WaitForNotificationWithTimeout(interval_)) {
    marketing::TriggerRunRequest request;
    request.now = absl::Now();
    absl::StatusOr<marketing::TriggerRunAnswer> ran =
        engine_->Run(request, request.now + interval_);
    if (!ran.ok()) {
      LogWarning(absl::StrCat("triggered offers: pass failed: ",
                              ran.status().ToString()));
    } else if (ran->claimed > 0) {
      LogInfo(absl::StrCat("triggered offers: ", ran->claimed, " checks, ",
                           ran->written, " written, ", ran->deferred,
                           " deferred, ", ran->cancelled, " cancelled, ",
                           ran->capped + ran->budget,
                           " capped or out of budget, ", ran->holdout,
                           " held out, ", ran->errors, " errors"));
    }
  }
}

}  // namespace recsys::server
