// Bundles: "frequently bought together" complements from co-purchase
// statistics.
//
// A basket is the set of items one user bought at one time (one order). For
// items i and j, support s(i, j) is the number of baskets holding both, and
// the association score is s / sqrt(n_i · n_j) (n = baskets holding the
// item): high for pairs bought together far more often than their
// popularity alone would give. Items of the same (non-empty) category are
// substitutes rather than complements and are left out.
//
// Thread safety: pure function.
#ifndef RECSYS_TRAINING_BUNDLES_H_
#define RECSYS_TRAINING_BUNDLES_H_

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace recsys::training {

struct ComplementOptions {
  // Baskets with more distinct items are truncated to this many (bulk
  // orders say little about what goes together).
  int max_basket = 40;
  // Pairs seen in fewer baskets are ignored.
  int min_support = 2;
  // Complements kept per item, best first.
  int per_item = 20;
  // Skip pairs of the same non-empty category (substitutes).
  bool exclude_same_category = true;
};

// `baskets`: item rows (0 .. num_items-1) of each basket, duplicates
// allowed. `categories`: category per item row (empty string: unknown).
// Returns, per item row, its complements (item row, score), best first.
std::vector<std::vector<std::pair<int32_t, float>>> ComputeComplements(
    const std::vector<std::vector<int32_t>>& baskets,
    const std::vector<std::string>& categories, const ComplementOptions& options = {});

}  // namespace recsys::training

#endif  // RECSYS_TRAINING_BUNDLES_H_
