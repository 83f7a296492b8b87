// The nightly job's input: the latest purchase history, either one file or a
// directory of daily exports, checked before anything is trained.
//
// A directory holds one file per day whose name contains the date
// (YYYY-MM-DD) and ends in .csv or .csv.gz, e.g. purchases-2024-06-30.csv.gz
// (other files are ignored). Every day from the first to the last must be
// present; each file is read with training::ReadPurchases (any layout it
// detects) and its rows are written, in day order, to one canonical CSV
// (user_id,item_id,timestamp,quantity,price,category,title) that the trainer
// then reads.
//
// Refused (InvalidArgument, nothing written): a missing day (the message
// names the expected file), a file whose header lacks a column
// ("<file>: line 1: header lacks column ..."), an empty file, a file with
// no usable row ("<file>: no usable purchase rows ..., first malformed: line
// N: ..."), a directory without daily files. Malformed rows next to usable
// ones are skipped and counted, as the trainer does.
//
// Thread safety: free functions without shared state.
#ifndef RECSYS_NIGHTLY_HISTORY_H_
#define RECSYS_NIGHTLY_HISTORY_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "training/csv_reader.h"

namespace recsys::nightly {

struct HistoryInput {
  // The file the trainer reads: the input file itself, or the combined CSV.
  std::string path;
  // The files read, in order (one for a file input).
  std::vector<std::string> files;
  // Rows read and used over all files, and the range of their timestamps.
  int64_t rows_read = 0;
  int64_t rows_used = 0;
  int64_t first_unix = 0;
  int64_t last_unix = 0;
  // Identifies the input's content: a hash of every file's name, size and
  // modification time (stable across processes).
  std::string fingerprint;
};

// Resolves `input` (a file or a directory, see above). A directory's rows
// are combined into `combined_path` (written to a temp name and renamed).
absl::StatusOr<HistoryInput> PrepareHistory(const std::string& input,
                                            const training::ReadOptions& read,
                                            const std::string& combined_path);

// FNV-1a 64 of `data` continued from `seed` (stable across processes).
uint64_t Fnv1a64(absl::string_view data,
                 uint64_t seed = 1469598103934665603ULL);

}  // namespace recsys::nightly

#endif  // RECSYS_NIGHTLY_HISTORY_H_
