#include "recommender/sources/trending.h"

namespace recsys::recommender {

absl::StatusOr<std::vector<Candidate>> TrendingSource::Generate(const RequestContext& ctx) const {
  const model::ModelBundle& bundle = ctx.model();
  const auto& popular = bundle.popular();
  std::vector<Candidate> list;
  for (size_t i = 0; i < popular.size() && static_cast<int>(list.size()) < ctx.fetch_k; ++i) {
    const int32_t row = popular[i];
    if (!ctx.filter->Allowed(row)) continue;
    list.push_back({row, static_cast<float>(bundle.item(row).buyers), ReasonCode::kTrending});
  }
  return list;
}

}  // namespace recsys::recommender
