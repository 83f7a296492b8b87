#include "redis/bulk_writer.h"

#include <algorithm>
#include <thread>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "redis/client.h"

namespace recsys::redis {

BulkWriter::BulkWriter(const Client* client, int lanes)
    : client_(client), lane_count_(std::max(lanes, 1)), lanes_(lane_count_) {
  if (lane_count_ == 1) return;
  threads_.reserve(lane_count_);
  for (int lane = 0; lane < lane_count_; ++lane) {
    threads_.emplace_back([this, lane] { Run(lane); });
  }
}

BulkWriter::~BulkWriter() { Finish().IgnoreError(); }

bool BulkWriter::Idle() const {
  for (const Lane& lane : lanes_) {
    if (lane.waiting.has_value() || lane.busy) return false;
  }
  return true;
}

absl::Status BulkWriter::Send(int lane, std::vector<Command> batch) {
  {
    absl::MutexLock lock(&mu_);
    if (!error_.ok()) return error_;
    if (closing_) {
      return absl::FailedPreconditionError("BulkWriter: Send after Finish");
    }
  }
  if (threads_.empty()) {
    absl::Status status =
        client_->Execute(batch, absl::InfiniteFuture()).status();
    absl::MutexLock lock(&mu_);
    if (!status.ok() && error_.ok()) error_ = status;
    return error_;
  }
  absl::MutexLock lock(&mu_);
  while (lanes_[lane].waiting.has_value() && error_.ok()) changed_.Wait(&mu_);
  if (!error_.ok()) return error_;
  lanes_[lane].waiting = std::move(batch);
  changed_.SignalAll();
  return absl::OkStatus();
}

absl::Status BulkWriter::Finish() {
  {
    absl::MutexLock lock(&mu_);
    while (!Idle()) changed_.Wait(&mu_);
    closing_ = true;
    changed_.SignalAll();
  }
  for (std::thread& thread : threads_) {
    if (thread.joinable()) thread.join();
  }
  absl::MutexLock lock(&mu_);
  return error_;
}

void BulkWriter::Run(int lane) {
  for (;;) {
    std::vector<Command> batch;
    {
      absl::MutexLock lock(&mu_);
      while (!lanes_[lane].waiting.has_value() && !closing_) {
        changed_.Wait(&mu_);
      }
      if (!lanes_[lane].waiting.has_value()) return;  // closing
      batch = *std::move(lanes_[lane].waiting);
      lanes_[lane].waiting.reset();
      lanes_[lane].busy = true;
      changed_.SignalAll();
      if (!error_.ok()) {
        // A batch failed: drop the rest.
        lanes_[lane].busy = false;
        continue;
      }
    }
    absl::Status status =
        client_->Execute(batch, absl::InfiniteFuture()).status();
    absl::MutexLock lock(&mu_);
    lanes_[lane].busy = false;
    if (!status.ok() && error_.ok()) error_ = status;
    changed_.SignalAll();
  }
}

}  // namespace recsys::redis
