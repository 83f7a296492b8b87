// ExperimentPlan: the validated experiments configuration (proto/recsys/v1/
// experiments.proto) and the assignment of users to variants.
//
// Assignment (docs/experiments.md, "Assignment"): in each layer, a user's
// bucket is XXH3_64(layer salt, user id) mod 10000. Each experiment of the
// layer reserves a bucket range [first_bucket, first_bucket + reserved_share
// * 10000) and takes the first traffic_share * 10000 buckets of it, so
// raising traffic_share only adds buckets: nobody already in moves out, and
// nobody moves between experiments. Inside an experiment, the variant comes
// from a second hash, XXH3_64(experiment salt, user id) mod 10000, against
// the variants' cumulative shares. Both hashes are pure functions of the
// ids and the config, so every replica and every restart agrees. QA
// overrides pin a user to a variant (and out of the layer's other
// experiments); their assignments are marked `forced` and not counted.
//
// Parse / Load / FromProto check every field and fail with InvalidArgument
// naming it by its path ("layers[0].experiments[1].variants[0].share: ...")
// or, for syntax errors, by line and column. Variant slot configurations are
// checked here for their names only; the recommender validates their
// contents when it compiles them (recommender::CompileVariantSlots).
//
// Thread safety: immutable after creation; share as
// shared_ptr<const ExperimentPlan>.
#ifndef RECSYS_EXPERIMENTS_EXPERIMENT_PLAN_H_
#define RECSYS_EXPERIMENTS_EXPERIMENT_PLAN_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "absl/types/span.h"
#include "recsys/v1/experiments.pb.h"

namespace recsys::experiments {

// Buckets per layer (and per experiment, for variants).
inline constexpr int kBuckets = 10000;

// The pseudo slot names of the answers without slots.
inline constexpr char kSimilarItemsSlot[] = "similar_items";
inline constexpr char kCouponsSlot[] = "coupons";

// XXH3_64 of `salt`, a zero byte and `user_id`, mod kBuckets: in
// [0, kBuckets). The same on every machine and in every process.
int Bucket(absl::string_view salt, absl::string_view user_id);

struct CouponPolicy {
  std::string campaign;
  bool holdout = false;
  // Empty: every coupon of the campaign.
  absl::flat_hash_set<std::string> coupon_ids;
};

struct Variant {
  // Its path in the config, e.g. "layers[0].experiments[1].variants[0]".
  std::string field;
  std::string name;
  double share = 0;
  // Variant buckets [begin, end) of the experiment's second hash.
  int begin = 0;
  int end = 0;
  // Replacement configurations of the experiment's slots (proto: the
  // recommender validates and compiles them).
  std::vector<recsys::v1::SlotConfig> slots;
  // 0: the server's default.
  int ranker_vector_candidates = 0;
  std::vector<CouponPolicy> coupons;
  // The model version serving the experiment's slots (decimal digits, at
  // most 20); empty: the default model. Only its format is checked here:
  // whether the server holds it is decided when the plan is served
  // (recommender::ExperimentVariants), never by refusing the config.
  std::string model_version;

  // The policy for `campaign`; nullptr when the variant has none.
  const CouponPolicy* PolicyFor(absl::string_view campaign) const;
};

struct Experiment {
  std::string name;
  std::string layer;
  // InfinitePast / InfiniteFuture when open.
  absl::Time start = absl::InfinitePast();
  absl::Time end = absl::InfiniteFuture();
  double traffic_share = 0;
  double reserved_share = 0;
  // Layer buckets: reserved [first_bucket, reserved_end), in the
  // experiment [first_bucket, active_end).
  int first_bucket = 0;
  int active_end = 0;
  int reserved_end = 0;
  std::string salt;
  int control = 0;  // index into variants
  std::vector<Variant> variants;
  absl::flat_hash_set<std::string> slots;
  absl::flat_hash_set<std::string> campaigns;
  // Only users having one of these interest tags enter; empty: everyone.
  std::vector<std::string> target_tags;

  bool RunningAt(absl::Time t) const { return start <= t && t < end; }
  // nullptr for an unknown name.
  const Variant* FindVariant(absl::string_view name) const;
  // The variant of the second hash for `user_id`.
  const Variant& VariantOf(absl::string_view user_id) const;
};

// One experiment's variant for one user. Pointers into the plan, valid while
// the plan is.
struct Assignment {
  const Experiment* experiment = nullptr;
  const Variant* variant = nullptr;
  // A QA override: served, but its events are not counted.
  bool forced = false;
};

class ExperimentPlan {
 public:
  // Parses protobuf text format. `origin` names the source in messages.
  static absl::StatusOr<std::shared_ptr<const ExperimentPlan>> Parse(
      absl::string_view text, absl::string_view origin = "experiments config");
  // Reads and parses a file; NotFound when it cannot be read.
  static absl::StatusOr<std::shared_ptr<const ExperimentPlan>> Load(
      const std::string& path);
  // Validates an already-parsed config.
  static absl::StatusOr<std::shared_ptr<const ExperimentPlan>> FromProto(
      const recsys::v1::ExperimentsConfig& config);

  // The user's assignments at `now`, at most one per layer, in layer order:
  // an override, else the running experiment whose active range holds the
  // user's bucket (none when the bucket is unused or reserved for growth,
  // or when the experiment has target_tags and `tags`, the user's interest
  // tags, has none of them). Callers that do not know the user's tags pass
  // an empty span: the user enters no targeted experiment.
  std::vector<Assignment> Assign(absl::string_view user_id, absl::Time now,
                                 absl::Span<const std::string> tags) const;

  // True when the user's bucket falls in a running experiment with
  // target_tags at `now` (and no override decides the layer): only then
  // does Assign need the user's tags, so callers read them only then.
  bool NeedsTags(absl::string_view user_id, absl::Time now) const;

  // nullptr for an unknown name.
  const Experiment* Find(absl::string_view name) const;
  // Every experiment, layer by layer in config order.
  const std::vector<std::unique_ptr<Experiment>>& experiments() const {
    return experiments_;
  }

  absl::Duration attribution_window() const { return attribution_window_; }
  absl::Duration event_id_ttl() const { return event_id_ttl_; }
  double margin() const { return margin_; }

 private:
  struct Layer {
    std::string name;
    std::string salt;
    std::vector<const Experiment*> experiments;
  };
  struct Override {
    const Experiment* experiment;
    const Variant* variant;
  };

  ExperimentPlan() = default;

  std::vector<Layer> layers_;
  // Stable addresses: Assignments point into them.
  std::vector<std::unique_ptr<Experiment>> experiments_;
  absl::flat_hash_map<std::string, const Experiment*> by_name_;
  absl::flat_hash_map<std::string, std::vector<Override>> overrides_;
  absl::Duration attribution_window_ = absl::Hours(24);
  absl::Duration event_id_ttl_ = absl::Hours(24 * 7);
  double margin_ = 0.3;
};

// OK when `name` is 1 to 64 bytes of [A-Za-z0-9_-]; else InvalidArgument
// naming `field`. The names of layers, experiments and variants.
absl::Status CheckName(absl::string_view field, absl::string_view name);

}  // namespace recsys::experiments

#endif  // RECSYS_EXPERIMENTS_EXPERIMENT_PLAN_H_
