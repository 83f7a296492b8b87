// Live tag rules: the rules of the intelligence config whose every
// condition can be counted from single events, so that an event can tag a
// user between two training runs.
//
// A rule is live when it sets a `category` and at least one of
// min_purchases, min_spend, min_views (with or without within_days), and
// otherwise only growth_tiers (known from the record). Any other condition
// (recency, affinity, discount share, intent, churn risk, all_of) needs the
// whole history or a model: such rules change only at a training run.
//
// At training time (compute.h) the record keeps, for every live rule the
// user does not satisfy yet (and whose growth_tiers the user is in), the
// user's counts as of as_of (UserIntel::live, with the rule's thresholds).
// A later event of the rule's category adds to them (ApplyLiveEvent):
//   - a purchase counts one order and quantity x price of spend (the run
//     counts distinct order times, so an order of several lines counts once
//     there, once per line here until the next run);
//   - a view or an add-to-cart counts one view (as the run counts them).
// When every threshold is reached the tag joins the record's tags.
// Counts do not expire between runs: an event leaving the rule's window
// mid-day is dropped by the next run, which recomputes every count.
//
// The Redis store (intel_store.h) runs the same logic in a Lua script;
// tests compare the two.
//
// Thread safety: free functions without shared state.
#ifndef RECSYS_INTELLIGENCE_LIVE_TAGS_H_
#define RECSYS_INTELLIGENCE_LIVE_TAGS_H_

#include <cstdint>
#include <string>
#include <vector>

#include "intelligence/config.h"
#include "intelligence/intel.h"

namespace recsys::intelligence {

// True when `rule` is live (file comment).
bool IsLiveRule(const TagRule& rule);

// The progress entry of a live rule with zero counts.
// REQUIRES: IsLiveRule(rule).
LiveProgress StartProgress(const TagRule& rule);

// True when every threshold of `progress` set (> 0) is reached.
bool Reached(const LiveProgress& progress);

// One stored event as the live rules see it.
struct LiveEvent {
  std::string user_id;
  // The item's category; an event without one changes nothing.
  std::string category;
  // A purchase (else a view or an add-to-cart).
  bool purchase = false;
  // Purchases: quantity x unit price.
  double spend = 0;
  int64_t time_unix = 0;
  // feature_store::EventDedupKey of the event: a store applies each key at
  // most once per record.
  std::string dedup_key;
};

// Adds `event` to the entries of `user->live` with its category, when the
// event is later than the record (time_unix > as_of_unix: older events are
// in the record's counts already). Entries reached leave `live` and their
// tags join `user->tags` (kept sorted). Returns the tags added.
std::vector<std::string> ApplyLiveEvent(const LiveEvent& event,
                                        UserIntel* user);

}  // namespace recsys::intelligence

#endif  // RECSYS_INTELLIGENCE_LIVE_TAGS_H_
