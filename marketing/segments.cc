#include "marketing/segments.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstddef>
#include <functional>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "common/status_macros.h"
#include "marketing/coupons.h"

namespace recsys::marketing {
namespace {

constexpr int64_t kDay = 86400;

constexpr absl::string_view kSegmentNames[kNumSegments] = {
    "core", "potential", "new", "at_risk", "dormant", "deep_dormant"};
constexpr absl::string_view kTierNames[kNumTiers] = {"none", "silver", "gold",
                                                     "black"};
constexpr absl::string_view kLifecycleNames[] = {"new", "active", "lapsing",
                                                 "lapsed", "churned"};

constexpr absl::string_view kTsvHeader =
    "user_id\tsegment\ttier\tlifecycle\trecency_days\tfrequency\tmonetary\t"
    "trailing_spend\tfirst_purchase_unix\tlast_purchase_unix\tr_score\t"
    "f_score\tm_score\tas_of_unix";
constexpr size_t kTsvColumns = 14;

// Shortest text that reads back as the same double.
std::string FormatDouble(double value) {
  char buffer[64];
  auto [end, ec] = std::to_chars(buffer, buffer + sizeof(buffer), value);
  if (ec != std::errc()) return "0";
  return std::string(buffer, end);
}

// 1 + floor(5 * worse / n), in [1, 5].
int32_t QuantileScore(int64_t worse, int64_t n) {
  if (n <= 0) return 1;
  return static_cast<int32_t>(1 + (5 * worse) / n);
}

}  // namespace

absl::string_view SegmentName(Segment segment) {
  const int i = static_cast<int>(segment);
  return i >= 0 && i < kNumSegments ? kSegmentNames[i] : "unknown";
}

absl::string_view TierName(Tier tier) {
  const int i = static_cast<int>(tier);
  return i >= 0 && i < kNumTiers ? kTierNames[i] : "unknown";
}

absl::string_view LifecycleName(Lifecycle stage) {
  const int i = static_cast<int>(stage);
  return i >= 0 && i < 5 ? kLifecycleNames[i] : "unknown";
}

std::optional<Segment> SegmentFromName(absl::string_view name) {
  for (int i = 0; i < kNumSegments; ++i) {
    if (kSegmentNames[i] == name) return static_cast<Segment>(i);
  }
  return std::nullopt;
}

std::optional<Tier> TierFromName(absl::string_view name) {
  for (int i = 0; i < kNumTiers; ++i) {
    if (kTierNames[i] == name) return static_cast<Tier>(i);
  }
  return std::nullopt;
}

std::optional<Lifecycle> LifecycleFromName(absl::string_view name) {
  for (int i = 0; i < 5; ++i) {
    if (kLifecycleNames[i] == name) return static_cast<Lifecycle>(i);
  }
  return std::nullopt;
}

bool IsDormant(Segment segment) {
  return segment == Segment::kDormant || segment == Segment::kDeepDormant;
}

int32_t SegmentBuilder::UserIndex(absl::string_view user_id) {
  auto [it, inserted] =
      user_index_.try_emplace(user_id, static_cast<int32_t>(user_ids_.size()));
  if (inserted) user_ids_.emplace_back(user_id);
  return it->second;
}

void SegmentBuilder::Add(absl::string_view user_id, absl::string_view order_id,
                         int64_t time_unix, double amount) {
  ++lines_;
  if (user_id.empty() || !std::isfinite(amount)) {
    ++skipped_;
    return;
  }
  const int32_t user = UserIndex(user_id);
  Order* order;
  if (order_id.empty()) {
    order = &timed_orders_[{user, time_unix}];
  } else {
    auto [it, inserted] =
        named_orders_.try_emplace({user, std::string(order_id)}, Order{});
    order = &it->second;
    if (inserted) order->time = time_unix;
  }
  order->time = std::max(order->time, time_unix);
  order->amount += amount;
  last_time_ =
      lines_ - skipped_ == 1 ? time_unix : std::max(last_time_, time_unix);
}

absl::StatusOr<std::vector<UserSegment>> SegmentBuilder::Build(
    const MarketingConfig& config, int64_t as_of_unix) const {
  const MarketingConfig c = WithDefaults(config);
  RECSYS_RETURN_IF_ERROR(ValidateMarketingConfig(c));
  const SegmentThresholds& st = c.segments;
  const TierThresholds& tt = c.tiers;
  const int64_t as_of = as_of_unix != 0 ? as_of_unix : last_time_;

  // Orders in a canonical order, so that sums do not depend on hash order.
  std::vector<std::tuple<int32_t, int64_t, double>> orders;
  orders.reserve(timed_orders_.size() + named_orders_.size());
  for (const auto& [key, order] : timed_orders_) {
    if (order.time <= as_of)
      orders.emplace_back(key.first, order.time, order.amount);
  }
  for (const auto& [key, order] : named_orders_) {
    if (order.time <= as_of)
      orders.emplace_back(key.first, order.time, order.amount);
  }
  std::sort(orders.begin(), orders.end());

  const int64_t trailing_start = as_of - int64_t{tt.trailing_days} * kDay;
  std::vector<UserSegment> users;
  {
    int32_t current = -1;
    for (const auto& [user, time, amount] : orders) {
      if (user != current) {
        current = user;
        UserSegment& u = users.emplace_back();
        u.user_id = user_ids_[user];
        u.as_of_unix = as_of;
        u.first_purchase_unix = time;
      }
      UserSegment& u = users.back();
      ++u.frequency;
      u.monetary += amount;
      if (time > trailing_start) u.trailing_spend += amount;
      u.last_purchase_unix = time;  // orders are sorted by time per user
    }
  }
  const int64_t n = static_cast<int64_t>(users.size());
  std::vector<int32_t> recency(n), frequency(n);
  std::vector<double> monetary(n);
  for (int64_t i = 0; i < n; ++i) {
    UserSegment& u = users[i];
    u.recency_days =
        static_cast<int32_t>((as_of - u.last_purchase_unix) / kDay);
    recency[i] = u.recency_days;
    frequency[i] = u.frequency;
    monetary[i] = u.monetary;
  }
  std::sort(recency.begin(), recency.end());
  std::sort(frequency.begin(), frequency.end());
  std::sort(monetary.begin(), monetary.end());

  for (UserSegment& u : users) {
    // Worse recency = more days.
    const int64_t r_worse =
        recency.end() -
        std::upper_bound(recency.begin(), recency.end(), u.recency_days);
    const int64_t f_worse =
        std::lower_bound(frequency.begin(), frequency.end(), u.frequency) -
        frequency.begin();
    const int64_t m_worse =
        std::lower_bound(monetary.begin(), monetary.end(), u.monetary) -
        monetary.begin();
    u.r_score = QuantileScore(r_worse, n);
    u.f_score = QuantileScore(f_worse, n);
    u.m_score = QuantileScore(m_worse, n);

    const bool recent_first =
        as_of - u.first_purchase_unix < int64_t{st.new_days} * kDay;
    if (u.recency_days >= st.deep_dormant_days) {
      u.segment = Segment::kDeepDormant;
    } else if (u.recency_days >= st.dormant_days) {
      u.segment = Segment::kDormant;
    } else if (u.recency_days >= st.at_risk_days) {
      u.segment = Segment::kAtRisk;
    } else if (recent_first && u.frequency <= st.new_max_orders) {
      u.segment = Segment::kNew;
    } else if (u.r_score >= st.core_min_score &&
               u.f_score >= st.core_min_score &&
               u.m_score >= st.core_min_score) {
      u.segment = Segment::kCore;
    } else {
      u.segment = Segment::kPotential;
    }

    if (u.trailing_spend >= tt.black) {
      u.tier = Tier::kBlack;
    } else if (u.trailing_spend >= tt.gold) {
      u.tier = Tier::kGold;
    } else if (u.trailing_spend >= tt.silver) {
      u.tier = Tier::kSilver;
    } else {
      u.tier = Tier::kNone;
    }

    if (u.recency_days >= st.deep_dormant_days) {
      u.lifecycle = Lifecycle::kChurned;
    } else if (u.recency_days >= st.dormant_days) {
      u.lifecycle = Lifecycle::kLapsed;
    } else if (u.recency_days >= st.at_risk_days) {
      u.lifecycle = Lifecycle::kLapsing;
    } else if (recent_first) {
      u.lifecycle = Lifecycle::kNew;
    } else {
      u.lifecycle = Lifecycle::kActive;
    }
  }
  std::sort(users.begin(), users.end(),
            [](const UserSegment& a, const UserSegment& b) {
              return a.user_id < b.user_id;
            });
  return users;
}

SegmentSummary Summarize(absl::Span<const UserSegment> users,
                         int64_t as_of_unix) {
  SegmentSummary s;
  s.as_of_unix = as_of_unix;
  s.segments.resize(kNumSegments);
  s.tiers.resize(kNumTiers);
  for (int i = 0; i < kNumSegments; ++i)
    s.segments[i].name = std::string(kSegmentNames[i]);
  for (int i = 0; i < kNumTiers; ++i)
    s.tiers[i].name = std::string(kTierNames[i]);
  for (const UserSegment& u : users) {
    ++s.users;
    s.spend += u.monetary;
    GroupShare& seg = s.segments[static_cast<int>(u.segment)];
    ++seg.users;
    seg.spend += u.monetary;
    GroupShare& tier = s.tiers[static_cast<int>(u.tier)];
    ++tier.users;
    tier.spend += u.monetary;
  }
  for (auto* groups : {&s.segments, &s.tiers}) {
    for (GroupShare& g : *groups) {
      g.user_share = s.users > 0 ? static_cast<double>(g.users) / s.users : 0;
      g.spend_share = s.spend > 0 ? g.spend / s.spend : 0;
    }
  }
  return s;
}

std::string FormatSummaryTable(const SegmentSummary& summary) {
  std::string out;
  auto block = [&](absl::string_view title,
                   const std::vector<GroupShare>& groups) {
    absl::StrAppend(&out,
                    absl::StrFormat("%-14s %9s %7s %14s %7s\n", title, "users",
                                    "users%", "spend", "spend%"));
    for (const GroupShare& g : groups) {
      absl::StrAppend(
          &out,
          absl::StrFormat("%-14s %9d %6.1f%% %14.2f %6.1f%%\n", g.name, g.users,
                          100 * g.user_share, g.spend, 100 * g.spend_share));
    }
    absl::StrAppend(
        &out, absl::StrFormat("%-14s %9d %6.1f%% %14.2f %6.1f%%\n", "all",
                              summary.users, summary.users > 0 ? 100.0 : 0.0,
                              summary.spend, summary.spend > 0 ? 100.0 : 0.0));
  };
  block("segment", summary.segments);
  block("tier", summary.tiers);
  return out;
}

absl::StatusOr<std::string> SegmentsToTsv(absl::Span<const UserSegment> users) {
  std::string out;
  out.reserve(64 + users.size() * 96);
  absl::StrAppend(&out, kTsvHeader, "\n");
  for (const UserSegment& u : users) {
    if (u.user_id.empty() ||
        u.user_id.find_first_of("\t\r\n") != std::string::npos) {
      return absl::InvalidArgumentError(absl::StrCat(
          "user_id: empty or contains a tab or line break: '", u.user_id, "'"));
    }
    absl::StrAppend(&out, u.user_id, "\t", SegmentName(u.segment), "\t",
                    TierName(u.tier), "\t", LifecycleName(u.lifecycle), "\t",
                    u.recency_days, "\t", u.frequency, "\t",
                    FormatDouble(u.monetary), "\t");
    absl::StrAppend(&out, FormatDouble(u.trailing_spend), "\t",
                    u.first_purchase_unix, "\t", u.last_purchase_unix, "\t",
                    u.r_score, "\t", u.f_score, "\t", u.m_score, "\t",
                    u.as_of_unix, "\n");
  }
  return out;
}

absl::Status ForEachSegmentBatch(
    absl::string_view text, int batch,
    const std::function<absl::Status(absl::Span<const UserSegment>)>& fn) {
  batch = std::max(batch, 1);
  std::vector<UserSegment> users;
  users.reserve(batch);
  int64_t line_no = 0;
  bool header = true;
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    ++line_no;
    if (line.empty()) continue;
    auto bad = [&](absl::string_view what) {
      return absl::DataLossError(
          absl::StrCat("segments.tsv line ", line_no, ": ", what));
    };
    if (header) {
      if (line != kTsvHeader) return bad("unexpected header");
      header = false;
      continue;
    }
    std::vector<absl::string_view> f = absl::StrSplit(line, '\t');
    if (f.size() != kTsvColumns) {
      return bad(absl::StrCat(f.size(), " columns, expected ", kTsvColumns));
    }
    UserSegment u;
    u.user_id = std::string(f[0]);
    std::optional<Segment> segment = SegmentFromName(f[1]);
    std::optional<Tier> tier = TierFromName(f[2]);
    std::optional<Lifecycle> stage = LifecycleFromName(f[3]);
    if (u.user_id.empty()) return bad("empty user_id");
    if (!segment || !tier || !stage)
      return bad("unknown segment, tier or lifecycle");
    u.segment = *segment;
    u.tier = *tier;
    u.lifecycle = *stage;
    if (!absl::SimpleAtoi(f[4], &u.recency_days) ||
        !absl::SimpleAtoi(f[5], &u.frequency) ||
        !absl::SimpleAtod(f[6], &u.monetary) ||
        !absl::SimpleAtod(f[7], &u.trailing_spend) ||
        !absl::SimpleAtoi(f[8], &u.first_purchase_unix) ||
        !absl::SimpleAtoi(f[9], &u.last_purchase_unix) ||
        !absl::SimpleAtoi(f[10], &u.r_score) ||
        !absl::SimpleAtoi(f[11], &u.f_score) ||
        !absl::SimpleAtoi(f[12], &u.m_score) ||
        !absl::SimpleAtoi(f[13], &u.as_of_unix)) {
      return bad("malformed number");
    }
    for (int32_t score : {u.r_score, u.f_score, u.m_score}) {
      if (score < 1 || score > 5) return bad("score outside 1..5");
    }
    users.push_back(std::move(u));
    if (static_cast<int>(users.size()) == batch) {
      RECSYS_RETURN_IF_ERROR(fn(users));
      users.clear();
    }
  }
  if (header) return absl::DataLossError("segments.tsv: missing header");
  if (!users.empty()) RECSYS_RETURN_IF_ERROR(fn(users));
  return absl::OkStatus();
}

absl::StatusOr<std::vector<UserSegment>> ParseSegmentsTsv(
    absl::string_view text) {
  std::vector<UserSegment> users;
  RECSYS_RETURN_IF_ERROR(ForEachSegmentBatch(
      text, 1 << 16, [&users](absl::Span<const UserSegment> batch) {
        users.insert(users.end(), batch.begin(), batch.end());
        return absl::OkStatus();
      }));
  return users;
}

}  // namespace recsys::marketing
