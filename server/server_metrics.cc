#include "server/server_metrics.h"

#include <google/protobuf/descriptor.h>

#include <chrono>
#include <cmath>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"

namespace recsys::server {
namespace {

// gRPC's canonical code names, indexed by grpc::StatusCode.
constexpr const char* kCodeNames[17] = {"OK",
                                        "CANCELLED",
                                        "UNKNOWN",
                                        "INVALID_ARGUMENT",
                                        "DEADLINE_EXCEEDED",
                                        "NOT_FOUND",
                                        "ALREADY_EXISTS",
                                        "PERMISSION_DENIED",
                                        "RESOURCE_EXHAUSTED",
                                        "FAILED_PRECONDITION",
                                        "ABORTED",
                                        "OUT_OF_RANGE",
                                        "UNIMPLEMENTED",
                                        "INTERNAL",
                                        "UNAVAILABLE",
                                        "DATA_LOSS",
                                        "UNAUTHENTICATED"};

// Components whose failure degrades an answer (recommender/internal.cc
// MarkDegraded, marketing/marketer.cc Degrade).
constexpr const char* kDegradedReasons[] = {"feature_store", "segment_store",
                                            "coupon_store"};

// The methods that report answers' degraded flags (RecordAnswer,
// RecordMarketingAnswer).
constexpr const char* kAnswerMethods[] = {"RecommendProducts", "SimilarItems",
                                          "GetUserProfile", "RecordEvents",
                                          "RecommendCoupons"};

// Services whose methods are labelled by name; their method lists come from
// the generated descriptors. Any other call is counted as "other".
constexpr const char* kServices[] = {"recsys.v1.Recommender", "recsys.v1.Admin",
                                     "grpc.health.v1.Health"};

double ElapsedSeconds(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start)
      .count();
}

}  // namespace

// Lives for one call: created when the call starts, records its duration and
// status when the status is sent (or CANCELLED when none was).
class ServerMetrics::Interceptor final
    : public grpc::experimental::Interceptor {
 public:
  Interceptor(ServerMetrics* metrics, MethodSeries* series)
      : metrics_(metrics),
        series_(series),
        start_(std::chrono::steady_clock::now()) {}
  ~Interceptor() override {
    if (!recorded_) {
      metrics_->RecordCall(series_, grpc::StatusCode::CANCELLED,
                           ElapsedSeconds(start_));
    }
  }

  void Intercept(
      grpc::experimental::InterceptorBatchMethods* methods) override {
    if (methods->QueryInterceptionHookPoint(
            grpc::experimental::InterceptionHookPoints::PRE_SEND_STATUS)) {
      metrics_->RecordCall(series_, methods->GetSendStatus().error_code(),
                           ElapsedSeconds(start_));
      recorded_ = true;
    }
    methods->Proceed();
  }

 private:
  ServerMetrics* const metrics_;
  MethodSeries* const series_;
  const std::chrono::steady_clock::time_point start_;
  bool recorded_ = false;
};

class ServerMetrics::InterceptorFactory final
    : public grpc::experimental::ServerInterceptorFactoryInterface {
 public:
  explicit InterceptorFactory(ServerMetrics* metrics) : metrics_(metrics) {}
  grpc::experimental::Interceptor* CreateServerInterceptor(
      grpc::experimental::ServerRpcInfo* info) override {
    return new Interceptor(metrics_, metrics_->FindMethod(info->method()));
  }

 private:
  ServerMetrics* const metrics_;
};

ServerMetrics::ServerMetrics(metrics::Registry* registry)
    : registry_(registry),
      rpc_duration_(registry->AddHistogram(
          "recsys_rpc_duration_seconds",
          "Time from a call's start to its status being sent, by gRPC "
          "service, method and status code.",
          {"service", "method", "code"}, metrics::LatencyBuckets())),
      degraded_(registry->AddCounter(
          "recsys_degraded_answers_total",
          "Answers flagged degraded (a backing store did not answer), by "
          "method and the component that failed.",
          {"method", "reason"})),
      fallbacks_(registry->AddCounter(
          "recsys_fallbacks_total",
          "Storefront answers that used a fallback: cold_start (no user "
          "vector: popular and trending items), fold_in (user vector folded "
          "in from live activity), popular_fill (popular items filled a "
          "slot), model_version (an experiment variant's model version is "
          "not held: the default model answered).",
          {"kind"})) {
  other_.service = "other";
  other_.method = "other";
  const auto* pool = google::protobuf::DescriptorPool::generated_pool();
  for (const char* service_name : kServices) {
    const google::protobuf::ServiceDescriptor* service =
        pool->FindServiceByName(service_name);
    if (service == nullptr) continue;  // health: linked only with the server
    for (int i = 0; i < service->method_count(); ++i) {
      auto series = std::make_unique<MethodSeries>();
      series->service = service_name;
      series->method = service->method(i)->name();
      methods_.emplace(absl::StrCat("/", service_name, "/", series->method),
                       std::move(series));
    }
  }
  // The health service's messages are not in the generated pool of every
  // build: name its two methods.
  for (const char* method : {"Check", "Watch"}) {
    const std::string path = absl::StrCat("/grpc.health.v1.Health/", method);
    if (methods_.contains(path)) continue;
    auto series = std::make_unique<MethodSeries>();
    series->service = "grpc.health.v1.Health";
    series->method = method;
    methods_.emplace(path, std::move(series));
  }
  // Children the request path uses, created now (exported at 0 from the
  // start) so that recording needs no lookup under a lock.
  cold_start_ = fallbacks_->Get({"cold_start"});
  fold_in_ = fallbacks_->Get({"fold_in"});
  popular_fill_ = fallbacks_->Get({"popular_fill"});
  model_version_ = fallbacks_->Get({"model_version"});
  for (const char* method : kAnswerMethods) {
    for (const char* reason : kDegradedReasons) {
      degraded_by_.emplace(absl::StrCat(method, "/", reason),
                           degraded_->Get({method, reason}));
    }
    degraded_by_.emplace(absl::StrCat(method, "/other"),
                         degraded_->Get({method, "other"}));
  }
  AddCollectors();
}

std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>
ServerMetrics::NewInterceptorFactory() {
  return std::make_unique<InterceptorFactory>(this);
}

ServerMetrics::MethodSeries* ServerMetrics::FindMethod(absl::string_view path) {
  auto it = methods_.find(path);
  return it == methods_.end() ? &other_ : it->second.get();
}

void ServerMetrics::RecordCall(MethodSeries* series, int code, double seconds) {
  if (code < 0 || code >= 17) code = grpc::StatusCode::UNKNOWN;
  metrics::Histogram* h = series->by_code[code].load(std::memory_order_acquire);
  if (h == nullptr) {
    h = rpc_duration_->Get({series->service, series->method, kCodeNames[code]});
    series->by_code[code].store(h, std::memory_order_release);
  }
  h->Observe(seconds);
}

std::string ServerMetrics::DegradedReasonLabel(absl::string_view reason) {
  const size_t end = reason.find(" unavailable");
  if (end == absl::string_view::npos) return "other";
  const std::string label = absl::StrReplaceAll(
      absl::AsciiStrToLower(reason.substr(0, end)), {{" ", "_"}});
  for (const char* known : kDegradedReasons) {
    if (label == known) return label;
  }
  return "other";
}

void ServerMetrics::CountDegraded(absl::string_view method,
                                  absl::string_view reason) {
  const std::string label = DegradedReasonLabel(reason);
  auto it = degraded_by_.find(absl::StrCat(method, "/", label));
  // A method outside kAnswerMethods: looked up under the family's lock.
  metrics::Counter* counter =
      it != degraded_by_.end() ? it->second : degraded_->Get({method, label});
  counter->Increment();
}

void ServerMetrics::RecordAnswer(absl::string_view method,
                                 const recommender::AnswerMeta& meta) {
  if (meta.degraded) CountDegraded(method, meta.degraded_reason);
  if (meta.cold_start) cold_start_->Increment();
  if (meta.folded_in) fold_in_->Increment();
  if (meta.popular_filled > 0) popular_fill_->Increment();
  if (meta.model_fallback) model_version_->Increment();
}

void ServerMetrics::RecordMarketingAnswer(
    absl::string_view method, const marketing::MarketingMeta& meta) {
  if (!meta.degraded) return;
  // One answer may name several components ("a unavailable (...); b
  // unavailable (...)"): count it under the first.
  CountDegraded(method, meta.degraded_reason);
}

ServerMetrics::LocalSlot* ServerMetrics::Slot(absl::string_view name) {
  {
    // The common case, a slot seen before: a shared lock.
    absl::ReaderMutexLock lock(&mu_);
    if (known_slots_.contains(name)) {
      auto it = slots_.find(name);
      if (it != slots_.end()) return it->second.get();
    } else {
      auto it = slots_.find("other");
      if (it != slots_.end()) return it->second.get();
    }
  }
  absl::MutexLock lock(&mu_);
  const std::string label =
      known_slots_.contains(name) ? std::string(name) : std::string("other");
  auto& slot = slots_[label];
  if (slot == nullptr) {
    slot = std::make_unique<LocalSlot>();
    slot->label = label;
  }
  return slot.get();
}

void ServerMetrics::RecordEvents(absl::Span<const feature_store::Event> events,
                                 const std::vector<int>& skip) {
  RefreshKnownSlots();
  size_t next_skip = 0;
  for (size_t i = 0; i < events.size(); ++i) {
    while (next_skip < skip.size() && skip[next_skip] < static_cast<int>(i)) {
      ++next_skip;
    }
    if (next_skip < skip.size() && skip[next_skip] == static_cast<int>(i)) {
      continue;
    }
    const feature_store::Event& e = events[i];
    switch (e.type) {
      case feature_store::EventType::kImpression: {
        LocalSlot* slot = Slot(e.slot);
        slot->impressions.Increment();
        if (ExposureTracker* t = exposures_.load(std::memory_order_acquire);
            t != nullptr && !e.slot.empty()) {
          t->Record(slot->label, e.user_id);
        }
        break;
      }
      case feature_store::EventType::kClick:
        Slot(e.slot)->clicks.Increment();
        break;
      case feature_store::EventType::kPurchase:
        // A purchase counts for a slot when the client attributes it to one.
        if (!e.slot.empty()) {
          LocalSlot* slot = Slot(e.slot);
          slot->conversions.Increment();
          const double value = e.price * std::max(1, e.quantity);
          if (value > 0) slot->gmv.Increment(value);
        }
        break;
      default:
        break;
    }
  }
}

void ServerMetrics::SetKnownSlots(const std::vector<std::string>& slots) {
  absl::MutexLock lock(&mu_);
  storefront_ = nullptr;
  known_slots_.clear();
  known_slots_.insert(slots.begin(), slots.end());
  known_slots_.erase("other");
}

void ServerMetrics::FollowSlotConfig(const recommender::Storefront* storefront) {
  {
    absl::MutexLock lock(&mu_);
    storefront_ = storefront;
    known_plan_ = nullptr;
  }
  RefreshKnownSlots();
}

void ServerMetrics::RefreshKnownSlots() {
  const recommender::Storefront* storefront;
  const void* seen;
  {
    absl::ReaderMutexLock lock(&mu_);
    storefront = storefront_;
    seen = known_plan_;
  }
  if (storefront == nullptr) return;
  const std::shared_ptr<const recommender::SlotPlan> plan =
      storefront->recommender().slot_plan();
  // A storefront without a plan is followed once (its blended slots).
  const void* current = plan != nullptr ? static_cast<const void*>(plan.get())
                                        : static_cast<const void*>(storefront);
  if (current == seen) return;
  absl::flat_hash_set<std::string> slots(
      storefront->recommender().options().blended_slots.begin(),
      storefront->recommender().options().blended_slots.end());
  if (plan != nullptr) {
    for (const recommender::SlotRule& rule : plan->slots()) slots.insert(rule.name);
  }
  slots.erase("other");
  absl::MutexLock lock(&mu_);
  if (storefront_ != storefront) return;
  known_slots_ = std::move(slots);
  known_plan_ = current;
}

void ServerMetrics::AddExposureCollector(ExposureTracker* tracker) {
  exposures_.store(tracker, std::memory_order_release);
  const int64_t id = registry_->AddCollector([this, tracker] {
    RefreshKnownSlots();
    std::vector<std::string> slots;
    {
      absl::ReaderMutexLock lock(&mu_);
      slots.assign(known_slots_.begin(), known_slots_.end());
    }
    slots.push_back("other");
    using Samples = std::vector<std::pair<std::vector<std::string>, double>>;
    Samples exposed;
    auto users = tracker->DistinctUsers(slots);
    if (users.ok()) {
      for (auto& [slot, n] : *users) exposed.push_back({{slot}, n});
    } else {
      exposure_read_errors_.fetch_add(1, std::memory_order_relaxed);
    }
    using metrics::MakeFamily;
    using metrics::Type;
    std::vector<metrics::FamilySnapshot> out;
    // A failed read leaves the gauge out rather than reporting zero users.
    if (users.ok()) {
      out.push_back(MakeFamily(
          "recsys_slot_exposed_users",
          "Distinct users shown the slot over the last hour (impression "
          "events; shared by every replica when Redis is configured).",
          Type::kGauge, {"slot"}, std::move(exposed)));
    }
    out.push_back(MakeFamily(
        "recsys_slot_exposure_dropped_total",
        "Exposed users dropped because the buffer waiting for Redis was full.",
        Type::kCounter, {}, {{{}, static_cast<double>(tracker->dropped())}}));
    out.push_back(MakeFamily(
        "recsys_slot_exposure_errors_total",
        "Failed writes (flushes) and reads of the exposed users in Redis.",
        Type::kCounter, {},
        {{{},
          static_cast<double>(tracker->flush_errors() +
                              exposure_read_errors_.load(std::memory_order_relaxed))}}));
    return out;
  });
  absl::MutexLock lock(&mu_);
  collector_ids_.push_back(id);
}

void ServerMetrics::SetSlotCountsSource(SlotCountsSource source) {
  absl::MutexLock lock(&mu_);
  source_ = std::move(source);
}

std::vector<SlotCounts> ServerMetrics::LocalSlotCounts() const {
  std::vector<SlotCounts> out;
  absl::ReaderMutexLock lock(&mu_);
  for (const auto& [name, slot] : slots_) {
    SlotCounts& c = out.emplace_back();
    c.slot = name;
    c.impressions = slot->impressions.Value();
    c.clicks = slot->clicks.Value();
    c.conversions = slot->conversions.Value();
    c.gmv = slot->gmv.Value();
  }
  std::sort(
      out.begin(), out.end(),
      [](const SlotCounts& a, const SlotCounts& b) { return a.slot < b.slot; });
  return out;
}

ServerMetrics::~ServerMetrics() {
  std::vector<int64_t> ids;
  {
    absl::MutexLock lock(&mu_);
    ids.swap(collector_ids_);
  }
  for (int64_t id : ids) registry_->RemoveCollector(id);
}

void ServerMetrics::AddCollectors() {
  const int64_t id = registry_->AddCollector([this] {
    SlotCountsSource source;
    {
      absl::ReaderMutexLock lock(&mu_);
      source = source_;
    }
    const std::vector<SlotCounts> counts =
        source ? source() : LocalSlotCounts();
    using Samples = std::vector<std::pair<std::vector<std::string>, double>>;
    Samples impressions, clicks, conversions, gmv;
    for (const SlotCounts& c : counts) {
      std::vector<std::string> labels = {
          c.slot, c.experiment.empty() ? "none" : c.experiment,
          c.variant.empty() ? "none" : c.variant};
      impressions.emplace_back(labels, c.impressions);
      clicks.emplace_back(labels, c.clicks);
      conversions.emplace_back(labels, c.conversions);
      gmv.emplace_back(std::move(labels), c.gmv);
    }
    const std::vector<std::string> names = {"slot", "experiment", "variant"};
    using metrics::MakeFamily;
    using metrics::Type;
    return std::vector<metrics::FamilySnapshot>{
        MakeFamily("recsys_slot_impressions_total",
                   "Items shown per slot (impression events accepted).",
                   Type::kCounter, names, std::move(impressions)),
        MakeFamily("recsys_slot_clicks_total",
                   "Clicks on recommended items per slot.", Type::kCounter,
                   names, std::move(clicks)),
        MakeFamily("recsys_slot_conversions_total",
                   "Purchases attributed to a slot.", Type::kCounter, names,
                   std::move(conversions)),
        MakeFamily("recsys_slot_gmv_total",
                   "Gross merchandise value (price x quantity) of the "
                   "purchases attributed to a slot, in the shop's currency.",
                   Type::kCounter, names, std::move(gmv)),
    };
  });
  absl::MutexLock lock(&mu_);
  collector_ids_.push_back(id);
}

void ServerMetrics::AddModelCollector(const model::ModelStore* models) {
  const int64_t id = registry_->AddCollector([models] {
    const auto bundle = models->Current();
    const double now = absl::ToDoubleSeconds(absl::Now() - absl::UnixEpoch());
    const double created =
        static_cast<double>(bundle->manifest().created_unix());
    using metrics::MakeFamily;
    using metrics::Type;
    return std::vector<metrics::FamilySnapshot>{
        MakeFamily("recsys_model_info", "The served model version (value 1).",
                   Type::kGauge, {"version"}, {{{bundle->version()}, 1}}),
        MakeFamily("recsys_model_created_timestamp_seconds",
                   "When the served model was trained (its manifest).",
                   Type::kGauge, {}, {{{}, created}}),
        MakeFamily("recsys_model_age_seconds",
                   "Seconds since the served model was trained.", Type::kGauge,
                   {}, {{{}, std::max(0.0, now - created)}}),
        MakeFamily(
            "recsys_model_loaded_timestamp_seconds",
            "When the served model was loaded by this process.", Type::kGauge,
            {},
            {{{},
              absl::ToDoubleSeconds(bundle->loaded_at() - absl::UnixEpoch())}}),
        MakeFamily(
            "recsys_model_rejected_versions",
            "Model versions on disk that failed to load (checksum, "
            "format) and are not served.",
            Type::kGauge, {},
            {{{}, static_cast<double>(models->RejectedVersions().size())}}),
    };
  });
  absl::MutexLock lock(&mu_);
  collector_ids_.push_back(id);
}

void ServerMetrics::AddCouponCollector(const marketing::Marketer* marketer) {
  if (marketer == nullptr) return;
  metrics::Counter* errors =
      registry_
          ->AddCounter("recsys_coupon_scrape_errors_total",
                       "Scrapes whose coupon list did not answer in time.")
          ->Get({});
  const int64_t id = registry_->AddCollector([marketer, errors] {
    using Samples = std::vector<std::pair<std::vector<std::string>, double>>;
    Samples issued, redeemed, budget, left, budget_money, left_money;
    auto coupons = marketer->ListCoupons(absl::Now() + absl::Seconds(1));
    if (!coupons.ok()) {
      errors->Increment();
      return std::vector<metrics::FamilySnapshot>{};
    }
    for (const marketing::CouponWithState& c : *coupons) {
      const std::vector<std::string> id = {c.coupon.id};
      issued.emplace_back(id, static_cast<double>(c.state.issued));
      redeemed.emplace_back(id, static_cast<double>(c.state.redeemed));
      if (c.coupon.budget_count > 0) {
        budget.emplace_back(id, static_cast<double>(c.coupon.budget_count));
        left.emplace_back(id, static_cast<double>(c.state.remaining_count));
      }
      if (c.coupon.budget_money > 0) {
        budget_money.emplace_back(id, c.coupon.budget_money);
        left_money.emplace_back(id, c.state.remaining_money);
      }
    }
    using metrics::MakeFamily;
    using metrics::Type;
    return std::vector<metrics::FamilySnapshot>{
        MakeFamily("recsys_coupon_issued_total", "Issuances of a coupon.",
                   Type::kCounter, {"coupon"}, std::move(issued)),
        MakeFamily("recsys_coupon_redeemed_total", "Redemptions of a coupon.",
                   Type::kCounter, {"coupon"}, std::move(redeemed)),
        MakeFamily("recsys_coupon_budget_redemptions",
                   "A coupon's redemption budget (coupons with one).",
                   Type::kGauge, {"coupon"}, std::move(budget)),
        MakeFamily("recsys_coupon_budget_left_redemptions",
                   "Redemptions left in a coupon's budget.", Type::kGauge,
                   {"coupon"}, std::move(left)),
        MakeFamily("recsys_coupon_budget_money",
                   "A coupon's discount-money budget (coupons with one).",
                   Type::kGauge, {"coupon"}, std::move(budget_money)),
        MakeFamily("recsys_coupon_budget_left_money",
                   "Discount money left in a coupon's budget.", Type::kGauge,
                   {"coupon"}, std::move(left_money)),
    };
  });
  absl::MutexLock lock(&mu_);
  collector_ids_.push_back(id);
}

void ServerMetrics::AddExperimentCollector(const recommender::Storefront* storefront) {
  if (storefront == nullptr) return;
  metrics::Counter* errors =
      registry_
          ->AddCounter("recsys_experiment_scrape_errors_total",
                       "Scrapes whose experiment counters did not answer in time.")
          ->Get({});
  const int64_t id = registry_->AddCollector([storefront, errors] {
    using Samples = std::vector<std::pair<std::vector<std::string>, double>>;
    Samples share, exposed, impressions, clicks, conversions, gmv, issued, redeemed, discount;
    const std::shared_ptr<const experiments::ExperimentPlan> plan =
        storefront->experiment_plan();
    const absl::Time deadline = absl::Now() + absl::Seconds(1);
    for (const auto& experiment : plan->experiments()) {
      auto counts = storefront->counters().Read(experiment->name, deadline);
      if (!counts.ok()) {
        errors->Increment();
        continue;
      }
      // Every configured variant, 0 until it has exposures (so a variant
      // that gets no traffic shows, e.g. to a sample-ratio check).
      for (const experiments::Variant& variant : experiment->variants) {
        share.push_back({{experiment->name, variant.name}, variant.share});
        const auto it = counts->find(variant.name);
        exposed.push_back({{experiment->name, variant.name},
                           it == counts->end() ? 0.0
                                               : static_cast<double>(it->second.sums.exposed_users)});
      }
      for (const auto& [variant, v] : *counts) {
        for (const auto& [slot, c] : v.slots) {
          const std::vector<std::string> labels = {experiment->name, variant, slot};
          impressions.emplace_back(labels, static_cast<double>(c.impressions));
          clicks.emplace_back(labels, static_cast<double>(c.clicks));
          conversions.emplace_back(labels, static_cast<double>(c.conversions));
          gmv.emplace_back(labels, c.gmv);
          issued.emplace_back(labels, static_cast<double>(c.coupons_issued));
          redeemed.emplace_back(labels, static_cast<double>(c.coupons_redeemed));
          discount.emplace_back(labels, c.discount);
        }
      }
    }
    using metrics::MakeFamily;
    using metrics::Type;
    const std::vector<std::string> slot_labels = {"experiment", "variant", "slot"};
    return std::vector<metrics::FamilySnapshot>{
        MakeFamily("recsys_experiment_variant_share",
                   "A variant's configured share of its experiment's users.", Type::kGauge,
                   {"experiment", "variant"}, std::move(share)),
        MakeFamily("recsys_experiment_exposed_users",
                   "Users exposed to a variant (shared by every replica).", Type::kGauge,
                   {"experiment", "variant"}, std::move(exposed)),
        MakeFamily("recsys_experiment_impressions_total",
                   "Impressions attributed to a variant in a slot (shared).", Type::kCounter,
                   slot_labels, std::move(impressions)),
        MakeFamily("recsys_experiment_clicks_total",
                   "Clicks attributed to a variant in a slot (shared).", Type::kCounter,
                   slot_labels, std::move(clicks)),
        MakeFamily("recsys_experiment_conversions_total",
                   "Purchases attributed to a variant in a slot (shared).", Type::kCounter,
                   slot_labels, std::move(conversions)),
        MakeFamily("recsys_experiment_gmv_total",
                   "Purchase value attributed to a variant in a slot (shared).",
                   Type::kCounter, slot_labels, std::move(gmv)),
        MakeFamily("recsys_experiment_coupons_issued_total",
                   "Coupons issued under a variant (shared).", Type::kCounter, slot_labels,
                   std::move(issued)),
        MakeFamily("recsys_experiment_coupons_redeemed_total",
                   "Coupons redeemed under a variant (shared).", Type::kCounter, slot_labels,
                   std::move(redeemed)),
        MakeFamily("recsys_experiment_discount_total",
                   "Discount money granted under a variant (shared).", Type::kCounter,
                   slot_labels, std::move(discount)),
    };
  });
  absl::MutexLock lock(&mu_);
  collector_ids_.push_back(id);
}

int64_t AddItemCacheCollector(
    metrics::Registry* registry,
    const feature_store::ItemCachingFeatureStore* cache) {
  return registry->AddCollector([cache] {
    const feature_store::ItemCacheStats stats = cache->stats();
    using metrics::MakeFamily;
    using metrics::Type;
    std::vector<metrics::FamilySnapshot> out = {
        MakeFamily("recsys_item_cache_lookups_total",
                   "Item feature lookups answered from memory (hit) or read "
                   "from the store (miss).",
                   Type::kCounter, {"result"},
                   {{{"hit"}, static_cast<double>(stats.hits)},
                    {{"miss"}, static_cast<double>(stats.misses)}}),
        MakeFamily("recsys_item_cache_refreshes_total",
                   "Reads of the catalog change feed, by result.",
                   Type::kCounter, {"result"},
                   {{{"ok"}, static_cast<double>(stats.refreshes)},
                    {{"failed"}, static_cast<double>(stats.refresh_failures)}}),
        MakeFamily("recsys_item_cache_items", "Items held in the cache.",
                   Type::kGauge, {}, {{{}, static_cast<double>(stats.items)}}),
    };
    if (stats.last_refresh != absl::InfinitePast()) {
      out.push_back(MakeFamily(
          "recsys_item_cache_staleness_seconds",
          "Seconds since the item cache last read the catalog change feed.",
          Type::kGauge, {},
          {{{}, absl::ToDoubleSeconds(absl::Now() - stats.last_refresh)}}));
    }
    return out;
  });
}

}  // namespace recsys::server
