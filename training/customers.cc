#include "training/customers.h"

#include <algorithm>
#include <initializer_list>
#include <memory>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/status_macros.h"
#include "common/validation.h"
#include "intelligence/intel.h"
#include "training/csv_reader.h"

namespace recsys::training {
namespace {

// The header's column index of one of `names`; -1 when none.
int FindColumn(const CsvRecord& header, std::initializer_list<absl::string_view> names) {
  for (int i = 0; i < header.size(); ++i) {
    const std::string name = absl::AsciiStrToLower(absl::StripAsciiWhitespace(header.field(i)));
    for (absl::string_view n : names) {
      if (name == n) return i;
    }
  }
  return -1;
}

}  // namespace

absl::StatusOr<CustomerFile> ReadCustomerFile(const std::string& path, int max_error_lines) {
  RECSYS_ASSIGN_OR_RETURN(std::unique_ptr<CsvReader> reader, CsvReader::Open(path));
  CsvRecord record;
  RECSYS_ASSIGN_OR_RETURN(bool any, reader->Next(&record));
  if (!any || record.too_long()) {
    return absl::InvalidArgumentError(absl::StrCat(path, ": no header line"));
  }
  const int user_col = FindColumn(record, {"user_id", "customer_id", "customer id"});
  const int birthday_col = FindColumn(record, {"birthday", "date_of_birth"});
  if (user_col < 0) {
    return absl::InvalidArgumentError(
        absl::StrCat(path, ": header has no user column (user_id, customer_id or Customer ID)"));
  }
  if (birthday_col < 0) {
    return absl::InvalidArgumentError(
        absl::StrCat(path, ": header has no birthday column (birthday or date_of_birth)"));
  }
  CustomerFile out;
  auto malformed = [&](int64_t line, absl::string_view what) {
    ++out.malformed;
    if (static_cast<int>(out.errors.size()) < max_error_lines) {
      out.errors.push_back(absl::StrCat("line ", line, ": ", what));
    }
  };
  while (true) {
    RECSYS_ASSIGN_OR_RETURN(any, reader->Next(&record));
    if (!any) break;
    ++out.rows_read;
    if (record.too_long()) {
      malformed(record.line(), "record too long");
      continue;
    }
    if (record.size() <= std::max(user_col, birthday_col)) {
      malformed(record.line(), absl::StrCat(record.size(), " columns, expected at least ",
                                            std::max(user_col, birthday_col) + 1));
      continue;
    }
    const absl::string_view user = absl::StripAsciiWhitespace(record.field(user_col));
    if (absl::Status id = CheckId("user_id", user); !id.ok()) {
      malformed(record.line(), id.message());
      continue;
    }
    const absl::string_view birthday = absl::StripAsciiWhitespace(record.field(birthday_col));
    if (birthday.empty()) {
      ++out.unknown;
      continue;
    }
    int month = 0, day = 0;
    if (!intelligence::ParseBirthday(birthday, &month, &day)) {
      malformed(record.line(),
                absl::StrCat("birthday: not MM-DD or YYYY-MM-DD: '", birthday, "'"));
      continue;
    }
    if (!out.birthdays.emplace(std::string(user), absl::StrFormat("%02d-%02d", month, day))
             .second) {
      malformed(record.line(), absl::StrCat("user_id: '", user, "' repeated (the first row wins)"));
    }
  }
  return out;
}

}  // namespace recsys::training
