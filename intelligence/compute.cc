#include "intelligence/compute.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>
#include <utility>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "common/status_macros.h"
#include "intelligence/live_tags.h"

namespace recsys::intelligence {
namespace {

constexpr double kDay = 86400.0;

// FNV-1a: a hash of the user id that is the same in every process, so the
// calibration split is stable.
uint64_t StableHash(absl::string_view text) {
  uint64_t h = 1469598103934665603ULL;
  for (unsigned char c : text) {
    h ^= c;
    h *= 1099511628211ULL;
  }
  return h;
}

// (time, amount) of each order (distinct line time) up to t, by time.
template <typename Line>
std::vector<std::pair<int64_t, double>> Orders(const std::vector<Line>& lines,
                                               int64_t t) {
  std::map<int64_t, double> by_time;
  for (const Line& l : lines) {
    if (l.time <= t) by_time[l.time] += l.amount;
  }
  return {by_time.begin(), by_time.end()};
}

}  // namespace

const std::vector<std::string>& IntentFeatureNames() {
  static const auto* names = new std::vector<std::string>{
      "log_recency_days", "log_orders",         "log_spend",
      "log_orders_30d",   "log_orders_90d",     "log_orders_90_180d",
      "log_tenure_days",  "log_cycle_days",     "overdue_ratio",
      "log_views_30d",    "log_distinct_items", "log_avg_order_value"};
  return *names;
}

int32_t IntelBuilder::Intern(absl::flat_hash_map<std::string, int32_t>* index,
                             std::vector<std::string>* names,
                             absl::string_view name) {
  auto [it, inserted] =
      index->try_emplace(name, static_cast<int32_t>(names->size()));
  if (inserted) names->emplace_back(name);
  return it->second;
}

void IntelBuilder::Add(const Activity& a) {
  if (a.user_id.empty() || a.item_id.empty() || !std::isfinite(a.quantity) ||
      !std::isfinite(a.price) || a.quantity < 0 || a.price < 0) {
    ++skipped_;
    return;
  }
  auto [it, inserted] =
      user_index_.try_emplace(a.user_id, static_cast<int32_t>(users_.size()));
  if (inserted) users_.push_back({a.user_id, {}, {}});
  User& user = users_[it->second];
  const int32_t category = Intern(&category_index_, &categories_, a.category);
  if (a.kind == ActivityKind::kPurchase) {
    const int32_t item = Intern(&item_index_, &items_, a.item_id);
    user.lines.push_back(
        {item, category, a.time_unix, a.quantity * a.price, a.price});
  } else {
    user.events.push_back({category, a.time_unix, a.kind});
  }
  last_time_ = std::max(last_time_, a.time_unix);
}

void IntelBuilder::ShrinkToFit() {
  for (User& user : users_) {
    user.lines.shrink_to_fit();
    user.events.shrink_to_fit();
  }
  users_.shrink_to_fit();
}

double IntelBuilder::PriorOrderCycle(int64_t t) const {
  std::vector<double> all;
  for (const User& user : users_) {
    const auto orders = Orders(user.lines, t);
    for (size_t i = 1; i < orders.size(); ++i) {
      all.push_back(static_cast<double>(orders[i].first - orders[i - 1].first) /
                    kDay);
    }
  }
  return Median(std::move(all));
}

std::vector<double> IntelBuilder::Features(const User& user, int64_t t,
                                           double prior_cycle_days,
                                           double prior_strength) const {
  const auto orders = Orders(user.lines, t);
  if (orders.empty()) return {};
  std::vector<int64_t> times;
  double spend = 0;
  int orders_30 = 0, orders_90 = 0, orders_90_180 = 0;
  for (const auto& [time, amount] : orders) {
    times.push_back(time);
    spend += amount;
    const double age = static_cast<double>(t - time) / kDay;
    if (age < 30) ++orders_30;
    if (age < 90) ++orders_90;
    if (age >= 90 && age < 180) ++orders_90_180;
  }
  const double recency = static_cast<double>(t - times.back()) / kDay;
  const double tenure = static_cast<double>(t - times.front()) / kDay;
  const double cycle = std::max(
      1.0, ShrunkCycle(IntervalsDays(times), prior_cycle_days, prior_strength));
  int views_30 = 0;
  for (const Event& e : user.events) {
    if (e.time <= t && static_cast<double>(t - e.time) / kDay < 30) ++views_30;
  }
  absl::flat_hash_set<int32_t> items;
  for (const Line& l : user.lines) {
    if (l.time <= t) items.insert(l.item);
  }
  const double n = static_cast<double>(orders.size());
  return {std::log1p(recency),
          std::log1p(n),
          std::log1p(std::max(0.0, spend)),
          std::log1p(orders_30),
          std::log1p(orders_90),
          std::log1p(orders_90_180),
          std::log1p(tenure),
          std::log1p(cycle),
          std::min(10.0, recency / cycle),
          std::log1p(views_30),
          std::log1p(static_cast<double>(items.size())),
          std::log1p(std::max(0.0, spend) / n)};
}

std::vector<double> IntelBuilder::IntentFeatures(absl::string_view user_id,
                                                 int64_t t,
                                                 double prior_cycle_days,
                                                 double prior_strength) const {
  auto it = user_index_.find(user_id);
  if (it == user_index_.end()) return {};
  return Features(users_[it->second], t, prior_cycle_days, prior_strength);
}

absl::StatusOr<IntelResult> IntelBuilder::Build(
    const IntelligenceConfig& config, const ComputeOptions& options) const {
  if (users_.empty()) return absl::InvalidArgumentError("no activity");
  absl::flat_hash_set<std::string> known;
  for (const std::string& c : categories_) {
    if (!c.empty()) known.insert(c);
  }
  RECSYS_RETURN_IF_ERROR(ValidateIntelligenceConfig(config, &known));
  IntelResult result;
  const int64_t as_of =
      options.as_of_unix > 0 ? options.as_of_unix : last_time_;
  result.as_of_unix = as_of;
  result.categories.assign(known.begin(), known.end());
  std::sort(result.categories.begin(), result.categories.end());
  const double k = config.cycle_prior_strength;

  // Prices: each item's median unit price, each category's median of them.
  std::vector<std::vector<double>> item_prices(items_.size());
  std::vector<int32_t> item_category(items_.size(), 0);
  for (const User& user : users_) {
    for (const Line& l : user.lines) {
      if (l.time > as_of) continue;
      item_category[l.item] = l.category;
      if (l.price > 0) item_prices[l.item].push_back(l.price);
    }
  }
  std::vector<double> item_median(items_.size(), 0);
  std::vector<std::vector<double>> category_items(categories_.size());
  for (size_t i = 0; i < items_.size(); ++i) {
    item_median[i] = Median(std::move(item_prices[i]));
    if (item_median[i] > 0)
      category_items[item_category[i]].push_back(item_median[i]);
  }
  std::vector<double> category_median(categories_.size(), 0);
  for (size_t c = 0; c < categories_.size(); ++c) {
    category_median[c] = Median(std::move(category_items[c]));
  }

  // Item repurchase intervals: per item, per category, all.
  std::vector<std::vector<double>> item_intervals(items_.size());
  std::vector<std::vector<double>> category_intervals(categories_.size());
  std::vector<double> all_intervals;
  // A user's item -> distinct purchase times up to as_of; built when used,
  // not kept for every user (it would take about 100 bytes per pair).
  auto bought_of = [as_of](const User& user) {
    std::map<int32_t, std::vector<int64_t>> bought;
    for (const Line& l : user.lines) {
      if (l.time <= as_of) bought[l.item].push_back(l.time);
    }
    for (auto& [item, times] : bought) {
      std::sort(times.begin(), times.end());
      times.erase(std::unique(times.begin(), times.end()), times.end());
    }
    return bought;
  };
  for (const User& user : users_) {
    for (const auto& [item, times] : bought_of(user)) {
      for (double d : IntervalsDays(times)) {
        item_intervals[item].push_back(d);
        category_intervals[item_category[item]].push_back(d);
        all_intervals.push_back(d);
      }
    }
  }
  const double global_item_cycle = Median(all_intervals);
  std::vector<double> category_cycle(categories_.size(), 0);
  for (size_t c = 0; c < categories_.size(); ++c) {
    if (category_intervals[c].size() >= 3)
      category_cycle[c] = Median(category_intervals[c]);
  }
  // Each item's prior cycle: its own median with 3+ intervals, else its
  // category's, else all items'.
  std::vector<double> item_prior_days(items_.size(), global_item_cycle);
  for (size_t i = 0; i < items_.size(); ++i) {
    if (item_intervals[i].size() >= 3) {
      item_prior_days[i] = Median(std::move(item_intervals[i]));
    } else if (category_cycle[item_category[i]] > 0) {
      item_prior_days[i] = category_cycle[item_category[i]];
    }
  }
  auto item_prior = [&](int32_t item) { return item_prior_days[item]; };

  // The intent model on the time split.
  const int64_t t0 =
      as_of - static_cast<int64_t>(config.intent_horizon_days) * 86400;
  const double prior_t0 = PriorOrderCycle(t0);
  const double prior_now = PriorOrderCycle(as_of);
  IntentReport& report = result.intent;
  {
    std::vector<std::vector<double>> train_x, cal_x;
    std::vector<int> train_y, cal_y;
    for (const User& user : users_) {
      std::vector<double> x = Features(user, t0, prior_t0, k);
      if (x.empty()) continue;
      int label = 0;
      for (const Line& l : user.lines) {
        if (l.time > t0 && l.time <= as_of) label = 1;
      }
      const bool calibration =
          static_cast<double>(StableHash(user.id) % 10000) <
          config.intent_validation_share * 1e4;
      (calibration ? cal_x : train_x).push_back(std::move(x));
      (calibration ? cal_y : train_y).push_back(label);
    }
    report.train_users = static_cast<int64_t>(train_x.size());
    report.calibration_users = static_cast<int64_t>(cal_x.size());
    int positives = 0;
    for (int y : train_y) positives += y;
    if (!train_x.empty())
      report.train_positive_rate = positives / double(train_x.size());
    if (positives > 0 && positives < static_cast<int>(train_y.size())) {
      RECSYS_ASSIGN_OR_RETURN(
          report.model,
          FitLogistic(train_x, train_y, {.l2 = config.intent_l2}));
      int cal_positives = 0;
      for (int y : cal_y) cal_positives += y;
      if (cal_positives > 0 && cal_positives < static_cast<int>(cal_y.size())) {
        std::vector<double> logits;
        for (const auto& x : cal_x) logits.push_back(report.model.Logit(x));
        RECSYS_RETURN_IF_ERROR(FitPlatt(logits, cal_y, &report.model));
        std::vector<double> p;
        for (const auto& x : cal_x) p.push_back(report.model.Probability(x));
        report.calibration_auc = Auc(p, cal_y);
        report.calibration_ece = ExpectedCalibrationError(p, cal_y);
      }
      report.fitted = true;
    }
  }

  // Monetary value percentiles, for churn risk.
  std::vector<double> spends;
  for (const User& user : users_) {
    double s = 0;
    bool any = false;
    for (const Line& l : user.lines) {
      if (l.time <= as_of) {
        s += l.amount;
        any = true;
      }
    }
    if (any) spends.push_back(s);
  }
  std::sort(spends.begin(), spends.end());
  const std::vector<int> tag_order = TagEvaluationOrder(config);

  std::vector<size_t> by_id(users_.size());
  for (size_t u = 0; u < users_.size(); ++u) by_id[u] = u;
  std::sort(by_id.begin(), by_id.end(),
            [&](size_t a, size_t b) { return users_[a].id < users_[b].id; });
  for (size_t u : by_id) {
    const User& user = users_[u];
    bool active = false;
    for (const Line& l : user.lines) active |= l.time <= as_of;
    for (const Event& e : user.events) active |= e.time <= as_of;
    if (!active) continue;
    UserIntel out;
    out.user_id = user.id;
    out.as_of_unix = as_of;
    const auto orders = Orders(user.lines, as_of);
    double spend = 0;
    for (const auto& o : orders) spend += o.second;

    // Affinities.
    std::vector<double> weight(categories_.size(), 0);
    const double half_life = config.affinity_half_life_days * kDay;
    int views = 0, carts = 0;
    for (const Line& l : user.lines) {
      if (l.time <= as_of)
        weight[l.category] += std::exp2(-(as_of - l.time) / half_life);
    }
    for (const Event& e : user.events) {
      if (e.time > as_of) continue;
      (e.kind == ActivityKind::kCart ? carts : views) += 1;
      weight[e.category] +=
          config.view_weight * std::exp2(-(as_of - e.time) / half_life);
    }
    double total = 0;
    for (double w : weight) total += w;
    std::vector<std::pair<std::string, double>> affinities;
    for (size_t c = 0; c < categories_.size(); ++c) {
      if (weight[c] > 0 && total > 0 && !categories_[c].empty()) {
        affinities.emplace_back(categories_[c], weight[c] / total);
      }
    }
    std::sort(affinities.begin(), affinities.end(),
              [](const auto& a, const auto& b) {
                if (a.second != b.second) return a.second > b.second;
                return a.first < b.first;
              });
    auto affinity_of = [&](absl::string_view category) {
      for (const auto& [c, share] : affinities) {
        if (c == category) return share;
      }
      return 0.0;
    };

    // Growth.
    out.growth_value =
        spend +
        config.growth_order_weight * static_cast<double>(orders.size()) +
        config.growth_view_weight * views + config.growth_cart_weight * carts;
    for (const GrowthTier& g : config.growth_tiers) {
      if (out.growth_value >= g.min_value) out.growth_tier = g.name;
    }

    // Price sensitivity.
    double log_ratio = 0;
    int priced = 0, discounted = 0;
    for (const Line& l : user.lines) {
      if (l.time > as_of || l.price <= 0) continue;
      const double item = item_median[l.item];
      const double category = category_median[l.category];
      if (item > 0 && category > 0) {
        log_ratio += std::log(item / category);
        ++priced;
        if (l.price <= (1 - config.discount_threshold) * item) ++discounted;
      }
    }
    if (priced > 0) {
      out.relative_price_level = std::exp(log_ratio / priced);
      out.discount_share = static_cast<double>(discounted) / priced;
    }

    // Cycles.
    if (!orders.empty()) {
      std::vector<int64_t> times;
      for (const auto& o : orders) times.push_back(o.first);
      if (prior_now > 0 || times.size() > 1) {
        out.cycle_days = ShrunkCycle(IntervalsDays(times), prior_now, k);
        out.next_purchase_unix =
            times.back() +
            static_cast<int64_t>(std::llround(out.cycle_days * kDay));
      }
    }
    for (const auto& [item, times] : bought_of(user)) {
      const double prior = item_prior(item);
      if (prior <= 0 && times.size() < 2) continue;
      const double cycle = ShrunkCycle(IntervalsDays(times), prior, k);
      if (cycle <= 0) continue;
      const int64_t due =
          times.back() + static_cast<int64_t>(std::llround(cycle * kDay));
      // Overdue by more than one cycle: no longer a repurchase, left out.
      if (due + static_cast<int64_t>(cycle * kDay) < as_of) continue;
      out.due_items.push_back({items_[item], due, cycle});
    }
    std::sort(out.due_items.begin(), out.due_items.end(),
              [](const DueItem& a, const DueItem& b) {
                if (a.due_unix != b.due_unix) return a.due_unix < b.due_unix;
                return a.item_id < b.item_id;
              });
    if (static_cast<int>(out.due_items.size()) > options.max_due_items) {
      out.due_items.resize(options.max_due_items);
    }

    // Intent and churn risk.
    if (report.fitted && !orders.empty()) {
      const double p_now =
          report.model.Probability(Features(user, as_of, prior_now, k));
      out.purchase_intent = p_now;
      const std::vector<double> before = Features(user, t0, prior_t0, k);
      if (!before.empty()) {
        const double p_prev = report.model.Probability(before);
        const double below = static_cast<double>(
            std::lower_bound(spends.begin(), spends.end(), spend) -
            spends.begin());
        const double value =
            spends.empty() ? 0 : below / static_cast<double>(spends.size());
        if (p_prev > 0)
          out.churn_risk = value * std::max(0.0, p_prev - p_now) / p_prev;
      }
    }

    // Tags: rules in reference order, then learned tags.
    absl::flat_hash_set<std::string> tags;
    for (int r : tag_order) {
      const TagRule& rule = config.tags[r];
      auto in_scope = [&](int32_t category) {
        return rule.category.empty() || categories_[category] == rule.category;
      };
      const int64_t since =
          rule.within_days > 0
              ? as_of - static_cast<int64_t>(rule.within_days) * 86400
              : std::numeric_limits<int64_t>::min();
      absl::flat_hash_set<int64_t> order_times;
      double scoped_spend = 0;
      int64_t last = 0;
      for (const Line& l : user.lines) {
        if (l.time > as_of || !in_scope(l.category)) continue;
        last = std::max(last, l.time);
        if (l.time > since) {
          order_times.insert(l.time);
          scoped_spend += l.amount;
        }
      }
      int scoped_views = 0;
      for (const Event& e : user.events) {
        if (e.time <= as_of && e.time > since && in_scope(e.category))
          ++scoped_views;
      }
      const double days_since =
          last > 0 ? static_cast<double>(as_of - last) / kDay : -1;
      bool ok = true;
      ok &= rule.min_purchases == 0 ||
            static_cast<int>(order_times.size()) >= rule.min_purchases;
      ok &= rule.min_spend == 0 || scoped_spend >= rule.min_spend;
      ok &= rule.max_days_since_purchase == 0 ||
            (days_since >= 0 && days_since <= rule.max_days_since_purchase);
      ok &= rule.min_days_since_purchase == 0 ||
            (days_since >= 0 && days_since >= rule.min_days_since_purchase);
      ok &= rule.min_views == 0 || scoped_views >= rule.min_views;
      ok &= rule.min_affinity == 0 ||
            affinity_of(rule.category) >= rule.min_affinity;
      const bool in_tier =
          rule.growth_tiers.empty() ||
          std::find(rule.growth_tiers.begin(), rule.growth_tiers.end(),
                    out.growth_tier) != rule.growth_tiers.end();
      ok &= in_tier;
      ok &= rule.min_discount_share == 0 ||
            out.discount_share >= rule.min_discount_share;
      ok &= rule.min_purchase_intent == 0 ||
            out.purchase_intent >= rule.min_purchase_intent;
      ok &= rule.min_churn_risk == 0 || out.churn_risk >= rule.min_churn_risk;
      for (const std::string& ref : rule.all_of) ok &= tags.contains(ref);
      if (ok) {
        tags.insert(rule.name);
      } else if (in_tier && IsLiveRule(rule)) {
        // Events can complete it before the next run (live_tags.h).
        LiveProgress progress = StartProgress(rule);
        progress.purchases = static_cast<int>(order_times.size());
        progress.spend = scoped_spend;
        progress.views = scoped_views;
        out.live.push_back(std::move(progress));
      }
    }
    for (const auto& [category, share] : affinities) {
      if (share >= config.learned_tag_min_affinity)
        tags.insert(absl::StrCat("likes:", category));
    }
    out.tags.assign(tags.begin(), tags.end());
    std::sort(out.tags.begin(), out.tags.end());
    if (static_cast<int>(affinities.size()) > options.max_affinities) {
      affinities.resize(options.max_affinities);
    }
    out.affinities = std::move(affinities);
    if (options.on_user) {
      options.on_user(std::move(out));
    } else {
      result.users.push_back(std::move(out));
    }
  }
  return result;
}

}  // namespace recsys::intelligence
