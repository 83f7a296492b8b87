#include "recommender/rules/role_reservation.h"

#include <algorithm>

#include "absl/container/flat_hash_set.h"

namespace recsys::recommender {

absl::string_view ItemRole(const RequestContext& ctx, int32_t row) {
  const feature_store::ItemFeatures* f = ctx.features.Of(row);
  return f == nullptr ? absl::string_view() : absl::string_view(f->role);
}

std::vector<size_t> ReservedPicks(const RequestContext& ctx,
                                  const std::vector<FusedCandidate>& candidates,
                                  const std::vector<size_t>& order, int limit,
                                  const SlotFill& fill) {
  std::vector<size_t> picks;
  absl::flat_hash_set<int32_t> rows;
  for (const auto& [role, positions] : fill.state().rule->reserve_roles) {
    int got = 0;
    for (size_t i : order) {
      if (got >= positions || static_cast<int>(picks.size()) >= limit) break;
      const FusedCandidate& c = candidates[i];
      if (rows.contains(c.row) || ItemRole(ctx, c.row) != role) continue;
      if (!fill.CanShow(c.row, c.from_repurchase)) continue;
      picks.push_back(i);
      rows.insert(c.row);
      ++got;
    }
  }
  return picks;
}

}  // namespace recsys::recommender
