// The versioned model directory: what the trainer publishes and the server
// loads.
//
//   <root>/<version>/              version: a decimal number (YYYYMMDDhhmmss)
//     manifest.json                recsys.v1.ModelManifest (protobuf JSON)
//     users.tsv                    row -> user_id, one per line
//     items.tsv                    row -> item_id \t category \t price \t
//                                  purchases \t buyers \t title
//     user_vectors.f32             header + num_users x dim float32
//     item_vectors.f32             header + num_items x dim float32
//     items_ip.faiss               FAISS index of item vectors (inner product)
//     items_cos.faiss              FAISS index of normalized item vectors
//     popular.tsv                  item rows by popularity, most popular first
//     history.bin                  per-user purchase history (CSR)
//     complements.tsv              optional: item row -> bundle complements
//     segments.tsv                 optional: marketing segment per user
//     intel.tsv                    optional: customer intelligence per user
//     neighbors.bin                optional: the ranker's item neighbours
//
// Publishing writes everything to <root>/.tmp-<version>/, fsyncs each file and
// the directory, then renames it to <root>/<version>/, so a reader never sees
// a half-written model. The server serves the largest numeric child.
//
// Thread safety: free functions without shared state; safe to call
// concurrently on different directories.
#ifndef RECSYS_MODEL_MODEL_FORMAT_H_
#define RECSYS_MODEL_MODEL_FORMAT_H_

#include <cstdint>
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "feature_store/feature_store.h"
#include "recsys/v1/model_manifest.pb.h"

namespace recsys::model {

inline constexpr int kModelFormatVersion = 1;

struct ItemMeta {
  std::string item_id;
  std::string category;
  // Last seen unit price.
  double price = 0;
  // Number of purchase events in the training data.
  int64_t purchases = 0;
  // Number of distinct buyers in the training data.
  int32_t buyers = 0;
  // Optional description; tabs and newlines are replaced by spaces on write.
  std::string title;
};

// One (user, item) entry of the purchase history.
struct HistoryEntry {
  int32_t item = 0;   // item row
  int32_t count = 0;  // purchase events
  int64_t last_unix = 0;
};

// Item neighbours as CSR over item rows: item i's neighbours are
// items[indptr[i], indptr[i+1]) with their similarities in sims, best
// first. Empty (no indptr): none.
struct ItemNeighbors {
  std::vector<int64_t> indptr;
  std::vector<int32_t> items;
  std::vector<float> sims;
};

// Appends the next item's row to `out` (starting its indptr if empty): the
// `keep` best of `candidates` (item, similarity) by similarity, then item
// row, best first. Reorders `candidates`.
void AppendNeighborRow(std::vector<std::pair<float, int32_t>>* candidates, int keep,
                       ItemNeighbors* out);

struct ModelData {
  // version, params and data stats; num_users / num_items / dim / files /
  // format_version / index_type are filled in by PublishModel.
  recsys::v1::ModelManifest manifest;
  std::vector<std::string> user_ids;
  std::vector<ItemMeta> items;
  int dim = 0;
  // Row-major, user_ids.size() x dim and items.size() x dim.
  std::vector<float> user_factors;
  std::vector<float> item_factors;
  // CSR: user u's history is history[history_indptr[u], history_indptr[u+1]).
  // history_indptr has user_ids.size() + 1 entries (or is empty: no history).
  std::vector<int64_t> history_indptr;
  std::vector<HistoryEntry> history;
  // Optional "frequently bought together" complements per item row (item
  // row, score), best first; empty: none computed.
  std::vector<std::vector<std::pair<int32_t, float>>> complements;
  // Optional marketing segments: the text of segments.tsv, whose layout
  // belongs to marketing/segments.h (SegmentsToTsv writes it,
  // ParseSegmentsTsv reads it). Empty: no file (older models have none).
  std::string segments_tsv;
  // Optional customer intelligence: the text of intel.tsv, whose layout
  // belongs to intelligence/intel.h (IntelToTsv, ParseIntelTsv). Empty: no
  // file.
  std::string intel_tsv;
  // Optional: the production ranker's item neighbours as the trainer
  // computed them from `history` for the manifest's ranker
  // (model::ComputeRankerItemStats with model::RankerStatsOptionsFor), so
  // the server loads them instead of computing them again (an EASE solve
  // takes seconds). Empty: no file; the loader computes them.
  ItemNeighbors ranker_neighbors;
};

inline constexpr char kAutoIndexSpec[] = "auto";

struct PublishOptions {
  // FAISS index_factory spec for both item indexes ("Flat" = exact search),
  // or "auto": exact "Flat" for catalogs of at most flat_max_items items, an
  // inverted-file index "IVF<nlist>,Flat" above (nlist: the power of two
  // nearest below 4 * sqrt(items), at most items / 39 so every list gets
  // enough training points).
  std::string index_spec = kAutoIndexSpec;
  // Version name; empty: the current UTC time as YYYYMMDDhhmmss, bumped by
  // one while a directory of that name exists.
  std::string version;
  // "auto": the largest catalog searched exactly. Measured at 64
  // dimensions on one core (docs/benchmarks.md, "Index choice"), an exact
  // search costs about 22 ns per item (0.11 ms at 5k items, 2 ms at 100k),
  // the tuned IVF search 30-60 us at any of those sizes; up to 5k items the
  // exact search costs no more than the rest of a request's rule pass.
  int64_t flat_max_items = 5000;
  // Approximate indexes (IVF, HNSW): the search parameter (nprobe,
  // efSearch) stored in each index is the smallest of a fixed ladder that
  // reaches this recall@recall_k against exact search on sampled queries;
  // the largest of the ladder when none does (the shortfall is recorded).
  double target_recall = 0.95;
  int recall_k = 20;
  // Sampled queries for the recall: user vectors for the inner-product
  // index (item vectors for a model without users), item vectors for the
  // cosine index. All rows when there are fewer.
  int recall_queries = 1000;
  uint64_t recall_seed = 1;
  // Receives one line per index with its spec, parameter and recall.
  // Null: silent.
  std::function<void(absl::string_view)> log = nullptr;
};

// The index_factory spec PublishModel builds for `num_items` items, and why
// (e.g. "auto: 100000 items > flat_max_items 5000"). A spec other than
// "auto" is returned as it is.
std::pair<std::string, std::string> ChooseIndexSpec(int64_t num_items,
                                                    const PublishOptions& options);

// Checks `data` for consistency (sizes, finite vectors, id uniqueness),
// builds the indexes (ChooseIndexSpec; approximate ones are tuned and their
// recall measured, recorded in manifest.index) and publishes the directory
// atomically. Returns the final directory path. InvalidArgument names the
// inconsistent field (or a bad index spec / recall option); Internal /
// Unavailable for I/O failures (the temp dir is removed). Uses FAISS's
// OpenMP threads to build and measure the indexes.
absl::StatusOr<std::string> PublishModel(const std::string& root,
                                         const ModelData& data,
                                         const PublishOptions& options = {});

// What ReadModelData keeps in memory. Every file of the manifest is
// verified (sizes, checksums) whatever is kept.
struct ReadModelOptions {
  // The user and item vectors (user_factors, item_factors). False leaves
  // them empty: a Redis load needs the items, the history and the segments
  // only, and at 10M users x 128 dims the vectors hold 5 GiB. Default true.
  bool vectors = true;
  // complements, intel_tsv and ranker_neighbors (the server's, not a Redis
  // load's). Default true.
  bool extras = true;
};

// Reads a model directory written by PublishModel, without the FAISS
// indexes (see model_store.h). Validates the manifest, file sizes and
// checksums, and the parts kept (the vectors' sizes and values, ids,
// history); DataLoss / InvalidArgument name the bad file.
absl::StatusOr<ModelData> ReadModelData(const std::string& dir,
                                        const ReadModelOptions& options = {});

// Reads only the manifest of a model directory (no file or vector checks).
// DataLoss names a missing or unparsable manifest.json.
absl::StatusOr<recsys::v1::ModelManifest> ReadManifest(const std::string& dir);

// Replaces manifest.json of a model directory atomically (a temp file,
// fsynced, renamed over it, then the directory synced), e.g. to record the
// evaluation gate's decision before the directory is renamed into the model
// root. The per-file checksums stay valid: the manifest is not among the
// checksummed files. Internal / Unavailable for I/O failures.
absl::Status RewriteManifest(const std::string& dir,
                             const recsys::v1::ModelManifest& manifest);

// The number a version name stands for (versions order by it); 0 when the
// name is not a number.
int64_t VersionNumber(absl::string_view version);

// Lists the numeric version directories in `root`, newest first. Entries
// starting with '.' (in-progress publishes) are ignored. NotFound if `root`
// does not exist.
absl::StatusOr<std::vector<std::string>> ListModelVersions(
    const std::string& root);

// The feature-store record of a catalog item: id, category, price and
// title; stock, flags, listing time and cost unknown (their defaults).
feature_store::ItemFeatures ItemFeaturesFromMeta(const ItemMeta& item);

// Writes the model's purchase history (PutUsers: one UserFeatures per user
// with at least one purchase) and item metadata (PutItems) into `store`, in
// batches of `batch` users / items, then the load marker (MarkLoaded with
// the manifest's version and the current time). Used by
// `recsys_train --load_redis_only` and by the server to seed its embedded
// in-memory store.
absl::Status LoadIntoFeatureStore(const ModelData& data,
                                  feature_store::FeatureStore* store,
                                  int batch = 5000);

}  // namespace recsys::model

#endif  // RECSYS_MODEL_MODEL_FORMAT_H_
