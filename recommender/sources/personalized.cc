#include "recommender/sources/personalized.h"

#include "common/status_macros.h"
#include "model/vector_index.h"

namespace recsys::recommender {

absl::StatusOr<std::vector<Candidate>> PersonalizedSource::Generate(
    const RequestContext& ctx) const {
  std::vector<Candidate> list;
  if (ctx.query.empty()) return list;
  model::SearchOptions search_options;
  search_options.filter = ctx.filter.get();
  RECSYS_ASSIGN_OR_RETURN(std::vector<model::Neighbor> hits,
                          ctx.model().ip_index().Search(ctx.query, ctx.fetch_k, search_options));
  list.reserve(hits.size());
  for (const model::Neighbor& n : hits) {
    list.push_back({static_cast<int32_t>(n.id), n.score, ReasonCode::kPersonalized});
  }
  return list;
}

}  // namespace recsys::recommender
