// A model directory (model/model_format.h) with one file replaced by the
// input: the manifest (recsys.v1.ModelManifest JSON) or any data file of a
// valid tiny model. Input layout: byte 0 picks the file, byte 1 the mode,
// the rest is the file's new contents.
//   mode bit 0: rewrite the manifest's size and xxh3_64 of the replaced data
//               file, so the reader gets past the file checks and parses it
//               (without it, the checks themselves are fuzzed);
//   mode bit 1: also load the directory as the server does
//               (ModelBundle::Load, which reads the FAISS indexes), unless
//               the replaced file is a FAISS index whose checksum was
//               rewritten: FAISS's own reader trusts its input.
// A directory that reads must satisfy the reader's promises, and its
// segments.tsv must parse.
#include <google/protobuf/util/json_util.h>
#include <xxhash.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <map>
#include <string>

#include "absl/strings/match.h"
#include "absl/strings/str_format.h"
#include "absl/strings/string_view.h"
#include "fuzz/fuzz_util.h"
#include "marketing/segments.h"
#include "model/model_format.h"
#include "model/model_store.h"
#include "recsys/v1/model_manifest.pb.h"

namespace {

namespace fs = std::filesystem;

constexpr char kManifest[] = "manifest.json";

struct Pristine {
  // File name -> contents of the published tiny model.
  std::map<std::string, std::string> files;
  std::string work_dir;
};

const Pristine& GetPristine() {
  static const Pristine* const pristine = [] {
    auto* p = new Pristine;
    const std::string dir =
        recsys::fuzz::PublishTinyModel(recsys::fuzz::ScratchDir() + "/root");
    for (const auto& entry : fs::directory_iterator(dir)) {
      p->files[entry.path().filename().string()] =
          recsys::fuzz::ReadFileOrDie(entry.path().string());
    }
    p->work_dir = recsys::fuzz::ScratchDir() + "/work/1";
    fs::create_directories(p->work_dir);
    return p;
  }();
  return *pristine;
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  GetPristine();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 2) return 0;
  const Pristine& pristine = GetPristine();
  auto it = pristine.files.begin();
  std::advance(it, data[0] % pristine.files.size());
  const std::string& name = it->first;
  const uint8_t mode = data[1];
  const std::string contents(reinterpret_cast<const char*>(data) + 2, size - 2);
  const bool is_faiss = absl::EndsWith(name, ".faiss");

  std::map<std::string, std::string> files = pristine.files;
  files[name] = contents;
  if (name != kManifest && (mode & 1)) {
    recsys::v1::ModelManifest manifest;
    google::protobuf::util::JsonParseOptions parse;
    RECSYS_FUZZ_CHECK(google::protobuf::util::JsonStringToMessage(
                          files[kManifest], &manifest, parse)
                          .ok());
    (*manifest.mutable_files())[name] = static_cast<int64_t>(contents.size());
    for (auto& c : *manifest.mutable_checksums()) {
      if (c.name() != name) continue;
      c.set_size(static_cast<int64_t>(contents.size()));
      c.set_xxh3_64(
          absl::StrFormat("%016x", static_cast<uint64_t>(XXH3_64bits(
                                       contents.data(), contents.size()))));
    }
    std::string json;
    RECSYS_FUZZ_CHECK(
        google::protobuf::util::MessageToJsonString(manifest, &json).ok());
    files[kManifest] = json;
  }
  // Only the files that differ from the last input's are written.
  static auto* const on_disk = new std::map<std::string, std::string>;
  for (const auto& [file, bytes] : files) {
    auto [it, added] = on_disk->try_emplace(file);
    if (!added && it->second == bytes) continue;
    recsys::fuzz::WriteFileOrDie(pristine.work_dir + "/" + file, bytes);
    it->second = bytes;
  }

  auto read = recsys::model::ReadModelData(pristine.work_dir);
  if (read.ok()) {
    const recsys::model::ModelData& d = *read;
    RECSYS_FUZZ_CHECK(d.dim >= 1);
    RECSYS_FUZZ_CHECK(d.user_factors.size() ==
                      d.user_ids.size() * static_cast<size_t>(d.dim));
    RECSYS_FUZZ_CHECK(d.item_factors.size() ==
                      d.items.size() * static_cast<size_t>(d.dim));
    RECSYS_FUZZ_CHECK(d.history_indptr.empty() ||
                      d.history_indptr.size() == d.user_ids.size() + 1);
    for (const auto& h : d.history) {
      RECSYS_FUZZ_CHECK(h.item >= 0 &&
                        static_cast<size_t>(h.item) < d.items.size());
    }
    for (const auto& row : d.complements) {
      for (const auto& [item, score] : row) {
        RECSYS_FUZZ_CHECK(item >= 0 &&
                          static_cast<size_t>(item) < d.items.size());
      }
    }
    const recsys::model::ItemNeighbors& n = d.ranker_neighbors;
    RECSYS_FUZZ_CHECK(n.indptr.empty() || (n.indptr.size() == d.items.size() + 1 &&
                                           n.indptr.back() == static_cast<int64_t>(n.items.size())));
    RECSYS_FUZZ_CHECK(n.sims.size() == n.items.size());
    for (size_t i = 0; i + 1 < n.indptr.size(); ++i) {
      RECSYS_FUZZ_CHECK(n.indptr[i] <= n.indptr[i + 1]);
    }
    for (int32_t item : n.items) {
      RECSYS_FUZZ_CHECK(item >= 0 && static_cast<size_t>(item) < d.items.size());
    }
    (void)recsys::marketing::ParseSegmentsTsv(d.segments_tsv);
  }
  if ((mode & 2) && !(is_faiss && (mode & 1))) {
    auto bundle = recsys::model::ModelBundle::Load(pristine.work_dir);
    if (bundle.ok()) {
      const auto& b = **bundle;
      for (int32_t row = 0; row < b.num_users(); ++row)
        RECSYS_FUZZ_CHECK(b.UserRow(b.user_id(row)) == row);
    }
  }
  return 0;
}
