// Status propagation macros. Abseil 20220623 ships none of its own.
//
//   RECSYS_RETURN_IF_ERROR(DoThing());
//   RECSYS_ASSIGN_OR_RETURN(auto value, ComputeValue());
//
// Both evaluate their argument exactly once and return the non-OK status
// unchanged from the enclosing function (which must return absl::Status or
// absl::StatusOr<T>).
#ifndef RECSYS_COMMON_STATUS_MACROS_H_
#define RECSYS_COMMON_STATUS_MACROS_H_

#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

#define RECSYS_STATUS_CONCAT_INNER_(a, b) a##b
#define RECSYS_STATUS_CONCAT_(a, b) RECSYS_STATUS_CONCAT_INNER_(a, b)

#define RECSYS_RETURN_IF_ERROR(expr)                  \
  do {                                                \
    ::absl::Status recsys_status_ = (expr);           \
    if (!recsys_status_.ok()) return recsys_status_;  \
  } while (0)

#define RECSYS_ASSIGN_OR_RETURN_IMPL_(tmp, lhs, expr) \
  auto tmp = (expr);                                  \
  if (!tmp.ok()) return std::move(tmp).status();      \
  lhs = std::move(tmp).value()

#define RECSYS_ASSIGN_OR_RETURN(lhs, expr)                                     \
  RECSYS_ASSIGN_OR_RETURN_IMPL_(                                               \
      RECSYS_STATUS_CONCAT_(recsys_statusor_, __LINE__), lhs, expr)

#endif  // RECSYS_COMMON_STATUS_MACROS_H_
