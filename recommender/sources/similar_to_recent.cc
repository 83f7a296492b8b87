#include "recommender/sources/similar_to_recent.h"

#include <utility>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "common/status_macros.h"
#include "model/vector_index.h"
#include "recommender/internal.h"

namespace recsys::recommender {

using feature_store::ActivityRecord;
using feature_store::EventType;

absl::StatusOr<std::vector<Candidate>> SimilarToRecentSource::Generate(
    const RequestContext& ctx) const {
  const model::ModelBundle& bundle = ctx.model();
  // The most recent distinct items the user touched.
  std::vector<std::pair<int32_t, bool>> recent;  // row, bought
  absl::flat_hash_set<int32_t> seen;
  for (const ActivityRecord& a : ctx.user.recent) {
    if (a.type == EventType::kImpression) continue;
    const int32_t row = bundle.ItemRow(a.item_id);
    if (row >= 0 && seen.insert(row).second) {
      recent.push_back({row, a.type == EventType::kPurchase});
    }
    if (recent.size() >= 5) break;
  }
  for (size_t i = 0; i < ctx.history.size() && recent.size() < 5; ++i) {
    if (seen.insert(ctx.history[i].item).second) recent.push_back({ctx.history[i].item, true});
  }
  std::vector<Candidate> list;
  absl::flat_hash_map<int32_t, size_t> at;
  model::SearchOptions search_options;
  search_options.filter = ctx.filter.get();
  for (const auto& [anchor, was_bought] : recent) {
    RECSYS_ASSIGN_OR_RETURN(
        std::vector<model::Neighbor> hits,
        bundle.cos_index().Search(bundle.item_vector(anchor), ctx.fetch_k, search_options));
    for (const model::Neighbor& n : hits) {
      const int32_t row = static_cast<int32_t>(n.id);
      if (row == anchor) continue;
      internal::KeepBest({row, n.score, ReasonCode::kSimilarToItem, anchor, was_bought}, &at,
                         &list);
    }
  }
  internal::SortBestFirst(ctx.fetch_k, &list);
  return list;
}

}  // namespace recsys::recommender
