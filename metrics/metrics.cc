#include "metrics/metrics.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/log.h"

namespace recsys::metrics {
namespace internal {

int ShardIndex() {
  static std::atomic<int> next{0};
  thread_local const int index =
      next.fetch_add(1, std::memory_order_relaxed) % kShards;
  return index;
}

}  // namespace internal

namespace {

[[noreturn]] void Fail(absl::string_view message) {
  LogError(absl::StrCat("metrics: ", message));
  std::abort();
}

// Per-shard rows of histogram counts, rounded up to whole cache lines.
size_t Stride(size_t buckets) {
  constexpr size_t kPerLine = 64 / sizeof(std::atomic<uint64_t>);
  return (buckets + kPerLine - 1) / kPerLine * kPerLine;
}

// The key of a label-value tuple in Family::index_ (values cannot hold
// '\xff' as UTF-8, so the separator is unambiguous).
std::string Key(absl::Span<const std::string> values) {
  return absl::StrJoin(values, "\xff");
}

std::string FormatValue(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  if (v == std::floor(v) && std::fabs(v) < 9007199254740992.0) {
    return absl::StrCat(static_cast<int64_t>(v));
  }
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%.17g", v);
  return buf;
}

void AppendEscaped(std::string* out, absl::string_view text, bool quotes) {
  for (char c : text) {
    if (c == '\\') {
      out->append("\\\\");
    } else if (c == '\n') {
      out->append("\\n");
    } else if (c == '"' && quotes) {
      out->append("\\\"");
    } else {
      out->push_back(c);
    }
  }
}

void AppendLabels(std::string* out, const std::vector<std::string>& names,
                  const std::vector<std::string>& values,
                  absl::string_view extra_name = "",
                  absl::string_view extra_value = "") {
  if (names.empty() && extra_name.empty()) return;
  out->push_back('{');
  bool first = true;
  for (size_t i = 0; i < names.size() && i < values.size(); ++i) {
    if (!first) out->push_back(',');
    first = false;
    absl::StrAppend(out, names[i], "=\"");
    AppendEscaped(out, values[i], true);
    out->push_back('"');
  }
  if (!extra_name.empty()) {
    if (!first) out->push_back(',');
    absl::StrAppend(out, extra_name, "=\"", extra_value, "\"");
  }
  out->push_back('}');
}

absl::string_view TypeName(Type type) {
  switch (type) {
    case Type::kCounter:
      return "counter";
    case Type::kGauge:
      return "gauge";
    case Type::kHistogram:
      return "histogram";
  }
  return "untyped";
}

}  // namespace

bool IsValidMetricName(absl::string_view name) {
  if (name.empty()) return false;
  for (size_t i = 0; i < name.size(); ++i) {
    const char c = name[i];
    const bool ok =
        absl::ascii_isalpha(static_cast<unsigned char>(c)) || c == '_' ||
        c == ':' ||
        (i > 0 && absl::ascii_isdigit(static_cast<unsigned char>(c)));
    if (!ok) return false;
  }
  return true;
}

bool IsValidLabelName(absl::string_view name) {
  return IsValidMetricName(name) && name.find(':') == absl::string_view::npos &&
         name.substr(0, 2) != "__";
}

double Counter::Value() const {
  double sum = 0;
  for (const auto& shard : shards_) {
    sum += shard.value.load(std::memory_order_relaxed);
  }
  return sum;
}

Histogram::Histogram(std::vector<double> bounds)
    : bounds_(std::move(bounds)),
      stride_(Stride(bounds_.size() + 1)),
      counts_(new std::atomic<uint64_t>[stride_ * internal::kShards]) {
  for (size_t i = 0; i < bounds_.size(); ++i) {
    if (!std::isfinite(bounds_[i]) || (i > 0 && bounds_[i] <= bounds_[i - 1])) {
      Fail("histogram bounds must be finite and ascending");
    }
  }
  for (size_t i = 0; i < stride_ * internal::kShards; ++i) {
    counts_[i].store(0, std::memory_order_relaxed);
  }
}

void Histogram::Observe(double value) {
  // The first bucket whose upper bound is >= value (le semantics); NaN goes
  // to +Inf.
  const size_t bucket =
      std::lower_bound(bounds_.begin(), bounds_.end(), value) - bounds_.begin();
  const int shard = internal::ShardIndex();
  counts_[shard * stride_ + bucket].fetch_add(1, std::memory_order_relaxed);
  sums_[shard].value.fetch_add(value, std::memory_order_relaxed);
}

Histogram::Snapshot Histogram::Read() const {
  Snapshot s;
  s.bounds = bounds_;
  s.cumulative.assign(bounds_.size() + 1, 0);
  for (int shard = 0; shard < internal::kShards; ++shard) {
    for (size_t b = 0; b <= bounds_.size(); ++b) {
      s.cumulative[b] +=
          counts_[shard * stride_ + b].load(std::memory_order_relaxed);
    }
    s.sum += sums_[shard].value.load(std::memory_order_relaxed);
  }
  for (size_t b = 1; b < s.cumulative.size(); ++b) {
    s.cumulative[b] += s.cumulative[b - 1];
  }
  s.count = s.cumulative.back();
  return s;
}

std::vector<double> LatencyBuckets() {
  return {0.00025, 0.0005, 0.001, 0.002, 0.004, 0.008, 0.016, 0.032,
          0.064,   0.128,  0.256, 0.512, 1,     2.5,   5,     10};
}

template <typename M>
M* Family<M>::Get(absl::Span<const std::string> label_values) {
  if (label_values.size() != label_names_.size()) {
    Fail(absl::StrCat(name_, ": ", label_values.size(), " label values for ",
                      label_names_.size(), " labels"));
  }
  const std::string key = Key(label_values);
  absl::MutexLock lock(&mu_);
  auto it = index_.find(key);
  if (it != index_.end()) return it->second;
  std::unique_ptr<M> child;
  if constexpr (std::is_same_v<M, Histogram>) {
    child = std::make_unique<Histogram>(bounds_);
  } else {
    child = std::make_unique<M>();
  }
  M* raw = child.get();
  children_.emplace_back(
      std::vector<std::string>(label_values.begin(), label_values.end()),
      std::move(child));
  index_.emplace(key, raw);
  return raw;
}

template <typename M>
M* Family<M>::Get(std::initializer_list<absl::string_view> label_values) {
  std::vector<std::string> values;
  values.reserve(label_values.size());
  for (absl::string_view v : label_values) values.emplace_back(v);
  return Get(absl::MakeConstSpan(values));
}

template <typename M>
FamilySnapshot Family<M>::Read() const {
  FamilySnapshot out;
  out.name = name_;
  out.help = help_;
  out.type = type_;
  out.label_names = label_names_;
  absl::MutexLock lock(&mu_);
  out.samples.reserve(children_.size());
  for (const auto& [values, child] : children_) {
    Sample& sample = out.samples.emplace_back();
    sample.label_values = values;
    if constexpr (std::is_same_v<M, Histogram>) {
      sample.histogram = child->Read();
    } else {
      sample.value = child->Value();
    }
  }
  return out;
}

template class Family<Counter>;
template class Family<Gauge>;
template class Family<Histogram>;

Registry::Entry* Registry::FindOrAdd(absl::string_view name,
                                     absl::string_view help, Type type,
                                     std::vector<std::string> label_names,
                                     std::vector<double> bounds) {
  if (!IsValidMetricName(name)) Fail(absl::StrCat("invalid name '", name, "'"));
  for (const std::string& label : label_names) {
    if (!IsValidLabelName(label) ||
        (type == Type::kHistogram && label == "le")) {
      Fail(absl::StrCat(name, ": invalid label name '", label, "'"));
    }
  }
  absl::MutexLock lock(&mu_);
  for (const auto& entry : entries_) {
    const std::string* existing_name = nullptr;
    const std::vector<std::string>* existing_labels = nullptr;
    const std::vector<double>* existing_bounds = nullptr;
    if (entry->counter) {
      existing_name = &entry->counter->name_;
      existing_labels = &entry->counter->label_names_;
    } else if (entry->gauge) {
      existing_name = &entry->gauge->name_;
      existing_labels = &entry->gauge->label_names_;
    } else {
      existing_name = &entry->histogram->name_;
      existing_labels = &entry->histogram->label_names_;
      existing_bounds = &entry->histogram->bounds_;
    }
    if (*existing_name != name) continue;
    if (entry->type != type || *existing_labels != label_names ||
        (existing_bounds != nullptr && *existing_bounds != bounds)) {
      Fail(absl::StrCat(name, ": added twice with different definitions"));
    }
    return entry.get();
  }
  auto entry = std::make_unique<Entry>();
  entry->type = type;
  switch (type) {
    case Type::kCounter:
      entry->counter.reset(new Family<Counter>(std::string(name),
                                               std::string(help), type,
                                               std::move(label_names), {}));
      break;
    case Type::kGauge:
      entry->gauge.reset(new Family<Gauge>(std::string(name), std::string(help),
                                           type, std::move(label_names), {}));
      break;
    case Type::kHistogram:
      entry->histogram.reset(
          new Family<Histogram>(std::string(name), std::string(help), type,
                                std::move(label_names), std::move(bounds)));
      break;
  }
  entries_.push_back(std::move(entry));
  return entries_.back().get();
}

Family<Counter>* Registry::AddCounter(absl::string_view name,
                                      absl::string_view help,
                                      std::vector<std::string> label_names) {
  return FindOrAdd(name, help, Type::kCounter, std::move(label_names), {})
      ->counter.get();
}

Family<Gauge>* Registry::AddGauge(absl::string_view name,
                                  absl::string_view help,
                                  std::vector<std::string> label_names) {
  return FindOrAdd(name, help, Type::kGauge, std::move(label_names), {})
      ->gauge.get();
}

Family<Histogram>* Registry::AddHistogram(absl::string_view name,
                                          absl::string_view help,
                                          std::vector<std::string> label_names,
                                          std::vector<double> bounds) {
  // Validate the bounds once, here, rather than at the first child.
  Histogram check(bounds);
  return FindOrAdd(name, help, Type::kHistogram, std::move(label_names),
                   std::move(bounds))
      ->histogram.get();
}

int64_t Registry::AddCollector(Collector collector) {
  absl::MutexLock lock(&mu_);
  const int64_t id = next_collector_id_++;
  collectors_.emplace_back(id, std::move(collector));
  return id;
}

void Registry::RemoveCollector(int64_t id) {
  absl::MutexLock collect(&collect_mu_);
  absl::MutexLock lock(&mu_);
  collectors_.erase(
      std::remove_if(collectors_.begin(), collectors_.end(),
                     [id](const auto& c) { return c.first == id; }),
      collectors_.end());
}

std::vector<FamilySnapshot> Registry::Collect() const {
  absl::MutexLock collect(&collect_mu_);
  std::vector<FamilySnapshot> out;
  std::vector<Collector> collectors;
  {
    absl::MutexLock lock(&mu_);
    for (const auto& entry : entries_) {
      if (entry->counter) {
        out.push_back(entry->counter->Read());
      } else if (entry->gauge) {
        out.push_back(entry->gauge->Read());
      } else {
        out.push_back(entry->histogram->Read());
      }
    }
    for (const auto& [id, collector] : collectors_) {
      collectors.push_back(collector);
    }
  }
  // Collectors run without the registry's lock: they may be slow (I/O).
  for (const Collector& collector : collectors) {
    for (FamilySnapshot& family : collector()) {
      auto same = std::find_if(out.begin(), out.end(), [&](const auto& f) {
        return f.name == family.name;
      });
      if (same != out.end() && same->type == family.type &&
          same->label_names == family.label_names) {
        for (Sample& s : family.samples) same->samples.push_back(std::move(s));
      } else if (same == out.end()) {
        out.push_back(std::move(family));
      } else {
        LogWarning(absl::StrCat("metrics: collector family ", family.name,
                                " clashes with another definition; dropped"));
      }
    }
  }
  return out;
}

std::string Registry::Exposition() const {
  std::string out;
  for (const FamilySnapshot& family : Collect()) {
    absl::StrAppend(&out, "# HELP ", family.name, " ");
    AppendEscaped(&out, family.help, false);
    absl::StrAppend(&out, "\n# TYPE ", family.name, " ", TypeName(family.type),
                    "\n");
    for (const Sample& sample : family.samples) {
      if (family.type != Type::kHistogram) {
        out.append(family.name);
        AppendLabels(&out, family.label_names, sample.label_values);
        absl::StrAppend(&out, " ", FormatValue(sample.value), "\n");
        continue;
      }
      const Histogram::Snapshot& h = sample.histogram;
      for (size_t b = 0; b < h.cumulative.size(); ++b) {
        absl::StrAppend(&out, family.name, "_bucket");
        AppendLabels(&out, family.label_names, sample.label_values, "le",
                     b < h.bounds.size() ? FormatValue(h.bounds[b]) : "+Inf");
        absl::StrAppend(&out, " ", h.cumulative[b], "\n");
      }
      absl::StrAppend(&out, family.name, "_sum");
      AppendLabels(&out, family.label_names, sample.label_values);
      absl::StrAppend(&out, " ", FormatValue(h.sum), "\n", family.name,
                      "_count");
      AppendLabels(&out, family.label_names, sample.label_values);
      absl::StrAppend(&out, " ", h.count, "\n");
    }
  }
  return out;
}

FamilySnapshot MakeFamily(
    absl::string_view name, absl::string_view help, Type type,
    std::vector<std::string> label_names,
    std::vector<std::pair<std::vector<std::string>, double>> samples) {
  FamilySnapshot f;
  f.name = std::string(name);
  f.help = std::string(help);
  f.type = type;
  f.label_names = std::move(label_names);
  for (auto& [values, value] : samples) {
    Sample& s = f.samples.emplace_back();
    s.label_values = std::move(values);
    s.value = value;
  }
  return f;
}

}  // namespace recsys::metrics
