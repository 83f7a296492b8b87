#include "recommender/sources/bundle_complements.h"

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "recommender/internal.h"

namespace recsys::recommender {

using feature_store::ActivityRecord;
using feature_store::EventType;

absl::StatusOr<std::vector<Candidate>> BundleComplementsSource::Generate(
    const RequestContext& ctx) const {
  const model::ModelBundle& bundle = ctx.model();
  // Complements of the most recent carted or bought items.
  std::vector<int32_t> anchors;
  absl::flat_hash_set<int32_t> seen;
  for (const ActivityRecord& a : ctx.user.recent) {
    if (a.type != EventType::kAddToCart && a.type != EventType::kPurchase) continue;
    const int32_t row = bundle.ItemRow(a.item_id);
    if (row >= 0 && seen.insert(row).second) anchors.push_back(row);
    if (anchors.size() >= 5) break;
  }
  for (size_t i = 0; i < ctx.history.size() && anchors.size() < 5; ++i) {
    if (seen.insert(ctx.history[i].item).second) anchors.push_back(ctx.history[i].item);
  }
  std::vector<Candidate> list;
  absl::flat_hash_map<int32_t, size_t> at;
  for (int32_t anchor : anchors) {
    for (const auto& [row, score] : bundle.complements(anchor)) {
      if (!ctx.filter->Allowed(row)) continue;
      internal::KeepBest({row, score, ReasonCode::kBundleComplement, anchor}, &at, &list);
    }
  }
  internal::SortBestFirst(ctx.fetch_k, &list);
  return list;
}

}  // namespace recsys::recommender
