#include "training/interactions.h"

#include <cmath>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace recsys::training {
namespace {

using ::testing::ElementsAre;

PurchaseRow Row(const std::string& user, const std::string& item, int64_t ts,
                double quantity = 1, double price = 1,
                const std::string& category = "") {
  PurchaseRow row;
  row.user_id = user;
  row.item_id = item;
  row.timestamp_unix = ts;
  row.quantity = quantity;
  row.price = price;
  row.category = category;
  return row;
}

TEST(InteractionBuilderTest, AggregatesPairsAndItems) {
  InteractionBuilder builder;
  builder.Add(Row("u1", "b", 100, 2, 5.0, "books"));
  builder.Add(Row("u1", "a", 100, 1, 1.0, "food"));
  builder.Add(Row("u1", "b", 100, 1, 5.0));  // same order: merged
  builder.Add(Row("u1", "b", 200, 3, 4.5));  // new order
  builder.Add(Row("u2", "b", 150, 1, 6.0));  // older than the 4.5 price
  builder.Add(Row("u2", "c", 50, 1, 2.0, "toys"));
  EXPECT_EQ(builder.rows(), 6);
  InteractionData data = builder.Build();

  EXPECT_THAT(data.user_ids, ElementsAre("u1", "u2"));
  EXPECT_THAT(data.item_ids, ElementsAre("b", "a", "c"));
  EXPECT_EQ(data.num_users(), 2);
  EXPECT_EQ(data.num_items(), 3);
  EXPECT_EQ(data.rows, 6);
  EXPECT_EQ(data.total_events, 5);
  EXPECT_EQ(data.first_unix, 50);
  EXPECT_EQ(data.last_event_unix, 200);
  ASSERT_TRUE(ValidateCsr(data.events).ok());
  // u1: a (row 1) x1, b (row 0) x2 events; sorted by item row.
  EXPECT_THAT(data.events.indptr, ElementsAre(0, 2, 4));
  EXPECT_THAT(data.events.indices, ElementsAre(0, 1, 0, 2));
  EXPECT_THAT(data.events.values, ElementsAre(2, 1, 1, 1));
  EXPECT_THAT(data.quantity, ElementsAre(6, 1, 1, 1));
  EXPECT_THAT(data.last_unix, ElementsAre(200, 100, 150, 50));

  const ItemInfo& b = data.items[0];
  EXPECT_EQ(b.category, "books");
  EXPECT_EQ(b.price, 4.5);
  EXPECT_EQ(b.purchases, 3);
  EXPECT_EQ(b.buyers, 2);
  EXPECT_EQ(data.items[2].category, "toys");
  EXPECT_EQ(data.items[2].purchases, 1);
}

TEST(InteractionBuilderTest, NoMergeWithoutTimestamps) {
  InteractionBuilder builder;
  builder.Add(Row("u", "i", 0));
  builder.Add(Row("u", "i", 0));
  InteractionData data = builder.Build();
  EXPECT_THAT(data.events.values, ElementsAre(2));

  InteractionOptions no_merge;
  no_merge.merge_same_timestamp = false;
  InteractionBuilder builder2(no_merge);
  builder2.Add(Row("u", "i", 7));
  builder2.Add(Row("u", "i", 7));
  EXPECT_THAT(builder2.Build().events.values, ElementsAre(2));
}

TEST(CsrMatrixTest, TransposeRoundTrip) {
  CsrMatrix m;
  m.rows = 3;
  m.cols = 4;
  m.indptr = {0, 2, 2, 5};
  m.indices = {1, 3, 0, 1, 2};
  m.values = {1, 2, 3, 4, 5};
  ASSERT_TRUE(ValidateCsr(m).ok());
  CsrMatrix t = Transpose(m);
  ASSERT_TRUE(ValidateCsr(t).ok());
  EXPECT_EQ(t.rows, 4);
  EXPECT_EQ(t.cols, 3);
  EXPECT_THAT(t.indptr, ElementsAre(0, 1, 3, 4, 5));
  EXPECT_THAT(t.indices, ElementsAre(2, 0, 2, 2, 0));
  EXPECT_THAT(t.values, ElementsAre(3, 1, 4, 5, 2));
  CsrMatrix back = Transpose(t);
  EXPECT_EQ(back.indptr, m.indptr);
  EXPECT_EQ(back.indices, m.indices);
  EXPECT_EQ(back.values, m.values);
}

TEST(CsrMatrixTest, ValidateRejectsUnsortedRows) {
  CsrMatrix m;
  m.rows = 1;
  m.cols = 3;
  m.indptr = {0, 2};
  m.indices = {2, 1};
  m.values = {1, 1};
  EXPECT_EQ(ValidateCsr(m).code(), absl::StatusCode::kInvalidArgument);
}

TEST(ConfidenceTest, SignalCountsEventsUnitsOrPresence) {
  InteractionBuilder builder;
  builder.Add(Row("u", "a", 10, /*quantity=*/12));
  builder.Add(Row("u", "b", 20, 1));
  builder.Add(Row("u", "b", 30, 2));
  InteractionData data = builder.Build();
  ConfidenceOptions options;
  options.scaling = ConfidenceScaling::kLinear;
  options.alpha = 1;
  CsrMatrix c = *BuildConfidence(data, options);  // events: a 1, b 2
  EXPECT_FLOAT_EQ(c.values[0], 2);
  EXPECT_FLOAT_EQ(c.values[1], 3);
  options.signal = ConfidenceSignal::kQuantity;  // units: a 12, b 3
  c = *BuildConfidence(data, options);
  EXPECT_FLOAT_EQ(c.values[0], 13);
  EXPECT_FLOAT_EQ(c.values[1], 4);
  options.signal = ConfidenceSignal::kBinary;
  c = *BuildConfidence(data, options);
  EXPECT_FLOAT_EQ(c.values[0], 2);
  EXPECT_FLOAT_EQ(c.values[1], 2);
  EXPECT_EQ(*ParseConfidenceSignal("quantity"), ConfidenceSignal::kQuantity);
  EXPECT_EQ(ParseConfidenceSignal("bogus").status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(ConfidenceTest, LogLinearAndDecay) {
  InteractionBuilder builder;
  builder.Add(Row("u", "a", 10));
  for (int t = 1; t <= 3; ++t) builder.Add(Row("u", "b", t * 86400));
  InteractionData data = builder.Build();
  // Row u: a (events 1, last 10), b (events 3, last 3 days).

  ConfidenceOptions log;
  log.alpha = 2;
  log.epsilon = 0.5f;
  CsrMatrix c = *BuildConfidence(data, log);
  EXPECT_FLOAT_EQ(c.values[0], 1 + 2 * std::log(1 + 1 / 0.5));
  EXPECT_FLOAT_EQ(c.values[1], 1 + 2 * std::log(1 + 3 / 0.5));

  ConfidenceOptions linear;
  linear.scaling = ConfidenceScaling::kLinear;
  linear.alpha = 40;
  c = *BuildConfidence(data, linear);
  EXPECT_FLOAT_EQ(c.values[0], 41);
  EXPECT_FLOAT_EQ(c.values[1], 121);

  ConfidenceOptions decay = linear;
  decay.decay_half_life_days = 1;
  decay.reference_unix = 3 * 86400;
  c = *BuildConfidence(data, decay);
  EXPECT_NEAR(c.values[1], 121, 1e-3);  // age 0
  EXPECT_NEAR(c.values[0], 1 + 40 * std::exp2(-(3 * 86400 - 10) / 86400.0),
              1e-3);

  ConfidenceOptions bad;
  bad.epsilon = 0;
  EXPECT_EQ(BuildConfidence(data, bad).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(*ParseConfidenceScaling("linear"), ConfidenceScaling::kLinear);
  EXPECT_FALSE(ParseConfidenceScaling("sqrt").ok());
}

}  // namespace
}  // namespace recsys::training
