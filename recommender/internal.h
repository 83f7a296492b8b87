// Small helpers shared by the recommender's units (candidate sources,
// rules, slot filling and the Recommender's RPC methods): argument checks,
// feature-store deadlines and degradation, the per-request random number,
// item cosine and dot product, and the explanations shown with items.
//
// One copy of each, here; units include this header rather than writing
// their own.
//
// Thread safety: free functions without state; safe to call concurrently.
#ifndef RECSYS_RECOMMENDER_INTERNAL_H_
#define RECSYS_RECOMMENDER_INTERNAL_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "absl/types/span.h"
#include "model/model_store.h"
#include "recommender/candidate.h"
#include "recommender/recommender.h"
#include "recommender/trial_pool.h"

namespace recsys::recommender::internal {

// Ids are checked by common/validation.h CheckId (one rule for every
// domain).

// Longest slot name accepted, in bytes.
inline constexpr size_t kMaxSlotNameLength = 64;

// InvalidArgument naming `field` unless `name` is 1 to kMaxSlotNameLength
// bytes of [A-Za-z0-9_.-]; else OK. For request slots and the slot config.
absl::Status CheckSlotName(absl::string_view field, absl::string_view name);

// The deadline of one feature-store call: `deadline`, at most `timeout`
// from now.
absl::Time FeatureDeadline(absl::Time deadline, absl::Duration timeout);

// Flags `meta` degraded with the store's `status` as the reason.
void MarkDegraded(AnswerMeta* meta, const absl::Status& status);

// A number in [0, 1) fixed by the request (user, a key, time), so a request
// replayed gets the same answer while many requests average out.
double RequestUniform(absl::string_view user_id, absl::string_view key, absl::Time now);

// Cosine of two item vectors, in double, from the norms the bundle computed
// at load; 0 when either vector is zero.
float ItemCosine(const model::ModelBundle& bundle, int32_t a, int32_t b);

// common/dot.h DotSequential (float, summed in index order), but 0 when the
// sizes differ.
float Dot(absl::Span<const float> a, absl::Span<const float> b);

// The item's title, or its id when it has none.
const std::string& Label(const model::ItemMeta& item);

// The answer entry of model item `row`.
ScoredItem MakeItem(const model::ModelBundle& bundle, int32_t row, float score, Explanation reason);

// Adds `c` to `*list`, or replaces the entry of the same row when `c`
// scores higher; `*at` maps each row of `*list` to its index.
void KeepBest(const Candidate& c, absl::flat_hash_map<int32_t, size_t>* at,
              std::vector<Candidate>* list);

// Sorts `*list` best first (higher score, then lower row) and keeps at most
// `k` entries.
void SortBestFirst(int k, std::vector<Candidate>* list);

// Explains a personalized item by the anchor item most similar to it.
Explanation ExplainPersonalized(const model::ModelBundle& bundle, int32_t row,
                                const std::vector<Anchor>& anchors);

// Explains a repurchase by the purchase.
Explanation ExplainBuyAgain(const model::ModelBundle& bundle, const model::HistoryEntry& h);

// The explanation of a candidate, by its reason code.
Explanation ExplainCandidate(const model::ModelBundle& bundle, const Candidate& c,
                             const std::vector<Anchor>& anchors);

// A popular item filling a slot.
Explanation ExplainPopular(const model::ModelBundle& bundle, int32_t row);

// A campaign item pinned by the festival `rule_name`.
Explanation ExplainCampaign(const model::ModelBundle& bundle, int32_t row,
                            absl::string_view rule_name);

// A trial-pool item at `now` with a trial of `trial_days`; `rotated`: the
// user was shown it recently.
Explanation ExplainTrial(const TrialItem& t, absl::Time now, int trial_days, bool rotated);

}  // namespace recsys::recommender::internal

#endif  // RECSYS_RECOMMENDER_INTERNAL_H_
