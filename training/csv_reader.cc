#include "training/csv_reader.h"

#include <sys/stat.h>
#include <zlib.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <initializer_list>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "common/status_macros.h"
#include "common/validation.h"

namespace recsys::training {
namespace {

gzFile AsGz(void* file) { return static_cast<gzFile>(file); }

// Longest excerpt of a bad value quoted in an error message.
constexpr size_t kMaxEchoedValue = 40;

std::string Echo(absl::string_view value) {
  if (value.size() <= kMaxEchoedValue) return std::string(value);
  return absl::StrCat(value.substr(0, kMaxEchoedValue), "...");
}

bool AllDigits(absl::string_view s) {
  if (s.empty()) return false;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
  }
  return true;
}

// Parses exactly `n` digits at s[pos..].
bool ParseDigits(absl::string_view s, size_t pos, size_t n, int* out) {
  if (pos + n > s.size()) return false;
  int v = 0;
  for (size_t i = pos; i < pos + n; ++i) {
    if (s[i] < '0' || s[i] > '9') return false;
    v = v * 10 + (s[i] - '0');
  }
  *out = v;
  return true;
}

bool IsLeapYear(int64_t y) {
  return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

int DaysInMonth(int64_t year, int month) {
  static constexpr int kDays[] = {31, 28, 31, 30, 31, 30,
                                  31, 31, 30, 31, 30, 31};
  return month == 2 && IsLeapYear(year) ? 29 : kDays[month - 1];
}

// Parses a finite double; nullopt otherwise.
std::optional<double> ParseNumber(absl::string_view text) {
  double v;
  if (!absl::SimpleAtod(text, &v) || !std::isfinite(v)) return std::nullopt;
  return v;
}

}  // namespace

// ---------------------------------------------------------------------------
// CsvReader

absl::StatusOr<std::unique_ptr<CsvReader>> CsvReader::Open(
    const std::string& path, const CsvReaderOptions& options) {
  if (options.max_record_bytes < 1 || options.buffer_bytes < 16) {
    return absl::InvalidArgumentError(
        "CsvReaderOptions: max_record_bytes must be >= 1 and buffer_bytes "
        ">= 16");
  }
  struct stat st;
  if (::stat(path.c_str(), &st) != 0) {
    if (errno == ENOENT || errno == ENOTDIR) {
      return absl::NotFoundError(absl::StrCat(path, ": no such file"));
    }
    return absl::InternalError(
        absl::StrCat(path, ": cannot stat: ", std::strerror(errno)));
  }
  if (S_ISDIR(st.st_mode)) {
    return absl::InvalidArgumentError(absl::StrCat(path, ": is a directory"));
  }
  errno = 0;
  gzFile file = gzopen(path.c_str(), "rb");
  if (file == nullptr) {
    const int err = errno;
    if (err == EACCES) {
      return absl::PermissionDeniedError(
          absl::StrCat(path, ": permission denied"));
    }
    return absl::InternalError(absl::StrCat(
        path, ": cannot open: ", err != 0 ? std::strerror(err) : "zlib"));
  }
  gzbuffer(file, 1 << 17);
  return std::unique_ptr<CsvReader>(new CsvReader(file, path, options));
}

CsvReader::CsvReader(void* file, std::string path,
                     const CsvReaderOptions& options)
    : file_(file),
      path_(std::move(path)),
      options_(options),
      buffer_(options.buffer_bytes) {}

CsvReader::~CsvReader() { gzclose(AsGz(file_)); }

bool CsvReader::Refill() {
  if (eof_) return false;
  pos_ = 0;
  end_ = 0;
  const int n = gzread(AsGz(file_), buffer_.data(),
                       static_cast<unsigned>(buffer_.size()));
  if (n > 0) {
    end_ = static_cast<size_t>(n);
    return true;
  }
  eof_ = true;
  int errnum = Z_OK;
  const char* message = gzerror(AsGz(file_), &errnum);
  if (n < 0 || (errnum != Z_OK && errnum != Z_STREAM_END)) {
    if (errnum == Z_ERRNO) {
      status_ = absl::InternalError(
          absl::StrCat(path_, ": read error: ", std::strerror(errno)));
    } else {
      status_ = absl::DataLossError(
          absl::StrCat(path_, ": corrupt or truncated gzip data: ",
                       message != nullptr ? message : "unknown zlib error"));
    }
  }
  return false;
}

absl::StatusOr<bool> CsvReader::Next(CsvRecord* record) {
  enum State { kFieldStart, kUnquoted, kQuoted, kQuoteInQuoted };
  const int64_t max_bytes = options_.max_record_bytes;

  auto add_field = [record]() -> std::string* {
    if (record->size_ == static_cast<int>(record->fields_.size())) {
      record->fields_.emplace_back();
    }
    std::string* field = &record->fields_[record->size_++];
    field->clear();
    return field;
  };

  const char delimiter = options_.delimiter;
  if (at_start_) {
    at_start_ = false;
    if (pos_ == end_) Refill();
    if (end_ - pos_ >= 3 &&
        std::memcmp(&buffer_[pos_], "\xEF\xBB\xBF", 3) == 0) {
      pos_ += 3;
    }
  }

  while (true) {
    record->size_ = 0;
    record->too_long_ = false;
    record->line_ = line_;
    std::string* field = add_field();
    State state = kFieldStart;
    int64_t bytes = 0;
    bool quoted_any = false;
    bool done = false;
    bool at_eof = false;

    while (!done) {
      if (bytes > max_bytes) break;
      if (pos_ == end_ && !Refill()) {
        if (!status_.ok()) return status_;
        at_eof = true;
        break;
      }
      const char* p = buffer_.data() + pos_;
      const char* const e = buffer_.data() + end_;
      switch (state) {
        case kFieldStart:
          if (*p == '"') {
            ++pos_;
            ++bytes;
            state = kQuoted;
            quoted_any = true;
            break;
          }
          state = kUnquoted;
          [[fallthrough]];
        case kUnquoted: {
          const char* q = p;
          while (q < e && *q != delimiter && *q != '\n') ++q;
          const size_t n = q - p;
          field->append(p, n);
          bytes += n;
          pos_ += n;
          if (q == e) break;
          ++pos_;
          ++bytes;
          if (*q == delimiter) {
            field = add_field();
            state = kFieldStart;
          } else {
            ++line_;
            if (!field->empty() && field->back() == '\r') field->pop_back();
            done = true;
          }
          break;
        }
        case kQuoted: {
          const char* q = p;
          while (q < e && *q != '"' && *q != '\n') ++q;
          const size_t n = q - p;
          field->append(p, n);
          bytes += n;
          pos_ += n;
          if (q == e) break;
          ++pos_;
          ++bytes;
          if (*q == '\n') {
            ++line_;
            field->push_back('\n');
          } else {
            state = kQuoteInQuoted;
          }
          break;
        }
        case kQuoteInQuoted: {
          const char c = *p;
          ++pos_;
          ++bytes;
          if (c == '"') {
            field->push_back('"');
            state = kQuoted;
          } else if (c == delimiter) {
            field = add_field();
            state = kFieldStart;
          } else if (c == '\n') {
            ++line_;
            done = true;
          } else if (c != '\r') {  // '\r' before '\n' is dropped.
            field->push_back(c);
            state = kUnquoted;
          }
          break;
        }
      }
    }

    if (bytes > max_bytes) {
      record->size_ = 0;
      record->too_long_ = true;
      if (!done) {
        // Resynchronise at the start of the next physical line.
        while (true) {
          if (pos_ == end_ && !Refill()) {
            if (!status_.ok()) return status_;
            break;
          }
          const void* nl =
              std::memchr(buffer_.data() + pos_, '\n', end_ - pos_);
          if (nl != nullptr) {
            pos_ = static_cast<const char*>(nl) - buffer_.data() + 1;
            ++line_;
            break;
          }
          pos_ = end_;
        }
      }
      return true;
    }
    if (at_eof) {
      if (bytes == 0) return false;
      if (state == kUnquoted && !field->empty() && field->back() == '\r') {
        field->pop_back();
      }
    }
    if (!quoted_any && record->size_ == 1 && record->fields_[0].empty()) {
      continue;  // Blank line.
    }
    return true;
  }
}

// ---------------------------------------------------------------------------
// Formats

absl::string_view PurchaseFormatName(PurchaseFormat format) {
  switch (format) {
    case PurchaseFormat::kAuto:
      return "auto";
    case PurchaseFormat::kCanonical:
      return "canonical";
    case PurchaseFormat::kOnlineRetail:
      return "online_retail";
    case PurchaseFormat::kPairs:
      return "pairs";
    case PurchaseFormat::kMapped:
      return "mapped";
  }
  return "unknown";
}

absl::StatusOr<PurchaseFormat> ParsePurchaseFormat(absl::string_view name) {
  for (PurchaseFormat f :
       {PurchaseFormat::kAuto, PurchaseFormat::kCanonical,
        PurchaseFormat::kOnlineRetail, PurchaseFormat::kPairs}) {
    if (name == PurchaseFormatName(f)) return f;
  }
  return absl::InvalidArgumentError(
      absl::StrCat("unknown format '", name,
                   "' (expected auto, canonical, online_retail or pairs)"));
}

namespace {

// 1-based position of a "#N" column name, or 0 when it is a header name.
int ColumnPosition(absl::string_view name) {
  if (name.size() < 2 || name[0] != '#') return 0;
  int position = 0;
  if (!absl::SimpleAtoi(name.substr(1), &position) || position < 1 || position > 10000) {
    return -1;
  }
  return position;
}

}  // namespace

bool ColumnMapping::positional() const { return ColumnPosition(user) > 0; }

absl::StatusOr<ColumnMapping> ParseColumnMapping(absl::string_view spec) {
  ColumnMapping mapping;
  const std::pair<absl::string_view, std::string*> roles[] = {
      {"user", &mapping.user},         {"item", &mapping.item},
      {"time", &mapping.time},         {"quantity", &mapping.quantity},
      {"price", &mapping.price},       {"category", &mapping.category},
      {"title", &mapping.title},       {"invoice", &mapping.invoice}};
  for (absl::string_view part : absl::StrSplit(spec, ',')) {
    const size_t eq = part.find('=');
    if (eq == absl::string_view::npos) {
      return absl::InvalidArgumentError(
          absl::StrCat("columns: '", Echo(part), "' is not role=Header Name"));
    }
    const std::string role =
        absl::AsciiStrToLower(absl::StripAsciiWhitespace(part.substr(0, eq)));
    const absl::string_view name = absl::StripAsciiWhitespace(part.substr(eq + 1));
    std::string* target = nullptr;
    for (const auto& [known, field] : roles) {
      if (role == known) target = field;
    }
    if (target == nullptr) {
      return absl::InvalidArgumentError(absl::StrCat(
          "columns: unknown role '", Echo(role),
          "' (expected user, item, time, quantity, price, category, title, invoice)"));
    }
    if (!target->empty()) {
      return absl::InvalidArgumentError(
          absl::StrCat("columns: role '", role, "' given twice"));
    }
    if (name.empty()) {
      return absl::InvalidArgumentError(
          absl::StrCat("columns: role '", role, "' names no column"));
    }
    target->assign(name.data(), name.size());
  }
  for (const auto& [role, field] : {std::pair<absl::string_view, const std::string*>{
                                        "user", &mapping.user},
                                    {"item", &mapping.item},
                                    {"time", &mapping.time}}) {
    if (field->empty()) {
      return absl::InvalidArgumentError(
          absl::StrCat("columns: the required role '", role, "' is missing"));
    }
  }
  // Positions ("#N") or header names, never both.
  const bool positional = ColumnPosition(mapping.user) != 0;
  for (const auto& [role, field] : roles) {
    if (field->empty()) continue;
    const int position = ColumnPosition(*field);
    if (position < 0) {
      return absl::InvalidArgumentError(absl::StrCat(
          "columns: role '", role, "': '", Echo(*field), "' is not a position #1..#10000"));
    }
    if ((position > 0) != positional) {
      return absl::InvalidArgumentError(absl::StrCat(
          "columns: role '", role,
          "' mixes column positions (#N, a file without header) and header names"));
    }
  }
  return mapping;
}

absl::Status ParseInputFlags(absl::string_view format, absl::string_view columns,
                             absl::string_view delimiter, ReadOptions* read) {
  if (delimiter == "tab" || delimiter == "\\t" || delimiter == "\t") {
    read->csv.delimiter = '\t';
  } else if (delimiter == "," || delimiter == ";" || delimiter == "|") {
    read->csv.delimiter = delimiter[0];
  } else {
    return absl::InvalidArgumentError(absl::StrCat(
        "--delimiter: '", Echo(delimiter), "' is not one of , ; | tab"));
  }
  absl::StatusOr<PurchaseFormat> parsed = ParsePurchaseFormat(format);
  if (!parsed.ok()) {
    return absl::InvalidArgumentError(absl::StrCat("--format: ", parsed.status().message()));
  }
  read->format = *parsed;
  read->columns.reset();
  if (columns.empty()) return absl::OkStatus();
  if (read->format != PurchaseFormat::kAuto) {
    return absl::InvalidArgumentError(
        "--columns: excludes --format (the mapping names every column)");
  }
  absl::StatusOr<ColumnMapping> mapping = ParseColumnMapping(columns);
  if (!mapping.ok()) {
    return absl::InvalidArgumentError(absl::StrCat("--", mapping.status().message()));
  }
  read->columns = *std::move(mapping);
  return absl::OkStatus();
}

int64_t ReadStats::total_skipped() const {
  int64_t total = 0;
  for (const auto& [reason, rows] : skipped) total += rows;
  return total;
}

int64_t DaysFromCivil(int64_t year, int month, int day) {
  // Howard Hinnant's days_from_civil.
  year -= month <= 2 ? 1 : 0;
  const int64_t era = (year >= 0 ? year : year - 399) / 400;
  const int64_t yoe = year - era * 400;
  const int64_t doy = (153 * (month + (month > 2 ? -3 : 9)) + 2) / 5 + day - 1;
  const int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + doe - 719468;
}

std::optional<int64_t> ParseTimestamp(absl::string_view text) {
  text = absl::StripAsciiWhitespace(text);
  if (text.empty()) return std::nullopt;
  // Integer unix seconds (optionally negative).
  {
    absl::string_view digits = text;
    if (digits[0] == '-') digits.remove_prefix(1);
    if (AllDigits(digits)) {
      int64_t v;
      if (!absl::SimpleAtoi(text, &v)) return std::nullopt;
      return v;
    }
  }
  // YYYY-MM-DD[( |T)HH:MM[:SS[.fff]]][Z]
  if (!text.empty() && text.back() == 'Z') text.remove_suffix(1);
  int year, month, day, hour = 0, minute = 0, second = 0;
  if (text.size() < 10 || !ParseDigits(text, 0, 4, &year) || text[4] != '-' ||
      !ParseDigits(text, 5, 2, &month) || text[7] != '-' ||
      !ParseDigits(text, 8, 2, &day)) {
    return std::nullopt;
  }
  size_t pos = 10;
  if (pos < text.size()) {
    if (text[pos] != ' ' && text[pos] != 'T') return std::nullopt;
    if (!ParseDigits(text, pos + 1, 2, &hour) || pos + 3 >= text.size() ||
        text[pos + 3] != ':' || !ParseDigits(text, pos + 4, 2, &minute)) {
      return std::nullopt;
    }
    pos += 6;
    if (pos < text.size()) {
      if (text[pos] != ':' || !ParseDigits(text, pos + 1, 2, &second)) {
        return std::nullopt;
      }
      pos += 3;
      if (pos < text.size()) {
        if (text[pos] != '.' || !AllDigits(text.substr(pos + 1))) {
          return std::nullopt;
        }
      }
    }
  }
  if (year < 1 || month < 1 || month > 12 || day < 1 ||
      day > DaysInMonth(year, month) || hour > 23 || minute > 59 ||
      second > 60) {
    return std::nullopt;
  }
  return DaysFromCivil(year, month, day) * 86400 + hour * 3600 + minute * 60 +
         second;
}

// ---------------------------------------------------------------------------
// ReadPurchases

namespace {

// Column positions of one format; -1 = absent.
struct Columns {
  int user = -1;
  int item = -1;
  int timestamp = -1;
  int quantity = -1;
  int price = -1;
  int category = -1;
  int title = -1;
  int invoice = -1;  // online_retail only
};

constexpr absl::string_view kCanonicalColumns =
    "user_id,item_id,timestamp[,quantity,price,category,title]";
constexpr absl::string_view kOnlineRetailColumns =
    "InvoiceNo,StockCode,Description,Quantity,InvoiceDate,UnitPrice,"
    "CustomerID,Country, or Online Retail II's Invoice,StockCode,Description,"
    "Quantity,InvoiceDate,Price,Customer ID,Country";

// Lower-cased, trimmed header names.
std::vector<std::string> HeaderNames(const CsvRecord& header) {
  std::vector<std::string> names;
  names.reserve(header.size());
  for (int i = 0; i < header.size(); ++i) {
    names.push_back(
        absl::AsciiStrToLower(absl::StripAsciiWhitespace(header.field(i))));
  }
  return names;
}

int Find(const std::vector<std::string>& names, absl::string_view name) {
  auto it = std::find(names.begin(), names.end(), name);
  return it == names.end() ? -1 : static_cast<int>(it - names.begin());
}

// The first of `alternatives` present in `names`, or -1.
int FindAny(const std::vector<std::string>& names,
            std::initializer_list<absl::string_view> alternatives) {
  for (absl::string_view name : alternatives) {
    if (int i = Find(names, name); i >= 0) return i;
  }
  return -1;
}

// Finds the columns of `format` in `names`; InvalidArgument names the
// missing ones.
absl::StatusOr<Columns> MapColumns(const std::string& path,
                                   PurchaseFormat format,
                                   const std::optional<ColumnMapping>& mapping,
                                   const std::vector<std::string>& names) {
  Columns c;
  std::vector<std::string> missing;
  auto require_any = [&](std::initializer_list<absl::string_view> alternatives,
                         absl::string_view shown) {
    int i = FindAny(names, alternatives);
    if (i < 0) missing.emplace_back(shown);
    return i;
  };
  auto require = [&](absl::string_view name, absl::string_view shown) {
    return require_any({name}, shown);
  };
  // A mapped column: required ones must exist, optional ones only when named.
  auto mapped = [&](const std::string& header, absl::string_view role,
                    bool required) {
    if (header.empty() && !required) return -1;
    if (const int position = ColumnPosition(header); position > 0) {
      if (position > static_cast<int>(names.size())) {
        missing.push_back(absl::StrCat(header, " (", role, ")"));
        return -1;
      }
      return position - 1;
    }
    const std::string lower =
        absl::AsciiStrToLower(absl::StripAsciiWhitespace(header));
    int i = Find(names, lower);
    if (i < 0) missing.push_back(absl::StrCat("'", header, "' (", role, ")"));
    return i;
  };
  switch (format) {
    case PurchaseFormat::kCanonical:
      c.user = require("user_id", "user_id");
      c.item = require("item_id", "item_id");
      c.timestamp = require("timestamp", "timestamp");
      c.quantity = Find(names, "quantity");
      c.price = Find(names, "price");
      c.category = Find(names, "category");
      c.title = Find(names, "title");
      break;
    case PurchaseFormat::kOnlineRetail:
      c.invoice = require_any({"invoiceno", "invoice"}, "InvoiceNo");
      c.item = require("stockcode", "StockCode");
      c.quantity = require("quantity", "Quantity");
      c.timestamp = require("invoicedate", "InvoiceDate");
      c.price = require_any({"unitprice", "price"}, "UnitPrice");
      c.user = require_any({"customerid", "customer id"}, "CustomerID");
      c.title = Find(names, "description");
      break;
    case PurchaseFormat::kMapped:
      if (!mapping.has_value()) {
        return absl::InternalError("MapColumns: mapped format without a mapping");
      }
      c.user = mapped(mapping->user, "user", true);
      c.item = mapped(mapping->item, "item", true);
      c.timestamp = mapped(mapping->time, "time", true);
      c.quantity = mapped(mapping->quantity, "quantity", false);
      c.price = mapped(mapping->price, "price", false);
      c.category = mapped(mapping->category, "category", false);
      c.title = mapped(mapping->title, "title", false);
      c.invoice = mapped(mapping->invoice, "invoice", false);
      break;
    case PurchaseFormat::kPairs:
      if (names.size() != 2) {
        return absl::InvalidArgumentError(absl::StrCat(
            path,
            ": format pairs expects a two-column header (user,item), "
            "got ",
            names.size(), " columns"));
      }
      c.user = 0;
      c.item = 1;
      break;
    case PurchaseFormat::kAuto:
      return absl::InternalError("MapColumns: unresolved format");
  }
  if (!missing.empty() && format == PurchaseFormat::kMapped) {
    if (mapping->positional()) {
      return absl::InvalidArgumentError(absl::StrCat(
          path, ": line 1 has ", names.size(), " fields, fewer than column",
          missing.size() > 1 ? "s " : " ", absl::StrJoin(missing, ", "),
          " named by --columns"));
    }
    return absl::InvalidArgumentError(absl::StrCat(
        path, ": header lacks column", missing.size() > 1 ? "s " : " ",
        absl::StrJoin(missing, ", "), " named by --columns"));
  }
  if (!missing.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(
        path, ": header lacks column", missing.size() > 1 ? "s " : " ",
        absl::StrJoin(missing, ", "), " required by format ",
        PurchaseFormatName(format), " (expected ",
        format == PurchaseFormat::kCanonical ? kCanonicalColumns
                                             : kOnlineRetailColumns,
        ")"));
  }
  return c;
}

PurchaseFormat DetectFormat(const std::vector<std::string>& names) {
  auto has = [&](absl::string_view n) { return Find(names, n) >= 0; };
  if ((has("invoiceno") || has("invoice")) && has("stockcode") &&
      (has("customerid") || has("customer id"))) {
    return PurchaseFormat::kOnlineRetail;
  }
  if (has("user_id") && has("item_id") && has("timestamp")) {
    return PurchaseFormat::kCanonical;
  }
  if (names.size() == 2) return PurchaseFormat::kPairs;
  return PurchaseFormat::kAuto;
}

// Parses rows of one file into PurchaseRows.
class RowParser {
 public:
  RowParser(PurchaseFormat format, const Columns& columns, int num_columns,
            const ReadOptions& options, ReadStats* stats)
      : columns_(columns),
        num_columns_(num_columns),
        exported_(format == PurchaseFormat::kOnlineRetail ||
                  format == PurchaseFormat::kMapped),
        options_(options),
        stats_(stats) {}

  // Returns true and fills `row_` when `record` is a usable row; otherwise
  // counts the reason.
  bool Parse(const CsvRecord& record) {
    if (record.too_long()) {
      return Malformed(kSkipRecordTooLong, record,
                       absl::StrCat("record longer than ",
                                    options_.csv.max_record_bytes, " bytes"));
    }
    if (record.size() != num_columns_) {
      return Malformed(kSkipWrongColumnCount, record,
                       absl::StrCat("expected ", num_columns_, " fields, got ",
                                    record.size()));
    }
    auto field = [&](int column) -> absl::string_view {
      return column < 0 ? absl::string_view()
                        : absl::StripAsciiWhitespace(record.field(column));
    };

    // Order of the checks: cancellations, then quantity (a non-positive
    // quantity is a return or stock adjustment, whoever the customer), then
    // ids, timestamp and price.
    if (columns_.invoice >= 0) {
      const absl::string_view invoice = field(columns_.invoice);
      if (!invoice.empty() && (invoice[0] == 'C' || invoice[0] == 'c')) {
        return Filtered(kSkipCancelled);
      }
    }
    row_.quantity = 1;
    if (columns_.quantity >= 0) {
      const absl::string_view text = field(columns_.quantity);
      if (!text.empty()) {
        std::optional<double> q = ParseNumber(text);
        if (!q) {
          return Malformed(kSkipBadNumber, record,
                           absl::StrCat("bad quantity '", Echo(text), "'"));
        }
        row_.quantity = *q;
      } else if (exported_) {
        return Malformed(kSkipMissingField, record, "empty quantity");
      }
      if (row_.quantity <= 0) return Filtered(kSkipNonPositiveQuantity);
    }

    if (exported_) {
      absl::string_view customer = field(columns_.user);
      if (customer.empty()) return Filtered(kSkipMissingCustomer);
      // Some spreadsheet exports write the id as a float ("17850.0").
      if (customer.size() > 2 && customer.substr(customer.size() - 2) == ".0") {
        customer.remove_suffix(2);
      }
      row_.user_id.assign(customer.data(), customer.size());
    } else {
      const absl::string_view user = field(columns_.user);
      if (user.empty()) {
        return Malformed(kSkipEmptyId, record, "empty user id");
      }
      row_.user_id.assign(user.data(), user.size());
    }
    const absl::string_view item = field(columns_.item);
    if (item.empty()) return Malformed(kSkipEmptyId, record, "empty item id");
    row_.item_id.assign(item.data(), item.size());
    // The ids the server accepts (common/validation.h): a row the server
    // would refuse never reaches the model or Redis.
    if (absl::Status st = CheckId("user_id", row_.user_id); !st.ok()) {
      return Malformed(kSkipBadId, record, st.message());
    }
    if (absl::Status st = CheckId("item_id", row_.item_id); !st.ok()) {
      return Malformed(kSkipBadId, record, st.message());
    }

    row_.timestamp_unix = 0;
    if (columns_.timestamp >= 0) {
      const absl::string_view text = field(columns_.timestamp);
      if (text.empty()) {
        return Malformed(kSkipMissingField, record, "empty timestamp");
      }
      std::optional<int64_t> ts = ParseTimestamp(text);
      if (!ts) {
        return Malformed(kSkipBadTimestamp, record,
                         absl::StrCat("bad timestamp '", Echo(text), "'"));
      }
      row_.timestamp_unix = *ts;
    }

    row_.price = 0;
    if (columns_.price >= 0) {
      const absl::string_view text = field(columns_.price);
      if (!text.empty()) {
        std::optional<double> p = ParseNumber(text);
        if (!p) {
          return Malformed(kSkipBadNumber, record,
                           absl::StrCat("bad price '", Echo(text), "'"));
        }
        row_.price = *p;
      } else if (exported_) {
        return Malformed(kSkipMissingField, record, "empty price");
      }
    }

    if (row_.timestamp_unix < options_.not_before_unix ||
        row_.timestamp_unix >= options_.before_unix) {
      return Filtered(kSkipOutsideTimeRange);
    }

    const absl::string_view category = field(columns_.category);
    row_.category.assign(category.data(), category.size());
    const absl::string_view title = field(columns_.title);
    row_.title.assign(title.data(), title.size());
    return true;
  }

  const PurchaseRow& row() const { return row_; }

 private:
  bool Filtered(absl::string_view reason) {
    ++stats_->skipped[std::string(reason)];
    return false;
  }

  bool Malformed(absl::string_view reason, const CsvRecord& record,
                 absl::string_view message) {
    ++stats_->skipped[std::string(reason)];
    if (static_cast<int>(stats_->errors.size()) < options_.max_error_lines) {
      stats_->errors.push_back(
          absl::StrCat("line ", record.line(), ": ", message));
    }
    return false;
  }

  const Columns columns_;
  const int num_columns_;
  // Shop exports (online_retail, mapped): guest rows and spreadsheet ids.
  const bool exported_;
  const ReadOptions& options_;
  ReadStats* const stats_;
  PurchaseRow row_;
};

}  // namespace

absl::Status ReadPurchases(
    const std::string& path, const ReadOptions& options,
    const std::function<void(const PurchaseRow&)>& on_row, ReadStats* stats) {
  if (stats == nullptr) {
    return absl::InvalidArgumentError("ReadPurchases: stats is null");
  }
  *stats = ReadStats();
  RECSYS_ASSIGN_OR_RETURN(std::unique_ptr<CsvReader> reader,
                          CsvReader::Open(path, options.csv));
  CsvRecord record;
  RECSYS_ASSIGN_OR_RETURN(bool has_header, reader->Next(&record));
  if (!has_header) {
    return absl::InvalidArgumentError(
        absl::StrCat(path, ": empty file, expected a header"));
  }
  if (record.too_long()) {
    return absl::InvalidArgumentError(
        absl::StrCat(path, ": header line longer than ",
                     options.csv.max_record_bytes, " bytes"));
  }
  const std::vector<std::string> names = HeaderNames(record);
  // A positional mapping reads a file without header: the first record is
  // already a row.
  const bool headerless = options.columns.has_value() && options.columns->positional();
  PurchaseFormat format = options.format;
  if (options.columns.has_value()) {
    if (format != PurchaseFormat::kAuto) {
      return absl::InvalidArgumentError(absl::StrCat(
          path, ": a column mapping and format ", PurchaseFormatName(format),
          " were both given; use one"));
    }
    format = PurchaseFormat::kMapped;
  }
  if (format == PurchaseFormat::kAuto) {
    format = DetectFormat(names);
    if (format == PurchaseFormat::kAuto) {
      std::string shown(record.size() > 0 ? record.field(0) : "");
      for (int i = 1; i < record.size(); ++i) {
        absl::StrAppend(&shown, ",", record.field(i));
      }
      return absl::InvalidArgumentError(absl::StrCat(
          path, ": unrecognised header '", Echo(shown),
          "': expected canonical (", kCanonicalColumns, "), online_retail (",
          kOnlineRetailColumns,
          ") or a two-column user,item pairs header; name the columns of any "
          "other export with a mapping (--columns user=...,item=...,time=...)"));
    }
  }
  RECSYS_ASSIGN_OR_RETURN(Columns columns,
                          MapColumns(path, format, options.columns, names));
  stats->format = format;

  RowParser parser(format, columns, record.size(), options, stats);
  bool pending = headerless;
  while (true) {
    if (!pending) {
      RECSYS_ASSIGN_OR_RETURN(bool more, reader->Next(&record));
      if (!more) break;
    }
    pending = false;
    ++stats->rows_read;
    if (!parser.Parse(record)) continue;
    const PurchaseRow& row = parser.row();
    if (stats->rows_used == 0) {
      stats->first_unix = stats->last_unix = row.timestamp_unix;
    } else {
      stats->first_unix = std::min(stats->first_unix, row.timestamp_unix);
      stats->last_unix = std::max(stats->last_unix, row.timestamp_unix);
    }
    ++stats->rows_used;
    on_row(row);
  }
  return absl::OkStatus();
}

}  // namespace recsys::training
