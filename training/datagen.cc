#include "training/datagen.h"

#include <zlib.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <memory>
#include <initializer_list>
#include <numbers>
#include <numeric>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/random.h"
#include "common/status_macros.h"

namespace recsys::training {
namespace {

constexpr int64_t kDay = 86400;

// Samples an index with probability proportional to its weight.
class Discrete {
 public:
  Discrete() = default;
  explicit Discrete(const std::vector<double>& weights) {
    cumulative_.reserve(weights.size());
    double sum = 0;
    for (double w : weights) {
      sum += std::max(0.0, w);
      cumulative_.push_back(sum);
    }
  }
  bool empty() const { return cumulative_.empty() || cumulative_.back() <= 0; }
  int Sample(Rng& rng) const {
    const double u = rng.Uniform() * cumulative_.back();
    const auto it = std::upper_bound(cumulative_.begin(), cumulative_.end(), u);
    return static_cast<int>(
        std::min<ptrdiff_t>(it - cumulative_.begin(), cumulative_.size() - 1));
  }

 private:
  std::vector<double> cumulative_;
};

struct CategorySpec {
  const char* name;
  // Share of the catalogue.
  double share;
  // Log-normal price: median and sigma of log(price).
  double median_price;
  double price_sigma;
  // Share of staple items and their re-buy cycle in days.
  double staple_share;
  int cycle_min_days;
  int cycle_max_days;
};

enum Category {
  kGrocery,
  kCoffeeTea,
  kSnacks,
  kBaby,
  kBeauty,
  kPet,
  kHousehold,
  kElectronics,
  kBooks,
  kToys,
  kHome,
  kKitchen,
  kSports,
  kGarden,
  kStationery,
  kFashion,
  kGifts,
  kNumCategories,
};

constexpr CategorySpec kCategories[kNumCategories] = {
    {"grocery", 0.14, 3.5, 0.5, 0.70, 6, 14},
    {"coffee_tea", 0.06, 8.0, 0.4, 0.80, 12, 30},
    {"snacks", 0.07, 3.0, 0.4, 0.40, 8, 21},
    {"baby", 0.06, 14.0, 0.6, 0.60, 10, 28},
    {"beauty", 0.07, 12.0, 0.6, 0.40, 30, 60},
    {"pet", 0.05, 18.0, 0.6, 0.70, 20, 35},
    {"household", 0.05, 5.5, 0.5, 0.60, 21, 45},
    {"electronics", 0.07, 70.0, 1.0, 0.00, 0, 0},
    {"books", 0.08, 13.0, 0.4, 0.00, 0, 0},
    {"toys", 0.06, 20.0, 0.7, 0.00, 0, 0},
    {"home", 0.06, 28.0, 0.8, 0.00, 0, 0},
    {"kitchen", 0.06, 22.0, 0.8, 0.00, 0, 0},
    {"sports", 0.05, 32.0, 0.9, 0.00, 0, 0},
    {"garden", 0.04, 18.0, 0.9, 0.15, 60, 90},
    {"stationery", 0.04, 3.5, 0.6, 0.20, 45, 90},
    {"fashion", 0.07, 30.0, 0.7, 0.00, 0, 0},
    {"gifts", 0.03, 18.0, 0.6, 0.00, 0, 0},
};

struct Boost {
  Category category;
  double factor;
};

struct SegmentSpec {
  const char* name;
  double share;
  // Category weights are 1 except these.
  std::vector<Boost> boosts;
};

const std::vector<SegmentSpec>& Segments() {
  static const auto* segments = new std::vector<SegmentSpec>{
      {"family",
       0.20,
       {{kGrocery, 4},
        {kBaby, 6},
        {kToys, 4},
        {kSnacks, 2},
        {kHousehold, 3},
        {kKitchen, 2}}},
      {"tech",
       0.12,
       {{kElectronics, 9}, {kBooks, 2}, {kCoffeeTea, 2}, {kSnacks, 2}}},
      {"foodie",
       0.14,
       {{kGrocery, 4}, {kCoffeeTea, 5}, {kKitchen, 4}, {kSnacks, 3}}},
      {"student",
       0.14,
       {{kSnacks, 4},
        {kStationery, 6},
        {kBooks, 4},
        {kCoffeeTea, 3},
        {kElectronics, 2}}},
      {"gardener",
       0.10,
       {{kGarden, 9}, {kHome, 3}, {kHousehold, 2}, {kBooks, 1.5}}},
      {"pet_owner", 0.10, {{kPet, 9}, {kGrocery, 2}, {kHousehold, 2}}},
      {"fitness", 0.10, {{kSports, 8}, {kFashion, 3}, {kGrocery, 2}}},
      {"style", 0.10, {{kFashion, 8}, {kBeauty, 6}, {kGifts, 3}}},
  };
  return *segments;
}

// Order weight by weekday, Monday first.
constexpr double kWeekday[7] = {0.85, 0.85, 0.9, 0.95, 1.05, 1.2, 1.2};
// Order weight by hour of day (UTC).
constexpr double kHour[24] = {0.2, 0.1, 0.1, 0.1, 0.1, 0.2, 0.5, 1.0,
                              1.4, 1.5, 1.6, 1.8, 2.2, 2.0, 1.6, 1.5,
                              1.6, 1.8, 2.2, 2.6, 2.8, 2.4, 1.5, 0.7};
constexpr double kZipfExponent = 1.1;

// What a kind of shop changes in the model (datagen.h). The general store's
// profile reproduces its output exactly: every factor is 1 and no extra
// random number is drawn.
struct ShopProfile {
  // Multiplier of each category's catalogue share; 0 leaves it out.
  double share_factor[kNumCategories];
  // Staple share of a category = min(0.95, its share × staple_factor);
  // re-buy cycles × cycle_factor.
  double staple_factor = 1;
  double cycle_factor = 1;
  // Staples per customer: the general store's 0-4 distribution when
  // max_staples < 0, else uniform in [min_staples, max_staples].
  int min_staples = 0;
  int max_staples = -1;
  // Median orders per customer and year.
  double orders_median = 8;
  // Discoveries per order: 1, then one more with this probability, at most
  // max_discoveries.
  double discovery_more = 0.5;
  int max_discoveries = 8;
  // Chance that a discovery re-buys an earlier purchase.
  double repeat = 0.12;
  // True: a discovery is never an item the customer already bought (re-buys
  // come only from `repeat`).
  bool new_discoveries = false;
  // > 0: items are listed over the log (from a quarter before its start)
  // and a discovery of an item `age` days after its listing is kept with
  // probability exp(-age / collection_life_days); never before it.
  double collection_life_days = 0;
  // Electronics: share of accessories among the electronics items, the
  // median prices of accessories and main devices, and the chance that a
  // main device's purchase is followed by 1-3 of its accessories within 14
  // days. 0: no accessories.
  double accessory_share = 0;
  double accessory_price = 0;
  double main_price = 0;
  double accessory_follow = 0;
};

ShopProfile ProfileOf(ShopKind kind) {
  ShopProfile p;
  std::fill(std::begin(p.share_factor), std::end(p.share_factor), 1.0);
  auto only = [&](std::initializer_list<std::pair<Category, double>> factors) {
    std::fill(std::begin(p.share_factor), std::end(p.share_factor), 0.0);
    for (const auto& [c, f] : factors) p.share_factor[c] = f;
  };
  switch (kind) {
    case ShopKind::kGeneral:
      break;
    case ShopKind::kGrocery:
      only({{kGrocery, 3}, {kCoffeeTea, 2}, {kSnacks, 2}, {kBaby, 1.5},
            {kHousehold, 2}, {kPet, 1.5}, {kBeauty, 0.5}, {kKitchen, 0.3}});
      p.staple_factor = 1.3;
      p.cycle_factor = 0.7;
      p.min_staples = 3;
      p.max_staples = 10;
      p.orders_median = 40;
      p.discovery_more = 0.75;
      p.max_discoveries = 20;
      p.repeat = 0.35;
      break;
    case ShopKind::kFashion:
      only({{kFashion, 8}, {kBeauty, 2}, {kSports, 1.5}, {kGifts, 1.5}});
      p.staple_factor = 0;
      p.min_staples = 0;
      p.max_staples = 0;
      p.orders_median = 4;
      p.discovery_more = 0.35;
      p.max_discoveries = 5;
      p.repeat = 0.03;
      p.new_discoveries = true;
      p.collection_life_days = 60;
      break;
    case ShopKind::kElectronics:
      only({{kElectronics, 8}, {kBooks, 0.5}, {kToys, 0.5}, {kHome, 0.5},
            {kKitchen, 1}});
      p.staple_factor = 0;
      p.min_staples = 0;
      p.max_staples = 0;
      p.orders_median = 2;
      p.discovery_more = 0.2;
      p.max_discoveries = 3;
      p.repeat = 0.02;
      p.new_discoveries = true;
      p.collection_life_days = 240;
      p.accessory_share = 0.6;
      p.accessory_price = 15;
      p.main_price = 250;
      p.accessory_follow = 0.6;
      break;
  }
  return p;
}

struct Item {
  Category category;
  int id;  // index in the output id space
  int price_cents;
  bool staple;
  int cycle_days;
  // Unix seconds from which it sells (ShopProfile::collection_life_days).
  double listed = 0;
  bool accessory = false;
  // Main devices: catalogue indexes of their accessories.
  std::vector<int> accessories;
};

struct Catalogue {
  std::vector<Item> items;
  // Per category: all items and staple items, sampled by Zipf popularity.
  std::vector<int> count;
  std::vector<std::vector<int>> members;
  std::vector<Discrete> by_popularity;
  std::vector<std::vector<int>> staple_members;
  std::vector<Discrete> staples_by_popularity;
};

Catalogue MakeCatalogue(int num_items, const ShopProfile& profile,
                        int64_t start, int64_t end, Rng& rng) {
  Catalogue cat;
  // Largest-remainder split of the catalogue over the categories.
  auto share = [&](int c) { return kCategories[c].share * profile.share_factor[c]; };
  double total_share = 0;
  for (int c = 0; c < kNumCategories; ++c) total_share += share(c);
  cat.count.assign(kNumCategories, 0);
  std::vector<std::pair<double, int>> remainders;
  int assigned = 0;
  for (int c = 0; c < kNumCategories; ++c) {
    const double exact = num_items * share(c) / total_share;
    cat.count[c] = static_cast<int>(exact);
    assigned += cat.count[c];
    remainders.emplace_back(-(exact - cat.count[c]), c);
  }
  std::sort(remainders.begin(), remainders.end());
  for (int k = 0; assigned < num_items; ++k, ++assigned) {
    // Categories a kind of shop leaves out get no remainder either.
    while (share(remainders[k % kNumCategories].second) <= 0) ++k;
    ++cat.count[remainders[k % kNumCategories].second];
  }

  // Shuffled output ids, so an id says nothing about the category.
  std::vector<int> ids(num_items);
  std::iota(ids.begin(), ids.end(), 0);
  for (int i = num_items - 1; i > 0; --i)
    std::swap(ids[i], ids[static_cast<int>(rng.UniformMulShift32(i + 1))]);

  cat.members.resize(kNumCategories);
  cat.staple_members.resize(kNumCategories);
  cat.by_popularity.resize(kNumCategories);
  cat.staples_by_popularity.resize(kNumCategories);
  for (int c = 0; c < kNumCategories; ++c) {
    const CategorySpec& spec = kCategories[c];
    const double staple_share = std::min(0.95, spec.staple_share * profile.staple_factor);
    const int cycle_min = static_cast<int>(std::lround(spec.cycle_min_days * profile.cycle_factor));
    const int cycle_max = static_cast<int>(std::lround(spec.cycle_max_days * profile.cycle_factor));
    const bool devices = c == kElectronics && profile.accessory_share > 0;
    std::vector<double> weights, staple_weights;
    for (int rank = 0; rank < cat.count[c]; ++rank) {
      Item item;
      item.category = static_cast<Category>(c);
      item.id = ids[cat.items.size()];
      double median_price = spec.median_price;
      if (devices) {
        item.accessory = rng.Bernoulli(profile.accessory_share);
        median_price = item.accessory ? profile.accessory_price : profile.main_price;
      }
      const double price =
          median_price * rng.LogNormal(0, spec.price_sigma);
      item.price_cents =
          std::max(49, static_cast<int>(std::lround(price * 100)));
      // Prices end in 9 like real shelf prices.
      item.price_cents = item.price_cents / 10 * 10 + 9;
      item.staple = rng.Bernoulli(staple_share);
      item.cycle_days =
          item.staple ? cycle_min + static_cast<int>(rng.UniformMulShift32(
                                        cycle_max - cycle_min + 1))
                      : 0;
      if (profile.collection_life_days > 0) {
        const double from = static_cast<double>(start) - 90.0 * kDay;
        item.listed = from + rng.Uniform() * (static_cast<double>(end) - from);
      }
      const double w = 1.0 / std::pow(rank + 1.0, kZipfExponent);
      const int index = static_cast<int>(cat.items.size());
      cat.items.push_back(item);
      cat.members[c].push_back(index);
      weights.push_back(w);
      if (item.staple) {
        cat.staple_members[c].push_back(index);
        staple_weights.push_back(w);
      }
    }
    cat.by_popularity[c] = Discrete(weights);
    cat.staples_by_popularity[c] = Discrete(staple_weights);
  }
  // Each accessory belongs to a main device, chosen by popularity.
  if (profile.accessory_share > 0) {
    std::vector<int> mains;
    std::vector<double> main_weights;
    for (int rank = 0; rank < static_cast<int>(cat.members[kElectronics].size()); ++rank) {
      const int index = cat.members[kElectronics][rank];
      if (cat.items[index].accessory) continue;
      mains.push_back(index);
      main_weights.push_back(1.0 / std::pow(rank + 1.0, kZipfExponent));
    }
    if (!mains.empty()) {
      const Discrete main_sampler(main_weights);
      for (int index : cat.members[kElectronics]) {
        if (!cat.items[index].accessory) continue;
        cat.items[mains[main_sampler.Sample(rng)]].accessories.push_back(index);
      }
    }
  }
  return cat;
}

// Month (1..12) of a day number.
int MonthOfDay(int64_t days) {
  // Howard Hinnant's civil_from_days, month only.
  days += 719468;
  const int64_t era = (days >= 0 ? days : days - 146096) / 146097;
  const int64_t doe = days - era * 146097;
  const int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const int64_t mp = (5 * doy + 2) / 153;
  return static_cast<int>(mp < 10 ? mp + 3 : mp - 9);
}

struct GenRow {
  int64_t ts;
  int64_t seq;
  int32_t user;
  int32_t item;  // catalogue index
  int32_t quantity;
  int32_t price_cents;
};

struct Staple {
  int item;
  double cycle_seconds;
  int quantity;
  double next_due;
};

// Generates one user's orders into `rows`. Each user has its own random
// stream, so users do not influence each other.
void GenerateUser(int user, const ShopOptions& options,
                  const ShopProfile& profile, const Catalogue& cat,
                  const Discrete& segments, const Discrete& hours,
                  int64_t start, int64_t end, std::vector<GenRow>* rows,
                  ShopStats* stats) {
  uint64_t mix = options.seed ^ (0xA0761D6478BD642Full * (user + 1));
  Rng rng(SplitMix64Next(&mix));
  const SegmentSpec& segment = Segments()[segments.Sample(rng)];

  // Taste over categories, and a holiday variant.
  std::vector<double> taste(kNumCategories, 1.0);
  for (const Boost& b : segment.boosts) taste[b.category] = b.factor;
  for (int c = 0; c < kNumCategories; ++c) {
    taste[c] *= rng.LogNormal(0, 0.7);
    if (cat.count[c] == 0) taste[c] = 0;
  }
  std::vector<double> holiday = taste;
  holiday[kGifts] *= 4;
  holiday[kToys] *= 2.5;
  const Discrete taste_sampler(taste), holiday_sampler(holiday);

  // Activity and lifetime.
  const double orders_per_year =
      std::clamp(rng.LogNormal(std::log(profile.orders_median), 0.9), 0.5, 200.0);
  const double span = static_cast<double>(end - start);
  double join = static_cast<double>(start);
  if (rng.Bernoulli(0.3)) join += rng.Uniform() * 0.8 * span;
  double leave = static_cast<double>(end);
  if (rng.Bernoulli(0.2)) {
    leave = join + 14.0 * kDay +
            rng.Uniform() * std::max(0.0, end - join - 14.0 * kDay);
    leave = std::min<double>(leave, end);
  }

  // Staples: consumables re-bought on a personal cycle.
  std::vector<Staple> staples;
  const double u = rng.Uniform();
  const int num_staples =
      profile.max_staples >= 0
          ? profile.min_staples +
                static_cast<int>(u * (profile.max_staples - profile.min_staples + 1))
      : u < 0.2  ? 0
      : u < 0.45 ? 1
      : u < 0.7  ? 2
      : u < 0.88 ? 3
                 : 4;
  for (int s = 0; s < num_staples; ++s) {
    for (int attempt = 0; attempt < 20; ++attempt) {
      const int c = taste_sampler.Sample(rng);
      if (cat.staples_by_popularity[c].empty()) continue;
      const int item =
          cat.staple_members[c][cat.staples_by_popularity[c].Sample(rng)];
      bool duplicate = false;
      for (const Staple& st : staples) duplicate |= st.item == item;
      if (duplicate) continue;
      Staple st;
      st.item = item;
      st.cycle_seconds =
          cat.items[item].cycle_days * kDay * rng.LogNormal(0, 0.25);
      st.quantity =
          1 + (rng.Bernoulli(0.35) ? 1 : 0) + (rng.Bernoulli(0.1) ? 1 : 0);
      st.next_due = join + rng.Uniform() * st.cycle_seconds;
      staples.push_back(st);
      break;
    }
  }

  // Order times: a Poisson process over [join, leave), thinned by weekday.
  const double rate = orders_per_year / (365.0 * kDay);
  std::vector<int64_t> order_times;
  for (double t = join + rng.Exponential(rate); t < leave;
       t += rng.Exponential(rate)) {
    const int64_t day = static_cast<int64_t>(std::floor(t / kDay));
    const int weekday = static_cast<int>(((day + 3) % 7 + 7) % 7);
    if (!rng.Bernoulli(kWeekday[weekday] / 1.2)) continue;
    order_times.push_back(day * kDay);
  }
  if (order_times.empty()) {
    const double t = join + rng.Uniform() * (leave - join);
    order_times.push_back(static_cast<int64_t>(std::floor(t / kDay)) * kDay);
  }

  std::vector<int> history;
  std::vector<int> basket;
  int64_t seq = static_cast<int64_t>(rows->size());
  for (int64_t day_start : order_times) {
    const int64_t ts = std::clamp<int64_t>(
        day_start + hours.Sample(rng) * 3600 +
            static_cast<int>(rng.UniformMulShift32(3600)),
        start, end - 1);
    basket.clear();
    auto add = [&](int item, int quantity, bool staple) {
      int price = cat.items[item].price_cents;
      if (rng.Bernoulli(0.08)) {
        price =
            std::max(9, static_cast<int>(price * (0.7 + 0.2 * rng.Uniform())));
      }
      rows->push_back(GenRow{ts, seq++, user, item, quantity, price});
      basket.push_back(item);
      if (staple) ++stats->staple_rows;
    };
    for (Staple& st : staples) {
      if (ts < st.next_due - 0.2 * st.cycle_seconds) continue;
      add(st.item, st.quantity, true);
      st.next_due = ts + st.cycle_seconds * rng.LogNormal(0, 0.15);
    }
    int discoveries = 1;
    while (discoveries < profile.max_discoveries && rng.Bernoulli(profile.discovery_more)) {
      ++discoveries;
    }
    const int month = MonthOfDay(day_start / kDay);
    const Discrete& categories = month >= 11 ? holiday_sampler : taste_sampler;
    // Collections sell only once listed, mostly while new.
    const int attempts = profile.collection_life_days > 0 ? 12 : 4;
    for (int k = 0; k < discoveries; ++k) {
      // Shops of new discoveries decide a re-buy once per discovery; the
      // general store draws it per attempt.
      const bool rebuy = profile.new_discoveries && !history.empty() &&
                         rng.Bernoulli(profile.repeat);
      for (int attempt = 0; attempt < attempts; ++attempt) {
        int item;
        if (profile.new_discoveries
                ? rebuy
                : !history.empty() && rng.Bernoulli(profile.repeat)) {
          item = history[rng.UniformMulShift32(
              static_cast<uint32_t>(history.size()))];
        } else {
          const int c = categories.Sample(rng);
          item = cat.members[c][cat.by_popularity[c].Sample(rng)];
          if (profile.new_discoveries &&
              std::find(history.begin(), history.end(), item) != history.end()) {
            continue;
          }
          if (profile.collection_life_days > 0) {
            const double age_days = (ts - cat.items[item].listed) / kDay;
            if (age_days < 0 ||
                !rng.Bernoulli(std::exp(-age_days / profile.collection_life_days))) {
              continue;
            }
          }
        }
        if (std::find(basket.begin(), basket.end(), item) != basket.end()) {
          continue;
        }
        add(item, rng.Bernoulli(0.12) ? 2 : 1, false);
        history.push_back(item);
        // A main device brings its accessories within two weeks.
        const std::vector<int>& accessories = cat.items[item].accessories;
        if (!accessories.empty() && rng.Bernoulli(profile.accessory_follow)) {
          const int64_t later = std::min<int64_t>(
              ts + static_cast<int64_t>(rng.Uniform() * 14 * kDay), end - 1);
          const int n = 1 + (rng.Bernoulli(0.4) ? 1 : 0) + (rng.Bernoulli(0.2) ? 1 : 0);
          std::vector<int> chosen;
          for (int a = 0; a < n; ++a) {
            const int accessory = accessories[rng.UniformMulShift32(
                static_cast<uint32_t>(accessories.size()))];
            if (std::find(chosen.begin(), chosen.end(), accessory) != chosen.end()) continue;
            chosen.push_back(accessory);
            rows->push_back(
                GenRow{later, seq++, user, accessory, 1, cat.items[accessory].price_cents});
            history.push_back(accessory);
          }
          ++stats->orders;
        }
        break;
      }
    }
    ++stats->orders;
  }
  ++stats->active_users;
}

std::string PaddedId(char prefix, int value, int width) {
  return absl::StrFormat("%c%0*d", prefix, width, value);
}

}  // namespace

absl::string_view ShopKindName(ShopKind kind) {
  switch (kind) {
    case ShopKind::kGeneral:
      return "general";
    case ShopKind::kGrocery:
      return "grocery";
    case ShopKind::kFashion:
      return "fashion";
    case ShopKind::kElectronics:
      return "electronics";
  }
  return "unknown";
}

absl::StatusOr<ShopKind> ParseShopKind(absl::string_view name) {
  for (ShopKind kind : {ShopKind::kGeneral, ShopKind::kGrocery, ShopKind::kFashion,
                        ShopKind::kElectronics}) {
    if (name == ShopKindName(kind)) return kind;
  }
  return absl::InvalidArgumentError(absl::StrCat(
      "unknown shop kind '", name, "' (expected general, grocery, fashion or electronics)"));
}

const std::vector<std::string>& ShopCategories() {
  static const auto* names = [] {
    auto* v = new std::vector<std::string>();
    for (const CategorySpec& c : kCategories) v->emplace_back(c.name);
    return v;
  }();
  return *names;
}

absl::StatusOr<ShopStats> GenerateShop(
    const ShopOptions& options,
    const std::function<void(const PurchaseRow&)>& on_row) {
  if (options.users < 1 || options.items < 1 || options.days < 1) {
    return absl::InvalidArgumentError(
        "datagen: users, items and days must be >= 1");
  }
  if (options.users > 100'000'000 || options.items > 10'000'000 ||
      options.days > 36'500) {
    return absl::InvalidArgumentError(
        "datagen: at most 1e8 users, 1e7 items and 36500 days");
  }
  if (options.end_date.size() != 10) {
    return absl::InvalidArgumentError(absl::StrCat(
        "datagen: end_date '", options.end_date, "' is not YYYY-MM-DD"));
  }
  const std::optional<int64_t> end_day = ParseTimestamp(options.end_date);
  if (!end_day) {
    return absl::InvalidArgumentError(absl::StrCat(
        "datagen: end_date '", options.end_date, "' is not YYYY-MM-DD"));
  }
  const int64_t end = *end_day + kDay;
  const int64_t start = end - int64_t{options.days} * kDay;

  Rng rng(options.seed);
  const ShopProfile profile = ProfileOf(options.kind);
  const Catalogue cat = MakeCatalogue(options.items, profile, start, end, rng);
  std::vector<double> segment_shares;
  for (const SegmentSpec& s : Segments()) segment_shares.push_back(s.share);
  const Discrete segments(segment_shares);
  const Discrete hours(std::vector<double>(std::begin(kHour), std::end(kHour)));

  ShopStats stats;
  std::vector<GenRow> rows;
  rows.reserve(static_cast<size_t>(options.users) * 25);
  for (int u = 0; u < options.users; ++u) {
    GenerateUser(u, options, profile, cat, segments, hours, start, end, &rows, &stats);
  }
  std::sort(rows.begin(), rows.end(), [](const GenRow& a, const GenRow& b) {
    return a.ts != b.ts ? a.ts < b.ts : a.seq < b.seq;
  });

  const int user_width = std::max<int>(
      6, static_cast<int>(std::to_string(options.users - 1).size()));
  const int item_width = std::max<int>(
      5, static_cast<int>(std::to_string(options.items - 1).size()));
  std::vector<bool> sold(options.items, false);
  PurchaseRow out;
  for (const GenRow& r : rows) {
    const Item& item = cat.items[r.item];
    out.user_id = PaddedId('u', r.user, user_width);
    out.item_id = PaddedId('i', item.id, item_width);
    out.timestamp_unix = r.ts;
    out.quantity = r.quantity;
    out.price = r.price_cents / 100.0;
    out.category = kCategories[item.category].name;
    sold[item.id] = true;
    on_row(out);
  }
  stats.rows = static_cast<int64_t>(rows.size());
  stats.sold_items =
      static_cast<int32_t>(std::count(sold.begin(), sold.end(), true));
  if (!rows.empty()) {
    stats.first_unix = rows.front().ts;
    stats.last_unix = rows.back().ts;
  }
  return stats;
}

absl::StatusOr<ShopStats> WriteShopCsv(const ShopOptions& options,
                                       const std::string& path) {
  const bool gz = absl::EndsWith(path, ".gz");
  gzFile gz_file = nullptr;
  FILE* file = nullptr;
  errno = 0;
  if (gz) {
    gz_file = gzopen(path.c_str(), "wb6");
  } else {
    file = std::fopen(path.c_str(), "wb");
  }
  if (gz_file == nullptr && file == nullptr) {
    const int err = errno;
    const std::string message = absl::StrCat(
        path, ": cannot create: ", err ? std::strerror(err) : "zlib");
    return err == EACCES ? absl::PermissionDeniedError(message)
                         : absl::InternalError(message);
  }
  bool write_ok = true;
  std::string buffer;
  auto flush = [&] {
    if (buffer.empty() || !write_ok) return;
    if (gz) {
      write_ok = gzwrite(gz_file, buffer.data(),
                         static_cast<unsigned>(buffer.size())) ==
                 static_cast<int>(buffer.size());
    } else {
      write_ok =
          std::fwrite(buffer.data(), 1, buffer.size(), file) == buffer.size();
    }
    buffer.clear();
  };
  buffer = "user_id,item_id,timestamp,quantity,price,category\n";
  absl::StatusOr<ShopStats> stats =
      GenerateShop(options, [&](const PurchaseRow& row) {
        absl::StrAppendFormat(&buffer, "%s,%s,%d,%d,%.2f,%s\n", row.user_id,
                              row.item_id, row.timestamp_unix,
                              static_cast<int>(row.quantity), row.price,
                              row.category);
        if (buffer.size() >= (1 << 20)) flush();
      });
  flush();
  const bool close_ok = gz ? gzclose(gz_file) == Z_OK : std::fclose(file) == 0;
  if (!stats.ok()) {
    std::remove(path.c_str());
    return stats.status();
  }
  if (!write_ok || !close_ok) {
    return absl::InternalError(absl::StrCat(path, ": write failed"));
  }
  return stats;
}

}  // namespace recsys::training
