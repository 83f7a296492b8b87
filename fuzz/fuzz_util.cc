#include "fuzz/fuzz_util.h"

#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <system_error>

#include "absl/strings/str_cat.h"
#include "marketing/segments.h"

namespace recsys::fuzz {
namespace {

namespace fs = std::filesystem;

[[noreturn]] void Die(absl::string_view what) {
  std::fprintf(stderr, "fuzz harness: %.*s\n", static_cast<int>(what.size()),
               what.data());
  std::abort();
}

void RemoveScratch() {
  std::error_code ec;
  fs::remove_all(ScratchDir(), ec);
}

}  // namespace

void CheckFailed(const char* condition, const char* file, int line) {
  std::fprintf(stderr, "%s:%d: fuzz check failed: %s\n", file, line, condition);
  std::abort();
}

const std::string& ScratchDir() {
  static const std::string* const dir = [] {
    // Memory-backed /dev/shm by default: opening an existing file with
    // O_TRUNC on this overlay /tmp costs milliseconds, per file and input.
    const char* tmp = std::getenv("TMPDIR");
    std::string base = tmp != nullptr ? tmp : "";
    if (base.empty()) base = fs::is_directory("/dev/shm") ? "/dev/shm" : "/tmp";
    std::string path = absl::StrCat(base, "/recsys-fuzz-", getpid());
    std::error_code ec;
    fs::remove_all(path, ec);
    if (!fs::create_directories(path, ec))
      Die(absl::StrCat("cannot create ", path));
    std::atexit(RemoveScratch);
    return new std::string(std::move(path));
  }();
  return *dir;
}

void WriteFileOrDie(const std::string& path, absl::string_view data) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(data.data(), static_cast<std::streamsize>(data.size()));
  out.close();
  if (!out) Die(absl::StrCat("cannot write ", path));
}

std::string ReadFileOrDie(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) Die(absl::StrCat("cannot open ", path));
  std::string data((std::istreambuf_iterator<char>(in)),
                   std::istreambuf_iterator<char>());
  if (in.bad()) Die(absl::StrCat("cannot read ", path));
  return data;
}

model::ModelData TinyModel() {
  model::ModelData d;
  d.dim = 2;
  d.user_ids = {"u1", "u2", "u3"};
  d.user_factors = {1.0f, 0.1f, 0.2f, 1.0f, 0.5f, 0.5f};
  const struct {
    const char* id;
    const char* category;
    double price;
  } items[] = {{"a1", "alpha", 1.5},
               {"a2", "alpha", 2.0},
               {"b1", "beta", 10},
               {"b2", "beta", 12}};
  for (const auto& it : items) {
    model::ItemMeta m;
    m.item_id = it.id;
    m.category = it.category;
    m.price = it.price;
    m.purchases = 2;
    m.buyers = 1;
    m.title = absl::StrCat("Item ", it.id);
    d.items.push_back(m);
  }
  d.item_factors = {1.0f, 0.0f, 0.9f, 0.2f, 0.1f, 1.0f, 0.0f, 0.8f};
  d.history_indptr = {0, 2, 3, 4};
  d.history = {{0, 1, 1700000000},
               {1, 1, 1700000100},
               {2, 1, 1700000200},
               {3, 2, 1700000300}};
  d.complements = {{{2, 0.5f}}, {}, {{0, 0.5f}, {1, 0.25f}}, {}};
  d.ranker_neighbors.indptr = {0, 1, 2, 3, 4};
  d.ranker_neighbors.items = {1, 0, 3, 2};
  d.ranker_neighbors.sims = {0.5f, 0.5f, 0.4f, 0.4f};
  marketing::UserSegment s;
  s.user_id = "u1";
  s.as_of_unix = 1700000400;
  s.recency_days = 1;
  s.frequency = 2;
  s.monetary = 3.5;
  s.first_purchase_unix = 1700000000;
  s.last_purchase_unix = 1700000100;
  auto tsv = marketing::SegmentsToTsv({s});
  if (!tsv.ok()) Die(tsv.status().ToString());
  d.segments_tsv = *std::move(tsv);
  return d;
}

std::string PublishTinyModel(const std::string& root) {
  model::PublishOptions options;
  options.index_spec = "Flat";
  options.version = "1";
  auto dir = model::PublishModel(root, TinyModel(), options);
  if (!dir.ok()) Die(dir.status().ToString());
  return *dir;
}

}  // namespace recsys::fuzz
