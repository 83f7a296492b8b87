#include "model/model_store.h"

#include <algorithm>
#include <filesystem>
#include <system_error>
#include <utility>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
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
  // The trainer's neighbours when the model stores them (no EASE solve
  // here); computed from the history otherwise.
  RankerStatsOptions stats_options = RankerStatsOptionsFor(b->ranker_weights_);
  const bool stored_neighbors = !data.ranker_neighbors.indptr.empty();
  if (stored_neighbors) stats_options.neighbors = 0;
  b->ranker_item_stats_ =
      ComputeRankerItemStats(b->num_items(), b->history_indptr_, b->history_, stats_options);
  if (stored_neighbors) b->ranker_item_stats_.neighbors = std::move(data.ranker_neighbors);
  // Title neighbours and categories, from items.tsv.
  AddRankerContentStats(b->items_, stats_options, &b->ranker_item_stats_);
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
  {
    absl::MutexLock swap_lock(&store->swap_mu_);
    for (const std::string& v : versions) {
      auto bundle = store->LoadVersion(v);
      if (bundle.ok()) {
        absl::MutexLock lock(&store->mu_);
        store->current_ = *std::move(bundle);
        break;
      }
      absl::StrAppend(&errors, errors.empty() ? "" : "; ", v, ": ",
                      bundle.status().message());
    }
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

std::vector<VariantVersion> ModelStore::SetVariantVersions(
    const std::vector<VariantVersionRequest>& requests) {
  absl::MutexLock swap_lock(&swap_mu_);
  // Merged by version, in order of first mention.
  std::vector<VariantVersion> wanted;
  for (const VariantVersionRequest& r : requests) {
    auto same = std::find_if(
        wanted.begin(), wanted.end(),
        [&](const VariantVersion& w) { return w.version == r.version; });
    if (same == wanted.end()) {
      wanted.push_back(
          VariantVersion{r.version, r.used_by, nullptr, absl::OkStatus()});
    } else {
      same->used_by.insert(same->used_by.end(), r.used_by.begin(),
                           r.used_by.end());
    }
  }
  // What is in memory already and may be shared.
  std::vector<std::shared_ptr<const ModelBundle>> held;
  {
    absl::MutexLock lock(&mu_);
    held.push_back(current_);
    if (previous_ != nullptr) held.push_back(previous_);
    for (const VariantVersion& v : variant_versions_) {
      if (v.bundle != nullptr) held.push_back(v.bundle);
    }
  }
  const std::vector<std::string> available = AvailableVersions();
  int count = 0;
  for (VariantVersion& v : wanted) {
    if (v.version.empty() ||
        v.version.find_first_not_of("0123456789") != std::string::npos) {
      v.status = absl::InvalidArgumentError(absl::StrCat(
          "'", v.version, "' is not a model version (decimal digits)"));
    } else {
      for (const auto& bundle : held) {
        if (bundle->version() == v.version) v.bundle = bundle;
      }
      if (v.bundle == nullptr && std::find(available.begin(), available.end(),
                                           v.version) == available.end()) {
        v.status = absl::NotFoundError(absl::StrCat(
            "no model version '", v.version, "' under ", options_.root));
      } else if (count >= options_.max_variant_versions) {
        v.bundle = nullptr;
        v.status = absl::ResourceExhaustedError(absl::StrCat(
            "over the bound of ", options_.max_variant_versions,
            " model versions beside the served one (--max_variant_models)"));
      } else if (v.bundle == nullptr) {
        auto loaded = LoadVersion(v.version);
        if (loaded.ok()) {
          v.bundle = *std::move(loaded);
        } else {
          v.status = absl::FailedPreconditionError(loaded.status().message());
        }
      }
      if (v.bundle != nullptr) ++count;
    }
    const std::string users = absl::StrJoin(v.used_by, ", ");
    if (v.bundle != nullptr) {
      LogInfo(absl::StrCat("model ", v.version, " held for ", users));
    } else {
      LogWarning(absl::StrCat("model ", v.version, " not held for ", users,
                              " (", v.status.message(),
                              "); they are served by the default model"));
    }
  }
  absl::MutexLock lock(&mu_);
  variant_versions_ = wanted;
  return wanted;
}

std::vector<VariantVersion> ModelStore::VariantVersions() const {
  absl::MutexLock lock(&mu_);
  return variant_versions_;
}

bool ModelStore::pinned() const {
  absl::MutexLock lock(&mu_);
  return pinned_;
}

std::vector<std::string> ModelStore::AvailableVersions() const {
  auto versions = ListModelVersions(options_.root);
  return versions.ok() ? *std::move(versions) : std::vector<std::string>();
}

std::vector<RejectedVersion> ModelStore::RejectedVersions() const {
  std::vector<RejectedVersion> out;
  {
    absl::MutexLock lock(&mu_);
    for (const auto& [v, r] : rejected_) out.push_back(r.info);
  }
  std::sort(out.begin(), out.end(), [](const RejectedVersion& a, const RejectedVersion& b) {
    return VersionNumber(a.version) > VersionNumber(b.version);
  });
  return out;
}

std::string ModelStore::Fingerprint(const std::string& version) const {
  namespace fs = std::filesystem;
  std::vector<std::string> entries;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(options_.root + "/" + version, ec)) {
    std::error_code size_ec, time_ec;
    const auto size = entry.file_size(size_ec);
    const auto mtime = entry.last_write_time(time_ec);
    entries.push_back(absl::StrCat(
        entry.path().filename().string(), ":", size_ec ? -1 : static_cast<int64_t>(size), ":",
        time_ec ? 0 : static_cast<int64_t>(mtime.time_since_epoch().count())));
  }
  if (ec) return absl::StrCat("unreadable: ", ec.message());
  std::sort(entries.begin(), entries.end());
  return absl::StrJoin(entries, ",");
}

bool ModelStore::RejectedAndUnchanged(const std::string& version) {
  {
    absl::MutexLock lock(&mu_);
    if (!rejected_.contains(version)) return false;
  }
  const std::string now = Fingerprint(version);
  absl::MutexLock lock(&mu_);
  auto it = rejected_.find(version);
  if (it->second.fingerprint == now) return true;
  LogInfo(absl::StrCat("model ", version, " changed since it was rejected; trying it again"));
  rejected_.erase(it);
  return false;
}

absl::StatusOr<std::shared_ptr<const ModelBundle>> ModelStore::LoadVersion(
    const std::string& version) {
  // Taken before loading: a rewrite during the load changes it, so the
  // version is tried again.
  std::string fingerprint = Fingerprint(version);
  auto bundle = ModelBundle::Load(options_.root + "/" + version);
  absl::MutexLock lock(&mu_);
  if (bundle.ok()) {
    rejected_.erase(version);
    return bundle;
  }
  LogError(absl::StrCat("model ", version, " rejected: ", bundle.status().message()));
  rejected_[version] = Rejection{
      RejectedVersion{version, std::string(bundle.status().message()), absl::Now()},
      std::move(fingerprint)};
  return bundle.status();
}

void ModelStore::ForgetRemovedVersions(const std::vector<std::string>& versions) {
  const absl::flat_hash_set<std::string> present(versions.begin(), versions.end());
  absl::MutexLock lock(&mu_);
  absl::erase_if(rejected_, [&](const auto& entry) { return !present.contains(entry.first); });
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
  const std::string target(version);
  if (target.find_first_not_of("0123456789") != std::string::npos) {
    return absl::InvalidArgumentError(
        absl::StrCat("version: must be decimal digits, got '", target, "'"));
  }
  const std::vector<std::string> versions = AvailableVersions();
  ForgetRemovedVersions(versions);
  if (versions.empty()) {
    return absl::NotFoundError(absl::StrCat("no model versions under ", options_.root));
  }
  SwapResult result;
  std::string current_version;
  {
    absl::MutexLock lock(&mu_);
    current_version = current_->version();
    result.previous_version = current_version;
  }
  if (!target.empty() && target != current_version &&
      std::find(versions.begin(), versions.end(), target) == versions.end()) {
    return absl::NotFoundError(absl::StrCat("version: no model version '", target,
                                            "' under ", options_.root));
  }
  // A named version, or the newest that loads (newest first).
  std::vector<std::string> candidates;
  if (target.empty()) {
    candidates = versions;
  } else {
    candidates.push_back(target);
  }
  std::string errors;
  for (const std::string& v : candidates) {
    if (v == current_version) {
      absl::MutexLock lock(&mu_);
      pinned_ = false;
      result.version = v;
      return result;
    }
    if (target.empty() && RejectedAndUnchanged(v)) {
      absl::MutexLock lock(&mu_);
      absl::StrAppend(&errors, errors.empty() ? "" : "; ", v, " (unchanged since rejected): ",
                      rejected_.at(v).info.reason);
      continue;
    }
    auto bundle = LoadVersion(v);
    if (!bundle.ok()) {
      absl::StrAppend(&errors, errors.empty() ? "" : "; ", v, ": ", bundle.status().message());
      continue;
    }
    absl::MutexLock lock(&mu_);
    Swap(*std::move(bundle));
    pinned_ = false;
    result.version = v;
    result.changed = true;
    return result;
  }
  return absl::FailedPreconditionError(absl::StrCat(
      target.empty() ? "no valid model" : absl::StrCat("model ", target, " rejected"),
      ", still serving ", current_version, ": ", errors));
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
    const int64_t cur = VersionNumber(current_version);
    for (const std::string& v : AvailableVersions()) {
      int64_t n = 0;
      if (!absl::SimpleAtoi(v, &n) || n >= cur || RejectedAndUnchanged(v)) continue;
      auto bundle = LoadVersion(v);
      if (bundle.ok()) {
        target = *std::move(bundle);
        break;
      }
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
  const std::vector<std::string> versions = AvailableVersions();
  ForgetRemovedVersions(versions);
  int64_t cur = 0;
  {
    absl::MutexLock lock(&mu_);
    if (pinned_) return false;
    cur = VersionNumber(current_->version());
  }
  for (const std::string& v : versions) {  // newest first
    int64_t n = 0;
    if (!absl::SimpleAtoi(v, &n)) continue;
    if (n <= cur) return false;
    if (RejectedAndUnchanged(v)) continue;
    auto bundle = LoadVersion(v);
    if (!bundle.ok()) continue;
    absl::MutexLock lock(&mu_);
    Swap(*std::move(bundle));
    return true;
  }
  return false;
}

void ModelStore::PollLoop() {
  while (!stop_.WaitForNotificationWithTimeout(options_.poll_interval)) {
    PollOnce();
  }
}

}  // namespace recsys::model
