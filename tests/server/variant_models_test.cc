// A model version per experiment variant, through real gRPC on real model
// directories: three versions under one root whose item ids carry their
// version's prefix, so every answer shows which model made it. Variants on
// two versions get their own version's items (RecommendProducts slots and
// SimilarItems) while a slot outside the experiment keeps the default model;
// a version that is not there falls back to the default model without a
// failed call; reloading the experiments config while clients call switches
// versions with no failed call; GetModelInfo lists the versions held.
#include <grpcpp/grpcpp.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "feature_store/in_memory_feature_store.h"
#include "gtest/gtest.h"
#include "metrics/metrics.h"
#include "model/model_format.h"
#include "model/model_store.h"
#include "recsys/v1/recommender.grpc.pb.h"
#include "server/recommender_service.h"
#include "tests/model/test_model.h"
#include "tests/testing/test_files.h"
#include "tests/testing/test_server.h"

namespace recsys::server {
namespace {

namespace v1 = recsys::v1;

// Version -> the prefix of its item ids. "300" is the newest: the default.
const std::map<std::string, std::string> kPrefix = {
    {"100", "p100_"}, {"200", "p200_"}, {"300", "p300_"}};

// The planted model with item ids prefixed, plus the shared item "anchor"
// (an alpha item) that every version knows, for SimilarItems.
model::ModelData VersionModel(const std::string& prefix) {
  model::ModelData d = model::testing::MakePlantedModel();
  for (model::ItemMeta& item : d.items) item.item_id = prefix + item.item_id;
  model::ItemMeta anchor;
  anchor.item_id = "anchor";
  anchor.category = "alpha";
  anchor.price = 5;
  anchor.title = "Anchor";
  d.items.push_back(anchor);
  d.item_factors.insert(d.item_factors.end(), {0.99f, 0.05f, 0.2f, 0.0f});
  return d;
}

// "models" on homepage_feed and similar_items: control (the default model),
// v100 and v200 on their versions; the shares are thirds.
std::string Config(const std::string& a, const std::string& b) {
  return absl::StrReplaceAll(
      R"pb(
        layers {
          name: "home"
          experiments {
            name: "models"
            traffic_share: 1
            slots: "homepage_feed"
            slots: "similar_items"
            variants { name: "control" share: 0.34 }
            variants { name: "va" share: 0.33 model_version: "A" }
            variants { name: "vb" share: 0.33 model_version: "B" }
          }
        }
      )pb",
      {{"\"A\"", absl::StrCat("\"", a, "\"")},
       {"\"B\"", absl::StrCat("\"", b, "\"")}});
}

// Replaces the file by rename, as an operator's deploy would.
void WriteConfig(const std::string& path, const std::string& text) {
  const std::string tmp = path + ".tmp";
  std::ofstream(tmp, std::ios::trunc) << text;
  std::filesystem::rename(tmp, path);
}

void Deadline(grpc::ClientContext* ctx) {
  ctx->set_deadline(std::chrono::system_clock::now() +
                    std::chrono::seconds(30));
}

std::string User(int i) { return absl::StrCat("user-", i); }

// The variant of "models" in a slot's assignments ("" when none).
std::string VariantOf(
    const google::protobuf::RepeatedPtrField<v1::Assignment>& arms) {
  for (const v1::Assignment& a : arms) {
    if (a.experiment() == "models") return a.variant();
  }
  return "";
}

// True when every item id starts with the prefix of `version`.
bool FromVersion(
    const google::protobuf::RepeatedPtrField<v1::RecommendedItem>& items,
    const std::string& version, std::string* bad) {
  auto it = kPrefix.find(version);
  if (it == kPrefix.end()) {
    *bad = absl::StrCat("unknown version '", version, "'");
    return false;
  }
  for (const v1::RecommendedItem& item : items) {
    if (!absl::StartsWith(item.item_id(), it->second)) {
      *bad = item.item_id();
      return false;
    }
  }
  return true;
}

class VariantModelsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = recsys::testing::MakeUniqueDir("variant_models");
    for (const auto& [version, prefix] : kPrefix) {
      model::PublishOptions publish;
      publish.version = version;
      publish.index_spec = "Flat";
      auto dir = model::PublishModel(root_, VersionModel(prefix), publish);
      ASSERT_TRUE(dir.ok()) << dir.status();
    }
    features_ = std::make_unique<feature_store::InMemoryFeatureStore>();
    config_ = recsys::testing::WriteFile(
        recsys::testing::MakeUniqueDir("variant_models_config"),
        "experiments.textproto", Config("100", "200"));
  }

  // Serves the newest version ("300") with at most `max_variant_versions`
  // beside it.
  void Start(int max_variant_versions = 2) {
    model::ModelStoreOptions store_options;
    store_options.root = root_;
    store_options.poll_interval = absl::ZeroDuration();
    store_options.max_variant_versions = max_variant_versions;
    auto models = model::ModelStore::Create(store_options);
    ASSERT_TRUE(models.ok()) << models.status();
    models_ = *std::move(models);
    ASSERT_EQ(models_->Current()->version(), "300");
    ServerOptions options;
    options.listen_address = "127.0.0.1:0";
    options.metrics = &registry_;
    recommender::StorefrontOptions storefront_options;
    storefront_options.experiments_config = config_;
    auto served = recsys::testing::StartTestServer(
        options, models_.get(), features_.get(), storefront_options);
    ASSERT_TRUE(served.ok()) << served.status();
    served_ = *std::move(served);
    stub_ = v1::Recommender::NewStub(served_->channel);
    admin_ = v1::Admin::NewStub(served_->channel);
  }

  grpc::Status Recommend(const std::string& user,
                         v1::RecommendProductsResponse* resp,
                         bool with_cart = true) {
    v1::RecommendProductsRequest req;
    req.set_user_id(user);
    v1::SlotRequest* slot = req.add_slots();
    slot->set_name("homepage_feed");
    slot->set_k(5);
    if (with_cart) {
      slot = req.add_slots();
      slot->set_name("cart");
      slot->set_k(3);
    }
    grpc::ClientContext ctx;
    Deadline(&ctx);
    return stub_->RecommendProducts(&ctx, req, resp);
  }

  grpc::Status Similar(const std::string& user,
                       v1::SimilarItemsResponse* resp) {
    v1::SimilarItemsRequest req;
    req.set_item_id("anchor");
    req.set_user_id(user);
    req.set_k(4);
    grpc::ClientContext ctx;
    Deadline(&ctx);
    return stub_->SimilarItems(&ctx, req, resp);
  }

  grpc::Status Reload() {
    v1::ReloadModelResponse resp;
    grpc::ClientContext ctx;
    Deadline(&ctx);
    return admin_->ReloadModel(&ctx, v1::ReloadModelRequest(), &resp);
  }

  v1::ModelInfo Info() {
    v1::ModelInfo info;
    grpc::ClientContext ctx;
    Deadline(&ctx);
    grpc::Status st =
        admin_->GetModelInfo(&ctx, v1::GetModelInfoRequest(), &info);
    EXPECT_TRUE(st.ok()) << st.error_message();
    return info;
  }

  std::string root_;
  std::string config_;
  std::unique_ptr<model::ModelStore> models_;
  std::unique_ptr<feature_store::InMemoryFeatureStore> features_;
  metrics::Registry registry_;
  std::unique_ptr<recsys::testing::TestServer> served_;
  std::unique_ptr<v1::Recommender::Stub> stub_;
  std::unique_ptr<v1::Admin::Stub> admin_;
};

TEST_F(VariantModelsTest, EachVariantIsServedByItsOwnVersion) {
  Start();
  const std::map<std::string, std::string> want = {
      {"control", "300"}, {"va", "100"}, {"vb", "200"}};
  std::map<std::string, int> users_by_variant;
  for (int i = 0; i < 60; ++i) {
    v1::RecommendProductsResponse resp;
    grpc::Status st = Recommend(User(i), &resp);
    ASSERT_TRUE(st.ok()) << st.error_message();
    ASSERT_EQ(resp.slots_size(), 2);
    const v1::SlotResult& feed = resp.slots(0);
    const v1::SlotResult& cart = resp.slots(1);
    ASSERT_EQ(feed.name(), "homepage_feed");
    const std::string variant = VariantOf(feed.assignments());
    ASSERT_TRUE(want.contains(variant)) << variant;
    ++users_by_variant[variant];
    // The experiment's slot: the variant's version, and its items.
    EXPECT_EQ(feed.model_version(), want.at(variant)) << User(i);
    EXPECT_EQ(resp.meta().model_version(), want.at(variant));
    EXPECT_FALSE(resp.meta().model_fallback());
    ASSERT_EQ(feed.items_size(), 5);
    std::string bad;
    EXPECT_TRUE(FromVersion(feed.items(), feed.model_version(), &bad))
        << User(i) << " " << variant << ": " << bad;
    // A slot outside the experiment: the default model.
    EXPECT_EQ(cart.model_version(), "300");
    EXPECT_TRUE(cart.assignments().empty());
    ASSERT_EQ(cart.items_size(), 3);
    EXPECT_TRUE(FromVersion(cart.items(), "300", &bad))
        << User(i) << ": " << bad;

    // SimilarItems for the same user: the variant's version.
    v1::SimilarItemsResponse similar;
    st = Similar(User(i), &similar);
    ASSERT_TRUE(st.ok()) << st.error_message();
    EXPECT_EQ(VariantOf(similar.assignments()), variant);
    EXPECT_EQ(similar.meta().model_version(), want.at(variant));
    ASSERT_EQ(similar.items_size(), 4);
    EXPECT_TRUE(FromVersion(similar.items(), want.at(variant), &bad)) << bad;
  }
  // Every variant served users.
  for (const auto& [variant, version] : want) {
    EXPECT_GT(users_by_variant[variant], 5) << variant;
  }
  // Without a user, SimilarItems is the default model's.
  v1::SimilarItemsResponse anonymous;
  ASSERT_TRUE(Similar("", &anonymous).ok());
  EXPECT_EQ(anonymous.meta().model_version(), "300");

  // The versions held, and by whom.
  const v1::ModelInfo info = Info();
  EXPECT_EQ(info.version(), "300");
  ASSERT_EQ(info.variant_versions_size(), 2);
  EXPECT_EQ(info.variant_versions(0).version(), "100");
  EXPECT_TRUE(info.variant_versions(0).loaded());
  ASSERT_EQ(info.variant_versions(0).used_by_size(), 1);
  EXPECT_EQ(info.variant_versions(0).used_by(0), "models/va");
  EXPECT_EQ(info.variant_versions(0).num_items(), 21);
  EXPECT_EQ(info.variant_versions(1).version(), "200");
  EXPECT_TRUE(info.variant_versions(1).loaded());
  EXPECT_EQ(info.variant_versions(1).used_by(0), "models/vb");
}

TEST_F(VariantModelsTest, AMissingVersionFallsBackToTheDefaultModel) {
  // "999" is not under the root: va's users get the default model, flagged.
  WriteConfig(config_, Config("999", "200"));
  Start();
  int fallbacks = 0;
  for (int i = 0; i < 60; ++i) {
    v1::RecommendProductsResponse resp;
    grpc::Status st = Recommend(User(i), &resp, /*with_cart=*/false);
    ASSERT_TRUE(st.ok()) << st.error_message();
    const v1::SlotResult& feed = resp.slots(0);
    const std::string variant = VariantOf(feed.assignments());
    std::string bad;
    EXPECT_TRUE(FromVersion(feed.items(), feed.model_version(), &bad)) << bad;
    if (variant == "va") {
      ++fallbacks;
      EXPECT_EQ(feed.model_version(), "300");
      EXPECT_TRUE(resp.meta().model_fallback());
      EXPECT_TRUE(absl::StrContains(
          resp.meta().model_fallback_reason(),
          "models/va wants model 999 (no model version '999'"))
          << resp.meta().model_fallback_reason();
      EXPECT_TRUE(absl::StrContains(resp.meta().model_fallback_reason(),
                                    "served by 300"))
          << resp.meta().model_fallback_reason();
      v1::SimilarItemsResponse similar;
      ASSERT_TRUE(Similar(User(i), &similar).ok());
      EXPECT_EQ(similar.meta().model_version(), "300");
      EXPECT_TRUE(similar.meta().model_fallback());
    } else {
      EXPECT_FALSE(resp.meta().model_fallback());
      EXPECT_EQ(feed.model_version(), variant == "vb" ? "200" : "300");
    }
  }
  EXPECT_GT(fallbacks, 5);
  // Counted for the operators.
  EXPECT_TRUE(absl::StrContains(
      registry_.Exposition(),
      absl::StrCat("recsys_fallbacks_total{kind=\"model_version\"} ",
                   2 * fallbacks)))
      << registry_.Exposition();
  // Reported by GetModelInfo.
  const v1::ModelInfo info = Info();
  ASSERT_EQ(info.variant_versions_size(), 2);
  EXPECT_EQ(info.variant_versions(0).version(), "999");
  EXPECT_FALSE(info.variant_versions(0).loaded());
  EXPECT_TRUE(absl::StrContains(info.variant_versions(0).error(),
                                "no model version '999'"))
      << info.variant_versions(0).error();
  EXPECT_TRUE(info.variant_versions(1).loaded());
}

TEST_F(VariantModelsTest, ABrokenVersionFallsBack) {
  std::filesystem::resize_file(root_ + "/100/user_vectors.f32", 10);
  Start();
  const v1::ModelInfo info = Info();
  ASSERT_EQ(info.variant_versions_size(), 2);
  EXPECT_FALSE(info.variant_versions(0).loaded());
  EXPECT_TRUE(
      absl::StrContains(info.variant_versions(0).error(), "user_vectors"))
      << info.variant_versions(0).error();
  EXPECT_TRUE(info.variant_versions(1).loaded());
  int fallbacks = 0;
  for (int i = 0; i < 30; ++i) {
    v1::RecommendProductsResponse resp;
    ASSERT_TRUE(Recommend(User(i), &resp, false).ok());
    const bool va = VariantOf(resp.slots(0).assignments()) == "va";
    fallbacks += va;
    EXPECT_EQ(resp.meta().model_fallback(), va);
    if (va) {
      EXPECT_EQ(resp.slots(0).model_version(), "300");
    }
  }
  EXPECT_GT(fallbacks, 0);
}

TEST_F(VariantModelsTest, VersionsOverTheBoundFallBack) {
  Start(/*max_variant_versions=*/1);
  const v1::ModelInfo info = Info();
  ASSERT_EQ(info.variant_versions_size(), 2);
  EXPECT_TRUE(info.variant_versions(0).loaded());
  EXPECT_FALSE(info.variant_versions(1).loaded());
  EXPECT_TRUE(absl::StrContains(info.variant_versions(1).error(),
                                "over the bound of 1"))
      << info.variant_versions(1).error();
  int fallbacks = 0;
  for (int i = 0; i < 30; ++i) {
    v1::RecommendProductsResponse resp;
    ASSERT_TRUE(Recommend(User(i), &resp, false).ok());
    const std::string variant = VariantOf(resp.slots(0).assignments());
    fallbacks += variant == "vb";
    EXPECT_EQ(resp.meta().model_fallback(), variant == "vb");
    EXPECT_EQ(resp.slots(0).model_version(), variant == "va" ? "100" : "300");
  }
  EXPECT_GT(fallbacks, 0);
}

TEST_F(VariantModelsTest, ConfigReloadsSwitchVersionsWithNoFailedCall) {
  Start();
  // Clients call without pause while the config flips va/vb between
  // (100, 200), (200, 100) and (100, 300).
  constexpr int kClients = 3;
  std::atomic<bool> stop{false};
  std::atomic<int64_t> answered{0};
  std::atomic<int64_t> failed{0};
  std::atomic<int64_t> inconsistent{0};
  std::vector<std::thread> clients;
  absl::Mutex mu;
  std::set<std::string> seen;  // "<variant>@<version>"
  for (int c = 0; c < kClients; ++c) {
    clients.emplace_back([&, c] {
      auto stub = v1::Recommender::NewStub(served_->channel);
      for (int64_t i = c; !stop.load(); i += kClients) {
        v1::RecommendProductsRequest req;
        req.set_user_id(User(static_cast<int>(i % 60)));
        v1::SlotRequest* slot = req.add_slots();
        slot->set_name("homepage_feed");
        slot->set_k(5);
        slot = req.add_slots();
        slot->set_name("cart");
        slot->set_k(3);
        v1::RecommendProductsResponse resp;
        grpc::ClientContext ctx;
        Deadline(&ctx);
        grpc::Status st = stub->RecommendProducts(&ctx, req, &resp);
        answered.fetch_add(1);
        if (!st.ok() || resp.slots_size() != 2 ||
            resp.meta().model_fallback()) {
          failed.fetch_add(1);
          ADD_FAILURE() << st.error_message() << " "
                        << resp.meta().model_fallback_reason();
          continue;
        }
        std::string bad;
        for (const v1::SlotResult& s : resp.slots()) {
          if (!FromVersion(s.items(), s.model_version(), &bad))
            inconsistent.fetch_add(1);
        }
        if (resp.slots(1).model_version() != "300") inconsistent.fetch_add(1);
        absl::MutexLock lock(&mu);
        seen.insert(absl::StrCat(VariantOf(resp.slots(0).assignments()), "@",
                                 resp.slots(0).model_version()));
      }
    });
  }
  auto wait_for_answers = [&] {
    const int64_t target = answered.load() + 40;
    while (answered.load() < target)
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
  };
  const std::vector<std::pair<std::string, std::string>> configs = {
      {"200", "100"}, {"100", "300"}, {"100", "200"}, {"200", "100"}};
  for (const auto& [a, b] : configs) {
    wait_for_answers();
    WriteConfig(config_, Config(a, b));
    grpc::Status st = Reload();
    ASSERT_TRUE(st.ok()) << st.error_message();
    const v1::ModelInfo info = Info();
    ASSERT_EQ(info.variant_versions_size(), 2);
    EXPECT_EQ(info.variant_versions(0).version(), a);
    EXPECT_EQ(info.variant_versions(1).version(), b);
    EXPECT_TRUE(info.variant_versions(0).loaded() &&
                info.variant_versions(1).loaded());
  }
  wait_for_answers();
  stop.store(true);
  for (std::thread& t : clients) t.join();
  EXPECT_EQ(failed.load(), 0);
  EXPECT_EQ(inconsistent.load(), 0);
  // Both variants were served by both of their versions along the way.
  for (const char* s :
       {"va@100", "va@200", "vb@100", "vb@200", "vb@300", "control@300"}) {
    EXPECT_TRUE(seen.contains(s)) << s;
  }
  std::printf(
      "config reloads under load: %zu reloads, %lld RPCs, %lld failed\n",
      configs.size(), static_cast<long long>(answered.load()),
      static_cast<long long>(failed.load()));
}

}  // namespace
}  // namespace recsys::server
