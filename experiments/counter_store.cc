#include "experiments/counter_store.h"

#include <algorithm>
#include <utility>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/synchronization/mutex.h"

namespace recsys::experiments {
namespace {

// The per-user record of one experiment.
struct UserRecord {
  std::string variant;
  absl::Time first;
  absl::Time last;  // last exposure or click
  std::string segment;
  double x = 0;
  double y = 0;
  double d = 0;  // discounts granted
  double impressions = 0;
  double clicks = 0;
  bool converted = false;
};

class InMemoryCounterStore final : public CounterStore {
 public:
  absl::StatusOr<std::vector<Outcome>> Record(
      absl::Span<const ExperimentEvent> events, const CountRules& rules,
      absl::Time deadline) override {
    (void)deadline;
    absl::MutexLock lock(&mu_);
    std::vector<Outcome> out;
    out.reserve(events.size());
    const absl::Time now = absl::Now();
    for (const ExperimentEvent& e : events)
      out.push_back(RecordOne(e, rules, now));
    return out;
  }

  absl::StatusOr<ExperimentCounts> Read(absl::string_view experiment,
                                        absl::Time deadline) const override {
    (void)deadline;
    absl::MutexLock lock(&mu_);
    auto it = counts_.find(experiment);
    if (it == counts_.end()) return ExperimentCounts();
    return it->second;
  }

 private:
  Outcome RecordOne(const ExperimentEvent& e, const CountRules& rules,
                    absl::Time now) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (!e.event_id.empty()) {
      const std::string key = e.experiment + '\0' + e.event_id;
      auto [it, inserted] = seen_.try_emplace(key, now + rules.event_id_ttl);
      if (!inserted) {
        if (it->second > now) return Outcome::kDuplicate;
        it->second = now + rules.event_id_ttl;
      }
    }
    auto emplaced = users_.try_emplace(e.experiment + '\0' + e.user_id);
    auto user_it = emplaced.first;
    const bool fresh = emplaced.second;
    UserRecord& user = user_it->second;
    if (!fresh && user.variant != e.variant) return Outcome::kOtherVariant;
    VariantCounts& variant = counts_[e.experiment][e.variant];
    SlotCounts& slot = variant.slots[e.slot];
    VariantSums& sums = variant.sums;
    // The user's segment sums; nullptr when the segment is not known.
    auto segment_sums = [&]() -> SegmentSums* {
      const std::string& segment = fresh ? e.segment : user.segment;
      return segment.empty() ? nullptr : &variant.segments[segment];
    };
    if (e.type == CountedEvent::kPurchase) {
      if (fresh || e.time < user.first ||
          e.time > user.last + rules.attribution_window) {
        if (fresh) users_.erase(user_it);
        ++slot.unattributed_purchases;
        return Outcome::kUnattributed;
      }
      const double v = e.value;
      SegmentSums* const seg = segment_sums();
      ++slot.conversions;
      slot.gmv += v;
      sums.sum_y += v;
      sums.sum_y2 += 2 * user.y * v + v * v;
      sums.sum_xy += user.x * v;
      if (seg != nullptr) {
        seg->sum_y += v;
        seg->sum_y2 += 2 * user.y * v + v * v;
        seg->sum_yd += user.d * v;
      }
      user.y += v;
      if (!user.converted) {
        user.converted = true;
        ++sums.converted_users;
        if (seg != nullptr) ++seg->converted_users;
      }
      return Outcome::kCounted;
    }
    SegmentSums* const seg = segment_sums();
    if (fresh) {
      user.variant = e.variant;
      user.first = e.time;
      user.last = e.time;
      user.x = e.pre_spend;
      user.segment = e.segment;
      ++sums.exposed_users;
      if (seg != nullptr) ++seg->exposed_users;
      sums.sum_x += e.pre_spend;
      sums.sum_x2 += e.pre_spend * e.pre_spend;
    }
    user.last = std::max(user.last, e.time);
    switch (e.type) {
      case CountedEvent::kImpression:
        ++slot.impressions;
        sums.sum_den += 1;
        sums.sum_den2 += 2 * user.impressions + 1;
        sums.sum_num_den += user.clicks;
        user.impressions += 1;
        break;
      case CountedEvent::kClick:
        ++slot.clicks;
        sums.sum_num += 1;
        sums.sum_num2 += 2 * user.clicks + 1;
        sums.sum_num_den += user.impressions;
        user.clicks += 1;
        break;
      case CountedEvent::kAddToCart:
        ++slot.add_to_carts;
        break;
      case CountedEvent::kCouponIssued:
        ++slot.coupons_issued;
        break;
      case CountedEvent::kCouponRedeemed:
        ++slot.coupons_redeemed;
        slot.discount += e.value;
        if (seg != nullptr) {
          seg->sum_d += e.value;
          seg->sum_d2 += 2 * user.d * e.value + e.value * e.value;
          seg->sum_yd += user.y * e.value;
        }
        user.d += e.value;
        break;
      case CountedEvent::kPurchase:
        break;  // above
    }
    return Outcome::kCounted;
  }

  mutable absl::Mutex mu_;
  absl::flat_hash_map<std::string, ExperimentCounts> counts_
      ABSL_GUARDED_BY(mu_);
  // "<experiment>\0<user>" -> record.
  absl::flat_hash_map<std::string, UserRecord> users_ ABSL_GUARDED_BY(mu_);
  // "<experiment>\0<event id>" -> expiry.
  absl::flat_hash_map<std::string, absl::Time> seen_ ABSL_GUARDED_BY(mu_);
};

}  // namespace

std::unique_ptr<CounterStore> NewInMemoryCounterStore() {
  return std::make_unique<InMemoryCounterStore>();
}

}  // namespace recsys::experiments
