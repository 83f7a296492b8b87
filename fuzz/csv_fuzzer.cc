// The trainer's CSV purchase-history readers (training/csv_reader.h) on
// arbitrary bytes: the first byte picks the layout (auto, canonical,
// online_retail, pairs) and a small or the default record limit; the rest is
// the file (plain or gzip). Checks the invariants ReadPurchases promises.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "absl/strings/string_view.h"
#include "common/validation.h"
#include "fuzz/fuzz_util.h"
#include "training/csv_reader.h"

namespace {

using recsys::training::PurchaseFormat;

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  const uint8_t mode = data[0];
  const absl::string_view file(reinterpret_cast<const char*>(data) + 1,
                               size - 1);
  const std::string path = recsys::fuzz::ScratchDir() + "/input.csv";
  recsys::fuzz::WriteFileOrDie(path, file);

  recsys::training::ReadOptions options;
  options.format = static_cast<PurchaseFormat>(mode & 3);
  if (mode & 4) options.csv.max_record_bytes = 64;
  if (mode & 8) options.csv.buffer_bytes = 16;  // the smallest accepted
  if (mode & 16) {
    options.not_before_unix = 946684800;
    options.before_unix = 1900000000;
  }
  recsys::training::ReadStats stats;
  int64_t rows = 0;
  const absl::Status st = recsys::training::ReadPurchases(
      path, options,
      [&](const recsys::training::PurchaseRow& row) {
        ++rows;
        // Rows handed on hold ids the server accepts and a positive quantity.
        RECSYS_FUZZ_CHECK(recsys::CheckId("user_id", row.user_id).ok());
        RECSYS_FUZZ_CHECK(recsys::CheckId("item_id", row.item_id).ok());
        RECSYS_FUZZ_CHECK(row.quantity > 0);
        RECSYS_FUZZ_CHECK(row.timestamp_unix >= options.not_before_unix &&
                          row.timestamp_unix < options.before_unix);
      },
      &stats);
  RECSYS_FUZZ_CHECK(rows == stats.rows_used);
  if (st.ok()) {
    RECSYS_FUZZ_CHECK(stats.rows_read ==
                      stats.rows_used + stats.total_skipped());
    RECSYS_FUZZ_CHECK(static_cast<int>(stats.errors.size()) <=
                      options.max_error_lines);
  }

  // The record layer alone, and the timestamp parser on every field.
  auto reader = recsys::training::CsvReader::Open(path, options.csv);
  RECSYS_FUZZ_CHECK(reader.ok());
  recsys::training::CsvRecord record;
  for (int records = 0; records < 10000; ++records) {
    auto more = (*reader)->Next(&record);
    if (!more.ok() || !*more) break;
    for (int i = 0; i < record.size(); ++i) {
      RECSYS_FUZZ_CHECK(static_cast<int64_t>(record.field(i).size()) <=
                        options.csv.max_record_bytes);
      (void)recsys::training::ParseTimestamp(record.field(i));
    }
  }
  return 0;
}
