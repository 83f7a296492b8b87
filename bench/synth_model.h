// A synthesized model for serving benchmarks: users x items x dim vectors
// with cluster structure, so that approximate search behaves as it would
// on trained factors, plus the catalog and purchase history a served model
// carries. No training: a 1M-user model is built in seconds.
//
// The model:
//   - `centers` random directions in `dim` dimensions (unit norm); each
//     belongs to one category of training::ShopCategories(), round robin,
//     so the storefront rules (dayparts, repurchase windows) apply.
//   - Item i sits around one center (chosen uniformly): center + Gaussian
//     noise of norm about item_spread, scaled by a popularity factor in
//     [0.8, 1.2] (popular items have longer vectors, as in implicit ALS).
//     Popularity ranks are a random permutation; buyers follow
//     max(1, users / 100 / rank^0.8). Prices are log-normal per category.
//   - User u mixes 1 to max_user_centers centers with random weights, plus
//     noise of norm about user_spread.
//   - Each user bought 1 + Geometric(history_mean - 1) items (at most 20),
//     drawn from the items of the user's centers, each 1-3 times, last on
//     a day in the year before last_event_unix.
//   - Ids: "u%07d" / "i%06d" (wider when needed).
//
// Determinism: the result is a pure function of the options other than
// `threads` (every user and item draws from its own seeded generator; no
// std::*_distribution).
//
// Thread safety: no shared state.
#ifndef RECSYS_BENCH_SYNTH_MODEL_H_
#define RECSYS_BENCH_SYNTH_MODEL_H_

#include <cstdint>

#include "absl/status/statusor.h"
#include "model/model_format.h"

namespace recsys::bench {

struct SynthOptions {
  // Model size (users >= 1, items >= 1, dim >= 1).
  int64_t users = 100000;
  int64_t items = 10000;
  int dim = 64;
  // Cluster centers; 0: one per 400 items (at least 1).
  int centers = 0;
  // Noise norms relative to the unit-norm centers.
  double item_spread = 0.5;
  double user_spread = 0.3;
  // Users mix 1 .. max_user_centers centers (>= 1).
  int max_user_centers = 3;
  // Mean purchased items per user (>= 1).
  double history_mean = 3;
  // The model's data ends here (manifest data.last_event_unix); purchases
  // fall in the year before.
  int64_t last_event_unix = 1735603200;  // 2024-12-31 00:00 UTC
  uint64_t seed = 1;
  // Worker threads; 0: hardware concurrency.
  int threads = 0;
};

// InvalidArgument names the bad field.
absl::StatusOr<model::ModelData> SynthesizeModel(const SynthOptions& options);

}  // namespace recsys::bench

#endif  // RECSYS_BENCH_SYNTH_MODEL_H_
