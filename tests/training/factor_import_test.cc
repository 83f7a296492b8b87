// Vectors trained elsewhere: Spark's factor layouts read (JSON lines, CSV,
// output directories), malformed lines counted with their line numbers, id
// maps, and a model published from imported vectors equal to the exported
// ones, with a user and an item missing from the export solved from their
// history.
#include "training/factor_import.h"

#include <cmath>
#include <filesystem>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "model/model_format.h"
#include "tests/testing/test_files.h"
#include "training/datagen.h"
#include "training/trainer.h"

namespace recsys::training {
namespace {

using recsys::testing::MakeTestDir;
using recsys::testing::WriteFile;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

TEST(FactorImportTest, ReadsSparkJsonOutputDirectories) {
  const std::string dir = MakeTestDir() + "/userFactors";
  std::filesystem::create_directories(dir);
  WriteFile(dir, "part-00000-1b2c.json",
            "{\"id\":1,\"features\":[0.5,-1.0,2.0]}\n{\"id\":7,\"features\":[1,2,3]}\n");
  WriteFile(dir, "part-00001-1b2c.json", "{\"id\":\"u9\",\"features\":[0.0,0.25,-0.5]}\n");
  WriteFile(dir, "_SUCCESS", "");
  WriteFile(dir, ".part-00000-1b2c.json.crc", "garbage");
  FactorReadStats stats;
  auto table = ReadSparkFactors(dir, &stats);
  ASSERT_TRUE(table.ok()) << table.status();
  EXPECT_EQ(table->dim, 3);
  EXPECT_THAT(table->ids, ElementsAre("1", "7", "u9"));
  EXPECT_THAT(table->values, ElementsAre(0.5f, -1.f, 2.f, 1.f, 2.f, 3.f, 0.f, 0.25f, -0.5f));
  EXPECT_EQ(stats.rows_used, 3);
  EXPECT_EQ(stats.malformed, 0);
}

TEST(FactorImportTest, ReadsCsvLayouts) {
  const std::string dir = MakeTestDir();
  const std::string path = WriteFile(dir, "items.csv",
                                     "id,features\n"
                                     "10,\"[0.5,1.5]\"\n"
                                     "11,0.25;-0.75\n"
                                     "12,[1, 2]\n");
  FactorReadStats stats;
  auto table = ReadSparkFactors(path, &stats);
  ASSERT_TRUE(table.ok()) << table.status();
  EXPECT_THAT(table->ids, ElementsAre("10", "11", "12"));
  EXPECT_THAT(table->values, ElementsAre(0.5f, 1.5f, 0.25f, -0.75f, 1.f, 2.f));
  EXPECT_EQ(stats.rows_read, 3);  // the header is not a row
}

TEST(FactorImportTest, MalformedLinesAreCountedWithTheirLineNumbers) {
  const std::string dir = MakeTestDir();
  const std::string path = WriteFile(dir, "part-00000.json",
                                     "{\"id\":1,\"features\":[1,2]}\n"
                                     "{\"id\":2,\"features\":[1,2\n"           // bad JSON
                                     "{\"id\":3,\"features\":[1,2,3]}\n"       // dimension
                                     "{\"id\":4,\"features\":[1,\"x\"]}\n"     // not a number
                                     "{\"features\":[1,2]}\n"                  // no id
                                     "{\"id\":1,\"features\":[3,4]}\n"         // repeated
                                     "{\"id\":5,\"features\":[5,6]}\n");
  FactorReadStats stats;
  auto table = ReadSparkFactors(path, &stats);
  ASSERT_TRUE(table.ok()) << table.status();
  EXPECT_THAT(table->ids, ElementsAre("1", "5"));
  EXPECT_EQ(stats.rows_read, 7);
  EXPECT_EQ(stats.malformed, 5);
  EXPECT_THAT(stats.errors,
              ElementsAre(HasSubstr("line 2: not a JSON object"),
                          HasSubstr("line 3: features: 3 values, the first row had 2"),
                          HasSubstr("line 4: features[1]: not a finite number"),
                          HasSubstr("line 5: id: missing"),
                          HasSubstr("line 6: id 1: repeated (line 1 is kept)")));
  // Nothing usable: InvalidArgument naming the path.
  const std::string bad = WriteFile(dir, "bad.csv", "1,abc\n2,\n");
  FactorReadStats bad_stats;
  auto refused = ReadSparkFactors(bad, &bad_stats);
  EXPECT_TRUE(absl::IsInvalidArgument(refused.status()));
  EXPECT_THAT(std::string(refused.status().message()), HasSubstr(bad));
  EXPECT_TRUE(absl::IsNotFound(ReadSparkFactors(dir + "/missing", &bad_stats).status()));
}

TEST(FactorImportTest, IdMapRenamesAndDropsUnmappedRows) {
  const std::string dir = MakeTestDir();
  FactorTable table;
  table.dim = 1;
  table.ids = {"0", "1", "2"};
  table.values = {10, 11, 12};
  const std::string map = WriteFile(dir, "map.csv", "index,customer\n0,alice\n2,carol\n");
  int64_t unmapped = 0;
  ASSERT_TRUE(ApplyIdMap(map, &table, &unmapped).ok());
  EXPECT_THAT(table.ids, ElementsAre("alice", "carol"));
  EXPECT_THAT(table.values, ElementsAre(10.f, 12.f));
  EXPECT_EQ(unmapped, 1);
  const std::string repeated = WriteFile(dir, "rep.csv", "0,a\n0,b\n");
  absl::Status st = ApplyIdMap(repeated, &table, &unmapped);
  EXPECT_TRUE(absl::IsInvalidArgument(st));
  EXPECT_THAT(std::string(st.message()), HasSubstr("line 2"));
}

double Cosine(const float* a, const float* b, int dim) {
  double ab = 0, aa = 0, bb = 0;
  for (int i = 0; i < dim; ++i) {
    ab += a[i] * b[i];
    aa += a[i] * a[i];
    bb += b[i] * b[i];
  }
  return ab / std::sqrt(aa * bb);
}

// Exports a model's vectors as Spark's JSON lines, leaving out one user and
// one item.
std::string ExportJson(const std::vector<std::string>& ids, const std::vector<float>& values,
                       int dim, const std::string& skip) {
  std::string out;
  for (size_t r = 0; r < ids.size(); ++r) {
    if (ids[r] == skip) continue;
    std::vector<std::string> f;
    for (int k = 0; k < dim; ++k) f.push_back(absl::StrFormat("%.9g", values[r * dim + k]));
    absl::StrAppend(&out, "{\"id\":\"", ids[r], "\",\"features\":[", absl::StrJoin(f, ","),
                    "]}\n");
  }
  return out;
}

TEST(FactorImportTest, PublishesTheImportedVectorsAndSolvesMissingRows) {
  const std::string dir = MakeTestDir();
  ShopOptions shop;
  shop.users = 200;
  shop.items = 60;
  shop.seed = 11;
  const std::string input = dir + "/shop.csv";
  ASSERT_TRUE(WriteShopCsv(shop, input).ok());
  TrainerOptions options;
  options.input = input;
  options.model_root = dir + "/models";
  options.als.factors = 8;
  options.als.iterations = 12;
  options.als.solver = AlsSolver::kCholesky;
  options.als.threads = 2;
  options.ranker_validation_days = 0;
  options.version = "1";
  auto trained = Train(options, nullptr);
  ASSERT_TRUE(trained.ok()) << trained.status();
  auto original = model::ReadModelData(trained->model_dir);
  ASSERT_TRUE(original.ok()) << original.status();
  const int dim = original->dim;
  std::vector<std::string> item_ids;
  for (const model::ItemMeta& m : original->items) item_ids.push_back(m.item_id);
  const std::string lost_user = original->user_ids[5];
  const std::string lost_item = item_ids[3];
  std::filesystem::create_directories(dir + "/uf");
  std::filesystem::create_directories(dir + "/if");
  WriteFile(dir + "/uf", "part-00000.json",
            ExportJson(original->user_ids, original->user_factors, dim, lost_user));
  WriteFile(dir + "/if", "part-00000.json",
            ExportJson(item_ids, original->item_factors, dim, lost_item));

  FactorReadStats read;
  auto users = ReadSparkFactors(dir + "/uf", &read);
  auto items = ReadSparkFactors(dir + "/if", &read);
  ASSERT_TRUE(users.ok() && items.ok());
  ImportStats stats;
  options.version = "2";
  options.factors = [&](const InteractionData& data, const CsrMatrix& confidence) {
    return ImportFactors(*users, *items, data, confidence, options.als.regularization, &stats);
  };
  auto imported = Train(options, nullptr);
  ASSERT_TRUE(imported.ok()) << imported.status();
  EXPECT_EQ(stats.users_solved, 1);
  EXPECT_EQ(stats.items_solved, 1);
  EXPECT_EQ(stats.users_matched, original->user_ids.size() - 1);
  auto served = model::ReadModelData(imported->model_dir);
  ASSERT_TRUE(served.ok()) << served.status();
  ASSERT_EQ(served->user_ids, original->user_ids);
  ASSERT_EQ(served->items.size(), original->items.size());
  for (size_t u = 0; u < served->user_ids.size(); ++u) {
    const float* a = &served->user_factors[u * dim];
    const float* b = &original->user_factors[u * dim];
    if (served->user_ids[u] == lost_user) {
      // One least-squares step from the exported items: close to the
      // vector the trainer had converged to.
      EXPECT_GT(Cosine(a, b, dim), 0.95) << lost_user;
    } else {
      EXPECT_EQ(std::vector<float>(a, a + dim), std::vector<float>(b, b + dim));
    }
  }
  for (size_t i = 0; i < item_ids.size(); ++i) {
    const float* a = &served->item_factors[i * dim];
    const float* b = &original->item_factors[i * dim];
    if (item_ids[i] == lost_item) {
      EXPECT_GT(Cosine(a, b, dim), 0.95) << lost_item;
    } else {
      EXPECT_EQ(std::vector<float>(a, a + dim), std::vector<float>(b, b + dim));
    }
  }
  // Vectors of another dimension than --factors are refused before publish.
  options.version = "3";
  options.als.factors = 4;
  auto refused = Train(options, nullptr);
  EXPECT_TRUE(absl::IsInvalidArgument(refused.status())) << refused.status();
}

}  // namespace
}  // namespace recsys::training
