// Golden answers of the whole service: a generated shop trained with fixed
// settings, loaded into a real redis-server, served by the real
// recsys_server binary with the deploy/ slot, marketing and coupon
// configuration, then changed through the API (live events, stock, slow
// movers, new listings) and asked through gRPC:
//   - RecommendProducts for 200 users (and a few users unknown to the
//     model, and a visitor with no history) × every configured slot × two
//     request times (a weekday breakfast, a festival evening);
//   - SimilarItems (substitutes, complements, a price band, a viewing user);
//   - RecommendCoupons, FindAudience and GetUserProfile.
// Every answer (items, scores to 6 significant digits, reasons, rules,
// degraded flags) is written as text and compared with
// tests/golden/testdata/answers.golden.gz (gzip keeps the repository
// small; zcat shows it). The test talks only to the proto
// API and the binaries, so refactoring the code behind them leaves it
// untouched: a difference is a change of behaviour.
//
// A deliberate change of behaviour regenerates the file:
//   RECSYS_UPDATE_GOLDEN=1 ctest -R Golden     (then review the diff:
//   zdiff the old and new file)
#include <unistd.h>
#include <zlib.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include <grpcpp/grpcpp.h>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/time/civil_time.h"
#include "absl/time/time.h"
#include "gtest/gtest.h"
#include "recsys/v1/recommender.grpc.pb.h"
#include "tests/testing/child_process.h"
#include "tests/testing/redis_server.h"

namespace recsys {
namespace {

namespace v1 = recsys::v1;
namespace fs = std::filesystem;

constexpr int kUsers = 200;
// The generated log ends on 2024-12-31 (datagen's default end date).
const absl::TimeZone kUtc = absl::UTCTimeZone();
int64_t At(int y, int m, int d, int hh, int mm) {
  return absl::ToUnixSeconds(absl::FromCivil(absl::CivilMinute(y, m, d, hh, mm), kUtc));
}

std::string Score(double x) { return absl::StrFormat("%.6g", x); }

void PrintReason(const v1::Reason& r, std::ostream& out) {
  out << " code=" << v1::ReasonCode_Name(r.code());
  if (!r.anchor_item_id().empty()) out << " anchor=" << r.anchor_item_id();
  if (!r.anchor_category().empty()) out << " cat=" << r.anchor_category();
  out << " text=\"" << r.text() << "\"";
  if (r.applied_rules_size() > 0) out << " rules=" << absl::StrJoin(r.applied_rules(), ",");
}

void PrintMeta(const v1::ResponseMeta& m, std::ostream& out) {
  out << "  meta version=" << m.model_version() << " degraded=" << m.degraded();
  if (m.degraded()) out << " reason=\"" << m.degraded_reason() << "\"";
  out << "\n";
}

void PrintItems(const google::protobuf::RepeatedPtrField<v1::RecommendedItem>& items,
                std::ostream& out) {
  for (const v1::RecommendedItem& it : items) {
    out << "    " << it.item_id() << " score=" << Score(it.score()) << " cat=" << it.category()
        << " price=" << Score(it.price());
    PrintReason(it.reason(), out);
    out << "\n";
  }
}

class GoldenTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = absl::StrCat(fs::temp_directory_path().string(), "/recsys_golden_", ::getpid());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    auto redis = recsys::testing::RedisServer::Start();
    ASSERT_TRUE(redis.ok()) << redis.status();
    redis_ = *std::move(redis);
  }
  void TearDown() override {
    server_.reset();
    redis_.reset();
    if (!HasFailure()) fs::remove_all(dir_);
  }

  std::string dir_;
  std::unique_ptr<recsys::testing::RedisServer> redis_;
  std::unique_ptr<recsys::testing::ChildProcess> server_;
};

void Context(grpc::ClientContext* ctx) {
  ctx->set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
}

TEST_F(GoldenTest, AnswersMatchTheRecordedOnes) {
  using recsys::testing::RunCommand;
  const std::string csv = dir_ + "/shop.csv";
  ASSERT_EQ(RunCommand(absl::StrCat(RECSYS_DATAGEN, " --users=600 --items=200 --seed=21 --out=",
                                    csv, " > ", dir_, "/datagen.log 2>&1")),
            0);
  // Every training setting that shapes the model is pinned, so a change of
  // the trainer's defaults does not change this test's model.
  ASSERT_EQ(RunCommand(absl::StrCat(
                RECSYS_TRAIN, " --input=", csv, " --model_root=", dir_, "/models",
                " --version=1 --factors=16 --iterations=8 --regularization=20 --alpha=3"
                " --confidence=linear --signal=events --decay_half_life_days=30 --solver=cg"
                " --cg_steps=3 --threads=1 --seed=7 --bundles=true --ranker_validation_days=30"
                " --index=auto --segments=true --marketing_config=",
                RECSYS_DEPLOY_DIR, "/marketing.textproto --redis=", redis_->address(), " > ",
                dir_, "/train.log 2>&1")),
            0)
      << "see " << dir_ << "/train.log";

  const std::string port_file = dir_ + "/port";
  auto server = recsys::testing::ChildProcess::Start(
      {RECSYS_SERVER, "--listen=127.0.0.1:0", "--http_listen=127.0.0.1:0", absl::StrCat("--port_file=", port_file),
       absl::StrCat("--model_root=", dir_, "/models"),
       absl::StrCat("--redis=", redis_->address()), "--poll_seconds=0",
       "--feature_timeout_ms=5000", "--item_cache_staleness=0s",
       absl::StrCat("--slots_config=", RECSYS_DEPLOY_DIR, "/slots.textproto"),
       absl::StrCat("--marketing_config=", RECSYS_DEPLOY_DIR, "/marketing.textproto"),
       absl::StrCat("--coupons=", RECSYS_DEPLOY_DIR, "/coupons.textproto")},
      dir_ + "/server.log");
  ASSERT_TRUE(server.ok()) << server.status();
  server_ = *std::move(server);
  auto port = recsys::testing::WaitForPortFile(port_file, server_.get(), absl::Seconds(60));
  ASSERT_TRUE(port.ok()) << port.status() << "; see " << dir_ << "/server.log";
  auto channel = grpc::CreateChannel(absl::StrCat("127.0.0.1:", *port),
                                     grpc::InsecureChannelCredentials());
  auto rec = v1::Recommender::NewStub(channel);
  auto admin = v1::Admin::NewStub(channel);

  std::vector<std::string> users;
  {
    std::ifstream in(dir_ + "/models/1/users.tsv");
    for (std::string line; std::getline(in, line) && static_cast<int>(users.size()) < kUsers;) {
      users.push_back(line);
    }
  }
  ASSERT_EQ(static_cast<int>(users.size()), kUsers);
  std::vector<std::string> items;
  {
    std::ifstream in(dir_ + "/models/1/items.tsv");
    for (std::string line; std::getline(in, line);) {
      items.push_back(line.substr(0, line.find('\t')));
    }
  }
  ASSERT_GE(items.size(), 100u);

  // The catalog changes: out of stock, low stock, slow movers, and new
  // listings (two within their trial window on the first request days,
  // one past it).
  {
    v1::UpdateItemsRequest req;
    for (int i = 0; i < 12; ++i) {
      auto* u = req.add_items();
      u->set_item_id(items[i * 7 % items.size()]);
      if (i % 3 == 0) u->set_stock(0);
      if (i % 3 == 1) u->set_stock(3);
      if (i % 3 == 2) u->set_slow_mover(true);
    }
    const char* kCategories[] = {"grocery", "home", "books"};
    for (int i = 0; i < 3; ++i) {
      auto* u = req.add_items();
      u->set_item_id(absl::StrCat("NEW", i));
      u->set_category(kCategories[i]);
      u->set_price(4.5 + i);
      u->set_title(absl::StrCat("New product ", i));
      u->set_stock(20);
      u->set_listed_unix(i < 2 ? At(2025, 1, 1 + i, 9, 0) : At(2024, 11, 1, 9, 0));
    }
    v1::UpdateItemsResponse resp;
    grpc::ClientContext ctx;
    Context(&ctx);
    grpc::Status st = admin->UpdateItems(&ctx, req, &resp);
    ASSERT_TRUE(st.ok()) << st.error_message();
  }
  // Live activity after the model's data: views, carts and purchases of
  // known users and of users unknown to the model (fold-in), and
  // impressions for rotation.
  {
    v1::RecordEventsRequest req;
    const int64_t t0 = At(2025, 1, 5, 12, 0);
    auto add = [&](v1::EventType type, const std::string& user, const std::string& item,
                   int64_t t) {
      auto* e = req.add_events();
      e->set_type(type);
      e->set_user_id(user);
      e->set_item_id(item);
      e->set_timestamp_unix(t);
      if (type == v1::EVENT_PURCHASE) {
        e->set_quantity(1);
        e->set_price(5);
      }
      if (type == v1::EVENT_IMPRESSION) e->set_slot("homepage_feed");
    };
    for (int u = 0; u < 40; ++u) {
      const std::string& user = users[u * 7 % kUsers];
      add(v1::EVENT_VIEW, user, items[(u * 13) % items.size()], t0 + u * 60);
      if (u % 2 == 0) add(v1::EVENT_ADD_TO_CART, user, items[(u * 17) % items.size()], t0 + u * 60 + 5);
      if (u % 4 == 0) add(v1::EVENT_PURCHASE, user, items[(u * 19) % items.size()], t0 + u * 60 + 9);
      if (u % 5 == 0) {
        for (int i = 0; i < 6; ++i) {
          add(v1::EVENT_IMPRESSION, user, items[(u + i * 11) % items.size()], t0 + u * 60 + 20 + i);
        }
        add(v1::EVENT_IMPRESSION, user, "NEW0", t0 + u * 60 + 30);
      }
    }
    for (int u = 0; u < 5; ++u) {
      const std::string user = absl::StrCat("newcomer", u);
      add(v1::EVENT_VIEW, user, items[(u * 23 + 1) % items.size()], t0 + u * 30);
      add(v1::EVENT_ADD_TO_CART, user, items[(u * 29 + 2) % items.size()], t0 + u * 30 + 1);
      if (u % 2 == 1) add(v1::EVENT_PURCHASE, user, items[(u * 31 + 3) % items.size()], t0 + u * 30 + 2);
    }
    v1::RecordEventsResponse resp;
    grpc::ClientContext ctx;
    Context(&ctx);
    grpc::Status st = rec->RecordEvents(&ctx, req, &resp);
    ASSERT_TRUE(st.ok()) << st.error_message();
    ASSERT_EQ(resp.rejected_size(), 0);
  }

  std::ostringstream out;
  const int64_t kTimes[] = {At(2025, 1, 6, 8, 30), At(2025, 2, 10, 19, 30)};
  std::vector<std::string> askers = users;
  for (int u = 0; u < 5; ++u) askers.push_back(absl::StrCat("newcomer", u));
  askers.push_back("visitor-with-no-history");
  const std::vector<std::pair<std::string, int>> kSlots = {
      {"homepage_hero", 4}, {"homepage_feed", 12}, {"for_you", 10}, {"cart_bundle", 6},
      {"buy_again", 6},     {"unconfigured_slot", 5}};
  for (int64_t t : kTimes) {
    for (const std::string& user : askers) {
      v1::RecommendProductsRequest req;
      req.set_user_id(user);
      req.mutable_context()->set_request_time_unix(t);
      for (const auto& [name, k] : kSlots) {
        auto* s = req.add_slots();
        s->set_name(name);
        s->set_k(k);
      }
      v1::RecommendProductsResponse resp;
      grpc::ClientContext ctx;
      Context(&ctx);
      grpc::Status st = rec->RecommendProducts(&ctx, req, &resp);
      ASSERT_TRUE(st.ok()) << user << ": " << st.error_message();
      out << "products user=" << user << " t=" << t << "\n";
      PrintMeta(resp.meta(), out);
      for (const v1::SlotResult& slot : resp.slots()) {
        out << "  slot " << slot.name() << "\n";
        PrintItems(slot.items(), out);
      }
    }
  }
  // Filters on the storefront call.
  for (int u = 0; u < 20; ++u) {
    v1::RecommendProductsRequest req;
    req.set_user_id(users[u]);
    req.mutable_context()->set_request_time_unix(kTimes[0]);
    auto* s = req.add_slots();
    s->set_name("homepage_feed");
    s->set_k(8);
    req.mutable_filters()->set_min_price(2);
    req.mutable_filters()->set_max_price(30);
    req.mutable_filters()->add_exclude_item_ids(items[u]);
    if (u % 2 == 0) req.mutable_filters()->add_categories("grocery");
    if (u % 2 == 0) req.mutable_filters()->add_categories("home");
    v1::RecommendProductsResponse resp;
    grpc::ClientContext ctx;
    Context(&ctx);
    grpc::Status st = rec->RecommendProducts(&ctx, req, &resp);
    ASSERT_TRUE(st.ok()) << st.error_message();
    out << "filtered user=" << users[u] << "\n";
    PrintMeta(resp.meta(), out);
    for (const v1::SlotResult& slot : resp.slots()) PrintItems(slot.items(), out);
  }

  for (size_t i = 0; i < 60; ++i) {
    v1::SimilarItemsRequest req;
    req.set_item_id(i < 57 ? items[i * 3 % items.size()] : absl::StrCat("NEW", i - 57));
    req.set_k(8);
    req.mutable_context()->set_request_time_unix(kTimes[0]);
    if (i % 2 == 1) req.set_mode(v1::SIMILAR_MODE_COMPLEMENTS);
    if (i % 5 == 0) req.set_price_band(0.5f);
    if (i % 7 == 0) req.set_user_id(users[i]);
    v1::SimilarItemsResponse resp;
    grpc::ClientContext ctx;
    Context(&ctx);
    grpc::Status st = rec->SimilarItems(&ctx, req, &resp);
    out << "similar item=" << req.item_id() << " mode=" << req.mode()
        << " band=" << req.price_band() << " user=" << req.user_id()
        << " status=" << st.error_code() << "\n";
    if (!st.ok()) {
      out << "  error " << st.error_message() << "\n";
      continue;
    }
    PrintMeta(resp.meta(), out);
    PrintItems(resp.items(), out);
  }

  for (int u = 0; u < 60; ++u) {
    const std::string& user = u < 58 ? users[u * 5 % kUsers] : absl::StrCat("newcomer", u - 58);
    v1::RecommendCouponsRequest req;
    req.set_user_id(user);
    req.set_k(5);
    req.mutable_context()->set_request_time_unix(kTimes[u % 2]);
    v1::RecommendCouponsResponse resp;
    grpc::ClientContext ctx;
    Context(&ctx);
    grpc::Status st = rec->RecommendCoupons(&ctx, req, &resp);
    out << "coupons user=" << user << " status=" << st.error_code() << "\n";
    if (!st.ok()) {
      out << "  error " << st.error_message() << "\n";
      continue;
    }
    PrintMeta(resp.meta(), out);
    out << "  segment=" << resp.segment() << " tier=" << resp.tier()
        << " orders=" << resp.orders() << "\n";
    for (const v1::RecommendedCoupon& c : resp.coupons()) {
      out << "    " << c.coupon_id() << " ev=" << Score(c.score())
          << " p=" << Score(c.propensity()) << " u=" << Score(c.incrementality())
          << " basket=" << Score(c.basket_value()) << " discount=" << Score(c.discount())
          << " desc=\"" << c.description() << "\"";
      PrintReason(c.reason(), out);
      out << "\n";
    }
  }

  struct Audience {
    std::string label;
    v1::FindAudienceRequest req;
  };
  std::vector<Audience> audiences(4);
  audiences[0].label = "coupon COMEBACK15";
  audiences[0].req.set_coupon_id("COMEBACK15");
  audiences[1].label = "category grocery, dormant, 60+ days";
  audiences[1].req.set_category("grocery");
  audiences[1].req.mutable_filters()->add_segments("dormant");
  audiences[1].req.mutable_filters()->set_min_days_since_purchase(60);
  audiences[2].label = "items";
  for (int i = 0; i < 3; ++i) audiences[2].req.mutable_items()->add_item_ids(items[i * 5]);
  audiences[3].label = "category home, gold tier";
  audiences[3].req.set_category("home");
  audiences[3].req.mutable_filters()->add_tiers("gold");
  for (Audience& a : audiences) {
    a.req.set_limit(40);
    a.req.mutable_context()->set_request_time_unix(kTimes[0]);
    grpc::ClientContext ctx;
    Context(&ctx);
    auto reader = rec->FindAudience(&ctx, a.req);
    out << "audience " << a.label << "\n";
    v1::AudiencePage page;
    while (reader->Read(&page)) {
      if (page.has_meta()) PrintMeta(page.meta(), out);
      for (const v1::AudienceMember& m : page.members()) {
        out << "    " << m.user_id() << " score=" << Score(m.score()) << " seg=" << m.segment()
            << " tier=" << m.tier() << " days=" << m.days_since_purchase()
            << " coupon=" << m.best_coupon_id();
        PrintReason(m.reason(), out);
        out << "\n";
      }
    }
    grpc::Status st = reader->Finish();
    out << "  status=" << st.error_code() << "\n";
  }

  for (int u = 0; u < 30; ++u) {
    v1::GetUserProfileRequest req;
    req.set_user_id(u < 28 ? users[u * 9 % kUsers] : absl::StrCat("newcomer", u - 28));
    req.set_history_limit(10);
    v1::UserProfile resp;
    grpc::ClientContext ctx;
    Context(&ctx);
    grpc::Status st = rec->GetUserProfile(&ctx, req, &resp);
    out << "profile user=" << req.user_id() << " status=" << st.error_code() << "\n";
    if (!st.ok()) continue;
    out << "  known=" << resp.known_to_model() << " segment=" << resp.segment()
        << " tier=" << resp.tier() << " stage=" << resp.lifecycle_stage()
        << " rfm=" << resp.rfm().recency_days() << "/" << resp.rfm().frequency() << "/"
        << Score(resp.rfm().monetary()) << " " << resp.rfm().r_score() << resp.rfm().f_score()
        << resp.rfm().m_score() << "\n";
    for (const auto& p : resp.purchases()) {
      out << "    bought " << p.item_id() << " x" << p.count() << " last="
          << p.last_purchase_unix() << " cat=" << p.category() << "\n";
    }
    for (const auto& a : resp.recent_activity()) {
      out << "    recent " << a.item_id() << " " << v1::EventType_Name(a.type()) << " "
          << a.timestamp_unix() << "\n";
    }
  }

  const std::string actual = out.str();
  const std::string golden_path = RECSYS_GOLDEN_DIR "/answers.golden.gz";
  if (const char* update = std::getenv("RECSYS_UPDATE_GOLDEN");
      update != nullptr && std::string(update) == "1") {
    gzFile f = gzopen(golden_path.c_str(), "wb9");
    ASSERT_NE(f, nullptr) << golden_path;
    ASSERT_EQ(gzwrite(f, actual.data(), static_cast<unsigned>(actual.size())),
              static_cast<int>(actual.size()));
    ASSERT_EQ(gzclose(f), Z_OK);
    GTEST_SKIP() << "rewrote " << golden_path;
  }
  std::string expected;
  {
    gzFile f = gzopen(golden_path.c_str(), "rb");
    ASSERT_NE(f, nullptr) << "missing " << golden_path << "; RECSYS_UPDATE_GOLDEN=1 writes it";
    char buf[1 << 16];
    for (int n; (n = gzread(f, buf, sizeof(buf))) > 0;) expected.append(buf, n);
    gzclose(f);
  }
  if (actual != expected) {
    const std::string actual_path = dir_ + "/answers.actual";
    std::ofstream(actual_path, std::ios::binary) << actual;
    // The first differing line, for the log.
    std::istringstream a(actual), e(expected);
    std::string la, le;
    int line = 0;
    while (true) {
      const bool ga = static_cast<bool>(std::getline(a, la));
      const bool ge = static_cast<bool>(std::getline(e, le));
      ++line;
      if (!ga && !ge) break;
      if (!ga || !ge || la != le) {
        ADD_FAILURE() << "answers differ from " << golden_path << " at line " << line
                      << "\n  expected: " << (ge ? le : "<end>")
                      << "\n  actual:   " << (ga ? la : "<end>") << "\nfull answers in "
                      << actual_path << " (diff them against the golden file)";
        break;
      }
    }
  }
}

}  // namespace
}  // namespace recsys
