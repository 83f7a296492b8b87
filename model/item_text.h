// Content similarity of catalog items from their titles, for the production
// ranker's title neighbours (RankerItemStats::title_neighbors): items whose
// titles share distinctive words ("JUMBO BAG RED RETROSPOT" and "JUMBO BAG
// PINK POLKADOT") are neighbours even before anyone bought both, which
// helps new products and product lines.
//
// Each titled item is a TF-IDF vector of its title's words: sublinear term
// frequency 1 + ln(tf), smoothed inverse document frequency
// ln((1 + n) / (1 + df)) + 1 over the n titled items, L2-normalised. Words
// are maximal runs of letters (ASCII letters, ASCII-lowercased, and every
// byte of a multi-byte UTF-8 character), at least min_token_length bytes
// long; words in only one title are dropped, and so are words in more than
// max(max_token_share × n, min_token_cap) titles. The similarity of two items is the cosine of their vectors.
//
// Thread safety: pure functions.
#ifndef RECSYS_MODEL_ITEM_TEXT_H_
#define RECSYS_MODEL_ITEM_TEXT_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "absl/types/span.h"
#include "model/model_format.h"

namespace recsys::model {

struct TitleNeighborOptions {
  // Neighbours kept per item (the most similar, ties by row); < 1: none.
  int neighbors = 50;
  // Shortest word kept, in bytes.
  int min_token_length = 3;
  // Words in more than this share of the titled items are dropped (they
  // say little, and their pairs dominate the work).
  double max_token_share = 0.05;
  // ... but words in at most this many titles are kept (small catalogs).
  int min_token_cap = 10;
  // No neighbours are computed when Σ over kept words of (titles holding
  // the word)² exceeds this: about a second per 10^8.
  int64_t max_work = 400'000'000;
};

// The words of `title`, in order, as defined above (before the document
// frequency filters).
std::vector<std::string> TitleWords(absl::string_view title, int min_token_length = 3);

// Per item row of `items`, its most similar other items by title, best
// first, with cosine similarity > 0. Empty (no indptr) when no two items
// share a kept word, when options.neighbors < 1 or past options.max_work.
ItemNeighbors TitleNeighbors(absl::Span<const ItemMeta> items,
                             const TitleNeighborOptions& options = {});

}  // namespace recsys::model

#endif  // RECSYS_MODEL_ITEM_TEXT_H_
