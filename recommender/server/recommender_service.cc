#include "recommender/server/recommender_service.h"

#include <chrono>
#include <utility>

#include <grpcpp/ext/proto_server_reflection_plugin.h>
#include <grpcpp/health_check_service_interface.h>
#include <grpcpp/resource_quota.h>
#include <google/protobuf/util/json_util.h>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/log.h"
#include "recommender/server/grpc_status.h"

namespace recsys::server {
namespace {

namespace v1 = recsys::v1;
using recommender::AnswerMeta;
using recommender::ItemFilters;
using recommender::ScoredItem;

absl::Time Deadline(const grpc::ServerContext* context) {
  const auto deadline = context->deadline();
  if (deadline == std::chrono::system_clock::time_point::max()) {
    return absl::InfiniteFuture();
  }
  return absl::FromChrono(deadline);
}

ItemFilters ToFilters(const v1::Filters& f) {
  ItemFilters out;
  out.categories.assign(f.categories().begin(), f.categories().end());
  out.exclude_item_ids.assign(f.exclude_item_ids().begin(), f.exclude_item_ids().end());
  out.min_price = f.min_price();
  out.max_price = f.max_price();
  return out;
}

void ToProto(const AnswerMeta& meta, v1::ResponseMeta* out) {
  out->set_model_version(meta.model_version);
  out->set_degraded(meta.degraded);
  out->set_degraded_reason(meta.degraded_reason);
}

void ToProto(const ScoredItem& item, v1::RecommendedItem* out) {
  out->set_item_id(item.item_id);
  out->set_score(item.score);
  out->set_category(item.category);
  out->set_price(item.price);
  v1::Reason* reason = out->mutable_reason();
  reason->set_code(static_cast<v1::ReasonCode>(item.reason.code));
  reason->set_anchor_item_id(item.reason.anchor_item_id);
  reason->set_anchor_category(item.reason.anchor_category);
  reason->set_text(item.reason.text);
  for (const std::string& rule : item.reason.applied_rules) reason->add_applied_rules(rule);
}

std::optional<feature_store::EventType> ToEventType(v1::EventType type) {
  switch (type) {
    case v1::EVENT_VIEW: return feature_store::EventType::kView;
    case v1::EVENT_ADD_TO_CART: return feature_store::EventType::kAddToCart;
    case v1::EVENT_PURCHASE: return feature_store::EventType::kPurchase;
    case v1::EVENT_IMPRESSION: return feature_store::EventType::kImpression;
    case v1::EVENT_CLICK: return feature_store::EventType::kClick;
    case v1::EVENT_COUPON_ISSUED: return feature_store::EventType::kCouponIssued;
    case v1::EVENT_COUPON_REDEEMED: return feature_store::EventType::kCouponRedeemed;
    default: return std::nullopt;
  }
}

v1::EventType FromEventType(feature_store::EventType type) {
  return static_cast<v1::EventType>(static_cast<int>(type));
}

}  // namespace

grpc::Status RecommenderService::RecommendProducts(
    grpc::ServerContext* context, const v1::RecommendProductsRequest* request,
    v1::RecommendProductsResponse* response) {
  recommender::ProductRequest query;
  query.user_id = request->user_id();
  for (const auto& slot : request->slots()) query.slots.push_back({slot.name(), slot.k()});
  query.filters = ToFilters(request->filters());
  if (request->context().request_time_unix() != 0) {
    query.now = absl::FromUnixSeconds(request->context().request_time_unix());
  }
  query.deadline = Deadline(context);
  auto answer = recommender_->RecommendProducts(query);
  if (!answer.ok()) return ToGrpcStatus(answer.status());
  for (const auto& slot : answer->slots) {
    v1::SlotResult* out = response->add_slots();
    out->set_name(slot.name);
    for (const auto& item : slot.items) ToProto(item, out->add_items());
  }
  ToProto(answer->meta, response->mutable_meta());
  return grpc::Status::OK;
}

grpc::Status RecommenderService::SimilarItems(grpc::ServerContext* context,
                                              const v1::SimilarItemsRequest* request,
                                              v1::SimilarItemsResponse* response) {
  recommender::SimilarRequest query;
  query.item_id = request->item_id();
  query.k = request->k();
  query.filters = ToFilters(request->filters());
  query.user_id = request->user_id();
  query.price_band = request->price_band();
  query.complements = request->mode() == v1::SIMILAR_MODE_COMPLEMENTS;
  query.deadline = Deadline(context);
  auto answer = recommender_->SimilarItems(query);
  if (!answer.ok()) return ToGrpcStatus(answer.status());
  for (const auto& item : answer->items) ToProto(item, response->add_items());
  ToProto(answer->meta, response->mutable_meta());
  return grpc::Status::OK;
}

grpc::Status RecommenderService::RecommendCoupons(grpc::ServerContext*,
                                                  const v1::RecommendCouponsRequest*,
                                                  v1::RecommendCouponsResponse*) {
  return grpc::Status(grpc::StatusCode::UNIMPLEMENTED,
                      "RecommendCoupons: the coupon catalog is not available in this "
                      "release (planned with marketing segments)");
}

grpc::Status RecommenderService::FindAudience(grpc::ServerContext*,
                                              const v1::FindAudienceRequest*,
                                              grpc::ServerWriter<v1::AudienceMember>*) {
  return grpc::Status(grpc::StatusCode::UNIMPLEMENTED,
                      "FindAudience: audiences are not available in this release "
                      "(planned with marketing segments)");
}

grpc::Status RecommenderService::RecordEvents(grpc::ServerContext* context,
                                              const v1::RecordEventsRequest* request,
                                              v1::RecordEventsResponse* response) {
  std::vector<feature_store::Event> events;
  events.reserve(request->events_size());
  for (const v1::Event& e : request->events()) {
    feature_store::Event out;
    // An unknown type maps to a value outside the enum, which the domain
    // rejects with the event's index.
    out.type = ToEventType(e.type()).value_or(static_cast<feature_store::EventType>(0));
    out.user_id = e.user_id();
    out.item_id = e.item_id();
    out.coupon_id = e.coupon_id();
    out.time = absl::FromUnixSeconds(e.timestamp_unix());
    out.quantity = e.quantity();
    out.price = e.price();
    out.slot = e.slot();
    events.push_back(std::move(out));
  }
  auto answer = recommender_->RecordEvents(events, Deadline(context));
  if (!answer.ok()) return ToGrpcStatus(answer.status());
  response->set_accepted(answer->accepted);
  for (const auto& [index, message] : answer->rejected) {
    v1::EventError* err = response->add_rejected();
    err->set_index(index);
    err->set_message(message);
  }
  ToProto(answer->meta, response->mutable_meta());
  return grpc::Status::OK;
}

grpc::Status RecommenderService::GetUserProfile(grpc::ServerContext* context,
                                                const v1::GetUserProfileRequest* request,
                                                v1::UserProfile* response) {
  auto answer = recommender_->GetUserProfile(request->user_id(), request->history_limit(),
                                             Deadline(context));
  if (!answer.ok()) return ToGrpcStatus(answer.status());
  response->set_user_id(answer->user_id);
  response->set_known_to_model(answer->known_to_model);
  for (const auto& p : answer->purchases) {
    v1::PurchasedItem* out = response->add_purchases();
    out->set_item_id(p.item_id);
    out->set_count(p.count);
    out->set_last_purchase_unix(absl::ToUnixSeconds(p.last_purchase));
    out->set_category(p.category);
  }
  for (const auto& a : answer->recent) {
    v1::ViewedItem* out = response->add_recent_activity();
    out->set_item_id(a.item_id);
    out->set_timestamp_unix(absl::ToUnixSeconds(a.time));
    out->set_type(FromEventType(a.type));
  }
  ToProto(answer->meta, response->mutable_meta());
  return grpc::Status::OK;
}

grpc::Status AdminService::GetModelInfo(grpc::ServerContext* context,
                                        const v1::GetModelInfoRequest*,
                                        v1::ModelInfo* response) {
  auto bundle = models_->Current();
  response->set_version(bundle->version());
  response->set_path(bundle->path());
  response->set_created_unix(bundle->manifest().created_unix());
  response->set_loaded_unix(absl::ToUnixSeconds(bundle->loaded_at()));
  response->set_num_users(bundle->num_users());
  response->set_num_items(bundle->num_items());
  response->set_dim(bundle->dim());
  response->set_index_type(bundle->ip_index().Describe());
  std::string json;
  google::protobuf::util::JsonPrintOptions options;
  options.preserve_proto_field_names = true;
  (void)google::protobuf::util::MessageToJsonString(bundle->manifest(), &json, options);
  response->set_manifest_json(json);
  for (const auto& v : models_->AvailableVersions()) response->add_available_versions(v);
  response->set_pinned(models_->pinned());
  response->set_feature_store(features_->Describe());
  const absl::Time deadline = std::min(Deadline(context), absl::Now() + absl::Milliseconds(200));
  response->set_feature_store_healthy(features_->Ping(deadline).ok());
  return grpc::Status::OK;
}

grpc::Status AdminService::ReloadModel(grpc::ServerContext*,
                                       const v1::ReloadModelRequest* request,
                                       v1::ReloadModelResponse* response) {
  if (!slots_config_.empty() && recommender_ != nullptr) {
    auto plan = recommender::SlotPlan::Load(slots_config_);
    if (!plan.ok()) {
      LogError(absl::StrCat("slots config rejected, keeping the served one: ",
                            plan.status().message()));
      return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                          absl::StrCat("slots config rejected (nothing reloaded): ",
                                       plan.status().message()));
    }
    recommender_->SetSlotPlan(*std::move(plan));
  }
  auto result = models_->Reload(request->version());
  if (!result.ok()) return ToGrpcStatus(result.status());
  response->set_previous_version(result->previous_version);
  response->set_version(result->version);
  response->set_changed(result->changed);
  return grpc::Status::OK;
}

grpc::Status AdminService::Rollback(grpc::ServerContext*, const v1::RollbackRequest*,
                                    v1::RollbackResponse* response) {
  auto result = models_->Rollback();
  if (!result.ok()) return ToGrpcStatus(result.status());
  response->set_previous_version(result->previous_version);
  response->set_version(result->version);
  return grpc::Status::OK;
}

grpc::Status AdminService::UpdateItems(grpc::ServerContext* context,
                                       const v1::UpdateItemsRequest* request,
                                       v1::UpdateItemsResponse* response) {
  if (request->items().empty()) {
    return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "items: at least one item is required");
  }
  if (request->items_size() > 10000) {
    return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                        absl::StrCat("items: at most 10000 per call, got ", request->items_size()));
  }
  for (int i = 0; i < request->items_size(); ++i) {
    const v1::ItemUpdate& in = request->items(i);
    const std::string prefix = absl::StrCat("items[", i, "].");
    if (in.item_id().empty()) {
      return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, prefix + "item_id: must not be empty");
    }
    if (in.has_stock() && in.stock() < -1) {
      return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                          absl::StrCat(prefix, "stock: must be >= -1, got ", in.stock()));
    }
    if (!(in.price() >= 0) || !std::isfinite(in.price())) {
      return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                          prefix + "price: must be finite and >= 0");
    }
    if (in.listed_unix() < 0 ||
        in.listed_unix() > absl::ToUnixSeconds(absl::Now() + absl::Hours(24 * 366))) {
      return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                          absl::StrCat(prefix, "listed_unix: must be a Unix time within a year "
                                               "from now, got ", in.listed_unix()));
    }
  }
  // Fields left unset keep what the store holds (else the model's values).
  std::vector<std::string> ids;
  for (const v1::ItemUpdate& in : request->items()) ids.push_back(in.item_id());
  auto stored =
      features_->GetItems(ids, std::min(Deadline(context), absl::Now() + absl::Seconds(5)));
  if (!stored.ok()) {
    return grpc::Status(grpc::StatusCode::UNAVAILABLE,
                        absl::StrCat("feature store did not answer: ", stored.status().message()));
  }
  const auto bundle = models_->Current();
  std::vector<feature_store::ItemFeatures> items;
  items.reserve(request->items_size());
  for (int i = 0; i < request->items_size(); ++i) {
    const v1::ItemUpdate& in = request->items(i);
    feature_store::ItemFeatures f;
    const int32_t row = bundle->ItemRow(in.item_id());
    if ((*stored)[i].has_value()) {
      f = *(*stored)[i];
    } else if (row >= 0) {
      f.category = bundle->item(row).category;
      f.price = bundle->item(row).price;
      f.title = bundle->item(row).title;
    }
    if (row < 0) response->add_unknown_to_model(in.item_id());
    f.item_id = in.item_id();
    if (in.has_stock()) f.stock = in.stock();
    if (in.has_slow_mover()) f.slow_mover = in.slow_mover();
    if (!in.category().empty()) f.category = in.category();
    if (in.price() > 0) f.price = in.price();
    if (!in.title().empty()) f.title = in.title();
    // PutItems records a known listing time; an unset one keeps the stored.
    f.listed = in.listed_unix() > 0 ? absl::FromUnixSeconds(in.listed_unix())
                                    : absl::InfinitePast();
    items.push_back(std::move(f));
  }
  absl::Status st = features_->PutItems(items);
  if (!st.ok()) {
    return grpc::Status(grpc::StatusCode::UNAVAILABLE,
                        absl::StrCat("feature store did not store the items: ", st.message()));
  }
  if (recommender_ != nullptr) recommender_->CatalogChanged();
  response->set_updated(static_cast<int>(items.size()));
  return grpc::Status::OK;
}

grpc::Status AdminService::GetTrialReport(grpc::ServerContext* context,
                                          const v1::GetTrialReportRequest* request,
                                          v1::TrialReport* response) {
  if (recommender_ == nullptr) {
    return grpc::Status(grpc::StatusCode::UNIMPLEMENTED, "no recommender attached");
  }
  if (request->request_time_unix() < 0) {
    return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                        "request_time_unix: must be >= 0 (0: now)");
  }
  const absl::Time now = request->request_time_unix() > 0
                             ? absl::FromUnixSeconds(request->request_time_unix())
                             : absl::Now();
  auto answer = recommender_->TrialReport(now, request->ended_within_days(), Deadline(context));
  if (!answer.ok()) return ToGrpcStatus(answer.status());
  response->set_trial_days(answer->trial_days);
  for (const recommender::TrialItemReport& r : answer->items) {
    v1::TrialItemReport* out = response->add_items();
    out->set_item_id(r.item_id);
    out->set_category(r.category);
    out->set_title(r.title);
    out->set_listed_unix(absl::ToUnixSeconds(r.listed));
    out->set_day(r.day);
    out->set_status(r.status);
    out->set_impressions(r.counts.impressions);
    out->set_clicks(r.counts.clicks);
    out->set_purchases(r.counts.purchases);
    if (r.counts.impressions > 0) {
      out->set_click_rate(static_cast<double>(r.counts.clicks) / r.counts.impressions);
      out->set_purchase_rate(static_cast<double>(r.counts.purchases) / r.counts.impressions);
    }
    out->set_vector_source(std::string(recommender::TrialVectorSourceName(r.vector_source)));
  }
  ToProto(answer->meta, response->mutable_meta());
  return grpc::Status::OK;
}

absl::StatusOr<std::unique_ptr<RecsysServer>> RecsysServer::Start(
    const ServerOptions& options, recommender::ModelStore* models,
    feature_store::FeatureStore* features,
    const recommender::RecommenderOptions& recommender_options) {
  std::unique_ptr<RecsysServer> s(new RecsysServer());
  s->options_ = options;
  s->features_ = features;
  s->recommender_ =
      std::make_unique<recommender::Recommender>(models, features, recommender_options);
  if (!options.slots_config.empty()) {
    auto plan = recommender::SlotPlan::Load(options.slots_config);
    if (!plan.ok()) return plan.status();
    s->recommender_->SetSlotPlan(*std::move(plan));
  }
  s->recommender_service_ = std::make_unique<RecommenderService>(s->recommender_.get());
  s->admin_service_ = std::make_unique<AdminService>(models, features, s->recommender_.get(),
                                                     options.slots_config);

  grpc::EnableDefaultHealthCheckService(true);
  if (options.reflection) grpc::reflection::InitProtoReflectionServerBuilderPlugin();
  grpc::ServerBuilder builder;
  grpc::ResourceQuota quota("recsys");
  quota.SetMaxThreads(options.max_threads);
  builder.SetResourceQuota(quota);
  builder.AddListeningPort(options.listen_address, grpc::InsecureServerCredentials(),
                           &s->port_);
  builder.RegisterService(s->recommender_service_.get());
  builder.RegisterService(s->admin_service_.get());
  s->server_ = builder.BuildAndStart();
  if (s->server_ == nullptr || s->port_ == 0) {
    return absl::UnavailableError(
        absl::StrCat("cannot listen on ", options.listen_address));
  }
  auto* health = s->server_->GetHealthCheckService();
  health->SetServingStatus("", true);
  health->SetServingStatus(kRecommenderHealthName, true);
  health->SetServingStatus(
      kFeatureStoreHealthName,
      features->Ping(absl::Now() + absl::Milliseconds(200)).ok());
  s->health_thread_ = std::thread([p = s.get()] { p->HealthLoop(); });
  LogInfo(absl::StrCat("recsys server listening on port ", s->port_, ", feature store ",
                       features->Describe()));
  return s;
}

void RecsysServer::HealthLoop() {
  bool last = true;
  while (!stop_.WaitForNotificationWithTimeout(options_.health_interval)) {
    const bool ok = features_->Ping(absl::Now() + absl::Milliseconds(200)).ok();
    server_->GetHealthCheckService()->SetServingStatus(kFeatureStoreHealthName, ok);
    if (ok != last) {
      if (ok) {
        LogInfo(absl::StrCat("feature store ", features_->Describe(), " is back"));
      } else {
        LogWarning(absl::StrCat("feature store ", features_->Describe(),
                                " not answering; serving degraded answers"));
      }
      last = ok;
    }
  }
}

void RecsysServer::Shutdown() {
  if (shut_down_.exchange(true)) return;
  stop_.Notify();
  if (health_thread_.joinable()) health_thread_.join();
  if (server_ != nullptr) {
    server_->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(5));
  }
}

RecsysServer::~RecsysServer() { Shutdown(); }

std::shared_ptr<grpc::Channel> RecsysServer::InProcessChannel() {
  return server_->InProcessChannel(grpc::ChannelArguments());
}

}  // namespace recsys::server
