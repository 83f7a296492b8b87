// GoogleTest helpers for absl::Status and absl::StatusOr<T>.
//
//   RECSYS_EXPECT_OK(store->Ping(deadline));
//   RECSYS_ASSERT_OK(store->PutItems(items));
//   RECSYS_ASSERT_OK_AND_ASSIGN(UserFeatures user, store->GetUser("u1", d));
//
// On failure the message shows the expression and the status. Each macro
// evaluates its argument exactly once. RECSYS_ASSERT_OK_AND_ASSIGN, like
// ASSERT_*, may only be used in functions returning void.
//
// Thread safety: as for GoogleTest assertions.
#ifndef RECSYS_TESTS_TESTING_STATUS_MATCHERS_H_
#define RECSYS_TESTS_TESTING_STATUS_MATCHERS_H_

#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "gtest/gtest.h"

namespace recsys::testing {
namespace internal {

inline const absl::Status& GetStatus(const absl::Status& status) {
  return status;
}
template <typename T>
const absl::Status& GetStatus(const absl::StatusOr<T>& status_or) {
  return status_or.status();
}

}  // namespace internal

// Predicate formatter for EXPECT_PRED_FORMAT1 / ASSERT_PRED_FORMAT1.
template <typename T>
::testing::AssertionResult IsOkFormatter(const char* expression,
                                         const T& value) {
  const absl::Status& status = internal::GetStatus(value);
  if (status.ok()) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure()
         << expression << " returned " << status.ToString();
}

}  // namespace recsys::testing

#define RECSYS_EXPECT_OK(expr) \
  EXPECT_PRED_FORMAT1(::recsys::testing::IsOkFormatter, expr)
#define RECSYS_ASSERT_OK(expr) \
  ASSERT_PRED_FORMAT1(::recsys::testing::IsOkFormatter, expr)

#define RECSYS_TESTING_CONCAT_INNER_(a, b) a##b
#define RECSYS_TESTING_CONCAT_(a, b) RECSYS_TESTING_CONCAT_INNER_(a, b)
#define RECSYS_ASSERT_OK_AND_ASSIGN_IMPL_(tmp, lhs, expr)                    \
  auto tmp = (expr);                                                         \
  ASSERT_TRUE(tmp.ok()) << #expr << " returned " << tmp.status().ToString(); \
  lhs = std::move(tmp).value()
#define RECSYS_ASSERT_OK_AND_ASSIGN(lhs, expr) \
  RECSYS_ASSERT_OK_AND_ASSIGN_IMPL_(           \
      RECSYS_TESTING_CONCAT_(recsys_testing_statusor_, __LINE__), lhs, expr)

#endif  // RECSYS_TESTS_TESTING_STATUS_MATCHERS_H_
