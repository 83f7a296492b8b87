#include "recommender/sources/blended.h"

#include <algorithm>

#include "common/status_macros.h"
#include "model/ranker.h"

namespace recsys::recommender {

absl::StatusOr<std::vector<Candidate>> BlendedSource::Generate(const RequestContext& ctx) const {
  std::vector<Candidate> list;
  if (ctx.query.empty() && ctx.history.empty()) return list;
  const model::RankerModel ranker = ctx.model().ranker_model();
  model::RankerUser ranker_user;
  ranker_user.vector = ctx.query;
  ranker_user.history = ctx.history;
  model::RankOptions rank_options;
  rank_options.k = ctx.fetch_k;
  rank_options.now_unix = ctx.now_unix;
  const int candidates =
      ctx.treatment.ranker_candidates > 0 ? ctx.treatment.ranker_candidates : ranker_candidates_;
  rank_options.vector_candidates = std::max(candidates, ctx.fetch_k);
  rank_options.filter = ctx.repurchase_filter.get();
  rank_options.include_bought = !new_items_;
  RECSYS_ASSIGN_OR_RETURN(std::vector<model::RankedItem> ranked,
                          model::RankItems(ranker, ranker_user, rank_options));
  list.reserve(ranked.size());
  // When the model's validation guard serves popularity instead of the
  // ranker (model/ranker.h), its items say so.
  const model::RankerServe serve =
      new_items_ ? ranker.weights->serve_new : ranker.weights->serve_all;
  const ReasonCode discovery_code =
      serve == model::RankerServe::kPopularity ? ReasonCode::kPopular : ReasonCode::kPersonalized;
  for (const model::RankedItem& r : ranked) {
    if (r.bought) {
      auto purchase = ctx.bought.find(r.item);
      list.push_back({r.item, r.score, ReasonCode::kBuyAgain, -1, false,
                      purchase == ctx.bought.end() ? nullptr : purchase->second});
    } else {
      list.push_back({r.item, r.score, discovery_code});
    }
  }
  return list;
}

}  // namespace recsys::recommender
