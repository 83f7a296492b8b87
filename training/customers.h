// The shop's customer file: what a CRM export knows about a customer that
// the purchase history does not — today the birthday — joined to the
// customer-intelligence records (intelligence/intel.h UserIntel::birthday)
// by recsys_train and recsys_nightly (--customers).
//
//   user_id,birthday
//   u001,1985-04-12
//   u002,04-12
//
// A header line is required. Its columns are matched case-insensitively,
// surrounding blanks ignored: the user column is "user_id", "customer_id"
// or "Customer ID"; the birthday column "birthday" or "date_of_birth";
// other columns are ignored, so a wider export is read as it is. Plain or
// gzip, ',' separated (RFC 4180 quoting, training/csv_reader.h).
//
// Rows: an empty birthday means unknown (counted in `unknown`); a malformed
// row (an id the server would refuse, a birthday that is not MM-DD or
// YYYY-MM-DD of a real date, a missing column, a record over the size
// bound) or a repeated user id (the first row wins) is counted in
// `malformed` and its line named in `errors` (the first max_error_lines).
//
// Thread safety: a free function without shared state.
#ifndef RECSYS_TRAINING_CUSTOMERS_H_
#define RECSYS_TRAINING_CUSTOMERS_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"

namespace recsys::training {

struct CustomerFile {
  // user id -> birthday "MM-DD".
  absl::flat_hash_map<std::string, std::string> birthdays;
  // Data rows after the header; rows_read == birthdays.size() + unknown +
  // malformed.
  int64_t rows_read = 0;
  int64_t unknown = 0;
  int64_t malformed = 0;
  // E.g. "line 7: birthday: not MM-DD or YYYY-MM-DD: '1985-02-30'".
  std::vector<std::string> errors;
};

// Reads `path`. NotFound when it does not exist; InvalidArgument naming the
// missing column for a header without a user or a birthday column, or for
// an empty file; DataLoss for a corrupt gzip stream.
absl::StatusOr<CustomerFile> ReadCustomerFile(const std::string& path, int max_error_lines = 10);

}  // namespace recsys::training

#endif  // RECSYS_TRAINING_CUSTOMERS_H_
