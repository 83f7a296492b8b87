#include "nightly/history.h"

#include <sys/stat.h>

#include <algorithm>
#include <charconv>
#include <cstdio>
#include <filesystem>
#include <map>
#include <optional>
#include <regex>
#include <system_error>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/time/time.h"
#include "common/status_macros.h"

namespace recsys::nightly {
namespace {

namespace fs = std::filesystem;

constexpr int64_t kDay = 86400;

std::string CsvField(absl::string_view s) {
  if (s.find_first_of(",\"\r\n") == absl::string_view::npos) {
    return std::string(s);
  }
  std::string out = "\"";
  for (char c : s) {
    if (c == '"') out += '"';
    out += c;
  }
  out += '"';
  return out;
}

std::string Number(double v) {
  char buf[32];
  auto r = std::to_chars(buf, buf + sizeof(buf), v);
  return std::string(buf, r.ptr);
}

// "line 3: bad quantity 'x'" of the first malformed row, or "".
std::string FirstError(const training::ReadStats& stats) {
  return stats.errors.empty()
             ? std::string()
             : absl::StrCat(", first malformed: ", stats.errors[0]);
}

std::string SkipSummary(const training::ReadStats& stats) {
  std::vector<std::string> parts;
  for (const auto& [reason, rows] : stats.skipped) {
    parts.push_back(absl::StrCat(reason, " ", rows));
  }
  return parts.empty() ? "none" : absl::StrJoin(parts, ", ");
}

// Reads `path`, handing rows to `on_row`; the file-and-line messages of the
// header and of a file without usable rows.
absl::Status ReadOne(
    const std::string& path, const training::ReadOptions& read,
    const std::function<void(const training::PurchaseRow&)>& on_row,
    training::ReadStats* stats) {
  training::ReadOptions options = read;
  options.max_error_lines = std::max(1, options.max_error_lines);
  absl::Status s = training::ReadPurchases(path, options, on_row, stats);
  if (!s.ok()) {
    if (absl::IsInvalidArgument(s) &&
        absl::StartsWith(s.message(), path + ": ")) {
      return absl::InvalidArgumentError(absl::StrCat(
          path, ": line 1: ", s.message().substr(path.size() + 2)));
    }
    return s;
  }
  if (stats->rows_used == 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        path, ": no usable purchase rows (read ", stats->rows_read,
        " rows; skipped: ", SkipSummary(*stats), FirstError(*stats), ")"));
  }
  return absl::OkStatus();
}

// Adds `path`'s name, size and mtime to the fingerprint.
uint64_t AddFileToHash(const std::string& path, uint64_t h) {
  struct stat st {};
  if (::stat(path.c_str(), &st) == 0) {
    h = Fnv1a64(absl::StrCat(path, "|", static_cast<int64_t>(st.st_size), "|",
                             static_cast<int64_t>(st.st_mtim.tv_sec), ".",
                             static_cast<int64_t>(st.st_mtim.tv_nsec), "\n"),
                h);
  }
  return h;
}

}  // namespace

uint64_t Fnv1a64(absl::string_view data, uint64_t seed) {
  uint64_t h = seed;
  for (unsigned char c : data) {
    h ^= c;
    h *= 1099511628211ULL;
  }
  return h;
}

absl::StatusOr<HistoryInput> PrepareHistory(const std::string& input,
                                            const training::ReadOptions& read,
                                            const std::string& combined_path) {
  HistoryInput out;
  std::error_code ec;
  if (input.empty()) return absl::InvalidArgumentError("--input: required");
  if (!fs::exists(input, ec)) {
    return absl::NotFoundError(
        absl::StrCat(input, ": no such file or directory"));
  }
  if (!fs::is_directory(input, ec)) {
    training::ReadStats stats;
    RECSYS_RETURN_IF_ERROR(ReadOne(
        input, read, [](const training::PurchaseRow&) {}, &stats));
    out.path = input;
    out.files = {input};
    out.rows_read = stats.rows_read;
    out.rows_used = stats.rows_used;
    out.first_unix = stats.first_unix;
    out.last_unix = stats.last_unix;
    out.fingerprint =
        absl::StrFormat("%016x", AddFileToHash(input, Fnv1a64("")));
    return out;
  }

  // Daily files by date.
  static const std::regex kDaily(R"(.*(\d{4}-\d{2}-\d{2}).*\.csv(\.gz)?)");
  std::map<int64_t, std::string> days;
  for (const auto& entry : fs::directory_iterator(input, ec)) {
    if (!entry.is_regular_file()) continue;
    const std::string name = entry.path().filename().string();
    std::smatch m;
    if (name.empty() || name[0] == '.' || !std::regex_match(name, m, kDaily))
      continue;
    absl::Time day;
    std::string err;
    if (!absl::ParseTime("%Y-%m-%d", m[1].str(), absl::UTCTimeZone(), &day,
                         &err)) {
      continue;
    }
    const int64_t d = absl::ToUnixSeconds(day) / kDay;
    auto [it, inserted] = days.emplace(d, entry.path().string());
    if (!inserted) {
      return absl::InvalidArgumentError(
          absl::StrCat(input, ": two files for day ", m[1].str(), ": ",
                       it->second, " and ", entry.path().string()));
    }
  }
  if (ec)
    return absl::UnavailableError(absl::StrCat(input, ": ", ec.message()));
  if (days.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(
        input,
        ": no daily export (a file named with its date YYYY-MM-DD, "
        "ending in .csv or .csv.gz)"));
  }
  for (int64_t d = days.begin()->first; d <= days.rbegin()->first; ++d) {
    if (days.count(d) == 0) {
      const std::string date = absl::FormatTime(
          "%Y-%m-%d", absl::FromUnixSeconds(d * kDay), absl::UTCTimeZone());
      // The expected name: the first day's file name with this date.
      std::string name = fs::path(days.begin()->second).filename().string();
      std::smatch m;
      std::regex_match(name, m, kDaily);
      name.replace(m.position(1), m.length(1), date);
      return absl::InvalidArgumentError(
          absl::StrCat(input, "/", name, ": missing: no export of ", date,
                       " between the first and the last day's files"));
    }
  }

  const std::string tmp = combined_path + ".tmp";
  FILE* f = std::fopen(tmp.c_str(), "wb");
  if (f == nullptr) {
    return absl::UnavailableError(absl::StrCat(tmp, ": cannot create"));
  }
  bool write_ok = true;
  std::string buffer =
      "user_id,item_id,timestamp,quantity,price,category,title\n";
  auto flush = [&] {
    if (!buffer.empty() && write_ok) {
      write_ok =
          std::fwrite(buffer.data(), 1, buffer.size(), f) == buffer.size();
    }
    buffer.clear();
  };
  uint64_t hash = Fnv1a64("");
  absl::Status status;
  for (const auto& [d, path] : days) {
    training::ReadStats stats;
    status = ReadOne(
        path, read,
        [&](const training::PurchaseRow& r) {
          absl::StrAppend(&buffer, CsvField(r.user_id), ",",
                          CsvField(r.item_id), ",", r.timestamp_unix, ",",
                          Number(r.quantity), ",", Number(r.price), ",",
                          CsvField(r.category), ",", CsvField(r.title), "\n");
          if (buffer.size() >= (1 << 20)) flush();
        },
        &stats);
    if (!status.ok()) break;
    out.files.push_back(path);
    out.rows_read += stats.rows_read;
    out.rows_used += stats.rows_used;
    if (out.first_unix == 0 || stats.first_unix < out.first_unix)
      out.first_unix = stats.first_unix;
    out.last_unix = std::max(out.last_unix, stats.last_unix);
    hash = AddFileToHash(path, hash);
  }
  flush();
  const bool synced =
      write_ok && std::fflush(f) == 0 && ::fsync(fileno(f)) == 0;
  const bool closed = std::fclose(f) == 0;
  if (!status.ok() || !synced || !closed) {
    std::remove(tmp.c_str());
    if (!status.ok()) return status;
    return absl::UnavailableError(absl::StrCat(tmp, ": write failed"));
  }
  if (std::rename(tmp.c_str(), combined_path.c_str()) != 0) {
    std::remove(tmp.c_str());
    return absl::UnavailableError(
        absl::StrCat(combined_path, ": rename failed"));
  }
  out.path = combined_path;
  out.fingerprint = absl::StrFormat("%016x", hash);
  return out;
}

}  // namespace recsys::nightly
