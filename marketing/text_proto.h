// Reading the marketing configuration files: the one text-file reader and
// protobuf text-format parser of marketing/ (coupons.cc, triggers.cc).
//
// An edge unit: it names protobuf's Message, so only the config readers
// include it.
//
// Thread safety: free functions without shared state.
#ifndef RECSYS_MARKETING_TEXT_PROTO_H_
#define RECSYS_MARKETING_TEXT_PROTO_H_

#include <google/protobuf/message.h>

#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace recsys::marketing {

// The file's contents. NotFound when it cannot be opened, DataLoss on a read
// error; `what` ("coupon catalog") starts the message.
absl::StatusOr<std::string> ReadTextFile(const std::string& path,
                                         absl::string_view what);

// Parses `text` into `out`. InvalidArgument "<origin>: line L, column C:
// <error>" (1-based) for the first syntax error.
absl::Status ParseTextProto(absl::string_view text, absl::string_view origin,
                            google::protobuf::Message* out);

// `status` with "<origin>: " in front of its message; OK stays OK.
absl::Status Prefixed(absl::string_view origin, const absl::Status& status);

}  // namespace recsys::marketing

#endif  // RECSYS_MARKETING_TEXT_PROTO_H_
