// The models compared by the offline evaluation, behind one interface.
//
// Every model is trained on a training::InteractionData (users x items,
// events per pair, quantities and latest purchase times) and then answers
// for user rows of that data:
//   - Recommend: the k best item rows, best first, optionally without the
//     user's training items;
//   - ScoreItems: a score per requested item (for the leave-one-out protocol).
//
// Models:
//   popularity   items by distinct training buyers (then events, then row),
//                optionally only over the last `days`;
//   buy_again    the user's own training items by purchase events, ties by
//                the latest purchase (more recent first), then row;
//   item_knn     cosine similarity of item columns of the binary user x item
//                matrix, each item keeping its `neighbors` most similar
//                items; score(u, j) = sum over the user's items i of sim(i, j)
//                when j is among i's neighbours;
//   ials         training::TrainAls on training::BuildConfidence (IalsSpec);
//                score = x_u . y_i;
//   ease         EASE (Steck 2019): B = I - P / diag(P), P = (X^T X +
//                lambda I)^-1 over the binary matrix; score = x_u B.
// The production ranker lives in production_ranker.h.
//
// Thread safety: a built Model is immutable; Recommend and ScoreItems are
// const and safe to call concurrently.
#ifndef RECSYS_EVALUATION_MODELS_H_
#define RECSYS_EVALUATION_MODELS_H_

#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"
#include "training/als.h"
#include "training/interactions.h"

namespace recsys::evaluation {

// Name/value pairs describing a model, for the report.
using ModelParams = std::vector<std::pair<std::string, std::string>>;

class Model {
 public:
  virtual ~Model() = default;

  virtual std::string name() const = 0;
  virtual ModelParams params() const = 0;

  // Scores of every item row (out.size() == number of items); items the
  // model cannot rank get -infinity. Unimplemented for list-only models.
  virtual absl::Status ScoreAll(int32_t user, absl::Span<float> out) const = 0;

  // The k best item rows for `user`, best first, never an item scored
  // -infinity; with exclude_bought, none of the user's training items.
  // Default: top k of ScoreAll, ties by lower row.
  virtual absl::StatusOr<std::vector<int32_t>> Recommend(
      int32_t user, int k, bool exclude_bought) const;

  // Scores of `items` (item rows). Default: from ScoreAll.
  virtual absl::Status ScoreItems(int32_t user, absl::Span<const int32_t> items,
                                  absl::Span<float> out) const;

  // Wall time of training, seconds.
  double train_seconds() const { return train_seconds_; }
  void set_train_seconds(double s) { train_seconds_ = s; }

 protected:
  // `data` is borrowed and must outlive the model.
  explicit Model(const training::InteractionData* data) : data_(data) {}
  const training::InteractionData& data() const { return *data_; }

 private:
  const training::InteractionData* data_;
  double train_seconds_ = 0;
};

// The top k rows of `scores` (descending, ties by lower row), skipping
// -infinity and NaN and the rows in `excluded` (sorted).
std::vector<int32_t> TopK(absl::Span<const float> scores, int k,
                          absl::Span<const int32_t> excluded = {});

// The confidence of the iALS models is training::BuildConfidence with these
// options (signal, scaling, alpha, epsilon, decay); a decay reference of 0
// means data.last_event_unix, as in the trainer.
absl::StatusOr<training::CsrMatrix> BuildEvalConfidence(
    const training::InteractionData& data,
    const training::ConfidenceOptions& options);

// All models borrow `data`, which must outlive them.
// `days` > 0 counts only buyers whose latest purchase of the item is within
// `days` of the latest training event ("trending"); 0 = all time.
std::unique_ptr<Model> NewPopularityModel(const training::InteractionData* data,
                                          int days = 0);
std::unique_ptr<Model> NewBuyAgainModel(const training::InteractionData* data);

struct ItemKnnOptions {
  // Neighbours kept per item (0: all co-purchased items).
  int neighbors = 100;
  // Shrinks similarities of rarely co-bought pairs: sim = co / (sqrt(n_i
  // n_j) + shrink).
  float shrink = 0;
  int threads = 2;
};
absl::StatusOr<std::unique_ptr<Model>> NewItemKnnModel(
    const training::InteractionData* data, const ItemKnnOptions& options);

struct IalsSpec {
  training::AlsOptions als;
  training::ConfidenceOptions confidence;
  // Frequency-scaled regularisation (Rendle et al. 2022): when > 0, row r
  // (user or item) is regularised with lambda * w_r^nu instead of lambda,
  // where w_r = sum of the row's observed confidences + its unobserved
  // cells (the row's total weight in the loss). training::TrainAls has only
  // a uniform lambda, so nu > 0 trains with this library's own sweep over
  // training::SolveRowCg / SolveRowCholesky (same initialisation, same row
  // solver); nu = 0 is exactly training::TrainAls.
  float reg_exponent = 0;
};
// Text form of an IalsSpec, used by recsys_eval, recsys_tune and reports:
// comma-separated key=value pairs, e.g.
//   "factors=64,iterations=15,reg=0.05,alpha=10,scaling=log,signal=events,
//    epsilon=1,decay=0,solver=cg,cg_steps=3,seed=42"
// (decay = half-life in days, 0 = none; nu = IalsSpec::reg_exponent).
// ParseIalsSpec starts from `base` and overrides the keys given;
// InvalidArgument names an unknown key or bad value. FormatIalsSpec writes
// every key.
absl::StatusOr<IalsSpec> ParseIalsSpec(absl::string_view text,
                                       const IalsSpec& base);
std::string FormatIalsSpec(const IalsSpec& spec);

// "ials" model; its factors are available through IalsFactors().
absl::StatusOr<std::unique_ptr<Model>> NewIalsModel(
    const training::InteractionData* data, const IalsSpec& spec);
// The trained factors of a model made by NewIalsModel (nullptr otherwise).
const training::AlsModel* IalsFactors(const Model& model);
// Report parameters of an IalsSpec.
ModelParams IalsParams(const IalsSpec& spec);

struct EaseOptions {
  // L2 weight lambda on the item-item matrix (> 0).
  double lambda = 500;
};
// The item x item inverse is dense (LAPACK Cholesky, in double), so
// InvalidArgument for more than 20,000 items.
absl::StatusOr<std::unique_ptr<Model>> NewEaseModel(
    const training::InteractionData* data, const EaseOptions& options);

// A weighted sum of other models' scores, each z-normalised per user over
// the items it scores (items a part cannot rank count as that part's lowest
// score). Owns its parts, which must be trained on `data`.
std::unique_ptr<Model> NewBlendModel(
    const training::InteractionData* data,
    std::vector<std::pair<std::unique_ptr<Model>, float>> parts,
    std::string description);

// Wraps `inner` so that it never recommends (scores -infinity) items whose
// latest training purchase by anyone is more than `active_days` before the
// latest training event: a proxy for items still on sale. Owns `inner`.
std::unique_ptr<Model> NewActiveCatalogModel(
    const training::InteractionData* data, std::unique_ptr<Model> inner,
    int active_days);

// Trains a model described by text:
//   popularity[days=0] | buy_again | item_knn[neighbors=100,shrink=0] |
//   ials[<ParseIalsSpec text>] | ease[lambda=500] |
//   a blend: "ials[...]*0.6 + ease[...]*0.4";
// optionally followed by "@active_days=N" (NewActiveCatalogModel).
// Parameters in brackets are optional (defaults as in the options structs;
// iALS starts from `ials_base`). `threads` overrides every model's threads.
// InvalidArgument for an unknown name, parameter or malformed text.
absl::StatusOr<std::unique_ptr<Model>> TrainModelFromSpec(
    absl::string_view spec, const training::InteractionData* data, int threads,
    const IalsSpec& ials_base = {});

}  // namespace recsys::evaluation

#endif  // RECSYS_EVALUATION_MODELS_H_
