// recsys_datagen: writes a synthetic shop's purchase log as canonical CSV
// (see training/datagen.h for the model and the output format).
//
//   recsys_datagen --out /tmp/shop.csv.gz --users 2000 --items 500 --seed 1
//   recsys_datagen --out /tmp/grocery.csv.gz --kind grocery
#include <cstdint>
#include <cstdio>
#include <string>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/strings/str_cat.h"
#include "training/datagen.h"

ABSL_FLAG(std::string, out, "",
          "Output path; gzip-compressed if it ends in .gz.");
ABSL_FLAG(std::string, kind, "general",
          "Kind of shop: general | grocery | fashion | electronics (training/datagen.h).");
ABSL_FLAG(int, users, 2000, "Number of users.");
ABSL_FLAG(int, items, 500, "Number of items.");
ABSL_FLAG(int, days, 365, "Length of the log in days.");
ABSL_FLAG(uint64_t, seed, 1, "Random seed; same seed, same bytes.");
ABSL_FLAG(std::string, end_date, "2024-12-31",
          "Last day of the log (YYYY-MM-DD, UTC).");

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage(
      "Writes a synthetic shop purchase log (canonical CSV).\n"
      "  recsys_datagen --out shop.csv.gz [--kind K --users N --items N "
      "--days N --seed S --end_date YYYY-MM-DD]");
  absl::ParseCommandLine(argc, argv);
  const std::string out = absl::GetFlag(FLAGS_out);
  if (out.empty()) {
    std::fprintf(stderr, "recsys_datagen: --out is required\n");
    return 2;
  }
  recsys::training::ShopOptions options;
  absl::StatusOr<recsys::training::ShopKind> kind =
      recsys::training::ParseShopKind(absl::GetFlag(FLAGS_kind));
  if (!kind.ok()) {
    std::fprintf(stderr, "recsys_datagen: --kind: %s\n", std::string(kind.status().message()).c_str());
    return 2;
  }
  options.kind = *kind;
  options.users = absl::GetFlag(FLAGS_users);
  options.items = absl::GetFlag(FLAGS_items);
  options.days = absl::GetFlag(FLAGS_days);
  options.seed = absl::GetFlag(FLAGS_seed);
  options.end_date = absl::GetFlag(FLAGS_end_date);
  absl::StatusOr<recsys::training::ShopStats> stats =
      recsys::training::WriteShopCsv(options, out);
  if (!stats.ok()) {
    std::fprintf(stderr, "recsys_datagen: %s\n",
                 stats.status().ToString().c_str());
    return 1;
  }
  std::printf(
      "wrote %s: %lld rows, %lld orders, %d users, %d items sold, %lld staple "
      "rows\n",
      out.c_str(), static_cast<long long>(stats->rows),
      static_cast<long long>(stats->orders), stats->active_users,
      stats->sold_items, static_cast<long long>(stats->staple_rows));
  return 0;
}
