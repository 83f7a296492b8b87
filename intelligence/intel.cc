#include "intelligence/intel.h"

#include <algorithm>
#include <charconv>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "common/status_macros.h"

namespace recsys::intelligence {
namespace {

constexpr char kHeader[] =
    "user_id\tas_of\ttags\taffinities\tpurchase_intent\tchurn_risk\tcycle_"
    "days\t"
    "next_purchase_unix\trelative_price_level\tdiscount_share\tgrowth_"
    "value\tgrowth_tier\t"
    "due_items\tbirthday\tlive";
// The headers of files written before the live column, and before the
// birthday column.
constexpr char kHeaderWithoutLive[] =
    "user_id\tas_of\ttags\taffinities\tpurchase_intent\tchurn_risk\tcycle_"
    "days\t"
    "next_purchase_unix\trelative_price_level\tdiscount_share\tgrowth_"
    "value\tgrowth_tier\t"
    "due_items\tbirthday";
constexpr char kHeaderWithoutBirthday[] =
    "user_id\tas_of\ttags\taffinities\tpurchase_intent\tchurn_risk\tcycle_"
    "days\t"
    "next_purchase_unix\trelative_price_level\tdiscount_share\tgrowth_"
    "value\tgrowth_tier\t"
    "due_items";

std::string Num(double value) {
  char buffer[64];
  auto [end, ec] = std::to_chars(buffer, buffer + sizeof(buffer), value);
  if (ec != std::errc()) return "0";
  return std::string(buffer, end);
}

bool Clean(absl::string_view text) {
  return text.find_first_of("\t\n\r|=@") == absl::string_view::npos;
}

}  // namespace

bool UserIntel::HasTag(absl::string_view tag) const {
  return std::binary_search(tags.begin(), tags.end(), tag);
}

const std::vector<std::string>& IntelFieldNames() {
  static const auto* names =
      new std::vector<std::string>{"as_of",
                                   "tags",
                                   "affinities",
                                   "purchase_intent",
                                   "churn_risk",
                                   "cycle_days",
                                   "next_purchase_unix",
                                   "relative_price_level",
                                   "discount_share",
                                   "growth_value",
                                   "growth_tier",
                                   "due_items",
                                   "birthday",
                                   "live"};
  return *names;
}

std::vector<std::string> EncodeIntelFields(const UserIntel& u,
                                           int64_t* dropped) {
  int64_t left_out = 0;
  int month = 0, day = 0;
  if (!u.birthday.empty() && !ParseBirthday(u.birthday, &month, &day)) ++left_out;
  std::vector<std::string> tags, affinities, due;
  for (const std::string& t : u.tags) {
    if (Clean(t) && !t.empty()) {
      tags.push_back(t);
    } else {
      ++left_out;
    }
  }
  for (const auto& [category, share] : u.affinities) {
    if (Clean(category) && !category.empty()) {
      affinities.push_back(absl::StrCat(category, "=", Num(share)));
    } else {
      ++left_out;
    }
  }
  for (const DueItem& d : u.due_items) {
    if (Clean(d.item_id) && !d.item_id.empty()) {
      due.push_back(
          absl::StrCat(d.item_id, "@", d.due_unix, "@", Num(d.cycle_days)));
    } else {
      ++left_out;
    }
  }
  std::vector<std::string> live;
  for (const LiveProgress& p : u.live) {
    if (Clean(p.tag) && !p.tag.empty() && Clean(p.category) && !p.category.empty()) {
      live.push_back(absl::StrCat(p.tag, "@", p.category, "@", p.min_purchases, "@",
                                  Num(p.min_spend), "@", p.min_views, "@", p.purchases, "@",
                                  Num(p.spend), "@", p.views));
    } else {
      ++left_out;
    }
  }
  if (dropped != nullptr) *dropped += left_out;
  return {absl::StrCat(u.as_of_unix),
          absl::StrJoin(tags, "|"),
          absl::StrJoin(affinities, "|"),
          Num(u.purchase_intent),
          Num(u.churn_risk),
          Num(u.cycle_days),
          absl::StrCat(u.next_purchase_unix),
          Num(u.relative_price_level),
          Num(u.discount_share),
          Num(u.growth_value),
          Clean(u.growth_tier) ? u.growth_tier : "",
          absl::StrJoin(due, "|"),
          ParseBirthday(u.birthday, &month, &day) ? absl::StrFormat("%02d-%02d", month, day) : "",
          absl::StrJoin(live, "|")};
}

absl::StatusOr<UserIntel> DecodeIntelFields(
    absl::string_view user_id, absl::Span<const absl::string_view> f) {
  if (f.size() != kIntelFields) {
    return absl::InvalidArgumentError(
        absl::StrCat("fields: ", f.size(), ", expected ", kIntelFields));
  }
  const std::vector<std::string>& names = IntelFieldNames();
  auto bad = [&](int i) {
    return absl::InvalidArgumentError(
        absl::StrCat(names[i], ": malformed '", f[i], "'"));
  };
  UserIntel u;
  u.user_id = std::string(user_id);
  if (!absl::SimpleAtoi(f[0], &u.as_of_unix)) return bad(0);
  for (absl::string_view t : absl::StrSplit(f[1], '|', absl::SkipEmpty()))
    u.tags.emplace_back(t);
  std::sort(u.tags.begin(), u.tags.end());
  for (absl::string_view a : absl::StrSplit(f[2], '|', absl::SkipEmpty())) {
    const std::vector<absl::string_view> kv = absl::StrSplit(a, '=');
    double share = 0;
    if (kv.size() != 2 || kv[0].empty() || !absl::SimpleAtod(kv[1], &share))
      return bad(2);
    u.affinities.emplace_back(std::string(kv[0]), share);
  }
  if (!absl::SimpleAtod(f[3], &u.purchase_intent)) return bad(3);
  if (!absl::SimpleAtod(f[4], &u.churn_risk)) return bad(4);
  if (!absl::SimpleAtod(f[5], &u.cycle_days)) return bad(5);
  if (!absl::SimpleAtoi(f[6], &u.next_purchase_unix)) return bad(6);
  if (!absl::SimpleAtod(f[7], &u.relative_price_level)) return bad(7);
  if (!absl::SimpleAtod(f[8], &u.discount_share)) return bad(8);
  if (!absl::SimpleAtod(f[9], &u.growth_value)) return bad(9);
  u.growth_tier = std::string(f[10]);
  for (absl::string_view d : absl::StrSplit(f[11], '|', absl::SkipEmpty())) {
    const std::vector<absl::string_view> parts = absl::StrSplit(d, '@');
    DueItem item;
    if (parts.size() != 3 || parts[0].empty() ||
        !absl::SimpleAtoi(parts[1], &item.due_unix) ||
        !absl::SimpleAtod(parts[2], &item.cycle_days)) {
      return bad(11);
    }
    item.item_id = std::string(parts[0]);
    u.due_items.push_back(std::move(item));
  }
  int month = 0, day = 0;
  if (!f[12].empty()) {
    if (!ParseBirthday(f[12], &month, &day)) return bad(12);
    u.birthday = absl::StrFormat("%02d-%02d", month, day);
  }
  for (absl::string_view entry : absl::StrSplit(f[13], '|', absl::SkipEmpty())) {
    const std::vector<absl::string_view> parts = absl::StrSplit(entry, '@');
    LiveProgress p;
    if (parts.size() != 8 || parts[0].empty() || parts[1].empty() ||
        !absl::SimpleAtoi(parts[2], &p.min_purchases) || !absl::SimpleAtod(parts[3], &p.min_spend) ||
        !absl::SimpleAtoi(parts[4], &p.min_views) || !absl::SimpleAtoi(parts[5], &p.purchases) ||
        !absl::SimpleAtod(parts[6], &p.spend) || !absl::SimpleAtoi(parts[7], &p.views)) {
      return bad(13);
    }
    p.tag = std::string(parts[0]);
    p.category = std::string(parts[1]);
    u.live.push_back(std::move(p));
  }
  return u;
}

absl::string_view IntelTsvHeader() {
  static const std::string* const kHeaderLine = new std::string(absl::StrCat(kHeader, "\n"));
  return *kHeaderLine;
}

absl::Status AppendIntelTsvLine(const UserIntel& u, std::string* out, int64_t* dropped) {
  if (u.user_id.empty() || u.user_id.find_first_of("\t\n\r") != std::string::npos) {
    return absl::InvalidArgumentError(
        absl::StrCat("user_id: empty or with a tab or line break: '", u.user_id, "'"));
  }
  absl::StrAppend(out, u.user_id, "\t", absl::StrJoin(EncodeIntelFields(u, dropped), "\t"),
                  "\n");
  return absl::OkStatus();
}

absl::StatusOr<std::string> IntelToTsv(absl::Span<const UserIntel> users,
                                       int64_t* dropped) {
  if (dropped != nullptr) *dropped = 0;
  std::string out(IntelTsvHeader());
  for (const UserIntel& u : users) {
    RECSYS_RETURN_IF_ERROR(AppendIntelTsvLine(u, &out, dropped));
  }
  return out;
}

absl::Status ForEachIntelBatch(
    absl::string_view text, int batch,
    const std::function<absl::Status(absl::Span<const UserIntel>)>& fn) {
  if (text.empty()) return absl::DataLossError("intel.tsv: empty");
  batch = std::max(batch, 1);
  std::vector<UserIntel> users;
  users.reserve(batch);
  int64_t line_number = 0;
  int columns = kIntelFields + 1;
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    ++line_number;
    if (line_number == 1) {
      if (line == kHeaderWithoutBirthday) {
        columns = kIntelFields - 1;
      } else if (line == kHeaderWithoutLive) {
        columns = kIntelFields;
      } else if (line != kHeader) {
        return absl::DataLossError("intel.tsv line 1: unexpected header");
      }
      continue;
    }
    if (line.empty()) continue;
    std::vector<absl::string_view> f = absl::StrSplit(line, '\t');
    if (static_cast<int>(f.size()) != columns || f[0].empty()) {
      return absl::DataLossError(
          absl::StrCat("intel.tsv line ", line_number, ": ", f.size(),
                       " columns, expected ", columns));
    }
    // Older files: no birthday, no live progress.
    while (static_cast<int>(f.size()) < kIntelFields + 1) f.push_back("");
    auto u = DecodeIntelFields(f[0], absl::MakeConstSpan(f).subspan(1));
    if (!u.ok()) {
      return absl::DataLossError(absl::StrCat("intel.tsv line ", line_number,
                                              ": ", u.status().message()));
    }
    users.push_back(*std::move(u));
    if (static_cast<int>(users.size()) == batch) {
      RECSYS_RETURN_IF_ERROR(fn(users));
      users.clear();
    }
  }
  if (!users.empty()) RECSYS_RETURN_IF_ERROR(fn(users));
  return absl::OkStatus();
}

absl::StatusOr<std::vector<UserIntel>> ParseIntelTsv(absl::string_view text) {
  std::vector<UserIntel> users;
  RECSYS_RETURN_IF_ERROR(ForEachIntelBatch(
      text, 1 << 16, [&users](absl::Span<const UserIntel> batch) {
        users.insert(users.end(), batch.begin(), batch.end());
        return absl::OkStatus();
      }));
  return users;
}

bool ParseBirthday(absl::string_view text, int* month, int* day) {
  if (text.size() == 10 && text[4] == '-') {
    for (int i = 0; i < 4; ++i) {
      if (!absl::ascii_isdigit(text[i])) return false;
    }
    text.remove_prefix(5);
  }
  if (text.size() != 5 || text[2] != '-') return false;
  int m = 0, d = 0;
  if (!absl::ascii_isdigit(text[0]) || !absl::ascii_isdigit(text[1]) ||
      !absl::ascii_isdigit(text[3]) || !absl::ascii_isdigit(text[4]) ||
      !absl::SimpleAtoi(text.substr(0, 2), &m) || !absl::SimpleAtoi(text.substr(3, 2), &d)) {
    return false;
  }
  // Days per month in a leap year: 02-29 is a birthday.
  static constexpr int kDays[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  if (m < 1 || m > 12 || d < 1 || d > kDays[m - 1]) return false;
  *month = m;
  *day = d;
  return true;
}

}  // namespace recsys::intelligence
