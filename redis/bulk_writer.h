// redis::BulkWriter: sends the pipelined batches of a bulk load through
// Client::Execute on several lanes at once, so that building and encoding
// the next batches overlaps with Redis applying the previous ones (the
// loader's CPU and the servers' CPU work at the same time instead of taking
// turns; measured in docs/benchmarks.md, "Redis bulk load").
//
// Each lane is one thread with at most one batch in flight and at most one
// more waiting; the batches of one lane are sent in the order given, and
// batches of different lanes in no particular order. So a caller that puts
// all writes of one key on one lane (e.g. the lane chosen by a hash of the
// user id) keeps the last write of each key the last one applied. With one
// lane Send executes the batch on the calling thread, as a plain loop of
// Execute calls would.
//
// Errors: Send and Finish return the first error of any batch sent so far
// (Execute's codes, client.h); once a batch failed, later batches are not
// sent. A batch that failed may have been partly applied, and so may the
// batches of other lanes in flight at the time (a bulk load is not a
// transaction).
//
// Thread safety: Send and Finish are for one caller thread; the writer's
// lanes use the client concurrently (Client is thread-safe).
#ifndef RECSYS_REDIS_BULK_WRITER_H_
#define RECSYS_REDIS_BULK_WRITER_H_

#include <functional>
#include <memory>
#include <optional>
#include <string_view>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "redis/client.h"

namespace recsys::redis {

class BulkWriter {
 public:
  // `client` is borrowed and must outlive the writer. `lanes` < 1 counts
  // as 1. Each batch gets the client's default_timeout (Execute with
  // absl::InfiniteFuture()).
  BulkWriter(const Client* client, int lanes);
  // Waits for the batches in flight (Finish), ignoring their errors.
  ~BulkWriter();

  BulkWriter(const BulkWriter&) = delete;
  BulkWriter& operator=(const BulkWriter&) = delete;

  int lanes() const { return lane_count_; }

  // The lane for the writes of `key` (e.g. a user id): a hash of it modulo
  // lanes(), so every write of one key takes one lane and keeps its order.
  int LaneFor(absl::string_view key) const {
    return lanes() == 1
               ? 0
               : static_cast<int>(std::hash<std::string_view>()(
                                      std::string_view(key.data(), key.size())) %
                                  static_cast<size_t>(lanes()));
  }

  // Sends `batch` on lane `lane` (REQUIRES: 0 <= lane < lanes()): waits
  // while that lane already has a batch waiting. OK, or the first error of
  // a batch sent before (then `batch` is not sent; with one lane, also
  // `batch`'s own, as it is sent on the calling thread), or
  // FailedPrecondition after Finish.
  absl::Status Send(int lane, std::vector<Command> batch);

  // Waits until every batch sent is answered; the first error of any.
  absl::Status Finish();

 private:
  struct Lane {
    std::optional<std::vector<Command>> waiting;
    bool busy = false;
  };

  void Run(int lane);
  bool Idle() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  // Immutable after construction.
  const Client* const client_;  // borrowed
  const int lane_count_;
  std::vector<std::thread> threads_;  // empty with one lane

  mutable absl::Mutex mu_;
  absl::CondVar changed_;
  std::vector<Lane> lanes_ ABSL_GUARDED_BY(mu_);
  absl::Status error_ ABSL_GUARDED_BY(mu_);
  bool closing_ ABSL_GUARDED_BY(mu_) = false;
};

}  // namespace recsys::redis

#endif  // RECSYS_REDIS_BULK_WRITER_H_
