// A fixture for the recommender's unit tests: the planted model of
// tests/model/test_model.h (with a few bundle complements) served from a
// model store, its history in an in-memory feature store (behind a faulty
// wrapper), and helpers that build a RequestContext for a request.
//
// Model rows: a0..a9 (category "alpha") are rows 0..9, b0..b9 ("beta")
// rows 10..19; the popular list is b0..b9 then a0..a9. User ua<u> bought
// a<u> (u+1 times) and a<u+1> (once). Complements: a0 -> b0 (0.9), a5 (0.5);
// a1 -> b0 (0.95), b3 (0.4).
#ifndef RECSYS_TESTS_RECOMMENDER_UNIT_FIXTURE_H_
#define RECSYS_TESTS_RECOMMENDER_UNIT_FIXTURE_H_

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/time/time.h"
#include "feature_store/faulty_feature_store.h"
#include "feature_store/in_memory_feature_store.h"
#include "gtest/gtest.h"
#include "model/model_format.h"
#include "model/model_store.h"
#include "recommender/candidate.h"
#include "recommender/recommender.h"
#include "recommender/request_context.h"
#include "recommender/rules/rule.h"
#include "recommender/slot_config.h"
#include "tests/model/test_model.h"
#include "tests/testing/status_matchers.h"
#include "tests/testing/test_files.h"

namespace recsys::recommender::testing {

class UnitTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const std::string root = recsys::testing::MakeUniqueDir("recommender_unit");
    model::ModelData data = model::testing::MakePlantedModel();
    data.complements.resize(data.items.size());
    data.complements[0] = {{10, 0.9f}, {5, 0.5f}};
    data.complements[1] = {{10, 0.95f}, {13, 0.4f}};
    model::PublishOptions publish;
    publish.version = "1";
    ASSERT_TRUE(model::PublishModel(root, data, publish).ok());
    model::ModelStoreOptions options;
    options.root = root;
    options.poll_interval = absl::ZeroDuration();
    auto models = model::ModelStore::Create(options);
    ASSERT_TRUE(models.ok()) << models.status();
    models_ = *std::move(models);
    bundle_ = models_->Current();
    RECSYS_ASSERT_OK(model::LoadIntoFeatureStore(data, &memory_));
  }

  // A request for `user` with one slot `slot` of `k` items at a fixed time.
  static ProductRequest Request(const std::string& user, int k, const std::string& slot = "feed") {
    ProductRequest r;
    r.user_id = user;
    r.slots.push_back({slot, k});
    r.now = absl::FromCivil(absl::CivilSecond(2025, 2, 10, 12, 0, 0), absl::UTCTimeZone());
    return r;
  }

  // The context of `request` (which must outlive it) under `plan`.
  std::unique_ptr<RequestContext> Context(const ProductRequest& request,
                                          std::shared_ptr<const SlotPlan> plan = nullptr) {
    UserState user = LoadUser(*bundle_, store_, request.user_id, absl::InfiniteFuture(), &meta_);
    return BuildRequestContext(request, bundle_, std::move(user), std::move(plan), options_);
  }

  static std::shared_ptr<const SlotPlan> Plan(absl::string_view text) {
    auto plan = SlotPlan::Parse(text);
    EXPECT_TRUE(plan.ok()) << plan.status();
    return plan.ok() ? *plan : nullptr;
  }

  int32_t Row(absl::string_view id) const { return bundle_->ItemRow(id); }
  std::string Id(int32_t row) const { return bundle_->item(row).item_id; }

  std::vector<std::string> Ids(const std::vector<Candidate>& list) const {
    std::vector<std::string> ids;
    for (const Candidate& c : list) ids.push_back(Id(c.row));
    return ids;
  }
  static std::vector<std::string> Ids(const std::vector<ScoredItem>& items) {
    std::vector<std::string> ids;
    for (const ScoredItem& i : items) ids.push_back(i.item_id);
    return ids;
  }

  // Sets the store's stock and slow-mover flag of model item `id`.
  void SetStock(const std::string& id, int64_t stock, bool slow_mover = false) {
    feature_store::ItemFeatures f;
    const model::ItemMeta& item = bundle_->item(Row(id));
    f.item_id = id;
    f.category = item.category;
    f.price = item.price;
    f.title = item.title;
    f.stock = stock;
    f.slow_mover = slow_mover;
    RECSYS_ASSERT_OK(memory_.PutItems({f}));
  }

  // Records one event of `user` on `item` at `time`.
  void Record(const std::string& user, const std::string& item, feature_store::EventType type,
              absl::Time time = absl::FromUnixSeconds(1800000000)) {
    feature_store::Event e;
    e.type = type;
    e.user_id = user;
    e.item_id = item;
    e.time = time;
    RECSYS_ASSERT_OK(memory_.RecordEvents({e}, absl::InfiniteFuture()));
  }

  std::unique_ptr<model::ModelStore> models_;
  std::shared_ptr<const model::ModelBundle> bundle_;
  feature_store::InMemoryFeatureStore memory_;
  feature_store::FaultyFeatureStore store_{&memory_};
  RecommenderOptions options_;
  AnswerMeta meta_;
};

// UnitTest for the rule units: slot 0 of a context as the slot filler sees
// it, and the item features of a context.
class RuleTest : public UnitTest {
 protected:
  // Slot 0 of `ctx` with nothing taken yet.
  static SlotState Slot(const RequestContext& ctx) {
    SlotState slot;
    slot.spec = &ctx.request->slots[0];
    slot.rule = ctx.slot_rules[0];
    slot.active = &ctx.active[0];
    return slot;
  }
  // Reads the features of the request's popular prefix.
  void Fetch(RequestContext* ctx) {
    FetchItemFeatures({}, store_, absl::InfiniteFuture(), ctx, &meta_);
  }
};

}  // namespace recsys::recommender::testing

#endif  // RECSYS_TESTS_RECOMMENDER_UNIT_FIXTURE_H_
