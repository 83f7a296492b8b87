#include "training/customers.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "intelligence/intel.h"
#include "tests/testing/status_matchers.h"
#include "tests/testing/test_files.h"
#include "training/datagen.h"
#include "training/trainer.h"

namespace recsys::training {
namespace {

using recsys::testing::MakeTestDir;
using recsys::testing::WriteFile;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

TEST(CustomerFileTest, ReadsBirthdaysAndCountsEveryOtherRow) {
  const std::string dir = MakeTestDir();
  const std::string path = WriteFile(dir, "customers.csv",
                                     "Email,Customer ID,Date_of_Birth\n"
                                     "a@x,u1,1985-04-12\n"
                                     "b@x,u2,02-29\n"
                                     "c@x,u3,\n"
                                     "d@x,u4,1985-02-30\n"
                                     "e@x,,04-01\n"
                                     "f@x,u1,05-05\n"
                                     "g@x\n"
                                     "h@x,\"u5\",12-31\n");
  RECSYS_ASSERT_OK_AND_ASSIGN(CustomerFile f, ReadCustomerFile(path));
  EXPECT_EQ(f.rows_read, 8);
  EXPECT_EQ(f.birthdays.size(), 3u);
  EXPECT_EQ(f.birthdays.at("u1"), "04-12");  // the first row wins
  EXPECT_EQ(f.birthdays.at("u2"), "02-29");
  EXPECT_EQ(f.birthdays.at("u5"), "12-31");
  EXPECT_EQ(f.unknown, 1);
  EXPECT_EQ(f.malformed, 4);
  ASSERT_EQ(f.errors.size(), 4u);
  EXPECT_EQ(f.errors[0], "line 5: birthday: not MM-DD or YYYY-MM-DD: '1985-02-30'");
  EXPECT_THAT(f.errors[1], HasSubstr("line 6: user_id"));
  EXPECT_EQ(f.errors[2], "line 7: user_id: 'u1' repeated (the first row wins)");
  EXPECT_EQ(f.errors[3], "line 8: 1 columns, expected at least 3");
  RECSYS_ASSERT_OK_AND_ASSIGN(CustomerFile capped, ReadCustomerFile(path, 1));
  EXPECT_EQ(capped.malformed, 4);
  EXPECT_EQ(capped.errors.size(), 1u);
}

TEST(CustomerFileTest, HeaderAndFileErrors) {
  const std::string dir = MakeTestDir();
  EXPECT_EQ(ReadCustomerFile(dir + "/missing.csv").status().code(), absl::StatusCode::kNotFound);
  auto no_birthday = ReadCustomerFile(WriteFile(dir, "a.csv", "user_id,email\nu1,x\n"));
  EXPECT_EQ(no_birthday.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(no_birthday.status().message()), HasSubstr("no birthday column"));
  auto no_user = ReadCustomerFile(WriteFile(dir, "b.csv", "id,birthday\nu1,04-01\n"));
  EXPECT_THAT(std::string(no_user.status().message()), HasSubstr("no user column"));
  EXPECT_EQ(ReadCustomerFile(WriteFile(dir, "c.csv", "")).status().code(),
            absl::StatusCode::kInvalidArgument);
}

// recsys_train --customers: the birthdays reach intel.tsv; a missing file
// stops the run before anything is published.
TEST(CustomerFileTest, TrainerJoinsBirthdaysToTheIntelligenceRecords) {
  const std::string dir = MakeTestDir();
  ShopOptions shop;
  shop.users = 200;
  shop.items = 60;
  shop.seed = 4;
  const std::string input = dir + "/shop.csv.gz";
  RECSYS_ASSERT_OK(WriteShopCsv(shop, input));
  TrainerOptions options;
  options.input = input;
  options.model_root = dir + "/models";
  options.als.factors = 8;
  options.als.iterations = 2;
  options.als.threads = 2;
  options.customers_path = dir + "/missing.csv";
  EXPECT_EQ(Train(options, nullptr).status().code(), absl::StatusCode::kNotFound);
  EXPECT_FALSE(std::filesystem::exists(options.model_root));

  // Two buyers of the shop, and a customer without purchases.
  options.customers_path = WriteFile(dir, "customers.csv",
                                     "user_id,birthday\n"
                                     "u000001,1990-07-04\n"
                                     "u000002,12-24\n"
                                     "never-bought,01-01\n");
  RECSYS_ASSERT_OK_AND_ASSIGN(TrainResult result, Train(options, nullptr));
  EXPECT_EQ(result.customer_rows, 3);
  EXPECT_EQ(result.customer_malformed, 0);
  std::ifstream tsv(result.model_dir + "/intel.tsv");
  std::stringstream text;
  text << tsv.rdbuf();
  RECSYS_ASSERT_OK_AND_ASSIGN(std::vector<intelligence::UserIntel> records,
                              intelligence::ParseIntelTsv(text.str()));
  std::vector<std::string> with;
  for (const auto& r : records) {
    if (!r.birthday.empty()) with.push_back(r.user_id + "=" + r.birthday);
  }
  std::sort(with.begin(), with.end());
  EXPECT_EQ(result.birthdays_joined, static_cast<int64_t>(with.size()));
  EXPECT_THAT(with, ElementsAre("u000001=07-04", "u000002=12-24"));
}

}  // namespace
}  // namespace recsys::training
