// recsys_simulate: replays a generated shop's visitors against a running
// server, with known true click and purchase probabilities per variant of a
// homepage experiment and a known coupon uplift, sending every answer's
// recommendation_id back with the events it leads to. The report
// (recsys_cli experiment-report) is then checked against the truth printed
// here.
//
//   recsys_simulate --target=127.0.0.1:50051 --api_key_file=demo.key
//     --users=3000 --experiment=homepage_layout --slot=homepage_feed
//     --click=control:0.04,waterfall:0.06 --buy=0.25
//     --coupon_experiment=welcome_holdout --base_conversion=0.05
//     --coupon_uplift=0.04
//   (one command line)
//
// Per visitor (ids "<prefix><i>", new to the shop): one RecommendProducts
// of --slot (k = --k); one impression per item shown, each clicked with the
// variant's click probability, each click bought with probability --buy
// (value: the item's price). Then RecommendCoupons: a coupon offered is
// issued (coupon_issued event) and the visitor orders with probability
// base_conversion, plus coupon_uplift when the coupon was issued; an order
// redeems the coupon. --base_conversion and --coupon_uplift take one
// probability or one per segment ("new:0.04,dormant:0.1"; the segment
// RecommendCoupons answers for the visitor, default "*:<p>"). Every event
// carries an event_id; seeded, so a run is reproducible. With --report
// (needs the admin scope) the coupon experiment's report is read at the end
// and its measured incremental conversion and incrementality per segment
// are printed beside the truth.
#include <grpcpp/grpcpp.h>

#include <cstdio>
#include <cstdlib>
#include <map>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "access/client_channel.h"
#include "common/random.h"
#include "recsys/v1/recommender.grpc.pb.h"

ABSL_FLAG(std::string, target, "localhost:50051", "Server address.");
ABSL_FLAG(
    std::string, api_key_file, "",
    "File holding the API key (storefront and marketing scopes; default: env "
    "RECSYS_API_KEY).");
ABSL_FLAG(std::string, tls_ca, "",
          "CA certificate (PEM) of the server: connect with TLS.");
ABSL_FLAG(int, users, 2000, "Visitors simulated.");
ABSL_FLAG(uint64_t, seed, 1, "Seed of every random draw.");
ABSL_FLAG(std::string, user_prefix, "sim-", "Visitor ids are <prefix><i>.");
ABSL_FLAG(int, user_width, 0,
          "Pad i with zeros to this many digits (recsys_datagen's ids are "
          "u0000...: --user_prefix=u --user_width=4 replays the shop's own "
          "customers, with their segments).");
ABSL_FLAG(int, first_user, 0,
          "Visitors are i = first_user, first_user + 1, ...");
ABSL_FLAG(std::string, experiment, "homepage_layout",
          "The homepage experiment (empty: no homepage part).");
ABSL_FLAG(std::string, slot, "homepage_feed", "Its slot.");
ABSL_FLAG(int, k, 6, "Items per answer (impressions per visit).");
ABSL_FLAG(
    std::string, click, "control:0.04,waterfall:0.06",
    "True click probability per impression, per variant (variant:p,...).");
ABSL_FLAG(double, buy, 0.25, "True probability that a click is bought.");
ABSL_FLAG(std::string, coupon_experiment, "",
          "The coupon holdout experiment (empty: no coupon part).");
ABSL_FLAG(std::string, base_conversion, "0.05",
          "True order probability without a coupon: p, or segment:p,... "
          "(segments not listed: *:p, else 0).");
ABSL_FLAG(std::string, coupon_uplift, "0.04",
          "True added order probability with a coupon: p, or segment:p,...");
ABSL_FLAG(bool, report, false,
          "Print the coupon experiment's measured uplift per segment beside "
          "the truth at the end (Admin.GetExperimentReport).");
ABSL_FLAG(double, order_value, 40, "Value of a coupon-part order.");
ABSL_FLAG(int, timeout_ms, 5000, "Deadline of each call.");

namespace {

namespace v1 = recsys::v1;

std::map<std::string, double> ParseProbabilities(const std::string& text) {
  std::map<std::string, double> out;
  for (absl::string_view part : absl::StrSplit(text, ',', absl::SkipEmpty())) {
    std::pair<std::string, std::string> kv = absl::StrSplit(part, ':');
    double p = 0;
    if (!absl::SimpleAtod(kv.second, &p) || p < 0 || p > 1) {
      std::fprintf(stderr, "bad probability '%s'\n", std::string(part).c_str());
      std::exit(2);
    }
    out[kv.first] = p;
  }
  return out;
}

// "0.04" or "new:0.04,dormant:0.1" -> by segment ("*" for every other).
std::map<std::string, double> ParsePerSegment(const std::string& text) {
  double p = 0;
  if (absl::SimpleAtod(text, &p)) {
    if (p < 0 || p > 1) {
      std::fprintf(stderr, "bad probability '%s'\n", text.c_str());
      std::exit(2);
    }
    return {{"*", p}};
  }
  return ParseProbabilities(text);
}

double ForSegment(const std::map<std::string, double>& by_segment,
                  const std::string& segment) {
  auto it = by_segment.find(segment);
  if (it == by_segment.end()) it = by_segment.find("*");
  return it == by_segment.end() ? 0 : it->second;
}

std::string VariantOf(
    const google::protobuf::RepeatedPtrField<v1::Assignment>& arms,
    const std::string& experiment) {
  for (const auto& a : arms) {
    if (a.experiment() == experiment) return a.variant();
  }
  return "";
}

}  // namespace

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage(
      "Replays simulated visitors with known true effects against "
      "recsys_server.");
  absl::ParseCommandLine(argc, argv);
  recsys::access::ClientFiles files;
  files.target = absl::GetFlag(FLAGS_target);
  files.api_key_file = absl::GetFlag(FLAGS_api_key_file);
  files.api_key_env = std::getenv("RECSYS_API_KEY");
  files.tls_ca_file = absl::GetFlag(FLAGS_tls_ca);
  auto options = recsys::access::ReadClientFiles(files);
  auto channel = options.ok() ? recsys::access::NewClientChannel(*options)
                              : options.status();
  if (!channel.ok()) {
    std::fprintf(stderr, "%s\n",
                 std::string(channel.status().message()).c_str());
    return 2;
  }
  auto stub = v1::Recommender::NewStub(*channel);
  const auto click = ParseProbabilities(absl::GetFlag(FLAGS_click));
  const double buy = absl::GetFlag(FLAGS_buy);
  const std::string experiment = absl::GetFlag(FLAGS_experiment);
  const std::string coupon_experiment = absl::GetFlag(FLAGS_coupon_experiment);
  const auto base_conversion =
      ParsePerSegment(absl::GetFlag(FLAGS_base_conversion));
  const auto coupon_uplift =
      ParsePerSegment(absl::GetFlag(FLAGS_coupon_uplift));
  recsys::Rng rng(absl::GetFlag(FLAGS_seed));
  auto deadline = [](grpc::ClientContext* ctx) {
    ctx->set_deadline(
        std::chrono::system_clock::now() +
        std::chrono::milliseconds(absl::GetFlag(FLAGS_timeout_ms)));
  };
  // What was simulated, per variant.
  struct Tally {
    int64_t users = 0, impressions = 0, clicks = 0, purchases = 0, issued = 0,
            orders = 0;
    double gmv = 0;
  };
  std::map<std::string, Tally> home, coupons;
  // Coupon part by segment, then variant.
  std::map<std::string, std::map<std::string, Tally>> by_segment;
  int errors = 0;
  for (int i = 0; i < absl::GetFlag(FLAGS_users); ++i) {
    const std::string user =
        absl::StrCat(absl::GetFlag(FLAGS_user_prefix),
                     absl::StrFormat("%0*d", absl::GetFlag(FLAGS_user_width),
                                     absl::GetFlag(FLAGS_first_user) + i));
    int n = 0;
    auto event = [&](v1::RecordEventsRequest* req, v1::EventType type,
                     const std::string& id) {
      v1::Event* e = req->add_events();
      e->set_type(type);
      e->set_user_id(user);
      e->set_recommendation_id(id);
      e->set_event_id(absl::StrCat(user, "-", n++));
      // As a storefront does: what was shown and clicked names its slot.
      if (type == v1::EVENT_IMPRESSION || type == v1::EVENT_CLICK) {
        e->set_slot(absl::GetFlag(FLAGS_slot));
      }
      return e;
    };
    v1::RecommendProductsRequest rreq;
    rreq.set_user_id(user);
    auto* slot = rreq.add_slots();
    slot->set_name(absl::GetFlag(FLAGS_slot));
    slot->set_k(absl::GetFlag(FLAGS_k));
    v1::RecommendProductsResponse rresp;
    grpc::ClientContext rctx;
    deadline(&rctx);
    grpc::Status st = stub->RecommendProducts(&rctx, rreq, &rresp);
    if (!st.ok() || rresp.slots_size() != 1) {
      ++errors;
      continue;
    }
    const v1::SlotResult& feed = rresp.slots(0);
    const std::string variant = VariantOf(feed.assignments(), experiment);
    // Coupon events go first: the visitor's other purchases must not make
    // the first-order coupon ineligible before it is issued and redeemed.
    v1::RecordEventsRequest events;
    v1::RecordEventsRequest coupon_events;
    if (!variant.empty()) {
      const auto p = click.find(variant);
      const double p_click = p == click.end() ? 0 : p->second;
      Tally& t = home[variant];
      ++t.users;
      for (const v1::RecommendedItem& item : feed.items()) {
        event(&events, v1::EVENT_IMPRESSION, feed.recommendation_id())
            ->set_item_id(item.item_id());
        ++t.impressions;
        if (rng.Uniform() >= p_click) continue;
        event(&events, v1::EVENT_CLICK, feed.recommendation_id())
            ->set_item_id(item.item_id());
        ++t.clicks;
        if (rng.Uniform() >= buy) continue;
        v1::Event* e =
            event(&events, v1::EVENT_PURCHASE, feed.recommendation_id());
        e->set_item_id(item.item_id());
        e->set_quantity(1);
        e->set_price(item.price());
        ++t.purchases;
        t.gmv += item.price();
      }
    }
    if (!coupon_experiment.empty()) {
      v1::RecommendCouponsRequest creq;
      creq.set_user_id(user);
      creq.set_k(1);
      v1::RecommendCouponsResponse cresp;
      grpc::ClientContext cctx;
      deadline(&cctx);
      st = stub->RecommendCoupons(&cctx, creq, &cresp);
      const std::string cvariant =
          st.ok() ? VariantOf(cresp.assignments(), coupon_experiment) : "";
      if (!st.ok()) ++errors;
      if (!cvariant.empty()) {
        Tally& t = coupons[cvariant];
        Tally& ts = by_segment[cresp.segment()][cvariant];
        ++t.users;
        ++ts.users;
        const bool offered = cresp.coupons_size() > 0;
        if (offered) {
          event(&coupon_events, v1::EVENT_COUPON_ISSUED,
                cresp.recommendation_id())
              ->set_coupon_id(cresp.coupons(0).coupon_id());
          ++t.issued;
          ++ts.issued;
        }
        const double p =
            ForSegment(base_conversion, cresp.segment()) +
            (offered ? ForSegment(coupon_uplift, cresp.segment()) : 0);
        if (rng.Uniform() < p && feed.items_size() > 0) {
          const double value = absl::GetFlag(FLAGS_order_value);
          v1::Event* e =
              event(&events, v1::EVENT_PURCHASE, cresp.recommendation_id());
          e->set_item_id(feed.items(0).item_id());
          e->set_quantity(1);
          e->set_price(value);
          if (offered) {
            v1::Event* r = event(&coupon_events, v1::EVENT_COUPON_REDEEMED,
                                 cresp.recommendation_id());
            r->set_coupon_id(cresp.coupons(0).coupon_id());
            r->set_price(value);
          }
          ++t.orders;
          ++ts.orders;
          t.gmv += value;
        }
      }
    }
    for (const v1::RecordEventsRequest* batch : {&coupon_events, &events}) {
      if (batch->events_size() == 0) continue;
      v1::RecordEventsResponse eresp;
      grpc::ClientContext ectx;
      deadline(&ectx);
      st = stub->RecordEvents(&ectx, *batch, &eresp);
      if (!st.ok() || eresp.rejected_size() > 0) {
        ++errors;
        if (errors <= 3) {
          std::fprintf(
              stderr, "RecordEvents: %s%s\n", st.error_message().c_str(),
              eresp.rejected_size() > 0 ? eresp.rejected(0).message().c_str()
                                        : "");
        }
      }
    }
  }
  std::printf("simulated %d visitors (seed %llu), %d calls failed or had events refused\n",
              absl::GetFlag(FLAGS_users),
              static_cast<unsigned long long>(absl::GetFlag(FLAGS_seed)),
              errors);
  if (!experiment.empty()) {
    std::printf(
        "truth of %s: click probability per impression, buy probability per "
        "click %.3f\n",
        experiment.c_str(), buy);
  }
  for (const auto& [variant, t] : home) {
    const auto p = click.find(variant);
    std::printf(
        "  %-12s true ctr %.4f  simulated: %lld users, %lld impressions, ctr "
        "%.4f, "
        "%lld purchases\n",
        variant.c_str(), p == click.end() ? 0.0 : p->second,
        static_cast<long long>(t.users), static_cast<long long>(t.impressions),
        t.impressions > 0 ? static_cast<double>(t.clicks) / t.impressions : 0.0,
        static_cast<long long>(t.purchases));
  }
  if (!coupon_experiment.empty()) {
    std::printf("truth of %s: order probability %s, plus %s with a coupon\n",
                coupon_experiment.c_str(),
                absl::GetFlag(FLAGS_base_conversion).c_str(),
                absl::GetFlag(FLAGS_coupon_uplift).c_str());
    for (const auto& [variant, t] : coupons) {
      std::printf(
          "  %-12s simulated: %lld users, %lld coupons issued, conversion "
          "%.4f\n",
          variant.c_str(), static_cast<long long>(t.users),
          static_cast<long long>(t.issued),
          t.users > 0 ? static_cast<double>(t.orders) / t.users : 0.0);
    }
    for (const auto& [segment, variants] : by_segment) {
      const double base = ForSegment(base_conversion, segment);
      const double uplift = ForSegment(coupon_uplift, segment);
      std::printf(
          "  segment %-12s true uplift %+.4f, true incrementality %.3f\n",
          segment.c_str(), uplift,
          base + uplift > 0 ? uplift / (base + uplift) : 0.0);
    }
  }
  if (!coupon_experiment.empty() && absl::GetFlag(FLAGS_report)) {
    auto admin = v1::Admin::NewStub(*channel);
    v1::GetExperimentReportRequest req;
    req.set_experiment(coupon_experiment);
    v1::ExperimentReports resp;
    grpc::ClientContext ctx;
    deadline(&ctx);
    grpc::Status st = admin->GetExperimentReport(&ctx, req, &resp);
    if (!st.ok() || resp.experiments_size() != 1) {
      std::fprintf(stderr, "GetExperimentReport: %s\n",
                   st.error_message().c_str());
      return 1;
    }
    const v1::ExperimentReport& r = resp.experiments(0);
    std::printf("measured against %s (report):\n",
                r.segment_baseline().c_str());
    std::printf(
        "  | variant | segment | exposed | true uplift | measured uplift "
        "[always-valid 95%%] "
        "| true incrementality | measured incrementality |\n");
    std::map<std::string, double> baseline_cvr;
    for (const v1::VariantReport& v : r.variants()) {
      if (v.variant() != r.segment_baseline()) continue;
      for (const v1::SegmentReport& g : v.segments()) {
        baseline_cvr[g.segment()] = g.conversion_rate();
      }
    }
    for (const v1::VariantReport& v : r.variants()) {
      for (const v1::SegmentReport& g : v.segments()) {
        for (const v1::Lift& l : g.lifts()) {
          if (l.metric() != "incremental_conversion") continue;
          const double base = ForSegment(base_conversion, g.segment());
          const double uplift = ForSegment(coupon_uplift, g.segment());
          const double ct = g.conversion_rate();
          std::printf(
              "  | %s | %s | %lld | %+.4f | %+.4f [%+.4f, %+.4f] | %.3f | %.3f "
              "|\n",
              v.variant().c_str(), g.segment().c_str(),
              static_cast<long long>(g.exposed_users()), uplift, l.absolute(),
              l.absolute_low(), l.absolute_high(),
              base + uplift > 0 ? uplift / (base + uplift) : 0.0,
              ct > 0 ? 1 - baseline_cvr[g.segment()] / ct : 0.0);
        }
      }
    }
  }
  return errors == 0 ? 0 : 1;
}
