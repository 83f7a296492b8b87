// Streaming CSV input for the trainer.
//
// Two layers:
//   - CsvReader: RFC-4180 records from a plain or gzip-compressed file, one
//     record at a time, with a bound on the size of a record.
//   - ReadPurchases: purchase rows (canonical, online_retail or pairs layout)
//     handed to a callback one at a time, with per-reason counts of skipped
//     rows. Nothing is accumulated, so inputs of any length stream through in
//     constant memory.
//
// Thread safety: a CsvReader is not thread-safe (one reader per thread).
// ReadPurchases and the parse helpers keep no shared state and may run
// concurrently.
#ifndef RECSYS_TRAINING_CSV_READER_H_
#define RECSYS_TRAINING_CSV_READER_H_

#include <cstdint>
#include <functional>
#include <limits>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace recsys::training {

struct CsvReaderOptions {
  // A record (all its fields, delimiters and quotes) longer than this many
  // bytes is not returned: Next() reports it as too long and resumes at the
  // next physical line. Bounds the memory one record can take.
  int64_t max_record_bytes = int64_t{1} << 20;
  // Size of the decompressed read buffer.
  int buffer_bytes = 1 << 18;
  // Field separator: ',' (CSV), '\t' (TSV), ';' or '|'.
  char delimiter = ',';
};

// One CSV record. The fields are reused between calls to Next(), so a record
// read in a loop allocates only when a field grows past its previous size.
class CsvRecord {
 public:
  int size() const { return size_; }
  absl::string_view field(int i) const { return fields_[i]; }
  // Physical line (1-based) on which the record starts.
  int64_t line() const { return line_; }
  // True when the record exceeded CsvReaderOptions::max_record_bytes; then
  // size() is 0.
  bool too_long() const { return too_long_; }

 private:
  friend class CsvReader;
  std::vector<std::string> fields_;
  int size_ = 0;
  int64_t line_ = 0;
  bool too_long_ = false;
};

// Reads RFC-4180 records: fields separated by ',' (or
// CsvReaderOptions::delimiter), records by "\n" or
// "\r\n"; a field starting with '"' is quoted and may contain ',', line
// breaks and doubled quotes ("" stands for "). Lenient where the RFC is
// silent: a quote inside an unquoted field is kept literally, characters
// after a closing quote are appended to the field, and an unterminated quote
// runs to the end of the input (or until the record is too long). Blank lines
// are skipped. A UTF-8 byte-order mark at the start is dropped.
//
// Input is read through zlib, which decompresses gzip files and passes any
// other file through unchanged, so "x.csv" and "x.csv.gz" both work.
//
// Thread safety: not thread-safe.
class CsvReader {
 public:
  // NotFound if `path` does not exist, PermissionDenied / Internal if it
  // cannot be opened.
  static absl::StatusOr<std::unique_ptr<CsvReader>> Open(
      const std::string& path, const CsvReaderOptions& options = {});

  ~CsvReader();
  CsvReader(const CsvReader&) = delete;
  CsvReader& operator=(const CsvReader&) = delete;

  // Reads the next record into `*record`. Returns true when a record (possibly
  // a too-long one, see CsvRecord::too_long) was read, false at the end of
  // the input. DataLoss for a corrupt or truncated gzip stream, Internal for
  // other read errors.
  absl::StatusOr<bool> Next(CsvRecord* record);

  // Number of physical lines consumed so far.
  int64_t lines() const { return line_ - 1; }

 private:
  CsvReader(void* file, std::string path, const CsvReaderOptions& options);

  // Refills buffer_; returns false at end of input (or on error, which is
  // then stored in status_).
  bool Refill();

  // Immutable after construction.
  void* const file_;  // gzFile
  const std::string path_;
  const CsvReaderOptions options_;

  std::vector<char> buffer_;
  size_t pos_ = 0;
  size_t end_ = 0;
  bool eof_ = false;
  bool at_start_ = true;
  int64_t line_ = 1;
  absl::Status status_;
};

// Layout of a purchase file.
enum class PurchaseFormat {
  // Chosen from the header line (see ReadPurchases).
  kAuto,
  // user_id,item_id,timestamp[,quantity][,price][,category][,title], columns
  // located by (case-insensitive) header name, in any order.
  kCanonical,
  // UCI Online Retail:
  // InvoiceNo,StockCode,Description,Quantity,InvoiceDate,UnitPrice,
  // CustomerID,Country.
  kOnlineRetail,
  // Exactly two columns, user then item (e.g. "user_id,movie_id"); no
  // timestamps (0), quantity 1, price 0.
  kPairs,
  // Any export whose columns are named by ReadOptions::columns (a
  // ColumnMapping); set by ReadPurchases when a mapping is given.
  kMapped,
};

// "auto", "canonical", "online_retail", "pairs", "mapped".
absl::string_view PurchaseFormatName(PurchaseFormat format);
// Inverse of PurchaseFormatName for the formats a caller may ask for (not
// "mapped", which comes from a ColumnMapping); InvalidArgument lists them.
absl::StatusOr<PurchaseFormat> ParsePurchaseFormat(absl::string_view name);

// Which header column holds each field of a purchase row, for exports in
// any layout. Names are matched case-insensitively, surrounding blanks
// ignored; an empty name means the export has no such column. A name "#N"
// is the N-th column (1-based) of a file without a header line (e.g.
// MovieLens' u.data: user=#1,item=#2,time=#4); positions and names cannot be
// mixed.
struct ColumnMapping {
  // Required.
  std::string user;
  std::string item;
  std::string time;
  // Optional: units (default 1; empty cells are malformed rows, zero or
  // negative ones returns), unit price (default 0), category, title.
  std::string quantity;
  std::string price;
  std::string category;
  std::string title;
  // Optional: the invoice or order number; rows whose invoice starts with
  // 'C' are cancellations and skipped as "cancelled".
  std::string invoice;

  // True when the columns are positions ("#N"): the file has no header.
  bool positional() const;
};

// Parses "role=Header Name,role=Header Name,..." with the roles user, item,
// time (required), quantity, price, category, title, invoice, e.g.
//   user=Customer ID,item=StockCode,time=InvoiceDate,quantity=Quantity
// InvalidArgument names an unknown or repeated role, a missing '=', an empty
// header name, or a missing required role.
absl::StatusOr<ColumnMapping> ParseColumnMapping(absl::string_view spec);

// One purchase line. Passed to the callback by const reference and reused
// for the next row: copy what you keep.
struct PurchaseRow {
  std::string user_id;
  std::string item_id;
  // Unix seconds, UTC; 0 when the format has no time.
  int64_t timestamp_unix = 0;
  // Units bought (> 0).
  double quantity = 1;
  // Unit price; 0 when unknown.
  double price = 0;
  // Empty when the format has none.
  std::string category;
  std::string title;
};

struct ReadOptions {
  // Layout of the file; kAuto detects it from the header.
  PurchaseFormat format = PurchaseFormat::kAuto;
  // When set, the columns are found by these header names whatever the
  // layout (format must then be kAuto); rows are read as kMapped.
  std::optional<ColumnMapping> columns;
  // Record size limit and buffer size of the underlying CsvReader.
  CsvReaderOptions csv;
  // How many malformed rows are described in ReadStats::errors.
  int max_error_lines = 10;
  // Time filter: only rows with not_before_unix <= timestamp < before_unix
  // are used; the others are skipped as "outside_time_range". The defaults
  // keep everything.
  int64_t not_before_unix = std::numeric_limits<int64_t>::min();
  int64_t before_unix = std::numeric_limits<int64_t>::max();
};

// Skip reasons used in ReadStats::skipped.
inline constexpr absl::string_view kSkipCancelled = "cancelled";
inline constexpr absl::string_view kSkipMissingCustomer = "missing_customer";
inline constexpr absl::string_view kSkipNonPositiveQuantity =
    "non_positive_quantity";
inline constexpr absl::string_view kSkipOutsideTimeRange = "outside_time_range";
inline constexpr absl::string_view kSkipBadTimestamp = "bad_timestamp";
inline constexpr absl::string_view kSkipBadNumber = "bad_number";
inline constexpr absl::string_view kSkipMissingField = "missing_field";
inline constexpr absl::string_view kSkipWrongColumnCount = "wrong_column_count";
inline constexpr absl::string_view kSkipRecordTooLong = "record_too_long";
inline constexpr absl::string_view kSkipEmptyId = "empty_id";
// An id the server would refuse (common/validation.h CheckId: over 256
// bytes, a control character such as a tab or line break, invalid UTF-8).
inline constexpr absl::string_view kSkipBadId = "bad_id";

struct ReadStats {
  // The format actually read (after auto-detection).
  PurchaseFormat format = PurchaseFormat::kAuto;
  // Data records after the header (blank lines are not records).
  int64_t rows_read = 0;
  // Rows passed to the callback.
  int64_t rows_used = 0;
  // Skip reason -> rows. rows_read == rows_used + sum of skipped.
  // Cancelled, missing_customer, non_positive_quantity and
  // outside_time_range are filters; every other reason marks a malformed row.
  std::map<std::string, int64_t> skipped;
  // The first ReadOptions::max_error_lines malformed rows, e.g.
  // "line 17: bad quantity 'abc'".
  std::vector<std::string> errors;
  // Range of the used rows' timestamps (0 when no row was used).
  int64_t first_unix = 0;
  int64_t last_unix = 0;

  int64_t total_skipped() const;
};

// Help texts of the input flags every program that reads purchase files
// takes, and their one parser: sets read->format from `format` (auto,
// canonical, online_retail, pairs) and read->columns from `columns` (a
// ColumnMapping spec; empty: none) and read->csv.delimiter from `delimiter`
// ("," ";" "|" or "tab"). InvalidArgument names the flag.
inline constexpr char kFormatFlagHelp[] =
    "auto | canonical | online_retail | pairs (auto reads the header; "
    "online_retail covers Online Retail and Online Retail II).";
inline constexpr char kColumnsFlagHelp[] =
    "Column mapping for any other export, role=Header Name,...: roles user, "
    "item, time (required), quantity, price, category, title, invoice; e.g. "
    "'user=Customer ID,item=StockCode,time=InvoiceDate'. Excludes --format.";
inline constexpr char kDelimiterFlagHelp[] =
    "Field separator of the input: , (default) ; | or tab.";
absl::Status ParseInputFlags(absl::string_view format, absl::string_view columns,
                             absl::string_view delimiter, ReadOptions* read);

// Streams the purchase rows of `path` (plain or .gz) into `on_row`, in file
// order. Rows that are malformed or filtered out are counted in `*stats`
// (required) and never stop the read.
//
// Auto-detection: a header with InvoiceNo (or Invoice), StockCode and
// CustomerID (or Customer ID) is online_retail — UCI Online Retail and Online
// Retail II (Invoice,StockCode,Description,Quantity,InvoiceDate,Price,
// Customer ID,Country) alike; one with user_id, item_id and timestamp is
// canonical; any other two-column header is pairs. ReadOptions::columns
// reads any other layout.
//
// online_retail and mapped rows: an invoice starting with 'C' is a
// cancellation, an empty customer a guest purchase (skipped as
// "missing_customer"), and a customer id written as a float by a spreadsheet
// ("17850.0") is read as "17850".
//
// Timestamps: integer unix seconds, or "YYYY-MM-DD HH:MM[:SS[.fff]]" with
// ' ' or 'T' and an optional trailing 'Z', or "YYYY-MM-DD"; all read as UTC
// (online_retail's local UK times are read as UTC too).
//
// Errors: NotFound (missing file); InvalidArgument for an empty file ("...:
// empty file, expected a header") or a header that lacks a required column
// for the requested format or mapping (the message names the columns), or
// both a format and a mapping; DataLoss /
// Internal for read errors. On error the rows already handed to `on_row`
// stay handed.
absl::Status ReadPurchases(
    const std::string& path, const ReadOptions& options,
    const std::function<void(const PurchaseRow&)>& on_row, ReadStats* stats);

// Parses a timestamp in one of the forms accepted by ReadPurchases (see
// above). nullopt if malformed or out of range (years 1..9999).
std::optional<int64_t> ParseTimestamp(absl::string_view text);

// Days since 1970-01-01 of a proleptic Gregorian date (month 1..12).
int64_t DaysFromCivil(int64_t year, int month, int day);

}  // namespace recsys::training

#endif  // RECSYS_TRAINING_CSV_READER_H_
