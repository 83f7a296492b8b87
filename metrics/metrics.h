// Process metrics in the Prometheus data model: counters, gauges and
// histograms with labels, kept in a Registry that writes the Prometheus text
// exposition format 0.0.4.
//
//   metrics::Registry registry;
//   metrics::Counter* served = registry.AddCounter(
//       "recsys_answers_total", "Answers given.", {"slot"})->Get({"home"});
//   served->Increment();                // lock-free; keep the pointer
//   std::string text = registry.Exposition();
//
// The request path only touches Counter, Gauge and Histogram objects, whose
// updates are atomic operations on per-thread shards (no lock, no
// allocation); a scrape adds the shards up. Looking a labelled child up
// (Family::Get) takes the family's lock: do it once and keep the pointer, or
// for a small bounded label set, at construction.
//
// Collectors are callbacks run at scrape time that return whole families
// read from elsewhere (a pool's stats, a shared counter in Redis, the
// process's /proc entries). They run on the scraping thread, never on a
// request thread, and may do I/O.
//
// Naming follows Prometheus conventions: snake_case, a unit suffix in base
// units (_seconds, _bytes), counters end in _total. Names and label names
// are checked when a family is added; a bad one is a programming error and
// aborts with a message.
//
// Thread safety: every class here is safe for concurrent use.
#ifndef RECSYS_METRICS_METRICS_H_
#define RECSYS_METRICS_METRICS_H_

#include <array>
#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/types/span.h"

namespace recsys::metrics {

namespace internal {
// Updates from one thread go to one shard; 16 shards of one cache line each
// keep 2..16 request threads from bouncing a line between cores.
inline constexpr int kShards = 16;
// This thread's shard, assigned round-robin on first use.
int ShardIndex();
struct alignas(64) PaddedDouble {
  std::atomic<double> value{0};
};
}  // namespace internal

// A monotonically increasing value (e.g. requests served, GMV recorded).
class Counter {
 public:
  Counter() = default;
  Counter(const Counter&) = delete;
  Counter& operator=(const Counter&) = delete;

  // REQUIRES: amount >= 0 (negative amounts are ignored).
  void Increment(double amount = 1) {
    if (!(amount >= 0)) return;
    shards_[internal::ShardIndex()].value.fetch_add(amount,
                                                    std::memory_order_relaxed);
  }
  // The sum of every increment so far (exact for integer amounts below
  // 2^53).
  double Value() const;

 private:
  std::array<internal::PaddedDouble, internal::kShards> shards_;
};

// A value that goes up and down (e.g. calls in flight, budget left).
class Gauge {
 public:
  Gauge() = default;
  Gauge(const Gauge&) = delete;
  Gauge& operator=(const Gauge&) = delete;

  void Set(double value) { value_.store(value, std::memory_order_relaxed); }
  void Add(double amount) {
    value_.fetch_add(amount, std::memory_order_relaxed);
  }
  double Value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<double> value_{0};
};

// Counts of observations per bucket (upper bounds, ascending) plus their
// sum: the Prometheus histogram.
class Histogram {
 public:
  // `bounds` ascending, finite; the +Inf bucket is implicit.
  explicit Histogram(std::vector<double> bounds);
  Histogram(const Histogram&) = delete;
  Histogram& operator=(const Histogram&) = delete;

  void Observe(double value);

  struct Snapshot {
    std::vector<double> bounds;
    // Cumulative count per bound, then the +Inf bucket (== count).
    std::vector<uint64_t> cumulative;
    uint64_t count = 0;
    double sum = 0;
  };
  Snapshot Read() const;

  const std::vector<double>& bounds() const { return bounds_; }

 private:
  // Immutable after construction.
  const std::vector<double> bounds_;
  // Counts per shard per bucket (bounds_.size() + 1 of them), each shard's
  // row padded to whole cache lines.
  const size_t stride_;
  std::unique_ptr<std::atomic<uint64_t>[]> counts_;
  std::array<internal::PaddedDouble, internal::kShards> sums_;
};

// Latency buckets in seconds for calls answered in microseconds to seconds:
// 0.25 ms .. 10 s.
std::vector<double> LatencyBuckets();

enum class Type { kCounter, kGauge, kHistogram };

// One exported series: its label values (in the family's label order) and
// either a value or, for a histogram, a snapshot.
struct Sample {
  std::vector<std::string> label_values;
  double value = 0;
  Histogram::Snapshot histogram;
};

// What a scrape reads of one family.
struct FamilySnapshot {
  std::string name;
  std::string help;
  Type type = Type::kCounter;
  std::vector<std::string> label_names;
  std::vector<Sample> samples;
};

// A named metric with fixed label names; one child per label-value tuple.
template <typename M>
class Family {
 public:
  // The child for `label_values` (as many as the family's label names),
  // created at first use; the pointer is valid for the registry's lifetime.
  // Takes the family's lock: keep the pointer on hot paths. A wrong number
  // of values is a programming error and aborts.
  M* Get(absl::Span<const std::string> label_values);
  M* Get(std::initializer_list<absl::string_view> label_values);

  const std::string& name() const { return name_; }

 private:
  friend class Registry;
  Family(std::string name, std::string help, Type type,
         std::vector<std::string> label_names, std::vector<double> bounds)
      : name_(std::move(name)),
        help_(std::move(help)),
        type_(type),
        label_names_(std::move(label_names)),
        bounds_(std::move(bounds)) {}
  FamilySnapshot Read() const;

  // Immutable after construction.
  const std::string name_;
  const std::string help_;
  const Type type_;
  const std::vector<std::string> label_names_;
  const std::vector<double> bounds_;  // histograms only

  mutable absl::Mutex mu_;
  // Insertion order is kept for a stable exposition.
  std::vector<std::pair<std::vector<std::string>, std::unique_ptr<M>>> children_
      ABSL_GUARDED_BY(mu_);
  absl::flat_hash_map<std::string, M*> index_ ABSL_GUARDED_BY(mu_);
};

// Returns families read at scrape time. Runs on the scraping thread.
using Collector = std::function<std::vector<FamilySnapshot>()>;

class Registry {
 public:
  Registry() = default;
  Registry(const Registry&) = delete;
  Registry& operator=(const Registry&) = delete;

  // Adds a family, or returns the one already added under `name` when its
  // type, label names (and bounds) are the same; a different one, or an
  // invalid name, is a programming error and aborts. The family lives as
  // long as the registry.
  Family<Counter>* AddCounter(absl::string_view name, absl::string_view help,
                              std::vector<std::string> label_names = {});
  Family<Gauge>* AddGauge(absl::string_view name, absl::string_view help,
                          std::vector<std::string> label_names = {});
  Family<Histogram>* AddHistogram(absl::string_view name,
                                  absl::string_view help,
                                  std::vector<std::string> label_names,
                                  std::vector<double> bounds);

  // Adds a collector, run on every scrape after the families above; the
  // families it returns must not reuse a name of this registry's own
  // families. What it captures must stay valid until RemoveCollector (or
  // the registry's last scrape).
  int64_t AddCollector(Collector collector);
  // Removes the collector `id` returned by AddCollector; waits for a scrape
  // in progress to finish first, so the collector's captures may be
  // destroyed on return. Unknown ids are ignored.
  void RemoveCollector(int64_t id);

  // Every family: the registry's own, then the collectors', each family
  // once (samples of one name from several collectors are merged).
  std::vector<FamilySnapshot> Collect() const;
  // Collect() in the Prometheus text format 0.0.4.
  std::string Exposition() const;

 private:
  struct Entry {
    Type type;
    std::unique_ptr<Family<Counter>> counter;
    std::unique_ptr<Family<Gauge>> gauge;
    std::unique_ptr<Family<Histogram>> histogram;
  };
  Entry* FindOrAdd(absl::string_view name, absl::string_view help, Type type,
                   std::vector<std::string> label_names,
                   std::vector<double> bounds);

  // Held for a whole Collect (collectors run under it, not under mu_), so
  // RemoveCollector can wait for the scrape in progress.
  mutable absl::Mutex collect_mu_ ABSL_ACQUIRED_BEFORE(mu_);
  mutable absl::Mutex mu_;
  std::vector<std::unique_ptr<Entry>> entries_ ABSL_GUARDED_BY(mu_);
  std::vector<std::pair<int64_t, Collector>> collectors_ ABSL_GUARDED_BY(mu_);
  int64_t next_collector_id_ ABSL_GUARDED_BY(mu_) = 1;
};

// True for [a-zA-Z_:][a-zA-Z0-9_:]* (metric names); label names also may
// not contain ':' nor start with "__".
bool IsValidMetricName(absl::string_view name);
bool IsValidLabelName(absl::string_view name);

// A counter or gauge family read at scrape time, for collectors:
//   MakeFamily("recsys_x", "Help.", Type::kGauge, {"slot"}, {{{"home"}, 3}}).
FamilySnapshot MakeFamily(
    absl::string_view name, absl::string_view help, Type type,
    std::vector<std::string> label_names,
    std::vector<std::pair<std::vector<std::string>, double>> samples);

}  // namespace recsys::metrics

#endif  // RECSYS_METRICS_METRICS_H_
