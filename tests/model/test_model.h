// Builders of small, hand-made models for recommender tests.
//
// MakePlantedModel: two taste groups. Items "a0".."a9" (category "alpha")
// point along axis 0, items "b0".."b9" (category "beta") along axis 1, with
// small per-item offsets so rankings are strict. Users "ua0".."ua4" like
// alpha, "ub0".."ub4" like beta; each has bought two items of their group.
// Popularity: b-items are bought by more users than a-items, so the popular
// list starts with beta items.
#ifndef RECSYS_TESTS_MODEL_TEST_MODEL_H_
#define RECSYS_TESTS_MODEL_TEST_MODEL_H_

#include <string>

#include "absl/strings/str_cat.h"
#include "model/model_format.h"

namespace recsys::model::testing {

inline ModelData MakePlantedModel() {
  ModelData d;
  d.dim = 4;
  d.manifest.mutable_params()->set_factors(4);
  d.manifest.mutable_params()->set_regularization(0.1f);
  d.manifest.mutable_params()->set_alpha(10.0f);
  d.manifest.mutable_params()->set_confidence("log");
  d.manifest.mutable_params()->set_epsilon(1.0f);
  for (char group : {'a', 'b'}) {
    for (int i = 0; i < 10; ++i) {
      ItemMeta it;
      it.item_id = absl::StrCat(std::string(1, group), i);
      it.category = group == 'a' ? "alpha" : "beta";
      it.price = 1.0 + i;
      it.buyers = (group == 'b' ? 100 : 10) - i;
      it.purchases = it.buyers * 2;
      it.title = absl::StrCat("Item ", it.item_id);
      d.items.push_back(it);
      const float main = 1.0f - 0.03f * i;
      d.item_factors.insert(d.item_factors.end(),
                            {group == 'a' ? main : 0.05f, group == 'b' ? main : 0.05f,
                             0.01f * i, 0.0f});
    }
  }
  d.history_indptr.push_back(0);
  for (char group : {'a', 'b'}) {
    for (int u = 0; u < 5; ++u) {
      d.user_ids.push_back(absl::StrCat("u", std::string(1, group), u));
      d.user_factors.insert(d.user_factors.end(),
                            {group == 'a' ? 1.0f : 0.0f, group == 'b' ? 1.0f : 0.0f, 0.0f, 0.0f});
      const int base = group == 'a' ? 0 : 10;
      // Each user bought items base+u and base+u+1.
      d.history.push_back({base + u, 1 + u, 1700000000 + u});
      d.history.push_back({base + u + 1, 1, 1700000100 + u});
      d.history_indptr.push_back(static_cast<int64_t>(d.history.size()));
    }
  }
  return d;
}

}  // namespace recsys::model::testing

#endif  // RECSYS_TESTS_MODEL_TEST_MODEL_H_
