#include "evaluation/json.h"

#include <limits>

#include "gtest/gtest.h"

namespace recsys::evaluation {
namespace {

TEST(JsonTest, DumpsCompactAndEscapes) {
  Json j = Json::Object();
  j.Set("name", "a\"b\n").Set("n", 3).Set("x", 0.5).Set("ok", true);
  j.Set("list", Json::Array().Push(1).Push("two"));
  j.Set("nan", std::numeric_limits<double>::quiet_NaN());
  j.Set("n", 4);  // replaces
  EXPECT_EQ(j.Dump(-1),
            "{\"name\":\"a\\\"b\\n\",\"n\":4,\"x\":0.5,\"ok\":true,"
            "\"list\":[1,\"two\"],\"nan\":null}");
}

TEST(JsonTest, PrettyPrintsNestedValues) {
  Json j = Json::Object().Set("a", Json::Object().Set("b", Json::Array()));
  EXPECT_EQ(j.Dump(2), "{\n  \"a\": {\n    \"b\": []\n  }\n}\n");
}

}  // namespace
}  // namespace recsys::evaluation
