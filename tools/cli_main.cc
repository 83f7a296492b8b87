// recsys_cli: calls the recsys gRPC API and prints readable tables.
//
//   recsys_cli [--target=host:port] COMMAND [flags]
//
// Commands: recommend, similar, profile, event, item, trial, coupons, audience,
// load-coupons, list-coupons, experiment-report, info, reload, rollback,
// health, new-api-key, and redis-migrate (talks to Redis, not to the server:
// copies a deployment's keys from one Redis to another, redis/migrate.h).
// Calls send the API key of --api_key_file (or RECSYS_API_KEY) and use TLS
// with --tls_ca (mutual TLS with --tls_cert/--tls_key). Exit code: 0 on success, 1 on an RPC error (the
// status code and message are printed; redis-migrate: a Redis error or a
// difference found by --verify), 2 on a usage error.
#include <chrono>
#include <fstream>
#include <sstream>
#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include <grpcpp/grpcpp.h>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/status/status.h"
#include "absl/strings/escaping.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_split.h"
#include "google/protobuf/text_format.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "access/api_key.h"
#include "access/client_channel.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "recsys/v1/recommender.grpc.pb.h"
#include "redis/client.h"
#include "redis/migrate.h"
#include "redis/password.h"

ABSL_FLAG(std::string, target, "localhost:50051", "Server address.");
ABSL_FLAG(std::string, api_key_file, "",
          "File holding the API key sent on every call (default: env RECSYS_API_KEY).");
ABSL_FLAG(std::string, tls_ca, "", "CA certificate (PEM) of the server: connect with TLS.");
ABSL_FLAG(std::string, tls_cert, "", "Client certificate (PEM), for a server with mutual TLS.");
ABSL_FLAG(std::string, tls_key, "", "Private key (PEM) of --tls_cert.");
ABSL_FLAG(std::string, name, "", "new-api-key: the key's name in the keys file.");
ABSL_FLAG(std::string, scopes, "",
          "new-api-key: comma-separated scopes (storefront, marketing, admin).");
ABSL_FLAG(int, timeout_ms, 2000, "Deadline of each call.");
ABSL_FLAG(std::string, user, "", "User id.");
ABSL_FLAG(std::string, item, "", "Item id.");
ABSL_FLAG(std::string, slots, "homepage:10",
          "recommend: comma-separated name:k list, e.g. hero:4,feed:12.");
ABSL_FLAG(int, k, 10, "similar / coupons: number of results.");
ABSL_FLAG(std::string, mode, "similar", "similar: 'similar' (substitutes) or 'complements' (bundles).");
ABSL_FLAG(double, price_band, 0, "similar: keep items within this relative band of the price.");
ABSL_FLAG(std::string, categories, "", "Comma-separated category filter.");
ABSL_FLAG(std::string, exclude, "", "Comma-separated item ids to exclude.");
ABSL_FLAG(double, min_price, 0, "Minimum price filter (0: none).");
ABSL_FLAG(double, max_price, 0, "Maximum price filter (0: none).");
ABSL_FLAG(int64_t, time, 0, "Request time / event time in Unix seconds (0: now).");
ABSL_FLAG(std::string, type, "view",
          "event: view, add_to_cart, purchase, impression, click.");
ABSL_FLAG(int, quantity, 1, "event: units bought.");
ABSL_FLAG(double, price, 0, "event: unit price.");
ABSL_FLAG(std::string, event_id, "",
          "event: its id; sending the same id again is not applied again (empty: the server "
          "derives one from the content).");
ABSL_FLAG(std::string, slot, "",
          "event: the slot the item was shown in (impressions, clicks, and purchases "
          "attributed to a slot).");
ABSL_FLAG(std::string, version, "", "reload: version to load (empty: the newest valid one).");
ABSL_FLAG(int, history, 10, "profile: history entries shown.");
ABSL_FLAG(std::string, service, "", "health: service name (empty: the server).");
ABSL_FLAG(std::string, stock, "",
          "item: units in stock (0: out of stock, -1: unknown); empty: unchanged.");
ABSL_FLAG(std::string, slow, "", "item: 'true' flags a slow mover, 'false' clears the flag.");
ABSL_FLAG(std::string, category, "", "item: catalog category.");
ABSL_FLAG(double, item_price, 0, "item: catalog unit price.");
ABSL_FLAG(std::string, title, "", "item: catalog title.");
ABSL_FLAG(std::string, listed, "",
          "item: listing time, Unix seconds or 'now' (starts the trial window).");
ABSL_FLAG(std::string, experiment, "", "experiment-report: one experiment (empty: all).");
ABSL_FLAG(std::string, recommendation_id, "",
          "event: the recommendation_id of the answer that led to the event.");
ABSL_FLAG(int, ended_within_days, 0, "trial: also list trials ended this many days ago.");
ABSL_FLAG(std::string, coupon, "", "audience: the offered coupon; event: the coupon of a coupon event.");
ABSL_FLAG(std::string, items, "", "audience: comma-separated item ids offered.");
ABSL_FLAG(std::string, segments, "", "audience: comma-separated segments (e.g. dormant,deep_dormant).");
ABSL_FLAG(std::string, tiers, "", "audience: comma-separated tiers (silver, gold, black).");
ABSL_FLAG(int, min_days, 0, "audience: minimum days since the last purchase.");
ABSL_FLAG(int, contact_cap_days, 0, "audience: skip users contacted for the campaign this recently.");
ABSL_FLAG(std::string, campaign, "", "audience: campaign name for the contact cap.");
ABSL_FLAG(std::string, file, "", "load-coupons: catalog file (recsys.v1.CouponCatalog, text format).");
ABSL_FLAG(std::string, cost, "", "item: unit cost (empty: keep).");
ABSL_FLAG(std::string, role, "", "item: product role traffic, profit, image or none (empty: keep).");
ABSL_FLAG(std::string, users, "",
          "offers: comma-separated users of the signal pass (win-back, replenishment).");
ABSL_FLAG(std::string, from, "",
          "redis-migrate: the source Redis, as every --redis flag takes it "
          "(host:port, redis://[user@]host:port, redis-cluster://..., "
          "redis-sentinel://.../master).");
ABSL_FLAG(std::string, to, "", "redis-migrate: the target Redis, as --from.");
ABSL_FLAG(std::string, from_password_file, "",
          "redis-migrate: file holding the source's Redis password; empty: "
          "$RECSYS_REDIS_PASSWORD, or no AUTH when unset.");
ABSL_FLAG(std::string, to_password_file, "",
          "redis-migrate: file holding the target's Redis password; empty: "
          "$RECSYS_REDIS_PASSWORD, or no AUTH when unset.");
ABSL_FLAG(std::string, prefix, "rs:",
          "redis-migrate: copy the keys starting with this prefix (the "
          "deployment's --redis_prefix; empty: every key).");
ABSL_FLAG(int, batch, 500,
          "redis-migrate: keys per pipelined DUMP / RESTORE batch.");
ABSL_FLAG(bool, replace, false,
          "redis-migrate: overwrite keys the target holds already (default: "
          "leave them, count them as existing).");
ABSL_FLAG(bool, dry_run, false,
          "redis-migrate: write nothing; count what a run would copy.");
ABSL_FLAG(bool, verify, false,
          "redis-migrate: after the copy (or alone, with --dry_run), compare "
          "the key sets, values and expiries of both sides; exit 1 on any "
          "difference.");

namespace {

namespace v1 = recsys::v1;

const char* ReasonName(v1::ReasonCode code) {
  switch (code) {
    case v1::REASON_PERSONALIZED: return "personalized";
    case v1::REASON_POPULAR: return "popular";
    case v1::REASON_SIMILAR_TO_ITEM: return "similar";
    case v1::REASON_BUY_AGAIN: return "buy_again";
    case v1::REASON_TRENDING: return "trending";
    case v1::REASON_CATEGORY_BESTSELLER: return "bestseller";
    case v1::REASON_TRIAL_POOL: return "trial";
    case v1::REASON_BUNDLE_COMPLEMENT: return "bundle";
    case v1::REASON_CAMPAIGN: return "campaign";
    default: return "-";
  }
}

std::string Truncate(const std::string& s, size_t n) {
  return s.size() <= n ? s : s.substr(0, n - 1) + "~";
}

std::string FormatTime(int64_t unix) {
  if (unix <= 0) return "-";
  return absl::FormatTime("%Y-%m-%d %H:%M", absl::FromUnixSeconds(unix), absl::UTCTimeZone());
}

void PrintMeta(const v1::ResponseMeta& meta) {
  std::printf("model %s%s%s\n", meta.model_version().c_str(),
              meta.degraded() ? "  DEGRADED: " : "",
              meta.degraded() ? meta.degraded_reason().c_str() : "");
}

void PrintItems(const google::protobuf::RepeatedPtrField<v1::RecommendedItem>& items) {
  std::printf("  %-3s %-12s %-14s %8s %8s  %-12s %s\n", "#", "item", "category", "price",
              "score", "reason", "why");
  int i = 0;
  for (const auto& it : items) {
    std::string why = it.reason().text();
    if (!it.reason().applied_rules().empty()) {
      absl::StrAppend(&why, " [", absl::StrJoin(it.reason().applied_rules(), ", "), "]");
    }
    std::printf("  %-3d %-12s %-14s %8.2f %8.4f  %-12s %s\n", ++i,
                Truncate(it.item_id(), 12).c_str(), Truncate(it.category(), 14).c_str(),
                it.price(), it.score(), ReasonName(it.reason().code()), why.c_str());
  }
  if (items.empty()) std::printf("  (none)\n");
}

int Fail(const grpc::Status& status) {
  std::fprintf(stderr, "error: %s: %s\n",
               absl::StatusCodeToString(static_cast<absl::StatusCode>(status.error_code())).c_str(),
               status.error_message().c_str());
  return 1;
}

std::vector<std::string> SplitList(const std::string& s) {
  return absl::StrSplit(s, ',', absl::SkipEmpty());
}

void FillFilters(v1::Filters* f) {
  for (const auto& c : SplitList(absl::GetFlag(FLAGS_categories))) f->add_categories(c);
  for (const auto& e : SplitList(absl::GetFlag(FLAGS_exclude))) f->add_exclude_item_ids(e);
  f->set_min_price(absl::GetFlag(FLAGS_min_price));
  f->set_max_price(absl::GetFlag(FLAGS_max_price));
}

class Cli {
 public:
  explicit Cli(std::shared_ptr<grpc::Channel> channel)
      : channel_(channel),
        rec_(v1::Recommender::NewStub(channel)),
        admin_(v1::Admin::NewStub(channel)) {}

  void SetDeadline(grpc::ClientContext* ctx) {
    ctx->set_deadline(std::chrono::system_clock::now() +
                      std::chrono::milliseconds(absl::GetFlag(FLAGS_timeout_ms)));
  }

  int Recommend() {
    v1::RecommendProductsRequest req;
    req.set_user_id(absl::GetFlag(FLAGS_user));
    for (absl::string_view spec : absl::StrSplit(absl::GetFlag(FLAGS_slots), ',', absl::SkipEmpty())) {
      std::pair<std::string, std::string> parts = absl::StrSplit(spec, ':');
      int k = 10;
      if (!parts.second.empty() && !absl::SimpleAtoi(parts.second, &k)) {
        std::fprintf(stderr, "--slots: bad k in '%s'\n", std::string(spec).c_str());
        return 2;
      }
      auto* slot = req.add_slots();
      slot->set_name(parts.first);
      slot->set_k(k);
    }
    req.mutable_context()->set_request_time_unix(absl::GetFlag(FLAGS_time));
    FillFilters(req.mutable_filters());
    v1::RecommendProductsResponse resp;
    grpc::ClientContext ctx;
    SetDeadline(&ctx);
    const absl::Time start = absl::Now();
    grpc::Status st = rec_->RecommendProducts(&ctx, req, &resp);
    const double ms = absl::ToDoubleMilliseconds(absl::Now() - start);
    if (!st.ok()) return Fail(st);
    std::printf("recommendations for user %s (%.1f ms)  ", req.user_id().c_str(), ms);
    PrintMeta(resp.meta());
    for (const auto& slot : resp.slots()) {
      std::string arms;
      for (const auto& a : slot.assignments()) {
        absl::StrAppend(&arms, " ", a.experiment(), "=", a.variant());
      }
      std::printf(" slot %s  recommendation_id=%s%s%s\n", slot.name().c_str(),
                  slot.recommendation_id().c_str(), arms.empty() ? "" : "  variants:",
                  arms.c_str());
      PrintItems(slot.items());
    }
    return 0;
  }

  int ExperimentReport() {
    v1::GetExperimentReportRequest req;
    req.set_experiment(absl::GetFlag(FLAGS_experiment));
    v1::ExperimentReports resp;
    grpc::ClientContext ctx;
    SetDeadline(&ctx);
    grpc::Status st = admin_->GetExperimentReport(&ctx, req, &resp);
    if (!st.ok()) return Fail(st);
    for (const v1::ExperimentReport& r : resp.experiments()) {
      std::printf("experiment %s (layer %s, %s)  SRM p=%.4g%s\n", r.experiment().c_str(),
                  r.layer().c_str(), r.running() ? "running" : "not running", r.srm_p_value(),
                  r.srm() ? "  ** SAMPLE RATIO MISMATCH: do not trust the lifts **" : "");
      std::printf("  %-14s %5s %8s %8s %7s %6s %8s %10s %8s %8s %10s\n", "variant", "share",
                  "exposed", "impr", "ctr", "conv", "cvr", "gmv/user", "coupons", "cost",
                  "margin");
      for (const v1::VariantReport& v : r.variants()) {
        std::printf("  %-14s %5.2f %8lld %8lld %6.2f%% %6lld %7.2f%% %10.2f %8lld %8.2f %10.2f%s\n",
                    v.variant().substr(0, 14).c_str(), v.share(),
                    static_cast<long long>(v.exposed_users()),
                    static_cast<long long>(v.impressions()), 100 * v.ctr(),
                    static_cast<long long>(v.converted_users()), 100 * v.conversion_rate(),
                    v.gmv_per_exposed_user(), static_cast<long long>(v.coupons_issued()),
                    v.coupon_cost(), v.net_margin(), v.control() ? "  (control)" : "");
      }
      for (const v1::VariantReport& v : r.variants()) {
        for (const v1::Lift& l : v.lifts()) {
          if (l.method().rfind("not enough data", 0) == 0) {
            std::printf("  %s %-12s %s\n", v.variant().c_str(), l.metric().c_str(),
                        l.method().c_str());
            continue;
          }
          std::printf(
              "  %s vs control %-12s %+.4g [%+.4g, %+.4g]  relative %+.1f%% [%+.1f%%, %+.1f%%]  "
              "p=%.3g\n",
              v.variant().c_str(), l.metric().c_str(), l.absolute(), l.absolute_low(),
              l.absolute_high(), 100 * l.relative(), 100 * l.relative_low(),
              100 * l.relative_high(), l.p_value());
        }
      }
      bool segments = false;
      for (const v1::VariantReport& v : r.variants())
        segments |= v.segments_size() > 0;
      if (segments) {
        std::printf(
            "  per segment; incremental conversion and margin per user against "
            "%s, "
            "always-valid 95%% intervals:\n",
            r.segment_baseline().c_str());
        std::printf("  %-14s %-12s %8s %7s %9s  %s\n", "variant", "segment",
                    "exposed", "cvr", "margin/u",
                    "incremental conversion, margin/user");
        for (const v1::VariantReport& v : r.variants()) {
          for (const v1::SegmentReport& g : v.segments()) {
            std::string lifts;
            for (const v1::Lift& l : g.lifts()) {
              if (l.method().rfind("not enough data", 0) == 0) {
                absl::StrAppend(&lifts, "  (not enough data)");
              } else if (l.metric() == "incremental_conversion") {
                absl::StrAppend(
                    &lifts,
                    absl::StrFormat("  %+.2f pts [%+.2f, %+.2f]",
                                    100 * l.absolute(), 100 * l.absolute_low(),
                                    100 * l.absolute_high()));
              } else {
                absl::StrAppend(
                    &lifts,
                    absl::StrFormat("  %+.3f [%+.3f, %+.3f]", l.absolute(),
                                    l.absolute_low(), l.absolute_high()));
              }
            }
            std::printf("  %-14s %-12s %8lld %6.2f%% %9.3f%s\n",
                        v.variant().substr(0, 14).c_str(), g.segment().c_str(),
                        static_cast<long long>(g.exposed_users()),
                        100 * g.conversion_rate(), g.margin_per_user(),
                        lifts.c_str());
          }
        }
      }
      std::printf("  statistics: %s\n", r.statistics().c_str());
    }
    return 0;
  }

  int Similar() {
    v1::SimilarItemsRequest req;
    req.set_item_id(absl::GetFlag(FLAGS_item));
    req.set_k(absl::GetFlag(FLAGS_k));
    req.set_user_id(absl::GetFlag(FLAGS_user));
    req.set_price_band(static_cast<float>(absl::GetFlag(FLAGS_price_band)));
    if (absl::GetFlag(FLAGS_mode) == "complements") {
      req.set_mode(v1::SIMILAR_MODE_COMPLEMENTS);
    } else if (absl::GetFlag(FLAGS_mode) != "similar") {
      std::fprintf(stderr, "--mode: expected similar or complements\n");
      return 2;
    }
    FillFilters(req.mutable_filters());
    v1::SimilarItemsResponse resp;
    grpc::ClientContext ctx;
    SetDeadline(&ctx);
    grpc::Status st = rec_->SimilarItems(&ctx, req, &resp);
    if (!st.ok()) return Fail(st);
    std::printf("%s %s  ", req.mode() == v1::SIMILAR_MODE_COMPLEMENTS ? "bundle for" : "items similar to",
                req.item_id().c_str());
    PrintMeta(resp.meta());
    PrintItems(resp.items());
    return 0;
  }

  int Profile() {
    v1::GetUserProfileRequest req;
    req.set_user_id(absl::GetFlag(FLAGS_user));
    req.set_history_limit(absl::GetFlag(FLAGS_history));
    v1::UserProfile resp;
    grpc::ClientContext ctx;
    SetDeadline(&ctx);
    grpc::Status st = rec_->GetUserProfile(&ctx, req, &resp);
    if (!st.ok()) return Fail(st);
    std::printf("user %s  known to model: %s  ", resp.user_id().c_str(),
                resp.known_to_model() ? "yes" : "no");
    PrintMeta(resp.meta());
    if (!resp.segment().empty()) {
      std::printf(" segment %s, tier %s, lifecycle %s", resp.segment().c_str(),
                  resp.tier().c_str(), resp.lifecycle_stage().c_str());
      if (resp.has_rfm()) {
        std::printf("; last order %d days ago, %d orders, spend %.2f, RFM %d-%d-%d",
                    resp.rfm().recency_days(), resp.rfm().frequency(), resp.rfm().monetary(),
                    resp.rfm().r_score(), resp.rfm().f_score(), resp.rfm().m_score());
      }
      std::printf("\n");
    }
    if (resp.intelligence_as_of_unix() > 0) {
      std::printf(" intelligence as of %s: tags %s\n",
                  FormatTime(resp.intelligence_as_of_unix()).c_str(),
                  resp.interest_tags().empty() ? "(none)"
                                               : absl::StrJoin(resp.interest_tags(), ", ").c_str());
      std::printf("  intent %.2f (order within 30 days), churn risk %.2f", resp.purchase_intent(),
                  resp.churn_risk());
      if (resp.next_purchase_unix() > 0) {
        std::printf(", cycle %.1f days, next purchase expected %s", resp.cycle_days(),
                    FormatTime(resp.next_purchase_unix()).c_str());
      }
      if (!resp.birthday().empty()) std::printf(", birthday %s", resp.birthday().c_str());
      for (int i = 0; i < std::min(resp.due_items_size(), 3); ++i) {
        const auto& d = resp.due_items(i);
        std::printf("%s %s due %s (every %.0f days)", i == 0 ? "\n  buys again:" : ";",
                    d.item_id().c_str(), FormatTime(d.due_unix()).c_str(), d.cycle_days());
      }
      std::printf("\n  affinities");
      for (const auto& a : resp.category_affinities()) {
        std::printf(" %s %.2f", a.category().c_str(), a.share());
      }
      std::printf("; price level %.2f, discounted %.0f%%; growth %.2f%s%s\n",
                  resp.relative_price_level(), 100 * std::max(0.0f, resp.discount_share()),
                  resp.growth_value(), resp.growth_tier().empty() ? "" : " tier ",
                  resp.growth_tier().c_str());
    }
    std::printf(" purchases (most recent first)\n  %-12s %-14s %6s  %s\n", "item", "category",
                "count", "last purchase");
    for (const auto& p : resp.purchases()) {
      std::printf("  %-12s %-14s %6d  %s\n", Truncate(p.item_id(), 12).c_str(),
                  Truncate(p.category(), 14).c_str(), p.count(),
                  FormatTime(p.last_purchase_unix()).c_str());
    }
    std::printf(" recent activity\n");
    for (const auto& a : resp.recent_activity()) {
      std::printf("  %-12s %-12s %s\n", Truncate(a.item_id(), 12).c_str(),
                  v1::EventType_Name(a.type()).c_str(), FormatTime(a.timestamp_unix()).c_str());
    }
    if (resp.recent_activity().empty()) std::printf("  (none)\n");
    return 0;
  }

  int Event() {
    static const std::pair<const char*, v1::EventType> kTypes[] = {
        {"view", v1::EVENT_VIEW},           {"add_to_cart", v1::EVENT_ADD_TO_CART},
        {"purchase", v1::EVENT_PURCHASE},   {"impression", v1::EVENT_IMPRESSION},
        {"click", v1::EVENT_CLICK},         {"coupon_issued", v1::EVENT_COUPON_ISSUED},
        {"coupon_redeemed", v1::EVENT_COUPON_REDEEMED}};
    v1::RecordEventsRequest req;
    v1::Event* e = req.add_events();
    const std::string type = absl::GetFlag(FLAGS_type);
    for (const auto& [name, value] : kTypes) {
      if (type == name) e->set_type(value);
    }
    if (e->type() == v1::EVENT_TYPE_UNSPECIFIED) {
      std::fprintf(stderr, "--type: unknown event type '%s'\n", type.c_str());
      return 2;
    }
    e->set_user_id(absl::GetFlag(FLAGS_user));
    e->set_item_id(absl::GetFlag(FLAGS_item));
    e->set_coupon_id(absl::GetFlag(FLAGS_coupon));
    e->set_timestamp_unix(absl::GetFlag(FLAGS_time));
    e->set_quantity(absl::GetFlag(FLAGS_quantity));
    e->set_price(absl::GetFlag(FLAGS_price));
    e->set_event_id(absl::GetFlag(FLAGS_event_id));
    e->set_slot(absl::GetFlag(FLAGS_slot));
    e->set_recommendation_id(absl::GetFlag(FLAGS_recommendation_id));
    v1::RecordEventsResponse resp;
    grpc::ClientContext ctx;
    SetDeadline(&ctx);
    grpc::Status st = rec_->RecordEvents(&ctx, req, &resp);
    if (!st.ok()) return Fail(st);
    std::printf("recorded %d event(s): %s %s %s%s\n", resp.accepted(), type.c_str(),
                e->user_id().c_str(),
                e->coupon_id().empty() ? e->item_id().c_str() : e->coupon_id().c_str(),
                resp.duplicates() > 0 ? " (already applied: not applied again)" : "");
    for (const auto& r : resp.rejected()) {
      std::printf("  rejected #%d: %s\n", r.index(), r.message().c_str());
    }
    return 0;
  }

  int Coupons() {
    v1::RecommendCouponsRequest req;
    req.set_user_id(absl::GetFlag(FLAGS_user));
    req.set_k(absl::GetFlag(FLAGS_k));
    req.mutable_context()->set_request_time_unix(absl::GetFlag(FLAGS_time));
    v1::RecommendCouponsResponse resp;
    grpc::ClientContext ctx;
    SetDeadline(&ctx);
    grpc::Status st = rec_->RecommendCoupons(&ctx, req, &resp);
    if (!st.ok()) return Fail(st);
    std::printf("coupons for user %s (%s, tier %s, %d orders%s%s)  model %s%s\n",
                req.user_id().c_str(), resp.segment().c_str(), resp.tier().c_str(),
                resp.orders(), resp.growth_tier().empty() ? "" : ", growth tier ",
                resp.growth_tier().c_str(), resp.meta().model_version().c_str(),
                resp.meta().degraded() ? "  DEGRADED" : "");
    if (resp.meta().degraded()) std::printf("  (%s)\n", resp.meta().degraded_reason().c_str());
    if (resp.coupons().empty()) std::printf("  no eligible coupon\n");
    else std::printf("  %-16s %8s %6s %5s %8s %8s  %s\n", "coupon", "EV", "p", "u", "basket",
                     "discount", "why");
    for (const auto& c : resp.coupons()) {
      std::printf("  %-16s %8.2f %6.3f %5.2f %8.2f %8.2f  %s\n", c.coupon_id().c_str(),
                  c.score(), c.propensity(), c.incrementality(), c.basket_value(), c.discount(),
                  c.reason().text().c_str());
      const v1::IncrementalityFigures& u = c.incrementality_figures();
      if (!u.source().empty() && u.source() != "prior") {
        std::printf(
            "  %-16s u from %s: prior %.3f, measured %.3f (se %.3f, %lld "
            "holdout / %lld "
            "treated users of %s), weight %.2f\n",
            "", u.source().c_str(), u.prior(), u.measured(), u.standard_error(),
            static_cast<long long>(u.holdout_users()),
            static_cast<long long>(u.treated_users()), u.experiment().c_str(),
            u.weight());
      }
    }
    return 0;
  }

  int Audience() {
    v1::FindAudienceRequest req;
    if (!absl::GetFlag(FLAGS_coupon).empty()) {
      req.set_coupon_id(absl::GetFlag(FLAGS_coupon));
    } else if (!absl::GetFlag(FLAGS_categories).empty()) {
      req.set_category(absl::GetFlag(FLAGS_categories));
    } else {
      for (absl::string_view id : absl::StrSplit(absl::GetFlag(FLAGS_items), ',', absl::SkipEmpty())) {
        req.mutable_items()->add_item_ids(std::string(id));
      }
    }
    for (absl::string_view v : absl::StrSplit(absl::GetFlag(FLAGS_segments), ',', absl::SkipEmpty())) {
      req.mutable_filters()->add_segments(std::string(v));
    }
    for (absl::string_view v : absl::StrSplit(absl::GetFlag(FLAGS_tiers), ',', absl::SkipEmpty())) {
      req.mutable_filters()->add_tiers(std::string(v));
    }
    req.mutable_filters()->set_min_days_since_purchase(absl::GetFlag(FLAGS_min_days));
    req.mutable_filters()->set_contact_cap_days(absl::GetFlag(FLAGS_contact_cap_days));
    req.set_campaign(absl::GetFlag(FLAGS_campaign));
    req.set_limit(absl::GetFlag(FLAGS_k));
    req.mutable_context()->set_request_time_unix(absl::GetFlag(FLAGS_time));
    grpc::ClientContext ctx;
    SetDeadline(&ctx);
    auto reader = rec_->FindAudience(&ctx, req);
    v1::AudiencePage page;
    int n = 0;
    while (reader->Read(&page)) {
      for (const v1::AudienceMember& m : page.members()) {
        if (n == 0) {
          std::printf("audience  model %s%s\n", page.meta().model_version().c_str(),
                      page.meta().degraded() ? "  DEGRADED" : "");
          std::printf("  %-4s %-12s %8s %-13s %-7s %5s %-14s %s\n", "#", "user", "score",
                      "segment", "tier", "days", "coupon", "why");
        }
        ++n;
        std::printf("  %-4d %-12s %8.4f %-13s %-7s %5d %-14s %s\n", n, m.user_id().c_str(),
                    m.score(), m.segment().c_str(), m.tier().c_str(), m.days_since_purchase(),
                    m.best_coupon_id().c_str(), m.reason().text().c_str());
      }
    }
    grpc::Status st = reader->Finish();
    if (!st.ok()) return Fail(st);
    if (n == 0) std::printf("audience: no matching user\n");
    return 0;
  }

  int LoadCoupons() {
    const std::string path = absl::GetFlag(FLAGS_file);
    std::ifstream in(path);
    if (!in) {
      std::fprintf(stderr, "--file: cannot open '%s'\n", path.c_str());
      return 2;
    }
    std::stringstream text;
    text << in.rdbuf();
    v1::CouponCatalog catalog;
    if (!google::protobuf::TextFormat::ParseFromString(text.str(), &catalog)) {
      std::fprintf(stderr, "--file: '%s' is not a recsys.v1.CouponCatalog in text format\n",
                   path.c_str());
      return 2;
    }
    v1::PutCouponsResponse resp;
    grpc::ClientContext ctx;
    SetDeadline(&ctx);
    grpc::Status st = admin_->PutCoupons(&ctx, catalog, &resp);
    if (!st.ok()) return Fail(st);
    std::printf("stored %d coupon(s) from %s\n", resp.stored(), path.c_str());
    return 0;
  }

  int ListCoupons() {
    v1::CouponList resp;
    grpc::ClientContext ctx;
    SetDeadline(&ctx);
    grpc::Status st = admin_->ListCoupons(&ctx, v1::ListCouponsRequest(), &resp);
    if (!st.ok()) return Fail(st);
    std::printf("  %-16s %-16s %7s %8s %10s %10s %10s\n", "coupon", "campaign", "issued",
                "redeemed", "spent", "left#", "left$");
    for (const auto& c : resp.coupons()) {
      const auto& s = c.state();
      std::printf("  %-16s %-16s %7lld %8lld %10.2f %10s %10s\n", c.coupon().id().c_str(),
                  c.coupon().campaign().c_str(), static_cast<long long>(s.issued()),
                  static_cast<long long>(s.redeemed()), s.discount_spent(),
                  s.remaining_count() < 0 ? "unlimited"
                                          : absl::StrCat(s.remaining_count()).c_str(),
                  s.remaining_money() < 0 ? "unlimited"
                                          : absl::StrFormat("%.2f", s.remaining_money()).c_str());
    }
    return 0;
  }

  int Info() {
    v1::ModelInfo resp;
    grpc::ClientContext ctx;
    SetDeadline(&ctx);
    grpc::Status st = admin_->GetModelInfo(&ctx, v1::GetModelInfoRequest(), &resp);
    if (!st.ok()) return Fail(st);
    std::printf("model version   %s%s\n", resp.version().c_str(), resp.pinned() ? " (pinned)" : "");
    std::printf("path            %s\n", resp.path().c_str());
    std::printf("created         %s\n", FormatTime(resp.created_unix()).c_str());
    std::printf("loaded          %s\n", FormatTime(resp.loaded_unix()).c_str());
    std::printf("users x items   %d x %d, dim %d\n", resp.num_users(), resp.num_items(), resp.dim());
    std::printf("index           %s\n", resp.index_type().c_str());
    std::printf("feature store   %s (%s)\n", resp.feature_store().c_str(),
                resp.feature_store_healthy() ? "healthy" : "NOT ANSWERING");
    std::printf("versions        %s\n", absl::StrJoin(resp.available_versions(), " ").c_str());
    for (const v1::RejectedVersion& r : resp.rejected_versions()) {
      std::printf("rejected        %s at %s: %s\n", r.version().c_str(),
                  FormatTime(r.rejected_unix()).c_str(), r.reason().c_str());
    }
    for (const v1::VariantModelVersion& v : resp.variant_versions()) {
      const std::string state =
          v.loaded() ? absl::StrCat("loaded ", FormatTime(v.loaded_unix()),
                                    ", ", v.num_users(), " x ", v.num_items())
                     : absl::StrCat("NOT LOADED (", v.error(),
                                    "): default model serves");
      std::printf("variant model   %s for %s: %s\n", v.version().c_str(),
                  absl::StrJoin(v.used_by(), ", ").c_str(), state.c_str());
    }
    return 0;
  }

  int Reload() {
    v1::ReloadModelRequest req;
    req.set_version(absl::GetFlag(FLAGS_version));
    v1::ReloadModelResponse resp;
    grpc::ClientContext ctx;
    SetDeadline(&ctx);
    grpc::Status st = admin_->ReloadModel(&ctx, req, &resp);
    if (!st.ok()) return Fail(st);
    std::printf("%s -> %s%s\n", resp.previous_version().c_str(), resp.version().c_str(),
                resp.changed() ? "" : " (unchanged)");
    return 0;
  }

  int Item() {
    v1::UpdateItemsRequest req;
    v1::ItemUpdate* item = req.add_items();
    item->set_item_id(absl::GetFlag(FLAGS_item));
    if (const std::string stock = absl::GetFlag(FLAGS_stock); !stock.empty()) {
      int64_t units = 0;
      if (!absl::SimpleAtoi(stock, &units)) {
        std::fprintf(stderr, "--stock: expected an integer, got '%s'\n", stock.c_str());
        return 2;
      }
      item->set_stock(units);
    }
    if (const std::string slow = absl::GetFlag(FLAGS_slow); !slow.empty()) {
      bool flag = false;
      if (!absl::SimpleAtob(slow, &flag)) {
        std::fprintf(stderr, "--slow: expected true or false, got '%s'\n", slow.c_str());
        return 2;
      }
      item->set_slow_mover(flag);
    }
    item->set_category(absl::GetFlag(FLAGS_category));
    item->set_price(absl::GetFlag(FLAGS_item_price));
    item->set_title(absl::GetFlag(FLAGS_title));
    const std::string listed = absl::GetFlag(FLAGS_listed);
    if (listed == "now") {
      item->set_listed_unix(absl::ToUnixSeconds(absl::Now()));
    } else if (!listed.empty()) {
      int64_t unix = 0;
      if (!absl::SimpleAtoi(listed, &unix)) {
        std::fprintf(stderr, "--listed: expected Unix seconds or 'now', got '%s'\n",
                     listed.c_str());
        return 2;
      }
      item->set_listed_unix(unix);
    }
    if (const std::string cost = absl::GetFlag(FLAGS_cost); !cost.empty()) {
      double value = 0;
      if (!absl::SimpleAtod(cost, &value)) {
        std::fprintf(stderr, "--cost: expected a number, got '%s'\n", cost.c_str());
        return 2;
      }
      item->set_cost(value);
    }
    item->set_role(absl::GetFlag(FLAGS_role));
    v1::UpdateItemsResponse resp;
    grpc::ClientContext ctx;
    SetDeadline(&ctx);
    grpc::Status st = admin_->UpdateItems(&ctx, req, &resp);
    if (!st.ok()) return Fail(st);
    std::string what;
    if (item->has_stock()) what += absl::StrCat(" stock ", item->stock());
    if (item->has_slow_mover()) what += item->slow_mover() ? ", slow mover" : ", not a slow mover";
    if (!item->category().empty()) what += absl::StrCat(", category ", item->category());
    if (item->listed_unix() > 0) what += absl::StrCat(", listed ", FormatTime(item->listed_unix()));
    if (item->has_cost()) what += absl::StrCat(", cost ", item->cost());
    if (!item->role().empty()) what += absl::StrCat(", role ", item->role());
    std::printf("updated %d item(s): %s%s%s\n", resp.updated(), item->item_id().c_str(),
                what.c_str(), resp.unknown_to_model().empty() ? "" : " (new to the model)");
    return 0;
  }

  int Trial() {
    v1::GetTrialReportRequest req;
    req.set_request_time_unix(absl::GetFlag(FLAGS_time));
    req.set_ended_within_days(absl::GetFlag(FLAGS_ended_within_days));
    v1::TrialReport resp;
    grpc::ClientContext ctx;
    SetDeadline(&ctx);
    grpc::Status st = admin_->GetTrialReport(&ctx, req, &resp);
    if (!st.ok()) return Fail(st);
    std::printf("trial pool (%d-day window): %d item(s)\n", resp.trial_days(), resp.items_size());
    std::printf("  %-20s %-14s %-20s %4s %6s %6s %5s %6s %6s  %s\n", "item", "category",
                "status", "days", "impr", "clicks", "buys", "ctr", "cvr", "vector");
    for (const v1::TrialItemReport& r : resp.items()) {
      std::printf("  %-20s %-14s %-20s %4d %6lld %6lld %5lld %5.1f%% %5.1f%%  %s\n",
                  r.item_id().substr(0, 20).c_str(), r.category().substr(0, 14).c_str(), r.status().c_str(), r.day(),
                  static_cast<long long>(r.impressions()), static_cast<long long>(r.clicks()),
                  static_cast<long long>(r.purchases()), 100 * r.click_rate(),
                  100 * r.purchase_rate(), r.vector_source().c_str());
    }
    return 0;
  }

  // One pass of the triggered offers (Admin.RunTriggers).
  int Offers() {
    v1::RunTriggersRequest req;
    req.set_now_unix(absl::GetFlag(FLAGS_time));
    for (absl::string_view u : absl::StrSplit(absl::GetFlag(FLAGS_users), ',', absl::SkipEmpty())) {
      req.add_user_ids(std::string(u));
    }
    v1::RunTriggersResponse resp;
    grpc::ClientContext ctx;
    SetDeadline(&ctx);
    grpc::Status st = admin_->RunTriggers(&ctx, req, &resp);
    if (!st.ok()) return Fail(st);
    std::printf(
        "triggered offers: %d checks claimed (%d scheduled by signals): %d written, %d "
        "duplicates, %d cancelled, %d held out, %d deferred, %d capped, %d out of budget, %d "
        "errors\n",
        resp.claimed(), resp.scheduled(), resp.written(), resp.duplicates(), resp.cancelled(),
        resp.holdout(), resp.deferred(), resp.capped(), resp.budget(), resp.errors());
    for (const v1::TriggeredOffer& o : resp.offers()) {
      std::printf("  %s %-16s user %-12s coupon %-12s template %-16s trigger %s\n",
                  o.offer_id().c_str(), o.rule().c_str(), o.user_id().c_str(),
                  o.coupon_id().empty() ? "-" : o.coupon_id().c_str(), o.template_id().c_str(),
                  FormatTime(o.trigger_unix()).c_str());
    }
    return 0;
  }

  int Rollback() {
    v1::RollbackResponse resp;
    grpc::ClientContext ctx;
    SetDeadline(&ctx);
    grpc::Status st = admin_->Rollback(&ctx, v1::RollbackRequest(), &resp);
    if (!st.ok()) return Fail(st);
    std::printf("rolled back %s -> %s (pinned)\n", resp.previous_version().c_str(),
                resp.version().c_str());
    return 0;
  }

  int Health() {
    auto stub = grpc::health::v1::Health::NewStub(channel_);
    grpc::health::v1::HealthCheckRequest req;
    req.set_service(absl::GetFlag(FLAGS_service));
    grpc::health::v1::HealthCheckResponse resp;
    grpc::ClientContext ctx;
    SetDeadline(&ctx);
    grpc::Status st = stub->Check(&ctx, req, &resp);
    if (!st.ok()) return Fail(st);
    std::printf("%s: %s\n", req.service().empty() ? "server" : req.service().c_str(),
                grpc::health::v1::HealthCheckResponse::ServingStatus_Name(resp.status()).c_str());
    return resp.status() == grpc::health::v1::HealthCheckResponse::SERVING ? 0 : 1;
  }

 private:
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<v1::Recommender::Stub> rec_;
  std::unique_ptr<v1::Admin::Stub> admin_;
};

}  // namespace

// Prints a new key once, and its line for the server's --api_keys_file.
int NewApiKey() {
  const std::string name = absl::GetFlag(FLAGS_name);
  if (!recsys::access::IsValidKeyName(name)) {
    std::fprintf(stderr, "--name: 1 to 64 of [A-Za-z0-9_.-] required\n");
    return 2;
  }
  auto scopes = recsys::access::ParseScopes(absl::GetFlag(FLAGS_scopes));
  if (!scopes.ok()) {
    std::fprintf(stderr, "--scopes: %s\n", std::string(scopes.status().message()).c_str());
    return 2;
  }
  auto key = recsys::access::NewApiKey();
  if (!key.ok()) {
    std::fprintf(stderr, "error: %s\n", std::string(key.status().message()).c_str());
    return 1;
  }
  std::printf("key:  %s\nline: %s\n", key->c_str(),
              recsys::access::KeysFileLine(name, *key, *scopes).c_str());
  return 0;
}

// A Redis client for --from / --to: the address as every --redis flag takes
// it, the password from `password_file` or the environment (never a flag).
absl::StatusOr<std::unique_ptr<recsys::redis::Client>> RedisFromFlags(
    absl::string_view flag, const std::string& address,
    const std::string& password_file) {
  if (address.empty()) {
    return absl::InvalidArgumentError(absl::StrCat("--", flag, ": required"));
  }
  absl::StatusOr<recsys::redis::Options> options =
      recsys::redis::ParseAddress(address);
  if (!options.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("--", flag, ": ", options.status().message()));
  }
  absl::StatusOr<std::string> password =
      recsys::redis::ReadPassword(password_file);
  if (!password.ok()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "--", flag, "_password_file: ", password.status().message()));
  }
  options->password = *std::move(password);
  options->connect_timeout = absl::Seconds(2);
  options->default_timeout = absl::Seconds(30);
  options->pool_size = 2;
  return recsys::redis::Client::Create(*options);
}

// Copies (and/or verifies) the keys under --prefix from --from to --to;
// progress on stderr, one summary line on stdout.
int RedisMigrate() {
  auto source = RedisFromFlags("from", absl::GetFlag(FLAGS_from),
                               absl::GetFlag(FLAGS_from_password_file));
  auto target = source.ok()
                    ? RedisFromFlags("to", absl::GetFlag(FLAGS_to),
                                     absl::GetFlag(FLAGS_to_password_file))
                    : source.status();
  if (!target.ok()) {
    std::fprintf(stderr, "%s\n",
                 std::string(target.status().message()).c_str());
    return 2;
  }
  absl::Time last_report = absl::Now();
  recsys::redis::MigrateOptions options{
      .prefix = absl::GetFlag(FLAGS_prefix),
      .batch_size = absl::GetFlag(FLAGS_batch),
      .replace = absl::GetFlag(FLAGS_replace),
      .dry_run = absl::GetFlag(FLAGS_dry_run),
      .progress =
          [&](const recsys::redis::MigrateProgress& p) {
            if (absl::Now() - last_report >= absl::Seconds(5)) {
              last_report = absl::Now();
              std::fprintf(
                  stderr,
                  "redis-migrate: node %d/%d %s: scanned %lld, copied %lld\n",
                  p.node_index + 1, p.nodes, p.node.c_str(),
                  static_cast<long long>(p.totals.scanned),
                  static_cast<long long>(p.totals.copied));
            }
            return true;
          },
  };
  if (options.batch_size < 1) {
    std::fprintf(stderr, "--batch: must be >= 1, got %d\n", options.batch_size);
    return 2;
  }
  std::string line = absl::StrCat("redis-migrate ", (*source)->address(),
                                  " -> ", (*target)->address(), " prefix '",
                                  absl::CEscape(options.prefix), "'",
                                  options.dry_run ? " (dry run)" : "");
  auto copied = recsys::redis::MigrateKeys(**source, **target, options);
  if (!copied.ok()) {
    std::fprintf(stderr, "%s: error: %s: %s\n", line.c_str(),
                 absl::StatusCodeToString(copied.status().code()).c_str(),
                 std::string(copied.status().message()).c_str());
    return 1;
  }
  absl::StrAppend(&line, ": ", copied->ToString());
  bool differs = false;
  if (absl::GetFlag(FLAGS_verify)) {
    auto verified = recsys::redis::VerifyKeys(**source, **target, options);
    if (!verified.ok()) {
      std::fprintf(stderr, "%s; verify: error: %s: %s\n", line.c_str(),
                   absl::StatusCodeToString(verified.status().code()).c_str(),
                   std::string(verified.status().message()).c_str());
      return 1;
    }
    absl::StrAppend(&line, "; verify: ", verified->ToString());
    differs = !verified->ok();
  }
  std::printf("%s\n", line.c_str());
  return differs ? 1 : 0;
}

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage(
      "Calls the recsys API.\n"
      "  recsys_cli [--target=host:port] COMMAND [flags]\n"
      "Commands:\n"
      "  recommend --user=U [--slots=hero:4,feed:12] [--categories=..] [--exclude=..]\n"
      "  similar   --item=I [--k=10] [--user=U] [--mode=similar|complements] [--price_band=0.3]\n"
      "  profile   --user=U\n"
      "  event     --user=U --item=I --type=view|add_to_cart|purchase|impression|click\n"
      "            [--recommendation_id=R] [--event_id=E]\n"
      "            --user=U --coupon=C --type=coupon_issued|coupon_redeemed [--price=ORDER]\n"
      "  coupons   --user=U [--k=5] [--time=UNIX]\n"
      "  audience  (--coupon=C | --categories=CAT | --items=I1,I2) [--segments=dormant,..]\n"
      "            [--tiers=gold,..] [--min_days=N] [--contact_cap_days=N --campaign=X] [--k=N]\n"
      "  load-coupons --file=deploy/coupons.textproto    list-coupons\n"
      "  item      --item=I [--stock=N] [--slow=true|false] [--category=C] [--item_price=P]\n"
      "            [--title=T] [--listed=now|UNIX] [--cost=C] [--role=R]   (alias: stock)\n"
      "  trial     [--time=UNIX] [--ended_within_days=N]\n"
      "  offers    [--time=UNIX] [--users=U1,U2]   (one pass of the triggered offers)\n"
      "  experiment-report [--experiment=NAME]\n"
      "  info | reload [--version=V] | rollback | health [--service=NAME]\n"
      "  new-api-key --name=NAME --scopes=storefront,marketing,admin\n"
      "  redis-migrate --from=REDIS --to=REDIS [--prefix=rs:] [--replace] [--dry_run] [--verify]\n"
      "            [--batch=500] [--from_password_file=F] [--to_password_file=F]\n"
      "            (copies the keys under the prefix, e.g. one Redis -> a cluster)\n"
      "Access: [--api_key_file=F] (or env RECSYS_API_KEY) [--tls_ca=CA.pem\n"
      "        [--tls_cert=C.pem --tls_key=K.pem]]");
  std::vector<char*> args = absl::ParseCommandLine(argc, argv);
  if (args.size() != 2) {
    std::fprintf(stderr, "%s\n", absl::ProgramUsageMessage().data());
    return 2;
  }
  const std::string command = args[1];
  if (command == "new-api-key") return NewApiKey();
  if (command == "redis-migrate") return RedisMigrate();
  auto channel_options = recsys::access::ReadClientFiles({
      .target = absl::GetFlag(FLAGS_target),
      .api_key_file = absl::GetFlag(FLAGS_api_key_file),
      .api_key_env = std::getenv("RECSYS_API_KEY"),
      .tls_ca_file = absl::GetFlag(FLAGS_tls_ca),
      .tls_cert_file = absl::GetFlag(FLAGS_tls_cert),
      .tls_key_file = absl::GetFlag(FLAGS_tls_key),
  });
  auto channel = channel_options.ok() ? recsys::access::NewClientChannel(*channel_options)
                                      : channel_options.status();
  if (!channel.ok()) {
    std::fprintf(stderr, "%s\n", std::string(channel.status().message()).c_str());
    return 2;
  }
  Cli cli(*channel);
  if (command == "recommend") return cli.Recommend();
  if (command == "similar") return cli.Similar();
  if (command == "profile") return cli.Profile();
  if (command == "event") return cli.Event();
  if (command == "coupons") return cli.Coupons();
  if (command == "audience") return cli.Audience();
  if (command == "info") return cli.Info();
  if (command == "reload") return cli.Reload();
  if (command == "rollback") return cli.Rollback();
  if (command == "item" || command == "stock") return cli.Item();
  if (command == "trial") return cli.Trial();
  if (command == "offers") return cli.Offers();
  if (command == "load-coupons") return cli.LoadCoupons();
  if (command == "list-coupons") return cli.ListCoupons();
  if (command == "health") return cli.Health();
  if (command == "experiment-report") return cli.ExperimentReport();
  std::fprintf(stderr, "unknown command '%s'\n%s\n", command.c_str(),
               absl::ProgramUsageMessage().data());
  return 2;
}
