#include "model/model_store.h"

#include <algorithm>
#include <utility>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/dot.h"
#include "common/log.h"
#include "common/status_macros.h"

namespace recsys::model {

absl::StatusOr<std::shared_ptr<const ModelBundle>> ModelBundle::Load(
    const std::string& dir) {
  RECSYS_ASSIGN_OR_RETURN(ModelData data, ReadModelData(dir));
  std::shared_ptr<ModelBundle> b(new ModelBundle());
  b->path_ = dir;
  b->manifest_ = std::move(data.manifest);
  b->dim_ = data.dim;
  b->user_ids_ = std::move(data.user_ids);
  b->items_ = std::move(data.items);
  b->user_factors_ = std::move(data.user_factors);
  b->item_factors_ = std::move(data.item_factors);
  b->history_indptr_ = std::move(data.history_indptr);
  b->history_ = std::move(data.history);
  b->complements_ = std::move(data.complements);

  b->user_rows_.reserve(b->user_ids_.size());
  for (size_t i = 0; i < b->user_ids_.size(); ++i) {
    b->user_rows_.insert(static_cast<int32_t>(i));
  }
  b->item_rows_.reserve(b->items_.size());
  for (size_t i = 0; i < b->items_.size(); ++i) {
    b->item_rows_.emplace(b->items_[i].item_id, static_cast<int32_t>(i));
  }

  b->popular_.resize(b->items_.size());
  for (size_t i = 0; i < b->popular_.size(); ++i) b->popular_[i] = i;
  std::stable_sort(b->popular_.begin(), b->popular_.end(),
                   [&](int32_t x, int32_t y) {
                     const ItemMeta& a = b->items_[x];
                     const ItemMeta& c = b->items_[y];
                     if (a.buyers != c.buyers) return a.buyers > c.buyers;
                     return a.purchases > c.purchases;
                   });

  for (int32_t row : b->popular_) {
    std::vector<int32_t>& list = b->category_popular_[b->items_[row].category];
    if (list.size() < 500) list.push_back(row);
  }

  const int f = b->dim_;
  b->item_gram_.assign(static_cast<size_t>(f) * f, 0.0);
  for (size_t i = 0; i < b->items_.size(); ++i) {
    const float* y = b->item_factors_.data() + i * f;
    for (int r = 0; r < f; ++r) {
      const double yr = y[r];
      double* row = b->item_gram_.data() + static_cast<size_t>(r) * f;
      for (int c = 0; c <= r; ++c) row[c] += yr * y[c];
    }
  }
  for (int r = 0; r < f; ++r) {
    for (int c = r + 1; c < f; ++c) {
      b->item_gram_[static_cast<size_t>(r) * f + c] =
          b->item_gram_[static_cast<size_t>(c) * f + r];
    }
  }
  b->item_squared_norms_.resize(b->items_.size());
  for (size_t i = 0; i < b->items_.size(); ++i) {
    const float* y = b->item_factors_.data() + i * f;
    b->item_squared_norms_[i] = DotDouble(y, y, f);
  }

  RECSYS_ASSIGN_OR_RETURN(
      b->ip_index_, VectorIndex::Load(dir + "/items_ip.faiss", Metric::kInnerProduct));
  RECSYS_ASSIGN_OR_RETURN(
      b->cos_index_, VectorIndex::Load(dir + "/items_cos.faiss", Metric::kCosine));
  for (const VectorIndex* index : {b->ip_index_.get(), b->cos_index_.get()}) {
    if (index->dim() != f || index->size() != b->num_items()) {
      return absl::DataLossError(absl::StrCat(
          dir, ": index holds ", index->size(), " vectors of dim ", index->dim(),
          ", expected ", b->num_items(), " of dim ", f));
    }
  }
  b->ranker_weights_ = RankerWeightsFromConfig(b->manifest_.ranker());
  b->ranker_item_stats_ =
      ComputeRankerItemStats(b->num_items(), b->history_indptr_, b->history_);
  b->loaded_at_ = absl::Now();
  return std::shared_ptr<const ModelBundle>(std::move(b));
}

RankerModel ModelBundle::ranker_model() const {
  return MakeRankerModel(ip_index_.get(), item_factors_, dim_, &ranker_item_stats_,
                         &ranker_weights_);
}

int32_t ModelBundle::UserRow(absl::string_view user_id) const {
  auto it = user_rows_.find(user_id);
  return it == user_rows_.end() ? -1 : *it;
}

int32_t ModelBundle::ItemRow(absl::string_view item_id) const {
  auto it = item_rows_.find(item_id);
  return it == item_rows_.end() ? -1 : it->second;
}

const std::vector<int32_t>& ModelBundle::category_popular(absl::string_view category) const {
  static const std::vector<int32_t>* const kEmpty = new std::vector<int32_t>();
  auto it = category_popular_.find(category);
  return it == category_popular_.end() ? *kEmpty : it->second;
}

absl::Span<const HistoryEntry> ModelBundle::history(int32_t user_row) const {
  if (user_row < 0 || history_indptr_.empty()) return {};
  const int64_t begin = history_indptr_[user_row];
  const int64_t end = history_indptr_[user_row + 1];
  return {history_.data() + begin, static_cast<size_t>(end - begin)};
}

ModelStore::ModelStore(const ModelStoreOptions& options) : options_(options) {}

ModelStore::~ModelStore() {
  stop_.Notify();
  if (poller_.joinable()) poller_.join();
}

absl::StatusOr<std::unique_ptr<ModelStore>> ModelStore::Create(
    const ModelStoreOptions& options) {
  RECSYS_ASSIGN_OR_RETURN(std::vector<std::string> versions,
                          ListModelVersions(options.root));
  if (versions.empty()) {
    return absl::NotFoundError(
        absl::StrCat("no model versions under ", options.root));
  }
  std::unique_ptr<ModelStore> store(new ModelStore(options));
  std::string errors;
  for (const std::string& v : versions) {
    auto bundle = ModelBundle::Load(options.root + "/" + v);
    if (bundle.ok()) {
      absl::MutexLock lock(&store->mu_);
      store->current_ = *std::move(bundle);
      break;
    }
    LogError(absl::StrCat("model ", v, " rejected: ", bundle.status().message()));
    absl::StrAppend(&errors, errors.empty() ? "" : "; ", v, ": ",
                    bundle.status().message());
    absl::MutexLock lock(&store->swap_mu_);
    store->failed_versions_.insert(v);
  }
  {
    absl::MutexLock lock(&store->mu_);
    if (store->current_ == nullptr) {
      return absl::FailedPreconditionError(
          absl::StrCat("no valid model under ", options.root, ": ", errors));
    }
    LogInfo(absl::StrCat("serving model ", store->current_->version(), " (",
                         store->current_->num_users(), " users, ",
                         store->current_->num_items(), " items, dim ",
                         store->current_->dim(), ")"));
  }
  if (options.poll_interval > absl::ZeroDuration()) {
    store->poller_ = std::thread([s = store.get()] { s->PollLoop(); });
  }
  return store;
}

std::shared_ptr<const ModelBundle> ModelStore::Current() const {
  absl::MutexLock lock(&mu_);
  return current_;
}

bool ModelStore::pinned() const {
  absl::MutexLock lock(&mu_);
  return pinned_;
}

std::vector<std::string> ModelStore::AvailableVersions() const {
  auto versions = ListModelVersions(options_.root);
  return versions.ok() ? *std::move(versions) : std::vector<std::string>();
}

void ModelStore::Swap(std::shared_ptr<const ModelBundle> next) {
  previous_ = std::move(current_);
  current_ = std::move(next);
  LogInfo(absl::StrCat("serving model ", current_->version(), " (was ",
                       previous_ ? previous_->version() : "none", ")"));
}

absl::StatusOr<SwapResult> ModelStore::Reload(absl::string_view version) {
  absl::MutexLock swap_lock(&swap_mu_);
  return ReloadLocked(version);
}

absl::StatusOr<SwapResult> ModelStore::ReloadLocked(absl::string_view version) {
  std::string target(version);
  if (target.empty()) {
    std::vector<std::string> versions = AvailableVersions();
    if (versions.empty()) {
      return absl::NotFoundError(absl::StrCat("no model versions under ", options_.root));
    }
    target = versions.front();
  } else if (target.find_first_not_of("0123456789") != std::string::npos) {
    return absl::InvalidArgumentError(
        absl::StrCat("version: must be decimal digits, got '", target, "'"));
  }
  SwapResult result;
  {
    absl::MutexLock lock(&mu_);
    result.previous_version = current_->version();
    if (current_->version() == target) {
      pinned_ = false;
      result.version = target;
      return result;
    }
  }
  const std::vector<std::string> versions = AvailableVersions();
  if (std::find(versions.begin(), versions.end(), target) == versions.end()) {
    return absl::NotFoundError(absl::StrCat("version: no model version '", target,
                                            "' under ", options_.root));
  }
  auto bundle = ModelBundle::Load(options_.root + "/" + target);
  if (!bundle.ok()) {
    failed_versions_.insert(target);
    LogError(absl::StrCat("model ", target, " rejected: ", bundle.status().message()));
    return absl::FailedPreconditionError(absl::StrCat(
        "model ", target, " rejected, still serving ", result.previous_version,
        ": ", bundle.status().message()));
  }
  absl::MutexLock lock(&mu_);
  Swap(*std::move(bundle));
  pinned_ = false;
  result.version = target;
  result.changed = true;
  return result;
}

absl::StatusOr<SwapResult> ModelStore::Rollback() {
  absl::MutexLock swap_lock(&swap_mu_);
  std::shared_ptr<const ModelBundle> target;
  std::string current_version;
  {
    absl::MutexLock lock(&mu_);
    current_version = current_->version();
    target = previous_;
  }
  if (target == nullptr) {
    // Nothing held in memory: the newest valid version older than current.
    int64_t cur = 0;
    absl::SimpleAtoi(current_version, &cur);
    for (const std::string& v : AvailableVersions()) {
      int64_t n = 0;
      if (!absl::SimpleAtoi(v, &n) || n >= cur || failed_versions_.contains(v)) continue;
      auto bundle = ModelBundle::Load(options_.root + "/" + v);
      if (bundle.ok()) {
        target = *std::move(bundle);
        break;
      }
      failed_versions_.insert(v);
    }
  }
  if (target == nullptr) {
    return absl::FailedPreconditionError(absl::StrCat(
        "no earlier valid model to roll back to from ", current_version));
  }
  absl::MutexLock lock(&mu_);
  SwapResult result{current_->version(), target->version(), true};
  Swap(std::move(target));
  pinned_ = true;
  return result;
}

bool ModelStore::PollOnce() {
  absl::MutexLock swap_lock(&swap_mu_);
  std::vector<std::string> versions = AvailableVersions();
  if (versions.empty()) return false;
  {
    absl::MutexLock lock(&mu_);
    if (pinned_) return false;
    int64_t newest = 0, cur = 0;
    absl::SimpleAtoi(versions.front(), &newest);
    absl::SimpleAtoi(current_->version(), &cur);
    if (newest <= cur) return false;
  }
  if (failed_versions_.contains(versions.front())) return false;
  auto result = ReloadLocked(versions.front());
  return result.ok() && result->changed;
}

void ModelStore::PollLoop() {
  while (!stop_.WaitForNotificationWithTimeout(options_.poll_interval)) {
    PollOnce();
  }
}

}  // namespace recsys::model
