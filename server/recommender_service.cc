#include "server/recommender_service.h"

#include <google/protobuf/arena.h>
#include <google/protobuf/util/json_util.h>
#include <grpcpp/ext/proto_server_reflection_plugin.h>
#include <grpcpp/health_check_service_interface.h>
#include <grpcpp/resource_quota.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <utility>

#include "absl/cleanup/cleanup.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/log.h"
#include "common/validation.h"
#include "experiments/report.h"
#include "experiments/uplift.h"
#include "marketing/marketing_proto.h"
#include "server/grpc_status.h"

namespace recsys::server {
namespace {

namespace v1 = recsys::v1;
using recommender::AnswerMeta;
using recommender::ItemFilters;
using recommender::ScoredItem;

absl::Time Deadline(const grpc::ServerContextBase* context) {
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
  out->set_model_fallback(meta.model_fallback);
  out->set_model_fallback_reason(meta.model_fallback_reason);
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

v1::ReasonCode ToReasonCode(marketing::CouponReason reason) {
  switch (reason) {
    case marketing::CouponReason::kFirstOrder: return v1::REASON_FIRST_ORDER;
    case marketing::CouponReason::kWinBack: return v1::REASON_WIN_BACK;
    case marketing::CouponReason::kSegmentOffer: return v1::REASON_SEGMENT_OFFER;
    case marketing::CouponReason::kAffinity: return v1::REASON_AFFINITY;
  }
  return v1::REASON_UNSPECIFIED;
}

void ToProto(const marketing::MarketingMeta& meta, v1::ResponseMeta* out) {
  out->set_model_version(meta.model_version);
  out->set_degraded(meta.degraded);
  out->set_degraded_reason(meta.degraded_reason);
}

void ToProto(const std::vector<experiments::Arm>& arms,
             google::protobuf::RepeatedPtrField<v1::Assignment>* out) {
  for (const experiments::Arm& arm : arms) {
    v1::Assignment* a = out->Add();
    a->set_experiment(arm.experiment);
    a->set_variant(arm.variant);
  }
}

void ToProto(const experiments::Incrementality& u,
             v1::IncrementalityFigures* out) {
  out->set_source(std::string(experiments::UpliftUseName(u.use)));
  out->set_value(u.value);
  out->set_prior(u.prior);
  out->set_measured(u.measured);
  out->set_standard_error(u.standard_error);
  out->set_weight(u.weight);
  out->set_experiment(u.experiment);
  out->set_holdout_users(u.holdout_users);
  out->set_treated_users(u.treated_users);
}

void ToProto(const experiments::LiftReport& l, v1::Lift* lo) {
  lo->set_metric(l.metric);
  lo->set_control(l.control);
  lo->set_treatment(l.treatment);
  lo->set_absolute(l.absolute);
  lo->set_absolute_low(l.absolute_low);
  lo->set_absolute_high(l.absolute_high);
  lo->set_relative(l.relative);
  lo->set_relative_low(l.relative_low);
  lo->set_relative_high(l.relative_high);
  lo->set_p_value(l.p_value);
  lo->set_method(l.method);
  lo->set_standard_error(l.standard_error);
}

v1::EventType FromEventType(feature_store::EventType type) {
  return static_cast<v1::EventType>(static_cast<int>(type));
}

// The call's `authorization` metadata checked by ApiKeys::Authorize; OK
// without keys.
grpc::Status CheckAccess(const ApiKeys* api_keys, const grpc::ServerContextBase* context,
                         absl::string_view method) {
  if (api_keys == nullptr) return grpc::Status::OK;
  const auto& metadata = context->client_metadata();
  const auto it = metadata.find("authorization");
  const absl::string_view value =
      it == metadata.end() ? absl::string_view()
                           : absl::string_view(it->second.data(), it->second.size());
  return ToGrpcStatus(api_keys->Authorize(method, value));
}

bool IsLoopback(absl::string_view address) {
  return absl::StartsWith(address, "127.") || absl::StartsWith(address, "localhost:") ||
         absl::StartsWith(address, "[::1]:") || absl::StartsWith(address, "unix:");
}

}  // namespace

grpc::Status RecommenderService::Authorize(const grpc::ServerContextBase* context,
                                           absl::string_view method) const {
  return CheckAccess(api_keys_, context, method);
}

grpc::Status AdminService::Authorize(const grpc::ServerContextBase* context,
                                     absl::string_view method) const {
  return CheckAccess(api_keys_, context, method);
}

grpc::Status RecommenderService::RecommendProducts(grpc::ServerContext* context,
                                                   const v1::RecommendProductsRequest* request,
                                                   v1::RecommendProductsResponse* response) {
  if (grpc::Status access = Authorize(context, "RecommendProducts"); !access.ok()) return access;
  return DoRecommendProducts(Deadline(context), *request, response);
}

grpc::Status RecommenderService::SimilarItems(grpc::ServerContext* context,
                                              const v1::SimilarItemsRequest* request,
                                              v1::SimilarItemsResponse* response) {
  if (grpc::Status access = Authorize(context, "SimilarItems"); !access.ok()) return access;
  return DoSimilarItems(Deadline(context), *request, response);
}

grpc::Status RecommenderService::DoRecommendProducts(absl::Time deadline,
                                                     const v1::RecommendProductsRequest& request,
                                                     v1::RecommendProductsResponse* response) const {
  recommender::ProductRequest query;
  query.user_id = request.user_id();
  for (const auto& slot : request.slots()) query.slots.push_back({slot.name(), slot.k()});
  query.filters = ToFilters(request.filters());
  if (request.context().request_time_unix() != 0) {
    query.now = absl::FromUnixSeconds(request.context().request_time_unix());
  }
  query.deadline = deadline;
  auto answer = recommender_->RecommendProducts(query);
  if (!answer.ok()) return ToGrpcStatus(answer.status());
  if (metrics_ != nullptr) metrics_->RecordAnswer("RecommendProducts", answer->meta);
  for (const auto& slot : answer->slots) {
    v1::SlotResult* out = response->add_slots();
    out->set_name(slot.name);
    for (const auto& item : slot.items) ToProto(item, out->add_items());
    out->set_recommendation_id(slot.recommendation_id);
    out->set_model_version(slot.model_version);
    ToProto(slot.assignments, out->mutable_assignments());
  }
  ToProto(answer->meta, response->mutable_meta());
  return grpc::Status::OK;
}

grpc::Status RecommenderService::DoSimilarItems(absl::Time deadline,
                                                const v1::SimilarItemsRequest& request,
                                                v1::SimilarItemsResponse* response) const {
  recommender::SimilarRequest query;
  query.item_id = request.item_id();
  query.k = request.k();
  query.filters = ToFilters(request.filters());
  query.user_id = request.user_id();
  query.price_band = request.price_band();
  if (!v1::SimilarMode_IsValid(request.mode())) {
    return ToGrpcStatus(absl::InvalidArgumentError(
        absl::StrCat("mode: unknown SimilarMode ", request.mode())));
  }
  query.complements = request.mode() == v1::SIMILAR_MODE_COMPLEMENTS;
  query.deadline = deadline;
  auto answer = recommender_->SimilarItems(query);
  if (!answer.ok()) return ToGrpcStatus(answer.status());
  if (metrics_ != nullptr) metrics_->RecordAnswer("SimilarItems", answer->meta);
  for (const auto& item : answer->items) ToProto(item, response->add_items());
  ToProto(answer->meta, response->mutable_meta());
  response->set_recommendation_id(answer->recommendation_id);
  ToProto(answer->assignments, response->mutable_assignments());
  return grpc::Status::OK;
}

grpc::Status RecommenderService::RecommendCoupons(grpc::ServerContext* context,
                                                  const v1::RecommendCouponsRequest* request,
                                                  v1::RecommendCouponsResponse* response) {
  if (grpc::Status access = Authorize(context, "RecommendCoupons"); !access.ok()) return access;
  return DoRecommendCoupons(Deadline(context), *request, response);
}

grpc::Status RecommenderService::DoRecommendCoupons(absl::Time deadline,
                                                    const v1::RecommendCouponsRequest& request,
                                                    v1::RecommendCouponsResponse* response) const {
  if (marketer_ == nullptr) {
    return ToGrpcStatus(absl::UnimplementedError("RecommendCoupons: this server runs without the marketing engine"));
  }
  const absl::Time now = request.context().request_time_unix() != 0
                             ? absl::FromUnixSeconds(request.context().request_time_unix())
                             : absl::InfinitePast();
  auto answer = marketer_->RecommendCoupons(request.user_id(), request.k(), now, deadline);
  if (!answer.ok()) return ToGrpcStatus(answer.status());
  if (metrics_ != nullptr) metrics_->RecordMarketingAnswer("RecommendCoupons", answer->meta);
  for (const marketing::RankedCoupon& c : answer->coupons) {
    v1::RecommendedCoupon* out = response->add_coupons();
    out->set_coupon_id(c.coupon_id);
    out->set_type(marketing::ToProto(c.type));
    out->set_score(static_cast<float>(c.expected_value));
    out->mutable_reason()->set_code(ToReasonCode(c.reason));
    out->mutable_reason()->set_text(c.reason_text);
    out->set_propensity(static_cast<float>(c.propensity));
    out->set_incrementality(static_cast<float>(c.incrementality));
    out->set_basket_value(c.basket_value);
    out->set_discount(c.discount);
    ToProto(c.uplift, out->mutable_incrementality_figures());
  }
  response->set_segment(std::string(marketing::SegmentName(answer->customer.segment)));
  response->set_tier(std::string(marketing::TierName(answer->customer.tier)));
  response->set_orders(answer->customer.orders);
  response->set_growth_tier(answer->customer.growth_tier);
  ToProto(answer->meta, response->mutable_meta());
  response->set_recommendation_id(answer->recommendation_id);
  ToProto(answer->assignments, response->mutable_assignments());
  return grpc::Status::OK;
}

grpc::Status RecommenderService::FindAudience(grpc::ServerContext* context,
                                              const v1::FindAudienceRequest* request,
                                              grpc::ServerWriter<v1::AudiencePage>* writer) {
  if (grpc::Status access = Authorize(context, "FindAudience"); !access.ok()) return access;
  // Each stream scans every customer: at most max_audience_streams at once,
  // refused at once beyond (a client may retry later).
  if (audience_streams_.fetch_add(1) >= limits_.max_audience_streams) {
    audience_streams_.fetch_sub(1);
    return ToGrpcStatus(absl::ResourceExhaustedError(
        absl::StrCat("FindAudience: ", limits_.max_audience_streams,
                     " audience streams already running (the server's limit, "
                     "--max_audience_streams); retry when one has finished")));
  }
  const absl::Cleanup release = [this] { audience_streams_.fetch_sub(1); };
  if (marketer_ == nullptr) {
    return ToGrpcStatus(absl::UnimplementedError("FindAudience: this server runs without the marketing engine"));
  }
  marketing::AudienceQuery query;
  switch (request->offer_case()) {
    case v1::FindAudienceRequest::kCouponId:
      query.coupon_id = request->coupon_id();
      if (query.coupon_id.empty()) {
        return ToGrpcStatus(absl::InvalidArgumentError("coupon_id: must not be empty"));
      }
      break;
    case v1::FindAudienceRequest::kCategory:
      query.category = request->category();
      if (query.category.empty()) {
        return ToGrpcStatus(absl::InvalidArgumentError("category: must not be empty"));
      }
      break;
    case v1::FindAudienceRequest::kItems:
      query.item_ids.assign(request->items().item_ids().begin(), request->items().item_ids().end());
      if (query.item_ids.empty()) {
        return ToGrpcStatus(absl::InvalidArgumentError("items.item_ids: at least one item is required"));
      }
      break;
    default:
      return ToGrpcStatus(absl::InvalidArgumentError("offer: one of coupon_id, category or items is required"));
  }
  const v1::AudienceFilters& f = request->filters();
  query.segments.assign(f.segments().begin(), f.segments().end());
  query.tiers.assign(f.tiers().begin(), f.tiers().end());
  query.min_days_since_purchase = f.min_days_since_purchase();
  query.contact_cap_days = f.contact_cap_days();
  query.tags.assign(f.tags().begin(), f.tags().end());
  query.min_churn_risk = f.min_churn_risk();
  query.min_purchase_intent = f.min_purchase_intent();
  query.due_within_days = f.due_within_days();
  query.campaign = request->campaign();
  if (request->limit() < 0) {
    return ToGrpcStatus(absl::InvalidArgumentError("limit: must be >= 0 (0: all)"));
  }
  query.limit = request->limit();
  query.now = request->context().request_time_unix() != 0
                  ? absl::FromUnixSeconds(request->context().request_time_unix())
                  : absl::InfinitePast();
  query.deadline = Deadline(context);
  bool first = true;
  v1::AudiencePage page;
  auto summary = marketer_->FindAudience(
      query, [&](const std::vector<marketing::AudienceEntry>& chunk,
                 const marketing::MarketingMeta& meta) {
        page.Clear();
        page.mutable_members()->Reserve(static_cast<int>(chunk.size()));
        for (const marketing::AudienceEntry& e : chunk) {
          v1::AudienceMember* member = page.add_members();
          member->set_user_id(std::string(e.user_id));
          member->set_score(e.score);
          member->set_segment(std::string(marketing::SegmentName(e.segment)));
          member->set_tier(std::string(marketing::TierName(e.tier)));
          member->set_days_since_purchase(e.days_since_purchase);
          if (e.tags != nullptr) {
            member->mutable_interest_tags()->Add(e.tags->begin(), e.tags->end());
          }
          member->set_purchase_intent(e.purchase_intent);
          member->set_churn_risk(e.churn_risk);
          member->set_next_purchase_unix(e.next_purchase_unix);
          member->set_best_coupon_id(e.best_coupon_id);
          member->mutable_reason()->set_code(v1::REASON_AFFINITY);
          member->mutable_reason()->set_text(e.reason_text);
          member->set_recommendation_id(e.recommendation_id);
          member->set_held_out(e.held_out);
          ToProto(e.assignments, member->mutable_assignments());
        }
        if (first) {
          ToProto(meta, page.mutable_meta());
          first = false;
        }
        if (!writer->Write(page)) return false;  // client gone
        return !context->IsCancelled();
      });
  if (!summary.ok()) return ToGrpcStatus(summary.status());
  return grpc::Status::OK;
}

grpc::Status RecommenderService::RecordEvents(grpc::ServerContext* context,
                                              const v1::RecordEventsRequest* request,
                                              v1::RecordEventsResponse* response) {
  if (grpc::Status access = Authorize(context, "RecordEvents"); !access.ok()) return access;
  return DoRecordEvents(Deadline(context), *request, response);
}

grpc::Status RecommenderService::DoRecordEvents(absl::Time deadline,
                                                const v1::RecordEventsRequest& request,
                                                v1::RecordEventsResponse* response) const {
  std::vector<feature_store::Event> events;
  events.reserve(request.events_size());
  for (const v1::Event& e : request.events()) {
    feature_store::Event& out = events.emplace_back();
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
    out.event_id = e.event_id();
    out.recommendation_id = e.recommendation_id();
  }
  auto answer = storefront_->RecordEvents(events, deadline);
  if (!answer.ok()) return ToGrpcStatus(answer.status());
  if (metrics_ != nullptr) {
    // Refused events and retries of applied ones are not counted again.
    std::vector<int> skip = answer->duplicate_indices;
    skip.reserve(skip.size() + answer->rejected.size());
    for (const auto& r : answer->rejected) skip.push_back(r.first);
    std::sort(skip.begin(), skip.end());
    metrics_->RecordAnswer("RecordEvents", answer->meta);
    metrics_->RecordEvents(events, skip);
  }
  response->set_accepted(answer->accepted);
  response->set_duplicates(answer->duplicates);
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
  if (grpc::Status access = Authorize(context, "GetUserProfile"); !access.ok()) return access;
  return DoGetUserProfile(Deadline(context), *request, response);
}

grpc::Status RecommenderService::DoGetUserProfile(absl::Time deadline,
                                                  const v1::GetUserProfileRequest& request,
                                                  v1::UserProfile* response) const {
  auto answer = recommender_->GetUserProfile(request.user_id(), request.history_limit(), deadline);
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
  if (marketer_ != nullptr) {
    const marketing::MarketingProfile m =
        marketer_->Profile(request.user_id(), absl::Now(), deadline);
    response->set_segment(std::string(marketing::SegmentName(m.customer.segment)));
    response->set_tier(std::string(marketing::TierName(m.customer.tier)));
    if (m.record.has_value()) {
      const marketing::UserSegment& r = *m.record;
      response->set_lifecycle_stage(std::string(marketing::LifecycleName(r.lifecycle)));
      v1::RfmScores* rfm = response->mutable_rfm();
      rfm->set_recency_days(r.recency_days);
      rfm->set_frequency(r.frequency);
      rfm->set_monetary(r.monetary);
      rfm->set_r_score(r.r_score);
      rfm->set_f_score(r.f_score);
      rfm->set_m_score(r.m_score);
    } else {
      response->set_lifecycle_stage("new");
    }
    if (m.intel.has_value()) {
      const intelligence::UserIntel& i = *m.intel;
      response->mutable_interest_tags()->Add(i.tags.begin(), i.tags.end());
      for (const auto& [category, share] : i.affinities) {
        v1::CategoryAffinity* a = response->add_category_affinities();
        a->set_category(category);
        a->set_share(static_cast<float>(share));
      }
      response->set_purchase_intent(static_cast<float>(i.purchase_intent));
      response->set_churn_risk(static_cast<float>(i.churn_risk));
      response->set_next_purchase_unix(i.next_purchase_unix);
      response->set_cycle_days(static_cast<float>(i.cycle_days));
      response->set_relative_price_level(static_cast<float>(i.relative_price_level));
      response->set_discount_share(static_cast<float>(i.discount_share));
      response->set_growth_value(i.growth_value);
      response->set_growth_tier(i.growth_tier);
      response->set_intelligence_as_of_unix(i.as_of_unix);
      response->set_birthday(i.birthday);
      for (const intelligence::DueItem& d : i.due_items) {
        v1::DueRepurchase* due = response->add_due_items();
        due->set_item_id(d.item_id);
        due->set_due_unix(d.due_unix);
        due->set_cycle_days(static_cast<float>(d.cycle_days));
      }
    } else {
      response->set_purchase_intent(-1);
      response->set_relative_price_level(-1);
      response->set_discount_share(-1);
    }
    if (m.meta.degraded && !answer->meta.degraded) {
      answer->meta.degraded = true;
      answer->meta.degraded_reason = m.meta.degraded_reason;
    }
  }
  if (metrics_ != nullptr) metrics_->RecordAnswer("GetUserProfile", answer->meta);
  ToProto(answer->meta, response->mutable_meta());
  return grpc::Status::OK;
}

grpc::Status AdminService::GetModelInfo(grpc::ServerContext* context,
                                        const v1::GetModelInfoRequest* request,
                                        v1::ModelInfo* response) {
  if (grpc::Status access = Authorize(context, "GetModelInfo"); !access.ok()) return access;
  return DoGetModelInfo(Deadline(context), *request, response);
}

grpc::Status AdminService::DoGetModelInfo(absl::Time deadline, const v1::GetModelInfoRequest&,
                                          v1::ModelInfo* response) const {
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
  for (const model::RejectedVersion& r : models_->RejectedVersions()) {
    v1::RejectedVersion* out = response->add_rejected_versions();
    out->set_version(r.version);
    out->set_reason(r.reason);
    out->set_rejected_unix(absl::ToUnixSeconds(r.rejected_at));
  }
  for (const model::VariantVersion& v : models_->VariantVersions()) {
    v1::VariantModelVersion* out = response->add_variant_versions();
    out->set_version(v.version);
    for (const std::string& user : v.used_by) out->add_used_by(user);
    out->set_loaded(v.bundle != nullptr);
    out->set_error(std::string(v.status.message()));
    if (v.bundle != nullptr) {
      out->set_loaded_unix(absl::ToUnixSeconds(v.bundle->loaded_at()));
      out->set_num_users(v.bundle->num_users());
      out->set_num_items(v.bundle->num_items());
    }
  }
  response->set_feature_store(features_->Describe());
  const absl::Time ping_deadline = std::min(deadline, absl::Now() + absl::Milliseconds(200));
  response->set_feature_store_healthy(features_->Ping(ping_deadline).ok());
  return grpc::Status::OK;
}

grpc::Status AdminService::ReloadModel(grpc::ServerContext* context,
                                       const v1::ReloadModelRequest* request,
                                       v1::ReloadModelResponse* response) {
  if (grpc::Status access = Authorize(context, "ReloadModel"); !access.ok()) return access;
  return DoReloadModel(Deadline(context), *request, response);
}

grpc::Status AdminService::DoReloadModel(absl::Time deadline, const v1::ReloadModelRequest& request,
                                         v1::ReloadModelResponse* response) const {
  absl::Status config = storefront_->ReloadSlotConfig();
  if (!config.ok()) return ToGrpcStatus(config);
  auto result = models_->Reload(request.version());
  if (!result.ok()) return ToGrpcStatus(result.status());
  response->set_previous_version(result->previous_version);
  response->set_version(result->version);
  response->set_changed(result->changed);
  return grpc::Status::OK;
}

grpc::Status AdminService::Rollback(grpc::ServerContext* context,
                                    const v1::RollbackRequest* request,
                                    v1::RollbackResponse* response) {
  if (grpc::Status access = Authorize(context, "Rollback"); !access.ok()) return access;
  return DoRollback(Deadline(context), *request, response);
}

grpc::Status AdminService::DoRollback(absl::Time deadline, const v1::RollbackRequest&,
                                      v1::RollbackResponse* response) const {
  auto result = models_->Rollback();
  if (!result.ok()) return ToGrpcStatus(result.status());
  response->set_previous_version(result->previous_version);
  response->set_version(result->version);
  return grpc::Status::OK;
}

grpc::Status AdminService::UpdateItems(grpc::ServerContext* context,
                                       const v1::UpdateItemsRequest* request,
                                       v1::UpdateItemsResponse* response) {
  if (grpc::Status access = Authorize(context, "UpdateItems"); !access.ok()) return access;
  return DoUpdateItems(Deadline(context), *request, response);
}

grpc::Status AdminService::DoUpdateItems(absl::Time deadline, const v1::UpdateItemsRequest& request,
                                         v1::UpdateItemsResponse* response) const {
  std::vector<recommender::ItemUpdate> updates;
  updates.reserve(request.items_size());
  for (const v1::ItemUpdate& in : request.items()) {
    recommender::ItemUpdate& u = updates.emplace_back();
    u.item_id = in.item_id();
    if (in.has_stock()) u.stock = in.stock();
    if (in.has_slow_mover()) u.slow_mover = in.slow_mover();
    u.category = in.category();
    u.price = in.price();
    u.title = in.title();
    u.listed_unix = in.listed_unix();
    if (in.has_cost()) u.cost = in.cost();
    u.role = in.role();
  }
  auto answer = storefront_->UpdateItems(updates, deadline);
  if (!answer.ok()) return ToGrpcStatus(answer.status());
  response->set_updated(answer->updated);
  for (const std::string& id : answer->unknown_to_model) response->add_unknown_to_model(id);
  return grpc::Status::OK;
}

grpc::Status AdminService::GetTrialReport(grpc::ServerContext* context,
                                          const v1::GetTrialReportRequest* request,
                                          v1::TrialReport* response) {
  if (grpc::Status access = Authorize(context, "GetTrialReport"); !access.ok()) return access;
  return DoGetTrialReport(Deadline(context), *request, response);
}

grpc::Status AdminService::DoGetTrialReport(absl::Time deadline,
                                            const v1::GetTrialReportRequest& request,
                                            v1::TrialReport* response) const {
  if (request.request_time_unix() < 0) {
    return ToGrpcStatus(absl::InvalidArgumentError("request_time_unix: must be >= 0 (0: now)"));
  }
  const absl::Time now = request.request_time_unix() > 0
                             ? absl::FromUnixSeconds(request.request_time_unix())
                             : absl::Now();
  auto answer = storefront_->recommender().TrialReport(now, request.ended_within_days(), deadline);
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

grpc::Status AdminService::PutCoupons(grpc::ServerContext* context,
                                      const v1::CouponCatalog* request,
                                      v1::PutCouponsResponse* response) {
  if (grpc::Status access = Authorize(context, "PutCoupons"); !access.ok()) return access;
  return DoPutCoupons(Deadline(context), *request, response);
}

grpc::Status AdminService::DoPutCoupons(absl::Time deadline, const v1::CouponCatalog& request,
                                        v1::PutCouponsResponse* response) const {
  if (marketer_ == nullptr) {
    return ToGrpcStatus(absl::UnimplementedError("no marketing engine"));
  }
  if (request.coupons().empty()) {
    return ToGrpcStatus(absl::InvalidArgumentError("coupons: at least one coupon is required"));
  }
  absl::Status st = marketer_->PutCoupons(marketing::FromProto(request), deadline);
  if (!st.ok()) return ToGrpcStatus(st);
  response->set_stored(request.coupons_size());
  return grpc::Status::OK;
}

grpc::Status AdminService::ListCoupons(grpc::ServerContext* context,
                                       const v1::ListCouponsRequest* request,
                                       v1::CouponList* response) {
  if (grpc::Status access = Authorize(context, "ListCoupons"); !access.ok()) return access;
  return DoListCoupons(Deadline(context), *request, response);
}

grpc::Status AdminService::DoListCoupons(absl::Time deadline, const v1::ListCouponsRequest&,
                                         v1::CouponList* response) const {
  if (marketer_ == nullptr) {
    return ToGrpcStatus(absl::UnimplementedError("no marketing engine"));
  }
  auto coupons = marketer_->ListCoupons(deadline);
  if (!coupons.ok()) return ToGrpcStatus(coupons.status());
  for (const marketing::CouponWithState& c : *coupons) {
    *response->add_coupons() = marketing::ToProto(c);
  }
  return grpc::Status::OK;
}

grpc::Status AdminService::DeleteCoupon(grpc::ServerContext* context,
                                        const v1::DeleteCouponRequest* request,
                                        v1::DeleteCouponResponse* response) {
  if (grpc::Status access = Authorize(context, "DeleteCoupon"); !access.ok()) return access;
  return DoDeleteCoupon(Deadline(context), *request, response);
}

grpc::Status AdminService::DoDeleteCoupon(absl::Time deadline,
                                          const v1::DeleteCouponRequest& request,
                                          v1::DeleteCouponResponse*) const {
  if (marketer_ == nullptr) {
    return ToGrpcStatus(absl::UnimplementedError("no marketing engine"));
  }
  return ToGrpcStatus(marketer_->DeleteCoupon(request.coupon_id(), deadline));
}

grpc::Status AdminService::RunTriggers(grpc::ServerContext* context,
                                       const v1::RunTriggersRequest* request,
                                       v1::RunTriggersResponse* response) {
  if (grpc::Status access = Authorize(context, "RunTriggers"); !access.ok()) return access;
  return DoRunTriggers(Deadline(context), *request, response);
}

grpc::Status AdminService::DoRunTriggers(absl::Time deadline,
                                         const v1::RunTriggersRequest& request,
                                         v1::RunTriggersResponse* response) const {
  if (triggers_ == nullptr) {
    return ToGrpcStatus(absl::UnimplementedError("no triggered offers (--triggers_config)"));
  }
  if (request.now_unix() < 0) {
    return ToGrpcStatus(absl::InvalidArgumentError(
        absl::StrCat("now_unix: must be >= 0, got ", request.now_unix())));
  }
  if (request.user_ids_size() > 10000) {
    return ToGrpcStatus(absl::InvalidArgumentError(
        absl::StrCat("user_ids: at most 10000, got ", request.user_ids_size())));
  }
  marketing::TriggerRunRequest run;
  run.now = request.now_unix() == 0 ? absl::Now() : absl::FromUnixSeconds(request.now_unix());
  for (int i = 0; i < request.user_ids_size(); ++i) {
    absl::Status ok = CheckId(absl::StrCat("user_ids[", i, "]"), request.user_ids(i));
    if (!ok.ok()) return ToGrpcStatus(ok);
    run.user_ids.push_back(request.user_ids(i));
  }
  absl::StatusOr<marketing::TriggerRunAnswer> ran = triggers_->Run(run, deadline);
  if (!ran.ok()) return ToGrpcStatus(ran.status());
  response->set_scheduled(ran->scheduled);
  response->set_claimed(ran->claimed);
  response->set_written(ran->written);
  response->set_duplicates(ran->duplicates);
  response->set_cancelled(ran->cancelled);
  response->set_holdout(ran->holdout);
  response->set_deferred(ran->deferred);
  response->set_capped(ran->capped);
  response->set_budget(ran->budget);
  response->set_errors(ran->errors);
  for (const marketing::Offer& o : ran->offers) {
    v1::TriggeredOffer* out = response->add_offers();
    out->set_offer_id(o.offer_id);
    out->set_stream_id(o.stream_id);
    out->set_rule(o.rule);
    out->set_user_id(o.user_id);
    out->set_campaign(o.campaign);
    out->set_coupon_id(o.coupon_id);
    out->set_template_id(o.template_id);
    out->set_cause(o.cause);
    out->set_trigger_unix(absl::ToUnixSeconds(o.trigger_time));
    out->set_send_unix(absl::ToUnixSeconds(o.send_time));
  }
  return grpc::Status::OK;
}

namespace {

// What every callback call goes through before its body: access, then the
// request's invalid UTF-8 (INVALID_ARGUMENT naming the field), then the
// bound on calls in flight.
grpc::Status Admit(const ApiKeys* api_keys, const grpc::CallbackServerContext* context,
                   absl::string_view method, const CallNote& note, const CallLimits& limits) {
  if (grpc::Status access = CheckAccess(api_keys, context, method); !access.ok()) return access;
  if (!note.invalid_utf8().empty()) {
    return ToGrpcStatus(absl::InvalidArgumentError(note.invalid_utf8()));
  }
  if (note.in_flight_at_start() > limits.max_concurrent_calls) {
    return ToGrpcStatus(absl::ResourceExhaustedError(
        absl::StrCat(method, ": the server already has its limit of ",
                     limits.max_concurrent_calls,
                     " calls in flight (--max_concurrent_calls); retry later")));
  }
  return grpc::Status::OK;
}

// The first arena block of a call's messages: 16 KiB holds a homepage
// answer of a few slots (larger answers grow the arena); 1 KiB for the
// other calls, whose messages are mostly small.
constexpr size_t kLargeBlock = 16 << 10;
constexpr size_t kSmallBlock = 1 << 10;

// A callback handler for the call `method` of `Service` whose body is
// `body` (a Do* member): Admit, then the body with the call's deadline.
template <size_t kBlock, typename Service, typename Request, typename Response>
grpc::internal::MethodHandler* NewCallbackHandler(
    const Service* service, const char* method, const ApiKeys* api_keys, const CallLimits& limits,
    CallCounter* calls,
    grpc::Status (Service::*body)(absl::Time, const Request&, Response*) const) {
  using Handler = CallbackHandler<Request, Response, kBlock>;
  return new Handler(
      [service, method, api_keys, limits, body](grpc::CallbackServerContext* context,
                                                const Request* request, Response* response) {
        grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
        grpc::Status admitted =
            Admit(api_keys, context, method, Handler::Messages::Of(context), limits);
        reactor->Finish(admitted.ok() ? (service->*body)(Deadline(context), *request, response)
                                      : admitted);
        return reactor;
      },
      calls);
}

int RecommenderMethod(absl::string_view name) {
  return MethodIndex(
      *v1::RecommendProductsRequest::descriptor()->file()->FindServiceByName("Recommender"), name);
}

int AdminMethod(absl::string_view name) {
  return MethodIndex(
      *v1::RecommendProductsRequest::descriptor()->file()->FindServiceByName("Admin"), name);
}

}  // namespace

CallbackRecommenderService::CallbackRecommenderService(const recommender::Storefront* storefront,
                                                       const marketing::Marketer* marketer,
                                                       const ApiKeys* api_keys,
                                                       const CallLimits& limits, CallCounter* calls)
    : RecommenderService(storefront, marketer, api_keys, limits) {
  const RecommenderService* self = this;
  MarkMethodCallback(
      RecommenderMethod("RecommendProducts"),
      NewCallbackHandler<kLargeBlock>(self, "RecommendProducts", api_keys, limits, calls,
                                      &CallbackRecommenderService::DoRecommendProducts));
  MarkMethodCallback(RecommenderMethod("SimilarItems"),
                     NewCallbackHandler<kLargeBlock>(self, "SimilarItems", api_keys, limits, calls,
                                                     &CallbackRecommenderService::DoSimilarItems));
  MarkMethodCallback(
      RecommenderMethod("RecommendCoupons"),
      NewCallbackHandler<kSmallBlock>(self, "RecommendCoupons", api_keys, limits, calls,
                                      &CallbackRecommenderService::DoRecommendCoupons));
  MarkMethodCallback(RecommenderMethod("RecordEvents"),
                     NewCallbackHandler<kSmallBlock>(self, "RecordEvents", api_keys, limits, calls,
                                                     &CallbackRecommenderService::DoRecordEvents));
  MarkMethodCallback(
      RecommenderMethod("GetUserProfile"),
      NewCallbackHandler<kSmallBlock>(self, "GetUserProfile", api_keys, limits, calls,
                                      &CallbackRecommenderService::DoGetUserProfile));
}

CallbackAdminService::CallbackAdminService(model::ModelStore* models,
                                           feature_store::FeatureStore* features,
                                           recommender::Storefront* storefront,
                                           const marketing::Marketer* marketer,
                                           const ApiKeys* api_keys, const CallLimits& limits,
                                           CallCounter* calls)
    : AdminService(models, features, storefront, marketer, api_keys) {
  const AdminService* self = this;
  MarkMethodCallback(AdminMethod("GetModelInfo"),
                     NewCallbackHandler<kSmallBlock>(self, "GetModelInfo", api_keys, limits, calls,
                                                     &CallbackAdminService::DoGetModelInfo));
  MarkMethodCallback(AdminMethod("ReloadModel"),
                     NewCallbackHandler<kSmallBlock>(self, "ReloadModel", api_keys, limits, calls,
                                                     &CallbackAdminService::DoReloadModel));
  MarkMethodCallback(AdminMethod("Rollback"),
                     NewCallbackHandler<kSmallBlock>(self, "Rollback", api_keys, limits, calls,
                                                     &CallbackAdminService::DoRollback));
  MarkMethodCallback(AdminMethod("UpdateItems"),
                     NewCallbackHandler<kSmallBlock>(self, "UpdateItems", api_keys, limits, calls,
                                                     &CallbackAdminService::DoUpdateItems));
  MarkMethodCallback(
      AdminMethod("GetTrialReport"),
      NewCallbackHandler<kSmallBlock>(self, "GetTrialReport", api_keys, limits, calls,
                                      &CallbackAdminService::DoGetTrialReport));
  MarkMethodCallback(AdminMethod("PutCoupons"),
                     NewCallbackHandler<kSmallBlock>(self, "PutCoupons", api_keys, limits, calls,
                                                     &CallbackAdminService::DoPutCoupons));
  MarkMethodCallback(AdminMethod("ListCoupons"),
                     NewCallbackHandler<kSmallBlock>(self, "ListCoupons", api_keys, limits, calls,
                                                     &CallbackAdminService::DoListCoupons));
  MarkMethodCallback(AdminMethod("DeleteCoupon"),
                     NewCallbackHandler<kSmallBlock>(self, "DeleteCoupon", api_keys, limits, calls,
                                                     &CallbackAdminService::DoDeleteCoupon));
  MarkMethodCallback(
      AdminMethod("GetExperimentReport"),
      NewCallbackHandler<kSmallBlock>(self, "GetExperimentReport", api_keys, limits, calls,
                                      &CallbackAdminService::DoGetExperimentReport));
  MarkMethodCallback(AdminMethod("RunTriggers"),
                     NewCallbackHandler<kSmallBlock>(self, "RunTriggers", api_keys, limits, calls,
                                                     &CallbackAdminService::DoRunTriggers));
}

grpc::Status AdminService::GetExperimentReport(grpc::ServerContext* context,
                                               const v1::GetExperimentReportRequest* request,
                                               v1::ExperimentReports* response) {
  if (grpc::Status access = Authorize(context, "GetExperimentReport"); !access.ok()) {
    return access;
  }
  return DoGetExperimentReport(Deadline(context), *request, response);
}

grpc::Status AdminService::DoGetExperimentReport(absl::Time deadline,
                                                 const v1::GetExperimentReportRequest& request,
                                                 v1::ExperimentReports* response) const {
  auto reports = experiments::ReadReports(*storefront_->experiment_plan(),
                                          storefront_->counters(), request.experiment(),
                                          deadline);
  if (!reports.ok()) return ToGrpcStatus(reports.status());
  for (const experiments::ExperimentReport& r : *reports) {
    v1::ExperimentReport* out = response->add_experiments();
    out->set_experiment(r.experiment);
    out->set_layer(r.layer);
    out->set_running(r.running);
    out->set_srm_p_value(r.srm_p_value);
    out->set_srm(r.srm);
    out->set_statistics(r.statistics);
    for (const experiments::VariantReport& v : r.variants) {
      v1::VariantReport* vo = out->add_variants();
      vo->set_variant(v.variant);
      vo->set_control(v.control);
      vo->set_share(v.share);
      vo->set_exposed_users(v.exposed_users);
      vo->set_impressions(v.impressions);
      vo->set_clicks(v.clicks);
      vo->set_ctr(v.ctr);
      vo->set_converted_users(v.converted_users);
      vo->set_conversion_rate(v.conversion_rate);
      vo->set_gmv(v.gmv);
      vo->set_gmv_per_exposed_user(v.gmv_per_exposed_user);
      vo->set_coupons_issued(v.coupons_issued);
      vo->set_coupons_redeemed(v.coupons_redeemed);
      vo->set_coupon_cost(v.coupon_cost);
      vo->set_net_margin(v.net_margin);
      for (const auto& [slot, s] : v.slots) {
        v1::SlotCounters* so = vo->add_slots();
        so->set_slot(slot);
        so->set_impressions(s.impressions);
        so->set_clicks(s.clicks);
        so->set_add_to_carts(s.add_to_carts);
        so->set_conversions(s.conversions);
        so->set_gmv(s.gmv);
        so->set_coupons_issued(s.coupons_issued);
        so->set_coupons_redeemed(s.coupons_redeemed);
        so->set_discount(s.discount);
        so->set_unattributed_purchases(s.unattributed_purchases);
      }
      for (const experiments::LiftReport& l : v.lifts)
        ToProto(l, vo->add_lifts());
      for (const experiments::SegmentReport& g : v.segments) {
        v1::SegmentReport* go = vo->add_segments();
        go->set_segment(g.segment);
        go->set_exposed_users(g.exposed_users);
        go->set_converted_users(g.converted_users);
        go->set_conversion_rate(g.conversion_rate);
        go->set_gmv(g.gmv);
        go->set_coupon_cost(g.coupon_cost);
        go->set_margin_per_user(g.margin_per_user);
        for (const experiments::LiftReport& l : g.lifts)
          ToProto(l, go->add_lifts());
      }
    }
    out->set_segment_baseline(r.segment_baseline);
  }
  return grpc::Status::OK;
}

absl::StatusOr<std::unique_ptr<RecsysServer>> RecsysServer::Start(
    const ServerOptions& options, model::ModelStore* models,
    feature_store::FeatureStore* features, recommender::Storefront* storefront,
    const marketing::Marketer* marketer) {
  const ServerSecurity& security = options.security;
  const bool tls = !security.tls_cert_pem.empty() || !security.tls_key_pem.empty();
  if (tls && (security.tls_cert_pem.empty() || security.tls_key_pem.empty())) {
    return absl::InvalidArgumentError("TLS needs both the certificate and its private key");
  }
  if (!security.tls_client_ca_pem.empty() && !tls) {
    return absl::InvalidArgumentError(
        "a client CA (mutual TLS) needs the server's TLS certificate and key");
  }
  if (options.limits.max_concurrent_calls < 1) {
    return absl::InvalidArgumentError(absl::StrCat("max_concurrent_calls: must be >= 1, got ",
                                                   options.limits.max_concurrent_calls));
  }
  if (options.limits.max_audience_streams < 1) {
    return absl::InvalidArgumentError(absl::StrCat("max_audience_streams: must be >= 1, got ",
                                                   options.limits.max_audience_streams));
  }
  std::unique_ptr<RecsysServer> s(new RecsysServer());
  s->options_ = options;
  s->features_ = features;
  const ApiKeys* api_keys = options.security.api_keys.get();
  if (options.callback_api) {
    s->recommender_service_ = std::make_unique<CallbackRecommenderService>(
        storefront, marketer, api_keys, options.limits, &s->calls_);
    s->admin_service_ = std::make_unique<CallbackAdminService>(
        models, features, storefront, marketer, api_keys, options.limits, &s->calls_);
  } else {
    s->recommender_service_ =
        std::make_unique<RecommenderService>(storefront, marketer, api_keys, options.limits);
    s->admin_service_ =
        std::make_unique<AdminService>(models, features, storefront, marketer, api_keys);
  }
  s->admin_service_->SetTriggers(options.triggers);
  if (options.metrics != nullptr) {
    auto exposures = ExposureTracker::Create(options.redis, options.exposures);
    if (!exposures.ok()) return exposures.status();
    s->exposures_ = *std::move(exposures);
    s->metrics_ = std::make_unique<ServerMetrics>(options.metrics);
    s->metrics_->AddExposureCollector(s->exposures_.get());
    s->recommender_service_->SetMetrics(s->metrics_.get());
    s->metrics_->FollowSlotConfig(storefront);
    s->metrics_->AddModelCollector(models);
    s->metrics_->AddCouponCollector(marketer);
    s->metrics_->AddExperimentCollector(storefront);
  }

  grpc::EnableDefaultHealthCheckService(true);
  if (options.reflection) grpc::reflection::InitProtoReflectionServerBuilderPlugin();
  grpc::ServerBuilder builder;
  grpc::ResourceQuota quota("recsys");
  quota.SetMaxThreads(options.max_threads);
  builder.SetResourceQuota(quota);
  std::shared_ptr<grpc::ServerCredentials> credentials;
  if (tls) {
    grpc::SslServerCredentialsOptions ssl(
        security.tls_client_ca_pem.empty()
            ? GRPC_SSL_DONT_REQUEST_CLIENT_CERTIFICATE
            : GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY);
    ssl.pem_root_certs = security.tls_client_ca_pem;
    ssl.pem_key_cert_pairs.push_back({security.tls_key_pem, security.tls_cert_pem});
    credentials = grpc::SslServerCredentials(ssl);
  } else {
    credentials = grpc::InsecureServerCredentials();
    if (!IsLoopback(options.listen_address)) {
      LogWarning(absl::StrCat("listening on ", options.listen_address,
                              " without TLS: calls and API keys cross the network in "
                              "plaintext (--tls_cert, --tls_key)"));
    }
  }
  if (api_keys == nullptr) {
    LogWarning("no API keys (--api_keys_file): every recsys.v1 call is open to any client");
  }
  builder.AddListeningPort(options.listen_address, credentials, &s->port_);
  if (s->metrics_ != nullptr) {
    std::vector<std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>>
        interceptors;
    interceptors.push_back(s->metrics_->NewInterceptorFactory());
    builder.experimental().SetInterceptorCreators(std::move(interceptors));
  }
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
  health->SetServingStatus(kFeatureStoreHealthName,
                           s->PingFeatureBackend(absl::Now() + absl::Milliseconds(200)).ok());
  s->health_thread_ = std::thread([p = s.get()] { p->HealthLoop(); });
  LogInfo(absl::StrCat("recsys server listening on port ", s->port_, ", feature store ",
                       features->Describe(), tls ? ", TLS" : ", plaintext",
                       security.tls_client_ca_pem.empty() ? "" : " (client certificates required)",
                       api_keys == nullptr ? ", open (no API keys)"
                                           : absl::StrCat(", ", api_keys->size(), " API keys")));
  return s;
}

absl::Status RecsysServer::PingFeatureBackend(absl::Time deadline) const {
  absl::Status pinged =
      options_.redis != nullptr ? options_.redis->Ping(deadline) : features_->Ping(deadline);
  if (!pinged.ok()) return pinged;
  // A backend that answers but lost the trainer's data (restarted empty):
  // also sets the store's verdict that makes GetUser degrade.
  return features_->CheckLoaded(deadline);
}

void RecsysServer::HealthLoop() {
  bool last = true;
  while (!stop_.WaitForNotificationWithTimeout(options_.health_interval)) {
    const absl::Status health = PingFeatureBackend(absl::Now() + absl::Milliseconds(200));
    const bool ok = health.ok();
    server_->GetHealthCheckService()->SetServingStatus(kFeatureStoreHealthName, ok);
    if (ok != last) {
      const std::string what = options_.redis != nullptr ? options_.redis->GetStats().ToString()
                                                         : features_->Describe();
      if (ok) {
        LogInfo(absl::StrCat("feature store ", what, " is back"));
      } else {
        LogWarning(absl::StrCat("feature store ", what, " not healthy (", health.ToString(),
                                "); serving degraded answers"));
      }
      last = ok;
    }
  }
}

void RecsysServer::Drain() {
  if (draining_.exchange(true)) return;
  stop_.Notify();
  if (health_thread_.joinable()) health_thread_.join();
  // NOT_SERVING for every name, and no later change (HealthLoop has ended).
  if (server_ != nullptr) server_->GetHealthCheckService()->Shutdown();
}

void RecsysServer::Shutdown(absl::Duration grace) {
  if (shut_down_.exchange(true)) return;
  Drain();
  if (server_ != nullptr) server_->Shutdown(absl::ToChronoTime(absl::Now() + grace));
}

RecsysServer::~RecsysServer() { Shutdown(absl::Seconds(5)); }

std::shared_ptr<grpc::Channel> RecsysServer::InProcessChannel() {
  return server_->InProcessChannel(grpc::ChannelArguments());
}

}  // namespace recsys::server
