// One user's customer-intelligence record (interest tags, affinities,
// purchase intent, churn risk, repurchase cycle, price sensitivity, growth)
// and its text form, intel.tsv of the model directory.
//
// Thread safety: plain data and free functions.
#ifndef RECSYS_INTELLIGENCE_INTEL_H_
#define RECSYS_INTELLIGENCE_INTEL_H_

#include <cstdint>
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"

namespace recsys::intelligence {

// An item the user buys again and when it is due.
struct DueItem {
  std::string item_id;
  int64_t due_unix = 0;
  double cycle_days = 0;
};

// A user's counts as of the record's as_of toward a live tag rule
// (live_tags.h) the user does not satisfy yet, with the rule's thresholds
// (0: the condition is off), so that an event can complete it without the
// configuration.
struct LiveProgress {
  std::string tag;
  std::string category;
  int min_purchases = 0;
  double min_spend = 0;
  int min_views = 0;
  // Orders with an item of the category, their spend, and views plus
  // add-to-carts of the category, within the rule's window.
  int purchases = 0;
  double spend = 0;
  int views = 0;
};

struct UserIntel {
  std::string user_id;
  // Reference time the record was computed for.
  int64_t as_of_unix = 0;
  // Rule tags, then learned "likes:<category>" tags; sorted.
  std::vector<std::string> tags;
  // (category, share of decayed purchases and views), largest first.
  std::vector<std::pair<std::string, double>> affinities;
  // Calibrated probability of an order within the horizon; -1 unknown.
  double purchase_intent = -1;
  // Past value x relative fall of intent, in [0, 1].
  double churn_risk = 0;
  // The user's order cycle (days) and the next expected order; 0 unknown.
  double cycle_days = 0;
  int64_t next_purchase_unix = 0;
  // Price level of the items bought relative to their category (1 = the
  // category's median item), and share of discounted purchases; -1 unknown.
  double relative_price_level = -1;
  double discount_share = -1;
  double growth_value = 0;
  // Empty without growth tiers.
  std::string growth_tier;
  // Items due for a repurchase, earliest first.
  std::vector<DueItem> due_items;
  // "MM-DD" from the shop's customer file (ParseBirthday); empty: unknown.
  std::string birthday;
  // Progress toward the live rules the user does not satisfy yet (rule
  // order); a live event that completes one moves its tag into `tags`.
  std::vector<LiveProgress> live;

  bool HasTag(absl::string_view tag) const;
};

// The record as text fields, in the column order of intel.tsv after
// user_id (the Redis store's hash fields, IntelFieldNames(), use the same
// encoding). Decode: InvalidArgument naming the field when one is malformed.
inline constexpr int kIntelFields = 14;
const std::vector<std::string>& IntelFieldNames();
std::vector<std::string> EncodeIntelFields(const UserIntel& user,
                                           int64_t* dropped = nullptr);
absl::StatusOr<UserIntel> DecodeIntelFields(
    absl::string_view user_id, absl::Span<const absl::string_view> fields);

// intel.tsv: a header line, then one line per user with the columns
//   user_id as_of tags affinities purchase_intent churn_risk cycle_days
//   next_purchase_unix relative_price_level discount_share growth_value
//   growth_tier due_items birthday live
// separated by tabs (files written before the birthday or the live column,
// with the older headers, are read with them empty); lists are joined by
// '|' (tags), "category=share|...", "item@due_unix@cycle_days|..." and
// (live) "tag@category@min_purchases@min_spend@min_views@purchases@spend@views|...".
// Entries whose text contains a tab,
// line break, '|', '=' or '@' are left out (counted in *dropped when
// given). User ids with a tab or line break: InvalidArgument.
absl::StatusOr<std::string> IntelToTsv(absl::Span<const UserIntel> users,
                                       int64_t* dropped = nullptr);
// IntelToTsv one record at a time: IntelTsvHeader() (with its line break)
// starts the text, AppendIntelTsvLine adds a user's line (the same errors and
// *dropped counting as IntelToTsv; nothing is appended on error).
absl::string_view IntelTsvHeader();
absl::Status AppendIntelTsvLine(const UserIntel& user, std::string* out,
                                int64_t* dropped = nullptr);
// Parses IntelToTsv output. DataLoss names the first bad line.
absl::StatusOr<std::vector<UserIntel>> ParseIntelTsv(absl::string_view text);
// The same in batches, for files too large to hold decoded: calls `fn` with
// up to `batch` (at least 1) consecutive records at a time, in file order.
// Stops at the first bad line (DataLoss as ParseIntelTsv; the batches before
// it were handed over) or the first error `fn` returns, which it returns.
absl::Status ForEachIntelBatch(
    absl::string_view text, int batch,
    const std::function<absl::Status(absl::Span<const UserIntel>)>& fn);

// A birthday as "MM-DD" or "YYYY-MM-DD" (a real calendar date; 02-29 is
// allowed). On success sets *month (1..12) and *day and returns true.
bool ParseBirthday(absl::string_view text, int* month, int* day);

}  // namespace recsys::intelligence

#endif  // RECSYS_INTELLIGENCE_INTEL_H_
