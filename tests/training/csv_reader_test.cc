#include "training/csv_reader.h"

#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testing/test_files.h"

namespace recsys::training {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using recsys::testing::MakeTestDir;
using ::testing::Pair;
using ::testing::UnorderedElementsAre;
using recsys::testing::WriteFile;
using recsys::testing::WriteGzFile;

struct Rec {
  int64_t line;
  bool too_long;
  std::vector<std::string> fields;
};

std::vector<Rec> ReadAll(const std::string& path,
                         const CsvReaderOptions& options = {}) {
  std::vector<Rec> out;
  auto reader = CsvReader::Open(path, options);
  EXPECT_TRUE(reader.ok()) << reader.status();
  if (!reader.ok()) return out;
  CsvRecord record;
  while (true) {
    absl::StatusOr<bool> more = (*reader)->Next(&record);
    EXPECT_TRUE(more.ok()) << more.status();
    if (!more.ok() || !*more) break;
    Rec r{record.line(), record.too_long(), {}};
    for (int i = 0; i < record.size(); ++i) {
      r.fields.emplace_back(record.field(i));
    }
    out.push_back(std::move(r));
  }
  return out;
}

std::vector<PurchaseRow> ReadRows(const std::string& path,
                                  const ReadOptions& options, ReadStats* stats,
                                  absl::Status* status = nullptr) {
  std::vector<PurchaseRow> rows;
  absl::Status s = ReadPurchases(
      path, options, [&](const PurchaseRow& row) { rows.push_back(row); },
      stats);
  if (status != nullptr) {
    *status = s;
  } else {
    EXPECT_TRUE(s.ok()) << s;
  }
  return rows;
}

TEST(CsvReaderTest, QuotingAndLineNumbers) {
  const std::string dir = MakeTestDir();
  const std::string path = WriteFile(dir, "a.csv",
                                     "\xEF\xBB\xBF"
                                     "a,b,c\r\n"
                                     "1,\"x, y\",\"say \"\"hi\"\"\"\n"
                                     "\n"
                                     "2,\"two\nlines\",z\n"
                                     "3,,\"\"\n"
                                     "4,lit\"eral,\"q\"tail\n"
                                     "5,last,no-newline");
  const std::vector<Rec> recs = ReadAll(path);
  ASSERT_EQ(recs.size(), 6u);
  EXPECT_EQ(recs[0].line, 1);
  EXPECT_THAT(recs[0].fields, ElementsAre("a", "b", "c"));
  EXPECT_EQ(recs[1].line, 2);
  EXPECT_THAT(recs[1].fields, ElementsAre("1", "x, y", "say \"hi\""));
  EXPECT_EQ(recs[2].line, 4);  // line 3 is blank
  EXPECT_THAT(recs[2].fields, ElementsAre("2", "two\nlines", "z"));
  EXPECT_EQ(recs[3].line, 6);
  EXPECT_THAT(recs[3].fields, ElementsAre("3", "", ""));
  EXPECT_EQ(recs[4].line, 7);
  EXPECT_THAT(recs[4].fields, ElementsAre("4", "lit\"eral", "qtail"));
  EXPECT_EQ(recs[5].line, 8);
  EXPECT_THAT(recs[5].fields, ElementsAre("5", "last", "no-newline"));
}

TEST(CsvReaderTest, TinyBufferGivesSameRecords) {
  const std::string dir = MakeTestDir();
  std::string content = "id,text\n";
  for (int i = 0; i < 50; ++i) {
    content += std::to_string(i) + ",\"field, with \"\"quotes\"\"\nand " +
               std::string(i, 'x') + "\"\r\n";
  }
  const std::string path = WriteFile(dir, "b.csv", content);
  CsvReaderOptions tiny;
  tiny.buffer_bytes = 16;
  const std::vector<Rec> big = ReadAll(path);
  const std::vector<Rec> small = ReadAll(path, tiny);
  ASSERT_EQ(big.size(), 51u);
  ASSERT_EQ(small.size(), big.size());
  for (size_t i = 0; i < big.size(); ++i) {
    EXPECT_EQ(small[i].fields, big[i].fields) << i;
    EXPECT_EQ(small[i].line, big[i].line) << i;
  }
  EXPECT_EQ(big[50].line, 100);
  EXPECT_EQ(big[50].fields[1],
            "field, with \"quotes\"\nand " + std::string(49, 'x'));
}

TEST(CsvReaderTest, TooLongRecordResyncsAtNextLine) {
  const std::string dir = MakeTestDir();
  const std::string path =
      WriteFile(dir, "c.csv",
                "a,b\n" + std::string(100, 'x') + ",y\nshort,ok\n\"" +
                    std::string(100, 'q') + "\nstill quoted\",z\nlast,row\n");
  CsvReaderOptions options;
  options.max_record_bytes = 50;
  options.buffer_bytes = 16;
  const std::vector<Rec> recs = ReadAll(path, options);
  ASSERT_EQ(recs.size(), 6u);
  EXPECT_FALSE(recs[0].too_long);
  EXPECT_TRUE(recs[1].too_long);
  EXPECT_EQ(recs[1].line, 2);
  EXPECT_TRUE(recs[1].fields.empty());
  EXPECT_THAT(recs[2].fields, ElementsAre("short", "ok"));
  EXPECT_EQ(recs[2].line, 3);
  // The quoted field overflows on line 4; reading resumes at line 5, whose
  // remainder is parsed as a (garbage) record of its own.
  EXPECT_TRUE(recs[3].too_long);
  EXPECT_EQ(recs[3].line, 4);
  EXPECT_EQ(recs[4].line, 5);
  EXPECT_FALSE(recs[4].too_long);
  EXPECT_THAT(recs[5].fields, ElementsAre("last", "row"));
  EXPECT_EQ(recs[5].line, 6);
}

TEST(CsvReaderTest, MissingFileIsNotFound) {
  EXPECT_EQ(CsvReader::Open("/nonexistent/dir/x.csv").status().code(),
            absl::StatusCode::kNotFound);
}

TEST(CsvReaderTest, TruncatedGzipIsDataLoss) {
  const std::string dir = MakeTestDir();
  std::string content = "a,b\n";
  for (int i = 0; i < 20000; ++i) content += std::to_string(i * 7919) + ",x\n";
  const std::string gz = WriteGzFile(dir, "t.csv.gz", content);
  std::string bytes = recsys::testing::ReadFileBytes(gz);
  const std::string cut =
      WriteFile(dir, "cut.csv.gz", bytes.substr(0, bytes.size() / 2));
  auto reader = CsvReader::Open(cut);
  ASSERT_TRUE(reader.ok());
  CsvRecord record;
  absl::Status status;
  while (true) {
    absl::StatusOr<bool> more = (*reader)->Next(&record);
    if (!more.ok()) {
      status = more.status();
      break;
    }
    if (!*more) break;
  }
  EXPECT_EQ(status.code(), absl::StatusCode::kDataLoss) << status;
}

TEST(ParseTimestampTest, Forms) {
  EXPECT_EQ(ParseTimestamp("1700000000"), 1700000000);
  EXPECT_EQ(ParseTimestamp(" 0 "), 0);
  EXPECT_EQ(ParseTimestamp("-86400"), -86400);
  EXPECT_EQ(ParseTimestamp("2010-12-01 08:26:00"), 1291191960);
  EXPECT_EQ(ParseTimestamp("2010-12-01T08:26:00Z"), 1291191960);
  EXPECT_EQ(ParseTimestamp("2010-12-01T08:26:00"), 1291191960);
  EXPECT_EQ(ParseTimestamp("2010-12-01 08:26"), 1291191960);
  EXPECT_EQ(ParseTimestamp("2010-12-01 08:26:00.250"), 1291191960);
  EXPECT_EQ(ParseTimestamp("2010-12-01"), 1291161600);
  EXPECT_EQ(ParseTimestamp("2024-02-29 00:00:00"), 1709164800);
  EXPECT_EQ(ParseTimestamp("1970-01-01 00:00:00"), 0);
  EXPECT_EQ(ParseTimestamp(""), std::nullopt);
  EXPECT_EQ(ParseTimestamp("2023-02-29 00:00:00"), std::nullopt);
  EXPECT_EQ(ParseTimestamp("2010-13-01 00:00:00"), std::nullopt);
  EXPECT_EQ(ParseTimestamp("2010-12-01 24:00:00"), std::nullopt);
  EXPECT_EQ(ParseTimestamp("12/1/10 8:26"), std::nullopt);
  EXPECT_EQ(ParseTimestamp("2010-12-01x08:26:00"), std::nullopt);
  EXPECT_EQ(ParseTimestamp("abc"), std::nullopt);
  EXPECT_EQ(ParseTimestamp("99999999999999999999999"), std::nullopt);
}

TEST(ReadPurchasesTest, CanonicalUnixAndIsoTimestamps) {
  const std::string dir = MakeTestDir();
  const std::string path =
      WriteFile(dir, "p.csv",
                "user_id,item_id,timestamp,quantity,price,category\n"
                "u1,i1,1700000000,2,3.5,grocery\n"
                "u1,i2,2023-11-14 22:13:20,,10,\"books, used\"\n"
                "u2,i1,2023-11-14T22:13:21Z,1,3.25,grocery\n");
  ReadStats stats;
  std::vector<PurchaseRow> rows = ReadRows(path, {}, &stats);
  EXPECT_EQ(stats.format, PurchaseFormat::kCanonical);
  EXPECT_EQ(stats.rows_read, 3);
  EXPECT_EQ(stats.rows_used, 3);
  EXPECT_TRUE(stats.skipped.empty());
  EXPECT_TRUE(stats.errors.empty());
  ASSERT_EQ(rows.size(), 3u);
  EXPECT_EQ(rows[0].user_id, "u1");
  EXPECT_EQ(rows[0].item_id, "i1");
  EXPECT_EQ(rows[0].timestamp_unix, 1700000000);
  EXPECT_EQ(rows[0].quantity, 2);
  EXPECT_EQ(rows[0].price, 3.5);
  EXPECT_EQ(rows[0].category, "grocery");
  EXPECT_EQ(rows[1].timestamp_unix, 1700000000);
  EXPECT_EQ(rows[1].quantity, 1);  // empty -> 1
  EXPECT_EQ(rows[1].category, "books, used");
  EXPECT_EQ(rows[2].timestamp_unix, 1700000001);
  EXPECT_EQ(stats.first_unix, 1700000000);
  EXPECT_EQ(stats.last_unix, 1700000001);
}

TEST(ReadPurchasesTest, CanonicalColumnsByNameWithTitle) {
  const std::string dir = MakeTestDir();
  const std::string path = WriteFile(dir, "p.csv",
                                     "Timestamp,Title,Item_ID,User_ID\n"
                                     "5,\"Mug, \"\"large\"\"\",i9,u3\n");
  ReadStats stats;
  std::vector<PurchaseRow> rows = ReadRows(path, {}, &stats);
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(rows[0].user_id, "u3");
  EXPECT_EQ(rows[0].item_id, "i9");
  EXPECT_EQ(rows[0].timestamp_unix, 5);
  EXPECT_EQ(rows[0].title, "Mug, \"large\"");
  EXPECT_EQ(rows[0].quantity, 1);
  EXPECT_EQ(rows[0].price, 0);
}

TEST(ReadPurchasesTest, MalformedRowsCountedWithLineNumbers) {
  const std::string dir = MakeTestDir();
  const std::string path =
      WriteFile(dir, "bad.csv",
                "user_id,item_id,timestamp,quantity,price\n"  // 1
                "u1,i1,100,1,1.0\n"                           // 2 ok
                "u1,i1,100,abc,1.0\n"                         // 3 bad quantity
                "u1,i1,yesterday,1,1.0\n"                     // 4 bad timestamp
                "u1,i1,100,1\n"                 // 5 wrong column count
                ",i1,100,1,1.0\n"               // 6 empty user
                "u1,,100,1,1.0\n"               // 7 empty item
                "u1,i1,100,0,1.0\n"             // 8 non-positive qty
                "u1,i1,100,1,$3\n"              // 9 bad price
                "u1,i1,,1,1.0\n"                // 10 missing timestamp
                "u1,\"multi\nline\",100,1,2\n"  // 11-12 bad id
                "u2,i2,200,-1,1.0\n"            // 13 non-positive qty
                "u2,i2,200,1,2.0,extra\n"       // 14 wrong column count
                "u2,i3,300,1.5,2.0\n"           // 15 ok
                "u2,i3,300,1.5,nan\n");         // 16 bad price
  ReadStats stats;
  ReadOptions options;
  options.max_error_lines = 20;
  std::vector<PurchaseRow> rows = ReadRows(path, options, &stats);
  EXPECT_EQ(stats.rows_read, 14);
  EXPECT_EQ(stats.rows_used, 2);
  EXPECT_EQ(stats.total_skipped(), 12);
  EXPECT_THAT(
      stats.skipped,
      UnorderedElementsAre(
          Pair("bad_number", 3), Pair("bad_id", 1), Pair("bad_timestamp", 1),
          Pair("wrong_column_count", 2), Pair("empty_id", 2),
          Pair("non_positive_quantity", 2), Pair("missing_field", 1)));
  EXPECT_THAT(stats.errors,
              ElementsAre("line 3: bad quantity 'abc'",
                          "line 4: bad timestamp 'yesterday'",
                          "line 5: expected 5 fields, got 4",
                          "line 6: empty user id", "line 7: empty item id",
                          "line 9: bad price '$3'", "line 10: empty timestamp",
                          "line 11: item_id: control character 0x0a at byte 5",
                          "line 14: expected 5 fields, got 6",
                          "line 16: bad price 'nan'"));
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_EQ(rows[1].quantity, 1.5);
}

TEST(ReadPurchasesTest, IdsTheServerWouldRefuseAreSkipped) {
  const std::string dir = MakeTestDir();
  const std::string path = WriteFile(dir, "ids.csv",
                                     "user_id,item_id,timestamp\n"
                                     "u1,i1,100\n"
                                     "u\x01,i1,100\n"
                                     "u1,i\xff,100\n"
                                     "u1,caf\xc3\xa9,100\n");
  ReadStats stats;
  std::vector<PurchaseRow> rows = ReadRows(path, {}, &stats);
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_EQ(rows[1].item_id, "caf\xc3\xa9");
  EXPECT_EQ(stats.skipped["bad_id"], 2);
  EXPECT_THAT(stats.errors, ElementsAre("line 3: user_id: control character 0x01 at byte 1",
                                        "line 4: item_id: not valid UTF-8"));
}

TEST(ReadPurchasesTest, ErrorLinesAreCapped) {
  const std::string dir = MakeTestDir();
  std::string content = "user_id,item_id,timestamp\n";
  for (int i = 0; i < 30; ++i) content += "u,i,bad\n";
  const std::string path = WriteFile(dir, "p.csv", content);
  ReadOptions options;
  options.max_error_lines = 4;
  ReadStats stats;
  ReadRows(path, options, &stats);
  EXPECT_EQ(stats.skipped["bad_timestamp"], 30);
  ASSERT_EQ(stats.errors.size(), 4u);
  EXPECT_EQ(stats.errors[3], "line 5: bad timestamp 'bad'");
}

TEST(ReadPurchasesTest, OnlineRetail) {
  const std::string dir = MakeTestDir();
  const std::string path = WriteFile(
      dir, "or.csv",
      "InvoiceNo,StockCode,Description,Quantity,InvoiceDate,UnitPrice,"
      "CustomerID,Country\n"
      "536365,85123A,WHITE HANGING HEART T-LIGHT HOLDER,6,2010-12-01 "
      "08:26:00,2.55,17850,United Kingdom\n"
      "536366,22633,\"HAND WARMER, UNION JACK\",6,2010-12-01 "
      "08:28:00,1.85,17850.0,United Kingdom\n"
      "C536379,D,Discount,-1,2010-12-01 09:41:00,27.5,14527,United Kingdom\n"
      "536414,22139,,56,2010-12-01 11:52:00,0,,United Kingdom\n"
      "536589,21777,damaged,-10,2010-12-01 16:50:00,0,13000,United Kingdom\n"
      "536590,21777,thing,x,2010-12-01 16:50:00,0,13000,United Kingdom\n"
      "536591,21777,thing,1,12/1/2010 16:50,0,13000,United Kingdom\n"
      // Adjustments without a customer count as non-positive quantity.
      "536592,21778,lost,-5,2010-12-01 16:51:00,0,,United Kingdom\n");
  ReadStats stats;
  std::vector<PurchaseRow> rows = ReadRows(path, {}, &stats);
  EXPECT_EQ(stats.format, PurchaseFormat::kOnlineRetail);
  EXPECT_EQ(stats.rows_read, 8);
  EXPECT_EQ(stats.rows_used, 2);
  EXPECT_THAT(
      stats.skipped,
      UnorderedElementsAre(Pair("cancelled", 1), Pair("missing_customer", 1),
                           Pair("non_positive_quantity", 2),
                           Pair("bad_number", 1), Pair("bad_timestamp", 1)));
  EXPECT_THAT(stats.errors,
              ElementsAre("line 7: bad quantity 'x'",
                          "line 8: bad timestamp '12/1/2010 16:50'"));
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_EQ(rows[0].user_id, "17850");
  EXPECT_EQ(rows[0].item_id, "85123A");
  EXPECT_EQ(rows[0].title, "WHITE HANGING HEART T-LIGHT HOLDER");
  EXPECT_EQ(rows[0].quantity, 6);
  EXPECT_EQ(rows[0].price, 2.55);
  EXPECT_EQ(rows[0].timestamp_unix, 1291191960);
  EXPECT_EQ(rows[0].category, "");
  EXPECT_EQ(rows[1].user_id, "17850");
  EXPECT_EQ(rows[1].title, "HAND WARMER, UNION JACK");
}

TEST(ReadPurchasesTest, OnlineRetailTwoReadsAsIs) {
  // UCI Online Retail II's header: Invoice, Price and "Customer ID".
  const std::string dir = MakeTestDir();
  const std::string path = WriteFile(
      dir, "or2.csv",
      "Invoice,StockCode,Description,Quantity,InvoiceDate,Price,Customer ID,"
      "Country\n"
      "489434,85048,15CM CHRISTMAS GLASS BALL 20 LIGHTS,12,2009-12-01 "
      "07:45:00,6.95,13085.0,United Kingdom\n"
      "C489449,22087,PAPER BUNTING WHITE LACE,-12,2009-12-01 10:33:00,2.95,"
      "16321.0,Australia\n"
      "489436,21755,LOVE BUILDING BLOCK WORD,2,2009-12-01 09:06:00,5.45,,"
      "United Kingdom\n"
      "489437,22143,CHRISTMAS CRAFT HEART DECORATIONS,6,2009-12-01 "
      "09:08:00,,15362.0,United Kingdom\n");
  ReadStats stats;
  std::vector<PurchaseRow> rows = ReadRows(path, {}, &stats);
  EXPECT_EQ(stats.format, PurchaseFormat::kOnlineRetail);
  EXPECT_EQ(stats.rows_read, 4);
  EXPECT_THAT(stats.skipped,
              UnorderedElementsAre(Pair("cancelled", 1), Pair("missing_customer", 1),
                                   Pair("missing_field", 1)));
  EXPECT_THAT(stats.errors, ElementsAre("line 5: empty price"));
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(rows[0].user_id, "13085");
  EXPECT_EQ(rows[0].item_id, "85048");
  EXPECT_EQ(rows[0].quantity, 12);
  EXPECT_EQ(rows[0].price, 6.95);
  EXPECT_EQ(rows[0].title, "15CM CHRISTMAS GLASS BALL 20 LIGHTS");
  EXPECT_EQ(rows[0].timestamp_unix, *ParseTimestamp("2009-12-01 07:45:00"));
}

TEST(ReadPurchasesTest, ColumnMappingReadsAnyExport) {
  const std::string dir = MakeTestDir();
  const std::string path = WriteFile(
      dir, "shop.csv",
      "Order Number, Buyer ,SKU,Ordered At,Units,Unit Price,Department,Extra\n"
      "1001,alice,sku-1,2024-03-01 10:00:00,2,9.5,garden,x\n"
      "C1002,alice,sku-2,2024-03-01 11:00:00,1,3,garden,x\n"
      "1003,,sku-3,2024-03-02,1,3,toys,x\n"
      "1004,bob.0,sku-4,2024-03-02,,3,toys,x\n"
      "1005,bob,sku-5,yesterday,1,3,toys,x\n"
      "1006,carol,sku-6,1709400000,0,3,toys,x\n"
      "1007,carol,sku-7,1709400000,3,,toys,x\n");
  ReadOptions options;
  ASSERT_TRUE(ParseInputFlags("auto", "user=buyer,item=SKU,time=Ordered At,quantity=units,"
                              "price=Unit Price,category=Department,invoice=Order Number", ",",
                              &options)
                  .ok());
  ReadStats stats;
  std::vector<PurchaseRow> rows = ReadRows(path, options, &stats);
  EXPECT_EQ(stats.format, PurchaseFormat::kMapped);
  EXPECT_EQ(stats.rows_read, 7);
  EXPECT_THAT(stats.skipped,
              UnorderedElementsAre(Pair("cancelled", 1), Pair("missing_customer", 1),
                                   Pair("missing_field", 2), Pair("bad_timestamp", 1),
                                   Pair("non_positive_quantity", 1)));
  EXPECT_THAT(stats.errors, ElementsAre("line 5: empty quantity",
                                        "line 6: bad timestamp 'yesterday'",
                                        "line 8: empty price"));
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(rows[0].user_id, "alice");
  EXPECT_EQ(rows[0].item_id, "sku-1");
  EXPECT_EQ(rows[0].quantity, 2);
  EXPECT_EQ(rows[0].price, 9.5);
  EXPECT_EQ(rows[0].category, "garden");
  EXPECT_EQ(rows[0].title, "");

  // Only the required roles: quantity 1, price 0, no cancellations.
  ReadOptions minimal;
  ASSERT_TRUE(ParseInputFlags("auto", "user=Buyer,item=sku,time=ordered at", ",", &minimal).ok());
  rows = ReadRows(path, minimal, &stats);
  EXPECT_EQ(stats.rows_used, 5);  // no buyer on line 4, bad time on line 6
  EXPECT_EQ(rows[1].item_id, "sku-2");
  EXPECT_EQ(rows[1].quantity, 1);
  EXPECT_EQ(rows[1].price, 0);
  EXPECT_EQ(rows[2].user_id, "bob");  // "bob.0" from a spreadsheet
}

TEST(ReadPurchasesTest, ColumnMappingNamesMissingColumns) {
  const std::string dir = MakeTestDir();
  const std::string path = WriteFile(dir, "shop.csv", "Buyer,SKU,When\nalice,a,1\n");
  ReadOptions options;
  ASSERT_TRUE(
      ParseInputFlags("auto", "user=Buyer,item=Product,time=When,price=Amount", ",", &options).ok());
  ReadStats stats;
  absl::Status status;
  ReadRows(path, options, &stats, &status);
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(status.message(),
              HasSubstr("lacks columns 'Product' (item), 'Amount' (price) named by --columns"));

  // A format and a mapping together are refused before reading.
  options.format = PurchaseFormat::kCanonical;
  ReadRows(path, options, &stats, &status);
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(status.message(), HasSubstr("use one"));
}

TEST(ColumnMappingTest, ParseErrorsNameTheProblem) {
  EXPECT_TRUE(ParseColumnMapping("user=a,item=b,time=c").ok());
  const std::pair<const char*, const char*> cases[] = {
      {"user=a,item=b", "required role 'time' is missing"},
      {"user=a,item=b,time=c,colour=d", "unknown role 'colour'"},
      {"user=a,item=b,time=c,user=d", "role 'user' given twice"},
      {"user=a,item=b,time", "'time' is not role=Header Name"},
      {"user=a,item=b,time= ", "role 'time' names no column"},
  };
  for (const auto& [spec, message] : cases) {
    absl::StatusOr<ColumnMapping> parsed = ParseColumnMapping(spec);
    EXPECT_EQ(parsed.status().code(), absl::StatusCode::kInvalidArgument) << spec;
    EXPECT_THAT(parsed.status().message(), HasSubstr(message)) << spec;
  }
  ReadOptions read;
  absl::Status both = ParseInputFlags("canonical", "user=a,item=b,time=c", ",", &read);
  EXPECT_EQ(both.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(both.message(), HasSubstr("--columns: excludes --format"));
  absl::Status bad_format = ParseInputFlags("xml", "", ",", &read);
  EXPECT_THAT(bad_format.message(), HasSubstr("--format: unknown format 'xml'"));
  absl::Status bad_columns = ParseInputFlags("auto", "user=a", ",", &read);
  EXPECT_THAT(bad_columns.message(), HasSubstr("--columns: the required role 'item'"));
}

TEST(ReadPurchasesTest, HeaderlessTabSeparatedByPosition) {
  // MovieLens u.data: user, item, rating, time; tab-separated, no header.
  const std::string dir = MakeTestDir();
  const std::string path = WriteFile(dir, "u.data",
                                     "196\t242\t3\t881250949\n"
                                     "186\t302\t3\t891717742\n"
                                     "22\t377\t1\n"
                                     "244\t51\t2\tnoon\n");
  ReadOptions options;
  ASSERT_TRUE(ParseInputFlags("auto", "user=#1,item=#2,time=#4", "tab", &options).ok());
  EXPECT_EQ(options.csv.delimiter, '\t');
  ReadStats stats;
  std::vector<PurchaseRow> rows = ReadRows(path, options, &stats);
  EXPECT_EQ(stats.format, PurchaseFormat::kMapped);
  EXPECT_EQ(stats.rows_read, 4);
  EXPECT_THAT(stats.skipped,
              UnorderedElementsAre(Pair("wrong_column_count", 1), Pair("bad_timestamp", 1)));
  EXPECT_THAT(stats.errors, ElementsAre("line 3: expected 4 fields, got 3",
                                        "line 4: bad timestamp 'noon'"));
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_EQ(rows[0].user_id, "196");
  EXPECT_EQ(rows[0].item_id, "242");
  EXPECT_EQ(rows[0].timestamp_unix, 881250949);
  EXPECT_EQ(rows[1].user_id, "186");

  // A position past the first line's fields is refused before reading.
  ASSERT_TRUE(ParseInputFlags("auto", "user=#1,item=#2,time=#7", "tab", &options).ok());
  absl::Status status;
  ReadRows(path, options, &stats, &status);
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(status.message(), HasSubstr("line 1 has 4 fields, fewer than column #7 (time)"));
}

TEST(ColumnMappingTest, PositionsAndDelimiters) {
  absl::StatusOr<ColumnMapping> mapping = ParseColumnMapping("user=#1,item=#2,time=#4");
  ASSERT_TRUE(mapping.ok());
  EXPECT_TRUE(mapping->positional());
  EXPECT_FALSE(ParseColumnMapping("user=a,item=b,time=c")->positional());
  absl::StatusOr<ColumnMapping> mixed = ParseColumnMapping("user=#1,item=sku,time=#3");
  EXPECT_THAT(mixed.status().message(), HasSubstr("role 'item' mixes column positions"));
  absl::StatusOr<ColumnMapping> zero = ParseColumnMapping("user=#0,item=#1,time=#2");
  EXPECT_THAT(zero.status().message(), HasSubstr("'#0' is not a position"));
  ReadOptions read;
  EXPECT_TRUE(ParseInputFlags("auto", "", ";", &read).ok());
  EXPECT_EQ(read.csv.delimiter, ';');
  absl::Status bad = ParseInputFlags("auto", "", "::", &read);
  EXPECT_EQ(bad.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(bad.message(), HasSubstr("--delimiter: '::'"));
}

TEST(ReadPurchasesTest, PairsFormat) {
  const std::string dir = MakeTestDir();
  const std::string path = WriteGzFile(
      dir, "pairs.csv.gz", "user_id,movie_id\n1,1193\n1,661\n2,1\n");
  ReadStats stats;
  std::vector<PurchaseRow> rows = ReadRows(path, {}, &stats);
  EXPECT_EQ(stats.format, PurchaseFormat::kPairs);
  ASSERT_EQ(rows.size(), 3u);
  EXPECT_EQ(rows[1].user_id, "1");
  EXPECT_EQ(rows[1].item_id, "661");
  EXPECT_EQ(rows[1].timestamp_unix, 0);
  EXPECT_EQ(rows[1].quantity, 1);
}

TEST(ReadPurchasesTest, GzipInputMatchesPlain) {
  const std::string dir = MakeTestDir();
  std::string content = "user_id,item_id,timestamp,quantity,price,category\n";
  for (int i = 0; i < 5000; ++i) {
    content += "u" + std::to_string(i % 97) + ",i" + std::to_string(i % 31) +
               "," + std::to_string(1600000000 + i) + ",1,2.5,\"c, " +
               std::to_string(i % 3) + "\"\n";
  }
  const std::string plain = WriteFile(dir, "p.csv", content);
  const std::string gz = WriteGzFile(dir, "p.csv.gz", content);
  ReadStats plain_stats, gz_stats;
  std::vector<PurchaseRow> a = ReadRows(plain, {}, &plain_stats);
  std::vector<PurchaseRow> b = ReadRows(gz, {}, &gz_stats);
  ASSERT_EQ(a.size(), 5000u);
  ASSERT_EQ(b.size(), a.size());
  for (size_t i = 0; i < a.size(); ++i) {
    EXPECT_EQ(a[i].user_id, b[i].user_id);
    EXPECT_EQ(a[i].timestamp_unix, b[i].timestamp_unix);
    EXPECT_EQ(a[i].category, b[i].category);
  }
  EXPECT_EQ(b[4999].category, "c, 1");
}

TEST(ReadPurchasesTest, HugeFieldIsSkippedNotFatal) {
  const std::string dir = MakeTestDir();
  const std::string huge(3 << 20, 'z');  // 3 MiB > 1 MiB default limit
  const std::string path = WriteFile(
      dir, "huge.csv",
      "user_id,item_id,timestamp\nu1,i1,1\nu2,\"" + huge + "\",2\nu3,i3,3\n");
  ReadStats stats;
  std::vector<PurchaseRow> rows = ReadRows(path, {}, &stats);
  EXPECT_EQ(stats.rows_read, 3);
  EXPECT_EQ(stats.rows_used, 2);
  EXPECT_EQ(stats.skipped["record_too_long"], 1);
  ASSERT_EQ(stats.errors.size(), 1u);
  EXPECT_THAT(stats.errors[0], HasSubstr("line 3: record longer than"));
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_EQ(rows[1].user_id, "u3");
}

TEST(ReadPurchasesTest, TimeFilter) {
  const std::string dir = MakeTestDir();
  const std::string path = WriteFile(
      dir, "p.csv", "user_id,item_id,timestamp\nu,a,10\nu,b,20\nu,c,30\n");
  ReadOptions options;
  options.not_before_unix = 20;
  options.before_unix = 30;
  ReadStats stats;
  std::vector<PurchaseRow> rows = ReadRows(path, options, &stats);
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(rows[0].item_id, "b");
  EXPECT_EQ(stats.skipped["outside_time_range"], 2);
  EXPECT_TRUE(stats.errors.empty());
}

TEST(ReadPurchasesTest, EmptyFile) {
  const std::string dir = MakeTestDir();
  for (const std::string& content : {std::string(""), std::string("\n\n")}) {
    const std::string path = WriteFile(dir, "empty.csv", content);
    ReadStats stats;
    absl::Status status;
    ReadRows(path, {}, &stats, &status);
    EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(status.message(), HasSubstr("empty file, expected a header"));
  }
}

TEST(ReadPurchasesTest, HeaderOnlyFileHasNoRows) {
  const std::string dir = MakeTestDir();
  const std::string path =
      WriteFile(dir, "h.csv", "user_id,item_id,timestamp\n");
  ReadStats stats;
  EXPECT_TRUE(ReadRows(path, {}, &stats).empty());
  EXPECT_EQ(stats.rows_read, 0);
}

TEST(ReadPurchasesTest, UnknownOrIncompleteHeader) {
  const std::string dir = MakeTestDir();
  const std::string path =
      WriteFile(dir, "h.csv", "customer,product,when\nu,i,1\n");
  ReadStats stats;
  absl::Status status;
  ReadRows(path, {}, &stats, &status);
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(status.message(), HasSubstr("unrecognised header"));
  EXPECT_THAT(status.message(), HasSubstr("customer,product,when"));

  const std::string partial =
      WriteFile(dir, "h2.csv", "user_id,item_id,quantity\nu,i,1\n");
  ReadOptions canonical;
  canonical.format = PurchaseFormat::kCanonical;
  ReadRows(partial, canonical, &stats, &status);
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(status.message(), HasSubstr("lacks column timestamp"));

  ReadOptions retail;
  retail.format = PurchaseFormat::kOnlineRetail;
  ReadRows(partial, retail, &stats, &status);
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(status.message(),
              HasSubstr("InvoiceNo, StockCode, InvoiceDate, UnitPrice, "
                        "CustomerID"));
}

TEST(ReadPurchasesTest, MissingFileIsNotFound) {
  ReadStats stats;
  absl::Status status;
  ReadRows("/nonexistent/purchases.csv", {}, &stats, &status);
  EXPECT_EQ(status.code(), absl::StatusCode::kNotFound);
}

TEST(PurchaseFormatTest, NamesRoundTrip) {
  for (PurchaseFormat f :
       {PurchaseFormat::kAuto, PurchaseFormat::kCanonical,
        PurchaseFormat::kOnlineRetail, PurchaseFormat::kPairs}) {
    EXPECT_EQ(*ParsePurchaseFormat(PurchaseFormatName(f)), f);
  }
  EXPECT_EQ(ParsePurchaseFormat("xml").status().code(),
            absl::StatusCode::kInvalidArgument);
  // "mapped" comes from a column mapping, never from --format.
  EXPECT_EQ(ParsePurchaseFormat("mapped").status().code(),
            absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace recsys::training
