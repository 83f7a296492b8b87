#include "evaluation/dataset.h"

#include <zlib.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <utility>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "common/random.h"
#include "common/status_macros.h"

namespace recsys::evaluation {
namespace {

using training::CsrMatrix;
using training::InteractionBuilder;
using training::InteractionData;
using training::InteractionOptions;
using training::PurchaseRow;

int32_t Intern(absl::string_view id,
               absl::flat_hash_map<std::string, int32_t>* index,
               std::vector<std::string>* ids) {
  auto [it, inserted] =
      index->try_emplace(id, static_cast<int32_t>(ids->size()));
  if (inserted) ids->emplace_back(id);
  return it->second;
}

// Builds InteractionData from the rows of `log` accepted by `keep`.
template <typename Keep>
InteractionData BuildFiltered(const PurchaseLog& log,
                              const InteractionOptions& options,
                              const Keep& keep) {
  InteractionBuilder builder(options);
  PurchaseRow row;
  for (size_t r = 0; r < log.rows.size(); ++r) {
    const Purchase& p = log.rows[r];
    if (!keep(r, p)) continue;
    FillPurchaseRow(log, p, &row);
    builder.Add(row);
  }
  return builder.Build();
}

// Row of every log id in `data` (-1 when absent).
std::vector<int32_t> MapIds(const std::vector<std::string>& log_ids,
                            const std::vector<std::string>& data_ids) {
  absl::flat_hash_map<absl::string_view, int32_t> rows;
  rows.reserve(data_ids.size());
  for (size_t i = 0; i < data_ids.size(); ++i) {
    rows.emplace(data_ids[i], static_cast<int32_t>(i));
  }
  std::vector<int32_t> out(log_ids.size(), -1);
  for (size_t i = 0; i < log_ids.size(); ++i) {
    auto it = rows.find(log_ids[i]);
    if (it != rows.end()) out[i] = it->second;
  }
  return out;
}

// Turns per-log-user test item sets into EvalUsers over `split->train`.
void FillUsers(const PurchaseLog& log,
               const std::vector<std::vector<int32_t>>& test_by_log_user,
               EvalSplit* split) {
  const InteractionData& train = split->train;
  const std::vector<int32_t> user_row = MapIds(log.user_ids, train.user_ids);
  const std::vector<int32_t> item_row = MapIds(log.item_ids, train.item_ids);
  absl::flat_hash_map<int32_t, int32_t> unknown_items;
  absl::flat_hash_set<int32_t> test_items;
  SplitStats& stats = split->stats;
  double sum_test = 0;
  double sum_new = 0;
  for (size_t lu = 0; lu < test_by_log_user.size(); ++lu) {
    const std::vector<int32_t>& items = test_by_log_user[lu];
    if (items.empty()) continue;
    ++stats.test_period_users;
    for (int32_t li : items) test_items.insert(li);
    const int32_t u = user_row[lu];
    if (u < 0) continue;
    EvalUser eu;
    eu.user = u;
    for (int32_t li : items) {
      int32_t row = item_row[li];
      if (row < 0) {
        auto [it, inserted] = unknown_items.try_emplace(
            li, train.num_items() + static_cast<int32_t>(unknown_items.size()));
        row = it->second;
      }
      eu.test_items.push_back(row);
    }
    std::sort(eu.test_items.begin(), eu.test_items.end());
    eu.test_items.erase(std::unique(eu.test_items.begin(), eu.test_items.end()),
                        eu.test_items.end());
    const CsrMatrix& m = train.events;
    const int32_t* hb = m.indices.data() + m.row_begin(u);
    const int32_t* he = m.indices.data() + m.row_end(u);
    for (int32_t i : eu.test_items) {
      if (!std::binary_search(hb, he, i)) eu.new_items.push_back(i);
    }
    sum_test += eu.test_items.size();
    sum_new += eu.new_items.size();
    if (!eu.new_items.empty()) ++stats.users_with_new_items;
    split->users.push_back(std::move(eu));
  }
  std::sort(
      split->users.begin(), split->users.end(),
      [](const EvalUser& a, const EvalUser& b) { return a.user < b.user; });
  stats.evaluated_users = static_cast<int64_t>(split->users.size());
  stats.test_items = static_cast<int64_t>(test_items.size());
  for (int32_t li : test_items) {
    if (item_row[li] < 0) ++stats.test_items_unknown;
  }
  if (stats.evaluated_users > 0) {
    stats.mean_test_items = sum_test / stats.evaluated_users;
    stats.mean_new_items = sum_new / stats.evaluated_users;
  }
}

// Recomputes ItemInfo::purchases and buyers from the event matrix (after
// pairs were removed).
void RecountItems(InteractionData* data) {
  for (training::ItemInfo& info : data->items) {
    info.purchases = 0;
    info.buyers = 0;
  }
  const CsrMatrix& m = data->events;
  for (int64_t k = 0; k < m.nnz(); ++k) {
    training::ItemInfo& info = data->items[m.indices[k]];
    info.purchases += static_cast<int64_t>(m.values[k]);
    ++info.buyers;
  }
}

// Line reader over a plain or gzip file.
class LineReader {
 public:
  static absl::StatusOr<LineReader> Open(const std::string& path) {
    gzFile f = gzopen(path.c_str(), "rb");
    if (f == nullptr) {
      return absl::NotFoundError(absl::StrCat(path, ": cannot open"));
    }
    return LineReader(f, path);
  }
  LineReader(LineReader&& other) noexcept
      : file_(std::exchange(other.file_, nullptr)),
        path_(std::move(other.path_)),
        line_(other.line_) {}
  LineReader(const LineReader&) = delete;
  ~LineReader() {
    if (file_ != nullptr) gzclose(static_cast<gzFile>(file_));
  }

  // Next line without its line break; false at the end.
  absl::StatusOr<bool> Next(std::string* out) {
    out->clear();
    char buf[8192];
    while (true) {
      char* got = gzgets(static_cast<gzFile>(file_), buf, sizeof(buf));
      if (got == nullptr) {
        int err = 0;
        const char* msg = gzerror(static_cast<gzFile>(file_), &err);
        if (err != Z_OK && err != Z_STREAM_END) {
          return absl::DataLossError(absl::StrCat(path_, ": ", msg));
        }
        if (out->empty()) return false;
        break;
      }
      out->append(got);
      if (!out->empty() && out->back() == '\n') break;
    }
    ++line_;
    while (!out->empty() && (out->back() == '\n' || out->back() == '\r')) {
      out->pop_back();
    }
    return true;
  }

  int64_t line() const { return line_; }
  const std::string& path() const { return path_; }

 private:
  LineReader(gzFile f, std::string path) : file_(f), path_(std::move(path)) {}
  void* file_;
  std::string path_;
  int64_t line_ = 0;
};

absl::Status BadLine(const LineReader& r, absl::string_view what) {
  return absl::InvalidArgumentError(
      absl::StrCat(r.path(), ":", r.line(), ": ", what));
}

bool ParseId(absl::string_view s, int32_t* out) {
  return absl::SimpleAtoi(absl::StripAsciiWhitespace(s), out) && *out >= 0;
}

}  // namespace

absl::StatusOr<PurchaseLog> ReadPurchaseLog(
    const std::string& path, const training::ReadOptions& options) {
  PurchaseLog log;
  absl::flat_hash_map<std::string, int32_t> users;
  absl::flat_hash_map<std::string, int32_t> items;
  RECSYS_RETURN_IF_ERROR(training::ReadPurchases(
      path, options,
      [&](const PurchaseRow& row) {
        Purchase p;
        p.user = Intern(row.user_id, &users, &log.user_ids);
        p.item = Intern(row.item_id, &items, &log.item_ids);
        log.item_categories.resize(log.item_ids.size());
        log.item_titles.resize(log.item_ids.size());
        if (!row.category.empty()) log.item_categories[p.item] = row.category;
        if (!row.title.empty()) log.item_titles[p.item] = row.title;
        p.timestamp_unix = row.timestamp_unix;
        p.quantity = row.quantity;
        log.rows.push_back(p);
      },
      &log.read_stats));
  if (log.rows.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat(path, ": no usable purchase rows (read ",
                     log.read_stats.rows_read, ")"));
  }
  log.first_unix = log.read_stats.first_unix;
  log.last_unix = log.read_stats.last_unix;
  return log;
}

void FillPurchaseRow(const PurchaseLog& log, const Purchase& p, PurchaseRow* row) {
  row->user_id = log.user_ids[p.user];
  row->item_id = log.item_ids[p.item];
  row->timestamp_unix = p.timestamp_unix;
  row->quantity = p.quantity;
  const size_t item = static_cast<size_t>(p.item);
  if (item < log.item_categories.size()) {
    row->category = log.item_categories[item];
  } else {
    row->category.clear();
  }
  if (item < log.item_titles.size()) {
    row->title = log.item_titles[item];
  } else {
    row->title.clear();
  }
}

PurchaseLog SliceByTime(const PurchaseLog& log, int64_t not_before_unix,
                        int64_t before_unix) {
  PurchaseLog out;
  out.read_stats = log.read_stats;
  absl::flat_hash_map<std::string, int32_t> users;
  absl::flat_hash_map<std::string, int32_t> items;
  bool first = true;
  for (const Purchase& p : log.rows) {
    if (p.timestamp_unix < not_before_unix || p.timestamp_unix >= before_unix) {
      continue;
    }
    Purchase q = p;
    q.user = Intern(log.user_ids[p.user], &users, &out.user_ids);
    q.item = Intern(log.item_ids[p.item], &items, &out.item_ids);
    if (out.item_titles.size() < out.item_ids.size()) {
      auto at = [&](const std::vector<std::string>& v) {
        return p.item < static_cast<int32_t>(v.size()) ? v[p.item] : std::string();
      };
      out.item_categories.push_back(at(log.item_categories));
      out.item_titles.push_back(at(log.item_titles));
    }
    out.rows.push_back(q);
    if (first || p.timestamp_unix < out.first_unix) {
      out.first_unix = p.timestamp_unix;
    }
    if (first || p.timestamp_unix > out.last_unix) {
      out.last_unix = p.timestamp_unix;
    }
    first = false;
  }
  out.read_stats.rows_used = static_cast<int64_t>(out.rows.size());
  out.read_stats.first_unix = out.first_unix;
  out.read_stats.last_unix = out.last_unix;
  return out;
}

InteractionData BuildInteractions(const PurchaseLog& log,
                                  const InteractionOptions& options) {
  return BuildFiltered(log, options,
                       [](size_t, const Purchase&) { return true; });
}

EvalSplit SplitByTime(const PurchaseLog& log, int64_t cut_unix,
                      const InteractionOptions& options) {
  EvalSplit split;
  split.kind = "time";
  split.now_unix = cut_unix;
  split.train = BuildFiltered(log, options, [&](size_t, const Purchase& p) {
    return p.timestamp_unix < cut_unix;
  });
  std::vector<std::vector<int32_t>> test(log.user_ids.size());
  for (const Purchase& p : log.rows) {
    if (p.timestamp_unix < cut_unix) {
      ++split.stats.train_rows;
    } else {
      ++split.stats.test_rows;
      test[p.user].push_back(p.item);
    }
  }
  FillUsers(log, test, &split);
  return split;
}

EvalSplit SplitByHoldout(const PurchaseLog& log, double fraction, uint64_t seed,
                         const InteractionOptions& options) {
  EvalSplit split;
  split.kind = "holdout";
  split.test_items_all_new = true;
  split.now_unix = log.last_unix;
  // Distinct items per user, in order of first purchase.
  std::vector<std::vector<int32_t>> items(log.user_ids.size());
  {
    absl::flat_hash_set<uint64_t> seen;
    for (const Purchase& p : log.rows) {
      const uint64_t key =
          (static_cast<uint64_t>(p.user) << 32) | static_cast<uint32_t>(p.item);
      if (seen.insert(key).second) items[p.user].push_back(p.item);
    }
  }
  SplitMix64 rng(seed);
  absl::flat_hash_set<uint64_t> held;
  std::vector<std::vector<int32_t>> test(log.user_ids.size());
  for (size_t u = 0; u < items.size(); ++u) {
    std::vector<int32_t>& mine = items[u];
    const int n = static_cast<int>(mine.size());
    if (n < 2) continue;
    int take = static_cast<int>(std::lround(fraction * n));
    take = std::clamp(take, 1, n - 1);
    // Partial Fisher-Yates: the first `take` entries become the sample.
    for (int i = 0; i < take; ++i) {
      const int j = i + static_cast<int>(rng.UniformModulo(n - i));
      std::swap(mine[i], mine[j]);
      held.insert((static_cast<uint64_t>(u) << 32) |
                  static_cast<uint32_t>(mine[i]));
      test[u].push_back(mine[i]);
    }
  }
  auto is_test = [&](const Purchase& p) {
    return held.contains((static_cast<uint64_t>(p.user) << 32) |
                         static_cast<uint32_t>(p.item));
  };
  split.train = BuildFiltered(
      log, options, [&](size_t, const Purchase& p) { return !is_test(p); });
  for (const Purchase& p : log.rows) {
    if (is_test(p)) {
      ++split.stats.test_rows;
    } else {
      ++split.stats.train_rows;
    }
  }
  FillUsers(log, test, &split);
  return split;
}

absl::StatusOr<LeaveOneOutData> ReadLeaveOneOut(
    const std::string& train_path, const std::string& test_rating_path,
    const std::string& test_negative_path) {
  // Training pairs.
  std::vector<std::pair<int32_t, int32_t>> pairs;
  int32_t max_user = -1;
  int32_t max_item = -1;
  {
    RECSYS_ASSIGN_OR_RETURN(LineReader reader, LineReader::Open(train_path));
    std::string line;
    while (true) {
      RECSYS_ASSIGN_OR_RETURN(bool more, reader.Next(&line));
      if (!more) break;
      if (absl::StripAsciiWhitespace(line).empty()) continue;
      std::vector<absl::string_view> f = absl::StrSplit(line, '\t');
      int32_t u = 0;
      int32_t i = 0;
      if (f.size() < 2 || !ParseId(f[0], &u) || !ParseId(f[1], &i)) {
        if (reader.line() == 1) continue;  // header
        return BadLine(reader, "expected 'user<TAB>item' with ids >= 0");
      }
      pairs.emplace_back(u, i);
      max_user = std::max(max_user, u);
      max_item = std::max(max_item, i);
    }
  }
  // Held-out items.
  std::vector<std::pair<int32_t, int32_t>> tests;
  {
    RECSYS_ASSIGN_OR_RETURN(LineReader reader,
                            LineReader::Open(test_rating_path));
    std::string line;
    while (true) {
      RECSYS_ASSIGN_OR_RETURN(bool more, reader.Next(&line));
      if (!more) break;
      if (absl::StripAsciiWhitespace(line).empty()) continue;
      std::vector<absl::string_view> f = absl::StrSplit(line, '\t');
      int32_t u = 0;
      int32_t i = 0;
      if (f.size() < 2 || !ParseId(f[0], &u) || !ParseId(f[1], &i)) {
        return BadLine(reader, "expected 'user<TAB>item<TAB>...'");
      }
      tests.emplace_back(u, i);
      max_user = std::max(max_user, u);
      max_item = std::max(max_item, i);
    }
  }
  // Negatives.
  std::vector<std::pair<int32_t, std::vector<int32_t>>> negs;
  {
    RECSYS_ASSIGN_OR_RETURN(LineReader reader,
                            LineReader::Open(test_negative_path));
    std::string line;
    while (true) {
      RECSYS_ASSIGN_OR_RETURN(bool more, reader.Next(&line));
      if (!more) break;
      if (absl::StripAsciiWhitespace(line).empty()) continue;
      std::vector<absl::string_view> f =
          absl::StrSplit(line, '\t', absl::SkipWhitespace());
      absl::string_view head = f.empty() ? "" : f[0];
      if (!absl::ConsumePrefix(&head, "(") ||
          !absl::ConsumeSuffix(&head, ")")) {
        return BadLine(reader, "expected '(user,item)' first");
      }
      std::vector<absl::string_view> ui = absl::StrSplit(head, ',');
      int32_t u = 0;
      int32_t i = 0;
      if (ui.size() != 2 || !ParseId(ui[0], &u) || !ParseId(ui[1], &i)) {
        return BadLine(reader, "bad '(user,item)'");
      }
      std::vector<int32_t> list;
      list.reserve(f.size() - 1);
      for (size_t k = 1; k < f.size(); ++k) {
        int32_t n = 0;
        if (!ParseId(f[k], &n)) return BadLine(reader, "bad negative id");
        list.push_back(n);
        max_item = std::max(max_item, n);
      }
      // Checked against the rating file below.
      negs.emplace_back(u, std::move(list));
      negs.back().second.insert(negs.back().second.begin(), i);
      max_user = std::max(max_user, u);
      max_item = std::max(max_item, i);
    }
  }

  LeaveOneOutData data;
  const int32_t num_users = max_user + 1;
  const int32_t num_items = max_item + 1;
  InteractionData& train = data.train;
  std::sort(pairs.begin(), pairs.end());
  pairs.erase(std::unique(pairs.begin(), pairs.end()), pairs.end());
  train.events.rows = num_users;
  train.events.cols = num_items;
  train.events.indptr.assign(num_users + 1, 0);
  train.events.indices.reserve(pairs.size());
  for (const auto& [u, i] : pairs) {
    ++train.events.indptr[u + 1];
    train.events.indices.push_back(i);
  }
  for (int32_t u = 0; u < num_users; ++u) {
    train.events.indptr[u + 1] += train.events.indptr[u];
  }
  train.events.values.assign(pairs.size(), 1.0f);
  train.quantity.assign(pairs.size(), 1.0);
  train.last_unix.assign(pairs.size(), 0);
  train.total_events = static_cast<int64_t>(pairs.size());
  train.rows = static_cast<int64_t>(pairs.size());
  train.user_ids.reserve(num_users);
  for (int32_t u = 0; u < num_users; ++u) {
    train.user_ids.push_back(absl::StrCat(u));
  }
  train.item_ids.reserve(num_items);
  for (int32_t i = 0; i < num_items; ++i) {
    train.item_ids.push_back(absl::StrCat(i));
  }
  train.items.resize(num_items);
  RecountItems(&train);

  data.test_item.assign(num_users, -1);
  data.negatives.assign(num_users, {});
  for (const auto& [u, i] : tests) {
    if (data.test_item[u] != -1) {
      return absl::InvalidArgumentError(absl::StrCat(
          test_rating_path, ": user ", u, " has more than one test item"));
    }
    data.test_item[u] = i;
    ++data.test_users;
  }
  for (auto& [u, list] : negs) {
    const int32_t positive = list.front();
    if (data.test_item[u] != positive) {
      return absl::InvalidArgumentError(
          absl::StrCat(test_negative_path, ": user ", u, " item ", positive,
                       " does not match the test rating file"));
    }
    for (size_t k = 1; k < list.size(); ++k) {
      if (list[k] == positive) {
        ++data.negatives_equal_to_positive;
        continue;
      }
      data.negatives[u].push_back(list[k]);
    }
  }
  return data;
}

LeaveOneOutData CarveLeaveOneOut(const InteractionData& train,
                                 int num_negatives, uint64_t seed) {
  LeaveOneOutData out;
  const CsrMatrix& m = train.events;
  out.test_item.assign(m.rows, -1);
  out.negatives.assign(m.rows, {});
  SplitMix64 rng(seed);
  InteractionData& t = out.train;
  t.user_ids = train.user_ids;
  t.item_ids = train.item_ids;
  t.items = train.items;
  t.first_unix = train.first_unix;
  t.last_event_unix = train.last_event_unix;
  t.events.rows = m.rows;
  t.events.cols = m.cols;
  t.events.indptr.assign(m.rows + 1, 0);
  for (int32_t u = 0; u < m.rows; ++u) {
    const int64_t b = m.row_begin(u);
    const int64_t n = m.row_end(u) - b;
    int64_t skip = -1;
    if (n >= 2) {
      skip = b + static_cast<int64_t>(rng.UniformModulo(static_cast<uint64_t>(n)));
      out.test_item[u] = m.indices[skip];
      ++out.test_users;
      // Negatives: items outside the user's training row.
      const int64_t available = m.cols - n;
      const int want = static_cast<int>(
          std::min<int64_t>(num_negatives, std::max<int64_t>(0, available)));
      absl::flat_hash_set<int32_t> chosen;
      const int32_t* hb = m.indices.data() + b;
      const int32_t* he = m.indices.data() + b + n;
      std::vector<int32_t>& list = out.negatives[u];
      while (static_cast<int>(list.size()) < want) {
        const int32_t cand =
            static_cast<int32_t>(rng.UniformModulo(static_cast<uint64_t>(m.cols)));
        if (std::binary_search(hb, he, cand)) continue;
        if (!chosen.insert(cand).second) continue;
        list.push_back(cand);
      }
    }
    for (int64_t k = b; k < b + n; ++k) {
      if (k == skip) continue;
      t.events.indices.push_back(m.indices[k]);
      t.events.values.push_back(m.values[k]);
      t.quantity.push_back(train.quantity[k]);
      t.last_unix.push_back(train.last_unix[k]);
      t.total_events += static_cast<int64_t>(m.values[k]);
    }
    t.events.indptr[u + 1] = t.events.nnz();
  }
  t.rows = t.total_events;
  RecountItems(&t);
  return out;
}

}  // namespace recsys::evaluation
