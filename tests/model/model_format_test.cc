#include "model/model_format.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <set>
#include <vector>

#include <google/protobuf/util/json_util.h>

#include "model/model_store.h"
#include "model/vector_index.h"

#include "gtest/gtest.h"
#include "tests/model/test_model.h"
#include "tests/testing/status_matchers.h"
#include "tests/testing/test_files.h"

namespace recsys::model {
namespace {

namespace fs = std::filesystem;

TEST(ModelFormatTest, PublishAndReadRoundTrip) {
  const std::string root = recsys::testing::MakeUniqueDir("model_format");
  ModelData data = testing::MakePlantedModel();
  data.manifest.mutable_data()->set_rows_read(123);
  data.complements.resize(data.items.size());
  data.complements[3] = {{12, 0.75f}, {15, 0.5f}};
  PublishOptions options;
  options.version = "100";
  RECSYS_ASSERT_OK_AND_ASSIGN(std::string dir, PublishModel(root, data, options));
  EXPECT_EQ(dir, root + "/100");
  // Nothing temporary is left behind.
  for (const auto& e : fs::directory_iterator(root)) {
    EXPECT_NE(e.path().filename().string()[0], '.') << e.path();
  }
  RECSYS_ASSERT_OK_AND_ASSIGN(ModelData back, ReadModelData(dir));
  EXPECT_EQ(back.manifest.version(), "100");
  EXPECT_EQ(back.manifest.num_users(), 10);
  EXPECT_EQ(back.manifest.num_items(), 20);
  EXPECT_EQ(back.manifest.format_version(), kModelFormatVersion);
  EXPECT_EQ(back.manifest.data().rows_read(), 123);
  EXPECT_EQ(back.user_ids, data.user_ids);
  ASSERT_EQ(back.items.size(), data.items.size());
  EXPECT_EQ(back.items[3].item_id, "a3");
  EXPECT_EQ(back.items[3].category, "alpha");
  EXPECT_DOUBLE_EQ(back.items[3].price, 4.0);
  EXPECT_EQ(back.items[3].title, "Item a3");
  EXPECT_EQ(back.user_factors, data.user_factors);
  EXPECT_EQ(back.item_factors, data.item_factors);
  EXPECT_EQ(back.history_indptr, data.history_indptr);
  ASSERT_EQ(back.history.size(), data.history.size());
  EXPECT_EQ(back.history[1].item, data.history[1].item);
  EXPECT_EQ(back.history[1].last_unix, data.history[1].last_unix);
  ASSERT_EQ(back.complements.size(), data.items.size());
  EXPECT_EQ(back.complements[3], data.complements[3]);
  EXPECT_TRUE(back.complements[4].empty());
  // No segments given: no file.
  EXPECT_TRUE(back.segments_tsv.empty());
  EXPECT_FALSE(fs::exists(dir + "/segments.tsv"));
  EXPECT_FALSE(back.manifest.files().contains("segments.tsv"));
}

TEST(ModelFormatTest, OptionalSegmentsFile) {
  const std::string root = recsys::testing::MakeUniqueDir("model_format_segments");
  ModelData data = testing::MakePlantedModel();
  data.segments_tsv = "user_id\tsegment\nua0\tcore\n";
  PublishOptions options;
  options.version = "7";
  RECSYS_ASSERT_OK_AND_ASSIGN(std::string dir, PublishModel(root, data, options));
  RECSYS_ASSERT_OK_AND_ASSIGN(ModelData back, ReadModelData(dir));
  EXPECT_EQ(back.segments_tsv, data.segments_tsv);
  EXPECT_EQ(back.manifest.files().at("segments.tsv"),
            static_cast<int64_t>(data.segments_tsv.size()));
  // Its size is checked like every other file's.
  std::ofstream(dir + "/segments.tsv", std::ios::app) << "ub0\tnew\n";
  EXPECT_EQ(ReadModelData(dir).status().code(), absl::StatusCode::kDataLoss);
}

TEST(ModelFormatTest, VersionsListedNewestFirstAndAutoVersionIncreases) {
  const std::string root = recsys::testing::MakeUniqueDir("model_versions");
  ModelData data = testing::MakePlantedModel();
  PublishOptions options;
  options.version = "5";
  RECSYS_ASSERT_OK(PublishModel(root, data, options).status());
  options.version = "40";
  RECSYS_ASSERT_OK(PublishModel(root, data, options).status());
  fs::create_directories(root + "/.tmp-99");
  fs::create_directories(root + "/notaversion");
  RECSYS_ASSERT_OK_AND_ASSIGN(auto versions, ListModelVersions(root));
  EXPECT_EQ(versions, (std::vector<std::string>{"40", "5"}));
  // Publishing the same version twice is refused.
  EXPECT_TRUE(absl::IsAlreadyExists(PublishModel(root, data, options).status()));
  // An automatic version sorts after everything present.
  RECSYS_ASSERT_OK_AND_ASSIGN(std::string dir, PublishModel(root, data));
  RECSYS_ASSERT_OK_AND_ASSIGN(versions, ListModelVersions(root));
  EXPECT_EQ(root + "/" + versions.front(), dir);
  EXPECT_TRUE(absl::IsNotFound(ListModelVersions(root + "/missing").status()));
}

TEST(ModelFormatTest, VersionNumberOfANameOrZero) {
  EXPECT_EQ(VersionNumber("20260101000001"), 20260101000001);
  EXPECT_GT(VersionNumber("20260101000010"), VersionNumber("20260101000009"));
  EXPECT_EQ(VersionNumber(""), 0);
  EXPECT_EQ(VersionNumber("v2"), 0);
  EXPECT_EQ(VersionNumber(".tmp-20260101000001"), 0);
}

TEST(ModelFormatTest, InconsistentDataIsRejectedWithTheFieldNamed) {
  const std::string root = recsys::testing::MakeUniqueDir("model_bad");
  ModelData data = testing::MakePlantedModel();
  data.item_factors.pop_back();
  auto st = PublishModel(root, data).status();
  EXPECT_TRUE(absl::IsInvalidArgument(st));
  EXPECT_NE(st.message().find("item_factors"), absl::string_view::npos) << st;

  data = testing::MakePlantedModel();
  data.user_factors[3] = std::numeric_limits<float>::quiet_NaN();
  st = PublishModel(root, data).status();
  EXPECT_NE(st.message().find("user_factors"), absl::string_view::npos) << st;

  data = testing::MakePlantedModel();
  data.items[1].item_id = data.items[0].item_id;
  st = PublishModel(root, data).status();
  EXPECT_NE(st.message().find("duplicate"), absl::string_view::npos) << st;
  // Nothing was published.
  RECSYS_ASSERT_OK_AND_ASSIGN(auto versions, ListModelVersions(root));
  EXPECT_TRUE(versions.empty());
}

TEST(ModelFormatTest, CorruptFilesAreDetected) {
  const std::string root = recsys::testing::MakeUniqueDir("model_corrupt");
  PublishOptions options;
  options.version = "1";
  RECSYS_ASSERT_OK_AND_ASSIGN(std::string dir,
                              PublishModel(root, testing::MakePlantedModel(), options));
  // Truncate the item vectors.
  fs::resize_file(dir + "/item_vectors.f32", 40);
  auto st = ReadModelData(dir).status();
  EXPECT_TRUE(absl::IsDataLoss(st)) << st;
  EXPECT_NE(st.message().find("item_vectors.f32"), absl::string_view::npos) << st;

  options.version = "2";
  RECSYS_ASSERT_OK_AND_ASSIGN(dir, PublishModel(root, testing::MakePlantedModel(), options));
  std::ofstream(dir + "/manifest.json") << "{ not json";
  EXPECT_TRUE(absl::IsDataLoss(ReadModelData(dir).status()));
}

// A model whose item vectors lie around `centres` centres (dim 16) and
// whose users mix two centres; every user has no history.
ModelData MakeClusteredModel(int users, int items, int centres) {
  ModelData d;
  d.dim = 16;
  uint64_t state = 7;
  auto uniform = [&state] {
    state = state * 6364136223846793005ULL + 1442695040888963407ULL;
    return static_cast<float>((state >> 33) % 100000) / 100000.0f - 0.5f;
  };
  std::vector<float> centre(static_cast<size_t>(centres) * d.dim);
  for (float& x : centre) x = uniform();
  for (int i = 0; i < items; ++i) {
    ItemMeta it;
    it.item_id = absl::StrCat("i", i);
    it.category = absl::StrCat("c", i % centres);
    it.buyers = items - i;
    d.items.push_back(it);
    for (int j = 0; j < d.dim; ++j) {
      d.item_factors.push_back(centre[(i % centres) * d.dim + j] + 0.15f * uniform());
    }
  }
  for (int u = 0; u < users; ++u) {
    d.user_ids.push_back(absl::StrCat("u", u));
    const int a = u % centres, b = (u * 7 + 3) % centres;
    for (int j = 0; j < d.dim; ++j) {
      d.user_factors.push_back(0.7f * centre[a * d.dim + j] + 0.3f * centre[b * d.dim + j] +
                               0.05f * uniform());
    }
  }
  return d;
}

TEST(IndexChoiceTest, ExactUpToThresholdIvfAbove) {
  PublishOptions options;
  EXPECT_EQ(options.index_spec, "auto");
  EXPECT_EQ(ChooseIndexSpec(20, options).first, "Flat");
  EXPECT_EQ(ChooseIndexSpec(options.flat_max_items, options).first, "Flat");
  // nlist: the power of two at or below 4 * sqrt(items), at most items / 39.
  EXPECT_EQ(options.flat_max_items, 5000);
  EXPECT_EQ(ChooseIndexSpec(5001, options).first, "IVF128,Flat");
  EXPECT_EQ(ChooseIndexSpec(20000, options).first, "IVF512,Flat");
  EXPECT_EQ(ChooseIndexSpec(100000, options).first, "IVF1024,Flat");
  EXPECT_EQ(ChooseIndexSpec(1000000, options).first, "IVF2048,Flat");
  EXPECT_NE(ChooseIndexSpec(100000, options).second.find("flat_max_items"), std::string::npos);
  options.flat_max_items = 100;
  EXPECT_EQ(ChooseIndexSpec(500, options).first, "IVF8,Flat");
  options.index_spec = "HNSW32";
  EXPECT_EQ(ChooseIndexSpec(500, options).first, "HNSW32");
  EXPECT_EQ(ChooseIndexSpec(500, options).second, "requested");
}

TEST(IndexChoiceTest, SmallCatalogIsExactWithRecallOne) {
  const std::string root = recsys::testing::MakeUniqueDir("index_small");
  std::vector<std::string> lines;
  PublishOptions options;
  options.log = [&](absl::string_view line) { lines.emplace_back(line); };
  RECSYS_ASSERT_OK_AND_ASSIGN(std::string dir,
                              PublishModel(root, testing::MakePlantedModel(), options));
  RECSYS_ASSERT_OK_AND_ASSIGN(ModelData back, ReadModelData(dir));
  const auto& index = back.manifest.index();
  EXPECT_EQ(back.manifest.index_type(), "Flat");
  EXPECT_EQ(back.manifest.params().index_spec(), "auto");
  EXPECT_EQ(index.requested(), "auto");
  EXPECT_EQ(index.spec(), "Flat");
  EXPECT_EQ(index.ip().parameter(), "");
  EXPECT_EQ(index.ip().recall(), 1.0);
  EXPECT_EQ(index.cos().recall(), 1.0);
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_NE(lines[0].find("exact"), std::string::npos) << lines[0];
}

TEST(IndexChoiceTest, LargeCatalogGetsTunedIvfWithMeasuredRecall) {
  const std::string root = recsys::testing::MakeUniqueDir("index_ivf");
  const ModelData data = MakeClusteredModel(/*users=*/400, /*items=*/4000, /*centres=*/40);
  PublishOptions options;
  options.version = "1";
  options.flat_max_items = 1000;
  options.recall_queries = 200;
  std::vector<std::string> lines;
  options.log = [&](absl::string_view line) { lines.emplace_back(line); };
  RECSYS_ASSERT_OK_AND_ASSIGN(std::string dir, PublishModel(root, data, options));
  RECSYS_ASSERT_OK_AND_ASSIGN(ModelData back, ReadModelData(dir));
  const auto& index = back.manifest.index();
  EXPECT_EQ(index.spec(), "IVF64,Flat");
  EXPECT_EQ(back.manifest.index_type(), "IVF64,Flat");
  EXPECT_EQ(index.recall_k(), 20);
  EXPECT_EQ(index.recall_queries(), 200);
  EXPECT_EQ(index.target_recall(), 0.95);
  for (const auto* tuning : {&index.ip(), &index.cos()}) {
    EXPECT_EQ(tuning->parameter(), "nprobe");
    EXPECT_GE(tuning->value(), 1);
    EXPECT_LE(tuning->value(), 64);
    EXPECT_GE(tuning->recall(), 0.95);
  }
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_NE(lines[0].find("recall@20"), std::string::npos) << lines[0];

  // The served index carries the tuned nprobe, and reaches the recall on
  // users it was not tuned on (all 400 here, against 200 sampled).
  RECSYS_ASSERT_OK_AND_ASSIGN(auto bundle, ModelBundle::Load(dir));
  EXPECT_EQ(bundle->ip_index().kind(), IndexKind::kIvf);
  EXPECT_EQ(bundle->ip_index().default_search_parameter(), index.ip().value());
  EXPECT_EQ(bundle->cos_index().default_search_parameter(), index.cos().value());
  RECSYS_ASSERT_OK_AND_ASSIGN(auto exact, VectorIndex::Create(16, "Flat", Metric::kInnerProduct));
  RECSYS_ASSERT_OK(exact->Add(data.item_factors));
  int found = 0, wanted = 0;
  for (int u = 0; u < 400; ++u) {
    absl::Span<const float> q = bundle->user_vector(u);
    RECSYS_ASSERT_OK_AND_ASSIGN(auto truth, exact->Search(q, 20));
    RECSYS_ASSERT_OK_AND_ASSIGN(auto got, bundle->ip_index().Search(q, 20));
    std::set<int64_t> got_ids;
    for (const Neighbor& n : got) got_ids.insert(n.id);
    for (const Neighbor& n : truth) {
      ++wanted;
      found += got_ids.count(n.id);
    }
  }
  EXPECT_GE(found, wanted * 93 / 100);
}

TEST(IndexChoiceTest, HnswSpecTunesEfSearch) {
  const std::string root = recsys::testing::MakeUniqueDir("index_hnsw");
  PublishOptions options;
  options.index_spec = "HNSW16";
  options.recall_queries = 100;
  RECSYS_ASSERT_OK_AND_ASSIGN(
      std::string dir, PublishModel(root, MakeClusteredModel(100, 1500, 30), options));
  RECSYS_ASSERT_OK_AND_ASSIGN(ModelData back, ReadModelData(dir));
  const auto& index = back.manifest.index();
  EXPECT_EQ(index.reason(), "requested");
  EXPECT_EQ(index.ip().parameter(), "efSearch");
  EXPECT_GE(index.ip().value(), 16);
  EXPECT_GT(index.ip().recall(), 0);
  RECSYS_ASSERT_OK_AND_ASSIGN(auto bundle, ModelBundle::Load(dir));
  EXPECT_EQ(bundle->ip_index().kind(), IndexKind::kHnsw);
  EXPECT_EQ(bundle->ip_index().default_search_parameter(), index.ip().value());
}

TEST(IndexChoiceTest, BadRecallOptionsNameTheField) {
  const std::string root = recsys::testing::MakeUniqueDir("index_bad");
  PublishOptions options;
  options.recall_k = 0;
  auto st = PublishModel(root, testing::MakePlantedModel(), options).status();
  EXPECT_TRUE(absl::IsInvalidArgument(st)) << st;
  EXPECT_NE(st.message().find("recall_k"), absl::string_view::npos) << st;
  options = PublishOptions();
  options.target_recall = 1.5;
  st = PublishModel(root, testing::MakePlantedModel(), options).status();
  EXPECT_NE(st.message().find("target_recall"), absl::string_view::npos) << st;
  options = PublishOptions();
  options.index_spec = "NoSuchIndex";
  EXPECT_TRUE(absl::IsInvalidArgument(PublishModel(root, testing::MakePlantedModel(), options).status()));
  RECSYS_ASSERT_OK_AND_ASSIGN(auto versions, ListModelVersions(root));
  EXPECT_TRUE(versions.empty());
}

TEST(ModelFormatTest, ManifestHasAnXxh3ChecksumPerFile) {
  const std::string root = recsys::testing::MakeUniqueDir("model_format_checksums");
  PublishOptions options;
  options.version = "1";
  RECSYS_ASSERT_OK_AND_ASSIGN(std::string dir,
                              PublishModel(root, testing::MakePlantedModel(), options));
  RECSYS_ASSERT_OK_AND_ASSIGN(ModelData back, ReadModelData(dir));
  ASSERT_EQ(back.manifest.checksums_size(), back.manifest.files_size());
  for (const recsys::v1::FileChecksum& c : back.manifest.checksums()) {
    EXPECT_EQ(c.size(), back.manifest.files().at(c.name())) << c.name();
    EXPECT_EQ(c.size(), static_cast<int64_t>(fs::file_size(dir + "/" + c.name())));
    EXPECT_EQ(c.xxh3_64().size(), 16u) << c.name();
    EXPECT_EQ(c.xxh3_64().find_first_not_of("0123456789abcdef"), std::string::npos);
  }
}

// Overwrites bytes at `offset` of `path`, keeping its size.
void Overwrite(const std::string& path, int64_t offset, const std::string& bytes) {
  std::fstream f(path, std::ios::in | std::ios::out | std::ios::binary);
  f.seekp(offset);
  f.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

TEST(ModelFormatTest, SameSizeCorruptionIsDataLossNamingTheFile) {
  const std::string root = recsys::testing::MakeUniqueDir("model_format_corrupt");
  for (const char* file : {"items_ip.faiss", "items_cos.faiss", "item_vectors.f32",
                           "user_vectors.f32", "items.tsv", "history.bin"}) {
    PublishOptions options;
    options.version = "";
    RECSYS_ASSERT_OK_AND_ASSIGN(std::string dir,
                                PublishModel(root, testing::MakePlantedModel(), options));
    const std::string path = dir + "/" + file;
    const auto size = fs::file_size(path);
    // Finite garbage floats / 0xFF bytes in the middle, size unchanged.
    const float garbage[2] = {1234.5f, -987.25f};
    Overwrite(path, static_cast<int64_t>(size / 2),
              std::string(reinterpret_cast<const char*>(garbage), sizeof(garbage)));
    ASSERT_EQ(fs::file_size(path), size);
    absl::Status st = ReadModelData(dir).status();
    EXPECT_EQ(st.code(), absl::StatusCode::kDataLoss) << file << ": " << st;
    EXPECT_NE(st.message().find(absl::StrCat(file, ": checksum mismatch")), std::string::npos)
        << st;
    EXPECT_EQ(ModelBundle::Load(dir).status().code(), absl::StatusCode::kDataLoss) << file;
  }
}

// A Redis load reads the model without its vectors: those stay empty, the
// rest is read as in full, and every file is still verified.
TEST(ModelFormatTest, ReadWithoutVectorsKeepsTheRestAndStillVerifiesThem) {
  const std::string root = recsys::testing::MakeUniqueDir("model_format_parts");
  ModelData data = testing::MakePlantedModel();
  data.complements.resize(data.items.size());
  data.complements[3] = {{12, 0.75f}};
  data.segments_tsv = "user_id\tsegment\nua0\tcore\n";
  data.intel_tsv = "user_id\tintent\nua0\t0.5\n";
  PublishOptions options;
  options.version = "7";
  RECSYS_ASSERT_OK_AND_ASSIGN(std::string dir, PublishModel(root, data, options));
  RECSYS_ASSERT_OK_AND_ASSIGN(ModelData full, ReadModelData(dir));
  RECSYS_ASSERT_OK_AND_ASSIGN(ModelData lean,
                              ReadModelData(dir, {.vectors = false, .extras = false}));
  EXPECT_TRUE(lean.user_factors.empty());
  EXPECT_TRUE(lean.item_factors.empty());
  EXPECT_TRUE(lean.complements.empty());
  EXPECT_TRUE(lean.intel_tsv.empty());
  EXPECT_FALSE(full.user_factors.empty());
  EXPECT_FALSE(full.complements.empty());
  EXPECT_EQ(full.intel_tsv, data.intel_tsv);
  EXPECT_EQ(lean.dim, full.dim);
  EXPECT_EQ(lean.user_ids, full.user_ids);
  ASSERT_EQ(lean.items.size(), full.items.size());
  EXPECT_EQ(lean.items[3].title, full.items[3].title);
  EXPECT_EQ(lean.history_indptr, full.history_indptr);
  ASSERT_EQ(lean.history.size(), full.history.size());
  EXPECT_EQ(lean.history.back().last_unix, full.history.back().last_unix);
  EXPECT_EQ(lean.segments_tsv, data.segments_tsv);

  // A vector file broken on disk fails the lean read too.
  const std::string path = dir + "/user_vectors.f32";
  const float garbage[2] = {1234.5f, -987.25f};
  Overwrite(path, static_cast<int64_t>(fs::file_size(path) / 2),
            std::string(reinterpret_cast<const char*>(garbage), sizeof(garbage)));
  const absl::Status st = ReadModelData(dir, {.vectors = false}).status();
  EXPECT_EQ(st.code(), absl::StatusCode::kDataLoss) << st;
  EXPECT_NE(st.message().find("user_vectors.f32: checksum mismatch"), std::string::npos)
      << st;
}

// Found by fuzz/model_dir_fuzzer: an entry count in history.bin's header so
// large that the expected file size wrapped around to the real one made the
// reader resize its vector to 2^60 entries (std::length_error, the process
// aborted). The manifest carries no checksums, as an older one would, so the
// file's own checks are all that stands in the way.
// Rewrites the manifest of the model directory `dir` without checksums (as
// PublishModel wrote it before them), so that an edited file reaches the
// reader's own checks.
void ClearChecksums(const std::string& dir) {
  std::ifstream in(dir + "/manifest.json");
  const std::string json((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  recsys::v1::ModelManifest manifest;
  ASSERT_TRUE(google::protobuf::util::JsonStringToMessage(json, &manifest).ok());
  manifest.clear_checksums();
  std::string edited;
  ASSERT_TRUE(google::protobuf::util::MessageToJsonString(manifest, &edited).ok());
  std::ofstream(dir + "/manifest.json", std::ios::trunc) << edited;
}

TEST(ModelFormatTest, HistoryEntryCountThatOverflowsTheSizeCheckIsDataLoss) {
  const std::string root = recsys::testing::MakeUniqueDir("model_format_history_overflow");
  PublishOptions options;
  options.version = "1";
  RECSYS_ASSERT_OK_AND_ASSIGN(std::string dir,
                              PublishModel(root, testing::MakePlantedModel(), options));
  ClearChecksums(dir);
  // Header: "RSH1", users (u64), entries (u64). 2^60 more entries times 16
  // bytes each adds exactly 2^64 to the expected size.
  const std::string path = dir + "/history.bin";
  std::ifstream hist(path, std::ios::binary);
  char header[20];
  ASSERT_TRUE(hist.read(header, sizeof(header)));
  hist.close();
  uint64_t entries;
  std::memcpy(&entries, header + 12, sizeof(entries));
  ASSERT_EQ(entries, 20u);  // MakePlantedModel: 10 users x 2 purchases
  entries += uint64_t{1} << 60;
  Overwrite(path, 12, std::string(reinterpret_cast<const char*>(&entries), sizeof(entries)));

  absl::Status st = ReadModelData(dir).status();
  EXPECT_EQ(st.code(), absl::StatusCode::kDataLoss) << st;
  EXPECT_NE(st.message().find("history.bin: malformed"), std::string::npos) << st;
  EXPECT_EQ(ModelBundle::Load(dir).status().code(), absl::StatusCode::kDataLoss);
}

// The ranker's item neighbours round-trip through neighbors.bin; a read
// without extras (a Redis load) leaves them out; inconsistent ones are
// refused on publish, naming the field; a file whose entry count disagrees
// with its size is DataLoss.
TEST(ModelFormatTest, RankerNeighboursRoundTripAndAreChecked) {
  const std::string root = recsys::testing::MakeUniqueDir("model_format_neighbors");
  ModelData data = testing::MakePlantedModel();
  ASSERT_EQ(data.items.size(), 20u);
  // Item 3: rows 12 (0.75) and 15 (0.5); item 4: row 3 (0.25); others none.
  ItemNeighbors& n = data.ranker_neighbors;
  n.indptr.assign(21, 3);
  for (int i = 0; i <= 3; ++i) n.indptr[i] = 0;
  n.indptr[4] = 2;
  n.items = {12, 15, 3};
  n.sims = {0.75f, 0.5f, 0.25f};
  PublishOptions options;
  options.version = "1";
  RECSYS_ASSERT_OK_AND_ASSIGN(std::string dir, PublishModel(root, data, options));
  RECSYS_ASSERT_OK_AND_ASSIGN(ModelData back, ReadModelData(dir));
  EXPECT_TRUE(back.manifest.files().contains("neighbors.bin"));
  EXPECT_EQ(back.ranker_neighbors.indptr, n.indptr);
  EXPECT_EQ(back.ranker_neighbors.items, n.items);
  EXPECT_EQ(back.ranker_neighbors.sims, n.sims);
  ReadModelOptions lean;
  lean.extras = false;
  RECSYS_ASSERT_OK_AND_ASSIGN(ModelData without, ReadModelData(dir, lean));
  EXPECT_TRUE(without.ranker_neighbors.indptr.empty());
  // A model without neighbours has no file.
  options.version = "2";
  RECSYS_ASSERT_OK_AND_ASSIGN(std::string plain,
                              PublishModel(root, testing::MakePlantedModel(), options));
  EXPECT_FALSE(fs::exists(plain + "/neighbors.bin"));

  options.version = "3";
  for (int broken = 0; broken < 4; ++broken) {
    ModelData bad = data;
    if (broken == 0) bad.ranker_neighbors.indptr.pop_back();
    if (broken == 1) bad.ranker_neighbors.items[1] = 20;
    if (broken == 2) bad.ranker_neighbors.sims[2] = std::nanf("");
    if (broken == 3) bad.ranker_neighbors.indptr[5] = 1;  // below item 4's start, 2
    absl::Status st = PublishModel(root, bad, options).status();
    EXPECT_EQ(st.code(), absl::StatusCode::kInvalidArgument) << broken;
    EXPECT_NE(st.message().find("ranker_neighbors"), std::string::npos) << st;
  }
  EXPECT_FALSE(fs::exists(root + "/3"));

  // An entry count that disagrees with the file's size.
  ClearChecksums(dir);
  // Header: "RSN1", items (u64), entries (u64).
  const uint64_t entries = 4;
  Overwrite(dir + "/neighbors.bin", 12,
            std::string(reinterpret_cast<const char*>(&entries), sizeof(entries)));
  absl::Status st = ReadModelData(dir).status();
  EXPECT_EQ(st.code(), absl::StatusCode::kDataLoss) << st;
  EXPECT_NE(st.message().find("neighbors.bin: malformed"), std::string::npos) << st;
  EXPECT_EQ(ModelBundle::Load(dir).status().code(), absl::StatusCode::kDataLoss);
}

TEST(ModelFormatTest, ManifestWithoutChecksumsStillLoads) {
  const std::string root = recsys::testing::MakeUniqueDir("model_format_old_manifest");
  PublishOptions options;
  options.version = "1";
  RECSYS_ASSERT_OK_AND_ASSIGN(std::string dir,
                              PublishModel(root, testing::MakePlantedModel(), options));
  // Rewrite the manifest as an older PublishModel wrote it: no checksums.
  std::ifstream in(dir + "/manifest.json");
  const std::string json((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  recsys::v1::ModelManifest manifest;
  ASSERT_TRUE(google::protobuf::util::JsonStringToMessage(json, &manifest).ok());
  ASSERT_GT(manifest.checksums_size(), 0);
  manifest.clear_checksums();
  std::string old_json;
  ASSERT_TRUE(google::protobuf::util::MessageToJsonString(manifest, &old_json).ok());
  ASSERT_EQ(old_json.find("checksums"), std::string::npos);
  std::ofstream(dir + "/manifest.json", std::ios::trunc) << old_json;

  RECSYS_ASSERT_OK_AND_ASSIGN(ModelData back, ReadModelData(dir));
  EXPECT_EQ(back.manifest.checksums_size(), 0);
  EXPECT_EQ(back.user_ids.size(), 10u);
  RECSYS_ASSERT_OK_AND_ASSIGN(auto bundle, ModelBundle::Load(dir));
  EXPECT_EQ(bundle->num_items(), 20);
  // Sizes are still checked.
  std::ofstream(dir + "/items.tsv", std::ios::app) << "x\n";
  EXPECT_EQ(ReadModelData(dir).status().code(), absl::StatusCode::kDataLoss);
}

TEST(ModelFormatTest, ChecksumForAFileMissingFromTheListIsDataLoss) {
  const std::string root = recsys::testing::MakeUniqueDir("model_format_extra_checksum");
  PublishOptions options;
  options.version = "1";
  RECSYS_ASSERT_OK_AND_ASSIGN(std::string dir,
                              PublishModel(root, testing::MakePlantedModel(), options));
  std::ifstream in(dir + "/manifest.json");
  const std::string json((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  recsys::v1::ModelManifest manifest;
  ASSERT_TRUE(google::protobuf::util::JsonStringToMessage(json, &manifest).ok());
  // One file's checksum dropped: the manifest is incomplete.
  manifest.mutable_checksums()->RemoveLast();
  std::string edited;
  ASSERT_TRUE(google::protobuf::util::MessageToJsonString(manifest, &edited).ok());
  std::ofstream(dir + "/manifest.json", std::ios::trunc) << edited;
  absl::Status st = ReadModelData(dir).status();
  EXPECT_EQ(st.code(), absl::StatusCode::kDataLoss) << st;
  EXPECT_NE(st.message().find("no checksum for"), std::string::npos) << st;
}

}  // namespace
}  // namespace recsys::model
