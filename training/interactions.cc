#include "training/interactions.h"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <utility>

#include "absl/strings/str_cat.h"

namespace recsys::training {

CsrMatrix Transpose(const CsrMatrix& m) {
  CsrMatrix t;
  t.rows = m.cols;
  t.cols = m.rows;
  t.indptr.assign(static_cast<size_t>(m.cols) + 1, 0);
  for (int32_t c : m.indices) ++t.indptr[c + 1];
  for (int32_t c = 0; c < m.cols; ++c) t.indptr[c + 1] += t.indptr[c];
  t.indices.resize(m.indices.size());
  t.values.resize(m.values.size());
  std::vector<int64_t> next(t.indptr.begin(), t.indptr.end() - 1);
  // Rows are visited in increasing order, so each output row comes out
  // sorted.
  for (int32_t r = 0; r < m.rows; ++r) {
    for (int64_t k = m.indptr[r]; k < m.indptr[r + 1]; ++k) {
      const int64_t dst = next[m.indices[k]]++;
      t.indices[dst] = r;
      t.values[dst] = m.values[k];
    }
  }
  return t;
}

absl::Status ValidateCsr(const CsrMatrix& m) {
  if (m.rows < 0 || m.cols < 0) {
    return absl::InvalidArgumentError("CsrMatrix: negative shape");
  }
  if (m.indptr.size() != static_cast<size_t>(m.rows) + 1 || m.indptr[0] != 0) {
    return absl::InvalidArgumentError(
        "CsrMatrix: indptr must have rows + 1 entries starting at 0");
  }
  if (m.indptr.back() != m.nnz() || m.values.size() != m.indices.size()) {
    return absl::InvalidArgumentError(
        "CsrMatrix: indptr[rows], indices and values disagree on nnz");
  }
  for (int32_t r = 0; r < m.rows; ++r) {
    if (m.indptr[r + 1] < m.indptr[r]) {
      return absl::InvalidArgumentError(
          absl::StrCat("CsrMatrix: indptr decreases at row ", r));
    }
    for (int64_t k = m.indptr[r]; k < m.indptr[r + 1]; ++k) {
      if (m.indices[k] < 0 || m.indices[k] >= m.cols ||
          (k > m.indptr[r] && m.indices[k] <= m.indices[k - 1])) {
        return absl::InvalidArgumentError(absl::StrCat(
            "CsrMatrix: row ", r, " has an out-of-range or unsorted index"));
      }
    }
  }
  return absl::OkStatus();
}

InteractionBuilder::InteractionBuilder(const InteractionOptions& options)
    : options_(options) {}

void InteractionBuilder::Add(const PurchaseRow& row) {
  auto [uit, new_user] = user_index_.try_emplace(
      row.user_id, static_cast<int32_t>(user_ids_.size()));
  if (new_user) user_ids_.push_back(row.user_id);
  const int32_t user = uit->second;
  auto [iit, new_item] = item_index_.try_emplace(
      row.item_id, static_cast<int32_t>(item_ids_.size()));
  if (new_item) {
    item_ids_.push_back(row.item_id);
    items_.emplace_back();
  }
  const int32_t item = iit->second;
  const int64_t ts = row.timestamp_unix;

  if (rows_ == 0) {
    first_unix_ = last_unix_ = ts;
  } else {
    first_unix_ = std::min(first_unix_, ts);
    last_unix_ = std::max(last_unix_, ts);
  }
  ++rows_;

  ItemInfo& info = items_[item];
  if (!row.category.empty()) info.category = row.category;
  if (!row.title.empty()) info.title = row.title;
  if (new_item || ts >= info.price_unix) {
    info.price = row.price;
    info.price_unix = ts;
  }

  const uint64_t key =
      (static_cast<uint64_t>(static_cast<uint32_t>(user)) << 32) |
      static_cast<uint32_t>(item);
  auto [pit, new_pair] =
      pair_index_.try_emplace(key, static_cast<int64_t>(pairs_.size()));
  if (new_pair) {
    pairs_.push_back(Pair{user, item, 1, row.quantity, ts});
    ++info.purchases;
    ++info.buyers;
    return;
  }
  Pair& pair = pairs_[pit->second];
  pair.quantity += row.quantity;
  if (options_.merge_same_timestamp && ts != 0 && ts == pair.last_unix) return;
  ++pair.events;
  ++info.purchases;
  pair.last_unix = std::max(pair.last_unix, ts);
}

InteractionData InteractionBuilder::Build() {
  InteractionData data;
  data.rows = rows_;
  data.first_unix = first_unix_;
  data.last_event_unix = last_unix_;
  data.user_ids = std::move(user_ids_);
  data.item_ids = std::move(item_ids_);
  data.items = std::move(items_);

  CsrMatrix& m = data.events;
  m.rows = static_cast<int32_t>(data.user_ids.size());
  m.cols = static_cast<int32_t>(data.item_ids.size());
  m.indptr.assign(static_cast<size_t>(m.rows) + 1, 0);
  for (const Pair& p : pairs_) ++m.indptr[p.user + 1];
  for (int32_t r = 0; r < m.rows; ++r) m.indptr[r + 1] += m.indptr[r];

  // Scatter pair ids into rows, then sort each row by item.
  std::vector<int64_t> order(pairs_.size());
  {
    std::vector<int64_t> next(m.indptr.begin(), m.indptr.end() - 1);
    for (size_t i = 0; i < pairs_.size(); ++i) {
      order[next[pairs_[i].user]++] = static_cast<int64_t>(i);
    }
  }
  for (int32_t r = 0; r < m.rows; ++r) {
    std::sort(order.begin() + m.indptr[r], order.begin() + m.indptr[r + 1],
              [this](int64_t a, int64_t b) {
                return pairs_[a].item < pairs_[b].item;
              });
  }
  m.indices.resize(pairs_.size());
  m.values.resize(pairs_.size());
  data.quantity.resize(pairs_.size());
  data.last_unix.resize(pairs_.size());
  for (size_t k = 0; k < order.size(); ++k) {
    const Pair& p = pairs_[order[k]];
    m.indices[k] = p.item;
    m.values[k] = static_cast<float>(p.events);
    data.quantity[k] = p.quantity;
    data.last_unix[k] = p.last_unix;
    data.total_events += p.events;
  }

  user_index_.clear();
  item_index_.clear();
  pair_index_.clear();
  pairs_.clear();
  pairs_.shrink_to_fit();
  rows_ = 0;
  return data;
}

absl::string_view ConfidenceScalingName(ConfidenceScaling scaling) {
  return scaling == ConfidenceScaling::kLog ? "log" : "linear";
}

absl::string_view ConfidenceSignalName(ConfidenceSignal signal) {
  switch (signal) {
    case ConfidenceSignal::kEvents: return "events";
    case ConfidenceSignal::kQuantity: return "quantity";
    case ConfidenceSignal::kBinary: return "binary";
  }
  return "events";
}

absl::StatusOr<ConfidenceSignal> ParseConfidenceSignal(absl::string_view name) {
  if (name == "events") return ConfidenceSignal::kEvents;
  if (name == "quantity") return ConfidenceSignal::kQuantity;
  if (name == "binary") return ConfidenceSignal::kBinary;
  return absl::InvalidArgumentError(absl::StrCat(
      "unknown confidence signal '", name, "' (expected events, quantity or binary)"));
}

absl::StatusOr<ConfidenceScaling> ParseConfidenceScaling(
    absl::string_view name) {
  if (name == "log") return ConfidenceScaling::kLog;
  if (name == "linear") return ConfidenceScaling::kLinear;
  return absl::InvalidArgumentError(absl::StrCat(
      "unknown confidence scaling '", name, "' (expected log or linear)"));
}

absl::Status ValidateConfidenceOptions(const ConfidenceOptions& o) {
  if (!std::isfinite(o.alpha) || o.alpha < 0) {
    return absl::InvalidArgumentError("confidence alpha must be >= 0");
  }
  if (!std::isfinite(o.epsilon) || o.epsilon <= 0) {
    return absl::InvalidArgumentError("confidence epsilon must be > 0");
  }
  if (!std::isfinite(o.decay_half_life_days) || o.decay_half_life_days < 0) {
    return absl::InvalidArgumentError("decay half-life must be >= 0");
  }
  return absl::OkStatus();
}

absl::StatusOr<CsrMatrix> BuildConfidence(const InteractionData& data,
                                          const ConfidenceOptions& options) {
  absl::Status valid = ValidateConfidenceOptions(options);
  if (!valid.ok()) return valid;
  CsrMatrix c = data.events;
  const bool decay = options.decay_half_life_days > 0;
  const double half_life_seconds =
      static_cast<double>(options.decay_half_life_days) * 86400.0;
  for (size_t k = 0; k < c.values.size(); ++k) {
    double r = c.values[k];
    if (options.signal == ConfidenceSignal::kQuantity && k < data.quantity.size()) {
      r = std::max(1.0, data.quantity[k]);
    } else if (options.signal == ConfidenceSignal::kBinary) {
      r = 1.0;
    }
    if (decay) {
      const double age = std::max<double>(
          0, static_cast<double>(options.reference_unix - data.last_unix[k]));
      r *= std::exp2(-age / half_life_seconds);
    }
    const double conf =
        options.scaling == ConfidenceScaling::kLog
            ? 1.0 + options.alpha * std::log1p(r / options.epsilon)
            : 1.0 + options.alpha * r;
    c.values[k] = static_cast<float>(conf);
  }
  return c;
}

}  // namespace recsys::training
