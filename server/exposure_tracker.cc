#include "server/exposure_tracker.h"

#include <xxhash.h>

#include <algorithm>
#include <map>

#include "absl/strings/str_cat.h"

namespace recsys::server {

absl::StatusOr<std::unique_ptr<ExposureTracker>> ExposureTracker::Create(
    const redis::Client* redis, ExposureTrackerOptions options) {
  if (options.bucket < absl::Seconds(1) ||
      options.bucket != absl::Seconds(absl::ToInt64Seconds(options.bucket))) {
    return absl::InvalidArgumentError(
        "exposure bucket: must be a whole number of seconds >= 1");
  }
  if (options.window_buckets < 1) {
    return absl::InvalidArgumentError("exposure window_buckets: must be >= 1");
  }
  if (options.flush_interval < absl::ZeroDuration()) {
    return absl::InvalidArgumentError("exposure flush_interval: must be >= 0");
  }
  if (!options.clock) {
    return absl::InvalidArgumentError("exposure clock: must be set");
  }
  return std::unique_ptr<ExposureTracker>(
      new ExposureTracker(redis, std::move(options)));
}

ExposureTracker::ExposureTracker(const redis::Client* redis,
                                 ExposureTrackerOptions options)
    : redis_(redis),
      options_(std::move(options)),
      bucket_seconds_(absl::ToInt64Seconds(options_.bucket)) {
  if (redis_ != nullptr && options_.flush_interval > absl::ZeroDuration()) {
    thread_ = std::thread([this] {
      while (!stop_.WaitForNotificationWithTimeout(options_.flush_interval)) {
        Flush().IgnoreError();  // counted in flush_errors_; kept for later
      }
    });
  }
}

ExposureTracker::~ExposureTracker() {
  stop_.Notify();
  if (thread_.joinable()) thread_.join();
  if (redis_ != nullptr) Flush().IgnoreError();
}

int64_t ExposureTracker::BucketOf(absl::Time t) const {
  const int64_t s = absl::ToUnixSeconds(t);
  // Floor division, also before the epoch.
  const int64_t q = s / bucket_seconds_;
  return (s % bucket_seconds_ < 0 ? q - 1 : q) * bucket_seconds_;
}

std::string ExposureTracker::Key(absl::string_view slot, int64_t bucket) const {
  return absl::StrCat(options_.key_prefix, "xu:{", slot, "}:", bucket);
}

void ExposureTracker::Record(absl::string_view slot, absl::string_view user_id) {
  const int64_t bucket = BucketOf(options_.clock());
  absl::MutexLock lock(&mu_);
  if (!seen_slots_.contains(slot)) seen_slots_.insert(std::string(slot));
  if (redis_ == nullptr) {
    auto& buckets = local_[slot];
    buckets[bucket].insert(XXH3_64bits(user_id.data(), user_id.size()));
    // Buckets that left the window are dropped as time moves on.
    const int64_t oldest = bucket - (options_.window_buckets - 1) * bucket_seconds_;
    for (auto it = buckets.begin(); it != buckets.end();) {
      if (it->first < oldest) {
        buckets.erase(it++);
      } else {
        ++it;
      }
    }
    return;
  }
  if (pending_.size() >= options_.max_pending) {
    dropped_.fetch_add(1, std::memory_order_relaxed);
    return;
  }
  pending_.emplace_back(Key(slot, bucket), std::string(user_id));
}

absl::Status ExposureTracker::Flush() {
  if (redis_ == nullptr) return absl::OkStatus();
  absl::MutexLock flushing(&flush_mu_);
  std::vector<std::pair<std::string, std::string>> batch;
  {
    absl::MutexLock lock(&mu_);
    batch.swap(pending_);
  }
  if (batch.empty()) return absl::OkStatus();
  // One PFADD and one EXPIRE per key, keys in a stable order.
  std::map<std::string, std::vector<std::string>> by_key;
  for (auto& [key, user] : batch) by_key[key].push_back(std::move(user));
  const int64_t ttl = bucket_seconds_ * (options_.window_buckets + 1);
  std::vector<redis::Command> commands;
  commands.reserve(by_key.size() * 2);
  for (auto& [key, users] : by_key) {
    redis::Command pfadd = {"PFADD", key};
    pfadd.insert(pfadd.end(), users.begin(), users.end());
    commands.push_back(std::move(pfadd));
    commands.push_back({"EXPIRE", key, absl::StrCat(ttl)});
  }
  absl::Status sent =
      redis_->Execute(commands, absl::Now() + options_.timeout).status();
  if (!sent.ok()) {
    flush_errors_.fetch_add(1, std::memory_order_relaxed);
    // PFADD is idempotent: the whole batch goes again with the next flush,
    // as far as the buffer has room.
    absl::MutexLock lock(&mu_);
    for (auto& [key, users] : by_key) {
      for (std::string& user : users) {
        if (pending_.size() >= options_.max_pending) {
          dropped_.fetch_add(1, std::memory_order_relaxed);
          continue;
        }
        pending_.emplace_back(key, std::move(user));
      }
    }
  }
  return sent;
}

absl::StatusOr<std::vector<std::pair<std::string, double>>>
ExposureTracker::DistinctUsers(const std::vector<std::string>& slots) const {
  const int64_t newest = BucketOf(options_.clock());
  const int64_t oldest =
      newest - (options_.window_buckets - 1) * bucket_seconds_;
  std::vector<std::string> names(slots);
  std::vector<std::pair<std::string, double>> out;
  {
    absl::MutexLock lock(&mu_);
    names.insert(names.end(), seen_slots_.begin(), seen_slots_.end());
    std::sort(names.begin(), names.end());
    names.erase(std::unique(names.begin(), names.end()), names.end());
    if (redis_ == nullptr) {
      for (const std::string& slot : names) {
        absl::flat_hash_set<uint64_t> users;
        if (auto it = local_.find(slot); it != local_.end()) {
          for (const auto& [bucket, hashes] : it->second) {
            if (bucket >= oldest && bucket <= newest) {
              users.insert(hashes.begin(), hashes.end());
            }
          }
        }
        out.emplace_back(slot, static_cast<double>(users.size()));
      }
      return out;
    }
  }
  std::vector<redis::Command> commands;
  commands.reserve(names.size());
  for (const std::string& slot : names) {
    redis::Command pfcount = {"PFCOUNT"};
    for (int64_t b = oldest; b <= newest; b += bucket_seconds_) {
      pfcount.push_back(Key(slot, b));
    }
    commands.push_back(std::move(pfcount));
  }
  auto replies = redis_->Execute(commands, absl::Now() + options_.timeout,
                                 redis::CallKind::kRead);
  if (!replies.ok()) return replies.status();
  for (size_t i = 0; i < names.size(); ++i) {
    const std::optional<int64_t> n = (*replies)[i].AsInt();
    if (!n.has_value()) {
      return absl::InternalError(
          absl::StrCat("PFCOUNT of slot ", names[i], ": not an integer"));
    }
    out.emplace_back(names[i], static_cast<double>(*n));
  }
  return out;
}

}  // namespace recsys::server
