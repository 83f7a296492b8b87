// The recommender's request checks and the read path behind them
// (recommender/recommender.h): RecommendProducts, SimilarItems, RecordEvents
// and GetUserProfile with fuzzed requests, on a tiny published model and the
// in-memory feature store. A request is either refused with
// InvalidArgument naming a field, or answered within its limits.
#include <fuzzer/FuzzedDataProvider.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "feature_store/in_memory_feature_store.h"
#include "fuzz/fuzz_util.h"
#include "model/model_store.h"
#include "recommender/recommender.h"

namespace {

namespace fstore = recsys::feature_store;
namespace rec = recsys::recommender;

struct World {
  std::unique_ptr<recsys::model::ModelStore> models;
  std::unique_ptr<fstore::InMemoryFeatureStore> features;
  std::unique_ptr<rec::Recommender> recommender;
};

World& GetWorld() {
  static World* const world = [] {
    auto* w = new World;
    const std::string root = recsys::fuzz::ScratchDir() + "/models";
    recsys::fuzz::PublishTinyModel(root);
    recsys::model::ModelStoreOptions options;
    options.root = root;
    options.poll_interval = absl::ZeroDuration();
    auto models = recsys::model::ModelStore::Create(options);
    RECSYS_FUZZ_CHECK(!(!models.ok()));
    w->models = *std::move(models);
    w->features = std::make_unique<fstore::InMemoryFeatureStore>();
    w->recommender =
        std::make_unique<rec::Recommender>(w->models.get(), w->features.get());
    return w;
  }();
  return *world;
}

// Ids drawn mostly from the model's, so requests reach past the checks.
std::string ConsumeId(FuzzedDataProvider& in) {
  static const char* const kKnown[] = {"u1", "u2", "u3",    "a1",  "a2",
                                       "b1", "b2", "alpha", "beta"};
  if (in.ConsumeBool()) return kKnown[in.ConsumeIntegralInRange<size_t>(0, 8)];
  return in.ConsumeRandomLengthString(300);
}

rec::ItemFilters ConsumeFilters(FuzzedDataProvider& in) {
  rec::ItemFilters f;
  f.categories.resize(in.ConsumeIntegralInRange(0, 3));
  for (auto& c : f.categories) c = ConsumeId(in);
  f.exclude_item_ids.resize(in.ConsumeIntegralInRange(0, 3));
  for (auto& id : f.exclude_item_ids) id = ConsumeId(in);
  f.min_price = in.ConsumeFloatingPoint<double>();
  f.max_price = in.ConsumeFloatingPoint<double>();
  return f;
}

absl::Time ConsumeTime(FuzzedDataProvider& in) {
  if (in.ConsumeBool()) return absl::InfinitePast();  // "now"
  return absl::FromUnixSeconds(in.ConsumeIntegral<int64_t>() % 4000000000);
}

void CheckRefusal(const absl::Status& status) {
  // Refusals are InvalidArgument with a field name first; NotFound is an
  // unknown item or user.
  if (status.code() == absl::StatusCode::kInvalidArgument) {
    RECSYS_FUZZ_CHECK(!status.message().empty());
  } else {
    RECSYS_FUZZ_CHECK(status.code() == absl::StatusCode::kNotFound);
  }
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  GetWorld();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  FuzzedDataProvider in(data, size);
  const World& w = GetWorld();
  switch (in.ConsumeIntegralInRange(0, 3)) {
    case 0: {
      rec::ProductRequest r;
      r.user_id = ConsumeId(in);
      r.slots.resize(in.ConsumeIntegralInRange(0, 12));
      for (auto& s : r.slots) {
        s.name = in.ConsumeBool() ? "" : in.ConsumeRandomLengthString(80);
        s.k = in.ConsumeIntegralInRange(-1, 250);
      }
      r.filters = ConsumeFilters(in);
      r.now = ConsumeTime(in);
      auto answer = w.recommender->RecommendProducts(r);
      if (!answer.ok()) {
        CheckRefusal(answer.status());
        break;
      }
      RECSYS_FUZZ_CHECK(answer->slots.size() == r.slots.size());
      for (size_t i = 0; i < r.slots.size(); ++i) {
        RECSYS_FUZZ_CHECK(static_cast<int>(answer->slots[i].items.size()) <=
                          r.slots[i].k);
      }
      break;
    }
    case 1: {
      rec::SimilarRequest r;
      r.item_id = ConsumeId(in);
      r.k = in.ConsumeIntegralInRange(-1, 250);
      r.filters = ConsumeFilters(in);
      r.user_id = in.ConsumeBool() ? "" : ConsumeId(in);
      r.price_band = in.ConsumeFloatingPoint<double>();
      r.complements = in.ConsumeBool();
      auto answer = w.recommender->SimilarItems(r);
      if (!answer.ok()) {
        CheckRefusal(answer.status());
        break;
      }
      RECSYS_FUZZ_CHECK(static_cast<int>(answer->items.size()) <= r.k);
      break;
    }
    case 2: {
      std::vector<fstore::Event> events(in.ConsumeIntegralInRange(0, 6));
      for (auto& e : events) {
        e.type =
            static_cast<fstore::EventType>(in.ConsumeIntegralInRange(0, 8));
        e.user_id = ConsumeId(in);
        e.item_id = ConsumeId(in);
        e.time = in.ConsumeBool() ? absl::UnixEpoch() : ConsumeTime(in);
        e.quantity = in.ConsumeIntegral<int32_t>();
        e.price = in.ConsumeFloatingPoint<double>();
        e.slot = in.ConsumeRandomLengthString(40);
      }
      auto answer = w.recommender->RecordEvents(events, absl::InfiniteFuture());
      if (!answer.ok()) {
        RECSYS_FUZZ_CHECK(answer.status().code() ==
                          absl::StatusCode::kInvalidArgument);
      } else {
        RECSYS_FUZZ_CHECK(answer->rejected.size() < events.size());
      }
      break;
    }
    default: {
      const std::string user = ConsumeId(in);
      auto answer = w.recommender->GetUserProfile(
          user, in.ConsumeIntegralInRange(-1, 1000), absl::InfiniteFuture());
      if (!answer.ok()) CheckRefusal(answer.status());
      break;
    }
  }
  return 0;
}
