// CouponStore basics and the in-memory implementation.
#include "marketing/coupon_store.h"

#include <algorithm>
#include <cmath>
#include <deque>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <utility>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/synchronization/mutex.h"
#include "common/status_macros.h"
#include "common/validation.h"
#include "marketing/coupon_store_internal.h"
#include "marketing/coupons.h"

namespace recsys::marketing {
namespace internal {

namespace {

std::string Money(int64_t cents) {
  return absl::StrFormat("%.2f", FromCents(cents));
}

std::string Time(int64_t unix_seconds) {
  return absl::StrCat(absl::FormatTime("%Y-%m-%d %H:%M:%S UTC",
                                       absl::FromUnixSeconds(unix_seconds),
                                       absl::UTCTimeZone()),
                      " (", unix_seconds, ")");
}

}  // namespace

absl::Status OutcomeStatus(CouponOutcome outcome, absl::string_view user_id,
                           absl::string_view coupon_id, int64_t a, int64_t b) {
  switch (outcome) {
    case CouponOutcome::kOk:
      return absl::OkStatus();
    case CouponOutcome::kNotFound:
      return absl::NotFoundError(
          absl::StrCat("unknown coupon '", coupon_id, "'"));
    case CouponOutcome::kNotYetValid:
      return absl::FailedPreconditionError(absl::StrCat(
          "coupon '", coupon_id, "' is not valid before ", Time(a)));
    case CouponOutcome::kExpired:
      return absl::FailedPreconditionError(
          absl::StrCat("coupon '", coupon_id, "' expired at ", Time(a)));
    case CouponOutcome::kCountExhausted:
      return absl::ResourceExhaustedError(
          absl::StrCat("coupon '", coupon_id, "' budget exhausted: ", a, " of ",
                       b, " redemptions used"));
    case CouponOutcome::kMoneyExhausted:
      return absl::ResourceExhaustedError(absl::StrCat(
          "coupon '", coupon_id, "' money budget exhausted: ", Money(a), " of ",
          Money(b), " spent"));
    case CouponOutcome::kUserCapReached:
      return absl::ResourceExhaustedError(absl::StrCat(
          "user '", user_id, "' already holds ", a, " issuances of coupon '",
          coupon_id, "' (per-user cap ", b, ")"));
    case CouponOutcome::kNotIssued:
      return absl::FailedPreconditionError(absl::StrCat(
          "user '", user_id, "' holds no unredeemed issuance of coupon '",
          coupon_id, "' (issued ", a, ", redeemed ", b, ")"));
    case CouponOutcome::kBelowThreshold:
      return absl::FailedPreconditionError(
          absl::StrCat("order value ", Money(a), " is below the threshold ",
                       Money(b), " of coupon '", coupon_id, "'"));
    case CouponOutcome::kMoneyShort:
      return absl::ResourceExhaustedError(
          absl::StrCat("coupon '", coupon_id, "' has ", Money(a),
                       " of its money budget left, the discount "
                       "is ",
                       Money(b)));
  }
  return absl::InternalError(
      absl::StrCat("unknown coupon outcome ", static_cast<int>(outcome)));
}

absl::Status CheckId(absl::string_view field, absl::string_view id) {
  RECSYS_RETURN_IF_ERROR(::recsys::CheckId(field, id));
  if (!IsValidId(id)) {
    return absl::InvalidArgumentError(
        absl::StrCat(field, ": must be at most 128 bytes without whitespace"));
  }
  return absl::OkStatus();
}

absl::Status CheckOpId(absl::string_view op_id) {
  if (op_id.size() > 512) {
    return absl::InvalidArgumentError(
        absl::StrCat("op_id: at most 512 bytes, got ", op_id.size()));
  }
  return absl::OkStatus();
}

absl::Status DeletedIdStatus(size_t index, absl::string_view id) {
  return absl::InvalidArgumentError(absl::StrCat(
      "coupons[", index, "].id: coupon '", id,
      "' was deleted; use a new id (a deleted id cannot be reused, so its "
      "budget cannot be reset)"));
}

}  // namespace internal

CouponState MakeCouponState(const Coupon& coupon, int64_t issued,
                            int64_t redeemed, int64_t spent_cents) {
  CouponState state;
  state.issued = issued;
  state.redeemed = redeemed;
  state.discount_spent = FromCents(spent_cents);
  state.remaining_count =
      coupon.budget_count > 0
          ? std::max<int64_t>(0, coupon.budget_count - redeemed)
          : -1;
  const int64_t budget_cents = ToCents(coupon.budget_money);
  state.remaining_money =
      budget_cents > 0
          ? FromCents(std::max<int64_t>(0, budget_cents - spent_cents))
          : -1;
  return state;
}

namespace {

using internal::CheckId;
using internal::CouponOutcome;
using internal::OutcomeStatus;

class InMemoryCouponStore final : public CouponStore {
 public:
  explicit InMemoryCouponStore(const CouponStoreOptions& options)
      : shipping_cents_(ToCents(options.free_shipping_value)),
        op_window_(options.op_dedup_window),
        clock_(options.clock ? options.clock : [] { return absl::Now(); }) {}

  std::string Describe() const override { return "in-memory"; }

  absl::Status PutCoupons(const CouponCatalog& catalog,
                          absl::Time) override {
    RECSYS_RETURN_IF_ERROR(ValidateCatalog(catalog));
    absl::MutexLock lock(&mu_);
    for (size_t i = 0; i < catalog.coupons.size(); ++i) {
      if (deleted_.contains(catalog.coupons[i].id)) {
        return internal::DeletedIdStatus(i, catalog.coupons[i].id);
      }
    }
    for (const Coupon& coupon : catalog.coupons) {
      coupons_[coupon.id].coupon = coupon;
    }
    return absl::OkStatus();
  }

  absl::StatusOr<std::vector<CouponWithState>> ListCoupons(
      absl::Time) const override {
    absl::MutexLock lock(&mu_);
    std::vector<CouponWithState> out;
    out.reserve(coupons_.size());
    for (const auto& [id, entry] : coupons_) {
      CouponWithState& c = out.emplace_back();
      c.coupon = entry.coupon;
      c.state = MakeCouponState(entry.coupon, entry.issued, entry.redeemed,
                                entry.spent_cents);
    }
    return out;
  }

  absl::Status DeleteCoupon(absl::string_view coupon_id, absl::Time) override {
    RECSYS_RETURN_IF_ERROR(CheckId("coupon_id", coupon_id));
    absl::MutexLock lock(&mu_);
    auto it = coupons_.find(coupon_id);
    if (it == coupons_.end())
      return OutcomeStatus(CouponOutcome::kNotFound, "", coupon_id, 0, 0);
    coupons_.erase(it);
    deleted_.insert(std::string(coupon_id));
    return absl::OkStatus();
  }

  absl::StatusOr<std::vector<UserCouponCounts>> GetUserCounts(
      absl::string_view user_id, absl::Span<const std::string> coupon_ids,
      absl::Time) const override {
    RECSYS_RETURN_IF_ERROR(::recsys::CheckId("user_id", user_id));
    for (size_t i = 0; i < coupon_ids.size(); ++i) {
      RECSYS_RETURN_IF_ERROR(
          CheckId(absl::StrCat("coupon_ids[", i, "]"), coupon_ids[i]));
    }
    std::vector<UserCouponCounts> out(coupon_ids.size());
    absl::MutexLock lock(&mu_);
    auto user = users_.find(user_id);
    if (user == users_.end()) return out;
    for (size_t i = 0; i < coupon_ids.size(); ++i) {
      auto it = user->second.find(coupon_ids[i]);
      if (it != user->second.end()) out[i] = it->second;
    }
    return out;
  }

  absl::StatusOr<std::vector<int64_t>> LastContacts(
      absl::string_view campaign, absl::Span<const std::string> user_ids,
      absl::Time) const override {
    RECSYS_RETURN_IF_ERROR(CheckId("campaign", campaign));
    for (size_t i = 0; i < user_ids.size(); ++i) {
      RECSYS_RETURN_IF_ERROR(
          ::recsys::CheckId(absl::StrCat("user_ids[", i, "]"), user_ids[i]));
    }
    std::vector<int64_t> out(user_ids.size(), 0);
    absl::MutexLock lock(&mu_);
    for (size_t i = 0; i < user_ids.size(); ++i) {
      auto user = contacts_.find(user_ids[i]);
      if (user == contacts_.end()) continue;
      auto it = user->second.find(campaign);
      if (it != user->second.end()) out[i] = it->second;
    }
    return out;
  }

  absl::StatusOr<IssueResult> IssueOnce(absl::string_view user_id,
                                        absl::string_view coupon_id, absl::Time time,
                                        absl::string_view op_id, absl::Time) override {
    RECSYS_RETURN_IF_ERROR(::recsys::CheckId("user_id", user_id));
    RECSYS_RETURN_IF_ERROR(CheckId("coupon_id", coupon_id));
    RECSYS_RETURN_IF_ERROR(internal::CheckOpId(op_id));
    const int64_t now = absl::ToUnixSeconds(time);
    absl::MutexLock lock(&mu_);
    if (std::optional<int64_t> done = AppliedOp(op_id)) {
      return IssueResult{.issued = *done, .duplicate = true};
    }
    auto it = coupons_.find(coupon_id);
    if (it == coupons_.end()) {
      return OutcomeStatus(CouponOutcome::kNotFound, user_id, coupon_id, 0, 0);
    }
    Entry& entry = it->second;
    const Coupon& c = entry.coupon;
    RECSYS_RETURN_IF_ERROR(CheckWindow(c, user_id, now));
    if (c.budget_count > 0 && entry.redeemed >= c.budget_count) {
      return OutcomeStatus(CouponOutcome::kCountExhausted, user_id, coupon_id,
                           entry.redeemed, c.budget_count);
    }
    const int64_t budget_cents = ToCents(c.budget_money);
    if (budget_cents > 0 && entry.spent_cents >= budget_cents) {
      return OutcomeStatus(CouponOutcome::kMoneyExhausted, user_id, coupon_id,
                           entry.spent_cents, budget_cents);
    }
    UserCouponCounts& counts = users_[user_id][coupon_id];
    if (c.per_user_cap > 0 && counts.issued >= c.per_user_cap) {
      return OutcomeStatus(CouponOutcome::kUserCapReached, user_id, coupon_id,
                           counts.issued, c.per_user_cap);
    }
    ++entry.issued;
    ++counts.issued;
    const std::string& campaign = c.campaign.empty() ? c.id : c.campaign;
    int64_t& last = contacts_[user_id][campaign];
    last = std::max(last, now);
    RememberOp(op_id, counts.issued);
    return IssueResult{.issued = counts.issued};
  }

  absl::StatusOr<RedeemResult> RedeemOnce(absl::string_view user_id,
                                          absl::string_view coupon_id, double order_value,
                                          absl::Time time, absl::string_view op_id,
                                          absl::Time) override {
    RECSYS_RETURN_IF_ERROR(::recsys::CheckId("user_id", user_id));
    RECSYS_RETURN_IF_ERROR(CheckId("coupon_id", coupon_id));
    RECSYS_RETURN_IF_ERROR(internal::CheckOpId(op_id));
    if (!std::isfinite(order_value) || order_value < 0 || order_value > 1e12) {
      return absl::InvalidArgumentError(
          absl::StrCat("order_value: must be in [0, 1e12], got ", order_value));
    }
    const int64_t order_cents = ToCents(order_value);
    const int64_t now = absl::ToUnixSeconds(time);
    absl::MutexLock lock(&mu_);
    if (std::optional<int64_t> done = AppliedOp(op_id)) {
      return RedeemResult{.discount = FromCents(*done), .duplicate = true};
    }
    auto it = coupons_.find(coupon_id);
    if (it == coupons_.end()) {
      return OutcomeStatus(CouponOutcome::kNotFound, user_id, coupon_id, 0, 0);
    }
    Entry& entry = it->second;
    const Coupon& c = entry.coupon;
    RECSYS_RETURN_IF_ERROR(CheckWindow(c, user_id, now));
    UserCouponCounts* counts = nullptr;
    if (auto user = users_.find(user_id); user != users_.end()) {
      if (auto found = user->second.find(coupon_id);
          found != user->second.end()) {
        counts = &found->second;
      }
    }
    if (counts == nullptr || counts->redeemed >= counts->issued) {
      return OutcomeStatus(CouponOutcome::kNotIssued, user_id, coupon_id,
                           counts ? counts->issued : 0,
                           counts ? counts->redeemed : 0);
    }
    const int64_t discount = DiscountCents(c, order_cents, shipping_cents_);
    if (discount < 0) {
      return OutcomeStatus(CouponOutcome::kBelowThreshold, user_id, coupon_id,
                           order_cents, ToCents(c.threshold_spend));
    }
    if (c.budget_count > 0 && entry.redeemed >= c.budget_count) {
      return OutcomeStatus(CouponOutcome::kCountExhausted, user_id, coupon_id,
                           entry.redeemed, c.budget_count);
    }
    const int64_t budget_cents = ToCents(c.budget_money);
    if (budget_cents > 0 && entry.spent_cents + discount > budget_cents) {
      return OutcomeStatus(
          CouponOutcome::kMoneyShort, user_id, coupon_id,
          std::max<int64_t>(0, budget_cents - entry.spent_cents), discount);
    }
    ++entry.redeemed;
    entry.spent_cents += discount;
    ++counts->redeemed;
    RememberOp(op_id, discount);
    return RedeemResult{.discount = FromCents(discount)};
  }

  absl::Status Ping(absl::Time) const override { return absl::OkStatus(); }

 private:
  struct Entry {
    Coupon coupon;
    int64_t issued = 0;
    int64_t redeemed = 0;
    int64_t spent_cents = 0;
  };

  // The figure remembered for `op_id` while it is within the window;
  // nullopt for an empty or unknown id. Drops expired ids first.
  std::optional<int64_t> AppliedOp(absl::string_view op_id)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    const absl::Time now = clock_();
    while (!op_order_.empty() && op_order_.front().first <= now) {
      auto it = ops_.find(op_order_.front().second);
      if (it != ops_.end() && it->second.first <= now) ops_.erase(it);
      op_order_.pop_front();
    }
    if (op_id.empty()) return std::nullopt;
    auto it = ops_.find(op_id);
    if (it == ops_.end() || it->second.first <= now) return std::nullopt;
    return it->second.second;
  }
  void RememberOp(absl::string_view op_id, int64_t figure)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (op_id.empty()) return;
    const absl::Time expires = clock_() + op_window_;
    ops_[std::string(op_id)] = {expires, figure};
    op_order_.emplace_back(expires, std::string(op_id));
  }

  static absl::Status CheckWindow(const Coupon& c,
                                  absl::string_view user_id, int64_t now) {
    if (c.valid_from_unix > 0 && now < c.valid_from_unix) {
      return OutcomeStatus(CouponOutcome::kNotYetValid, user_id, c.id,
                           c.valid_from_unix, 0);
    }
    if (c.valid_until_unix > 0 && now >= c.valid_until_unix) {
      return OutcomeStatus(CouponOutcome::kExpired, user_id, c.id,
                           c.valid_until_unix, 0);
    }
    return absl::OkStatus();
  }

  // Immutable after construction.
  const int64_t shipping_cents_;
  const absl::Duration op_window_;
  const std::function<absl::Time()> clock_;

  mutable absl::Mutex mu_;
  // Sorted by id, so ListCoupons needs no sort.
  std::map<std::string, Entry, std::less<>> coupons_ ABSL_GUARDED_BY(mu_);
  // Ids of deleted coupons, which PutCoupons refuses.
  absl::flat_hash_set<std::string> deleted_ ABSL_GUARDED_BY(mu_);
  // user -> coupon -> counts.
  absl::flat_hash_map<std::string,
                      absl::flat_hash_map<std::string, UserCouponCounts>>
      users_ ABSL_GUARDED_BY(mu_);
  // user -> campaign -> last contact (unix seconds).
  absl::flat_hash_map<std::string, absl::flat_hash_map<std::string, int64_t>>
      contacts_ ABSL_GUARDED_BY(mu_);
  // Applied op ids -> (expiry, the issued count or discount cents), and
  // the ids in the order applied (expiry order), to drop expired ones.
  absl::flat_hash_map<std::string, std::pair<absl::Time, int64_t>> ops_
      ABSL_GUARDED_BY(mu_);
  std::deque<std::pair<absl::Time, std::string>> op_order_ ABSL_GUARDED_BY(mu_);
};

}  // namespace

absl::StatusOr<std::unique_ptr<CouponStore>> NewInMemoryCouponStore(
    const CouponStoreOptions& options) {
  if (!std::isfinite(options.free_shipping_value) ||
      options.free_shipping_value < 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("free_shipping_value: must be >= 0, got ",
                     options.free_shipping_value));
  }
  if (options.op_dedup_window < absl::Seconds(1)) {
    return absl::InvalidArgumentError(
        absl::StrCat("op_dedup_window: must be at least 1s, got ",
                     absl::FormatDuration(options.op_dedup_window)));
  }
  return std::unique_ptr<CouponStore>(new InMemoryCouponStore(options));
}

}  // namespace recsys::marketing
