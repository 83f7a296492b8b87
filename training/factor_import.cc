#include "training/factor_import.h"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <memory>
#include <nlohmann/json.hpp>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "common/status_macros.h"
#include "training/csv_reader.h"

namespace recsys::training {
namespace {

namespace fs = std::filesystem;

// The files of an export: the path itself, or a directory's part files.
absl::StatusOr<std::vector<std::string>> ExportFiles(const std::string& path) {
  std::error_code ec;
  if (!fs::exists(path, ec)) return absl::NotFoundError(absl::StrCat(path, ": not found"));
  if (!fs::is_directory(path, ec)) return std::vector<std::string>{path};
  std::vector<std::string> files;
  for (const fs::directory_entry& e : fs::directory_iterator(path, ec)) {
    const std::string name = e.path().filename().string();
    if (!e.is_regular_file() || !absl::StartsWith(name, "part-") ||
        absl::EndsWith(name, ".crc")) {
      continue;
    }
    files.push_back(e.path().string());
  }
  if (ec) return absl::InternalError(absl::StrCat(path, ": ", ec.message()));
  std::sort(files.begin(), files.end());
  if (files.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(path, ": a directory without part-* files"));
  }
  return files;
}

// Parses "[0.1, -0.2]", "0.1;-0.2" or "0.1 -0.2" into `out`; an error names
// the bad element.
absl::Status ParseFeatureText(absl::string_view text, std::vector<float>* out) {
  text = absl::StripAsciiWhitespace(text);
  if (absl::ConsumePrefix(&text, "[") && !absl::ConsumeSuffix(&text, "]")) {
    return absl::InvalidArgumentError("features: '[' without ']'");
  }
  out->clear();
  int index = 0;
  for (absl::string_view part : absl::StrSplit(text, absl::ByAnyChar(",; "), absl::SkipEmpty())) {
    double v = 0;
    if (!absl::SimpleAtod(part, &v) || !std::isfinite(v)) {
      return absl::InvalidArgumentError(
          absl::StrCat("features[", index, "]: not a finite number"));
    }
    out->push_back(static_cast<float>(v));
    ++index;
  }
  if (out->empty()) return absl::InvalidArgumentError("features: empty");
  return absl::OkStatus();
}

// One JSON line: {"id": ..., "features": [...]}.
absl::Status ParseJsonLine(absl::string_view line, std::string* id, std::vector<float>* out) {
  const nlohmann::json j = nlohmann::json::parse(line.begin(), line.end(), nullptr,
                                                 /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object()) return absl::InvalidArgumentError("not a JSON object");
  const auto id_it = j.find("id");
  if (id_it == j.end()) return absl::InvalidArgumentError("id: missing");
  if (id_it->is_number_integer()) {
    *id = absl::StrCat(id_it->get<int64_t>());
  } else if (id_it->is_string()) {
    *id = id_it->get<std::string>();
  } else {
    return absl::InvalidArgumentError("id: must be an integer or a string");
  }
  const auto f = j.find("features");
  if (f == j.end() || !f->is_array()) return absl::InvalidArgumentError("features: missing array");
  out->clear();
  for (size_t i = 0; i < f->size(); ++i) {
    const nlohmann::json& v = (*f)[i];
    if (!v.is_number() || !std::isfinite(v.get<double>())) {
      return absl::InvalidArgumentError(absl::StrCat("features[", i, "]: not a finite number"));
    }
    out->push_back(static_cast<float>(v.get<double>()));
  }
  if (out->empty()) return absl::InvalidArgumentError("features: empty");
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<FactorTable> ReadSparkFactors(const std::string& path, FactorReadStats* stats) {
  RECSYS_ASSIGN_OR_RETURN(const std::vector<std::string> files, ExportFiles(path));
  FactorTable table;
  absl::flat_hash_map<std::string, int> seen;
  std::vector<float> features;
  std::string id;
  for (const std::string& file : files) {
    const std::string name = fs::path(file).filename().string();
    // Tab-separated records: a JSON or CSV line is one record, read with
    // the trainer's reader (gzip, long-line bound, line numbers).
    CsvReaderOptions csv;
    csv.delimiter = '\t';
    RECSYS_ASSIGN_OR_RETURN(std::unique_ptr<CsvReader> reader,
                            CsvReader::Open(file, csv));
    CsvRecord record;
    while (true) {
      RECSYS_ASSIGN_OR_RETURN(const bool more, reader->Next(&record));
      if (!more) break;
      absl::Status st;
      if (record.too_long()) {
        st = absl::InvalidArgumentError("line too long");
      } else if (record.size() != 1) {
        st = absl::InvalidArgumentError("unexpected tab");
      }
      const absl::string_view line =
          st.ok() ? absl::StripAsciiWhitespace(record.field(0)) : absl::string_view();
      if (st.ok() && absl::EqualsIgnoreCase(absl::StrReplaceAll(line, {{"\"", ""}}), "id,features")) {
        continue;  // a CSV header
      }
      ++stats->rows_read;
      if (st.ok() && absl::StartsWith(line, "{")) {
        st = ParseJsonLine(line, &id, &features);
      } else if (st.ok()) {
        const size_t comma = line.find(',');
        if (comma == absl::string_view::npos || comma == 0) {
          st = absl::InvalidArgumentError("expected id,features");
        } else {
          id = std::string(absl::StripAsciiWhitespace(line.substr(0, comma)));
          absl::string_view rest = absl::StripAsciiWhitespace(line.substr(comma + 1));
          // A quoted features field, as CSV writers quote "[a,b]".
          if (rest.size() >= 2 && rest.front() == '"' && rest.back() == '"') {
            rest = rest.substr(1, rest.size() - 2);
          }
          st = ParseFeatureText(rest, &features);
        }
      }
      if (st.ok() && table.dim != 0 && static_cast<int>(features.size()) != table.dim) {
        st = absl::InvalidArgumentError(absl::StrCat("features: ", features.size(),
                                                     " values, the first row had ", table.dim));
      }
      if (st.ok() && seen.contains(id)) {
        st = absl::InvalidArgumentError(absl::StrCat("id ", id, ": repeated (line ",
                                                     seen[id], " is kept)"));
      }
      if (!st.ok()) {
        ++stats->malformed;
        if (static_cast<int>(stats->errors.size()) < stats->max_error_lines) {
          stats->errors.push_back(absl::StrCat(name, " line ", record.line(), ": ", st.message()));
        }
        continue;
      }
      if (table.dim == 0) table.dim = static_cast<int>(features.size());
      seen[id] = static_cast<int>(record.line());
      table.ids.push_back(id);
      table.values.insert(table.values.end(), features.begin(), features.end());
      ++stats->rows_used;
    }
  }
  if (table.ids.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat(path, ": no usable factor row (", stats->rows_read, " read",
                     stats->errors.empty() ? "" : "; ", absl::StrJoin(stats->errors, "; "), ")"));
  }
  return table;
}

absl::Status ApplyIdMap(const std::string& map_path, FactorTable* table, int64_t* unmapped) {
  RECSYS_ASSIGN_OR_RETURN(std::unique_ptr<CsvReader> reader,
                          CsvReader::Open(map_path));
  absl::flat_hash_map<std::string, std::string> map;
  CsvRecord record;
  bool first = true;
  while (true) {
    RECSYS_ASSIGN_OR_RETURN(const bool more, reader->Next(&record));
    if (!more) break;
    const bool header = first && record.size() == 2 && !record.field(0).empty() &&
                        !absl::ascii_isdigit(static_cast<unsigned char>(record.field(0)[0]));
    first = false;
    if (header) continue;
    if (record.too_long() || record.size() != 2 || record.field(0).empty() ||
        record.field(1).empty()) {
      return absl::InvalidArgumentError(absl::StrCat(
          map_path, " line ", record.line(), ": expected spark_id,shop_id"));
    }
    if (!map.emplace(std::string(record.field(0)), std::string(record.field(1))).second) {
      return absl::InvalidArgumentError(absl::StrCat(map_path, " line ", record.line(),
                                                     ": spark id ", record.field(0), " repeated"));
    }
  }
  FactorTable out;
  out.dim = table->dim;
  *unmapped = 0;
  for (size_t r = 0; r < table->ids.size(); ++r) {
    auto it = map.find(table->ids[r]);
    if (it == map.end()) {
      ++*unmapped;
      continue;
    }
    out.ids.push_back(it->second);
    out.values.insert(out.values.end(), table->values.begin() + r * table->dim,
                      table->values.begin() + (r + 1) * table->dim);
  }
  *table = std::move(out);
  return absl::OkStatus();
}

namespace {

// Copies the table rows of `ids` (the history's, in row order) into
// `factors`; returns the rows left without a vector. `unknown` counts the
// table rows whose id is not in `ids`.
std::vector<int32_t> FillKnown(const FactorTable& table, const std::vector<std::string>& ids,
                               std::vector<float>* factors, int64_t* unknown) {
  absl::flat_hash_map<absl::string_view, int32_t> row_of;
  row_of.reserve(ids.size());
  for (size_t i = 0; i < ids.size(); ++i) row_of[ids[i]] = static_cast<int32_t>(i);
  std::vector<bool> filled(ids.size(), false);
  *unknown = 0;
  for (size_t r = 0; r < table.ids.size(); ++r) {
    auto it = row_of.find(table.ids[r]);
    if (it == row_of.end()) {
      ++*unknown;
      continue;
    }
    std::copy(table.values.begin() + r * table.dim, table.values.begin() + (r + 1) * table.dim,
              factors->begin() + static_cast<size_t>(it->second) * table.dim);
    filled[it->second] = true;
  }
  std::vector<int32_t> missing;
  for (size_t i = 0; i < ids.size(); ++i) {
    if (!filled[i]) missing.push_back(static_cast<int32_t>(i));
  }
  return missing;
}

// One iALS least-squares step for each row in `rows` of `matrix` (rows x
// other), against `other` (other rows x dim).
absl::Status SolveRows(const CsrMatrix& matrix, const std::vector<float>& other,
                       int dim, float lambda, const std::vector<int32_t>& rows,
                       std::vector<float>* factors) {
  if (rows.empty()) return absl::OkStatus();
  const std::vector<float> gramian = ComputeGramian(other, dim, lambda);
  for (int32_t r : rows) {
    const int64_t b = matrix.row_begin(r), e = matrix.row_end(r);
    float* x = factors->data() + static_cast<size_t>(r) * dim;
    RECSYS_RETURN_IF_ERROR(SolveRow(
        gramian, other, dim,
        absl::MakeConstSpan(matrix.indices.data() + b, static_cast<size_t>(e - b)),
        absl::MakeConstSpan(matrix.values.data() + b, static_cast<size_t>(e - b)),
        AlsSolver::kCholesky, 0, x));
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<AlsModel> ImportFactors(const FactorTable& users,
                                                 const FactorTable& items,
                                                 const InteractionData& data,
                                                 const CsrMatrix& confidence,
                                                 float lambda, ImportStats* stats) {
  if (users.dim != items.dim || users.dim <= 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        "factors: user vectors have ", users.dim, " values, item vectors ", items.dim));
  }
  if (confidence.rows != data.num_users() || confidence.cols != data.num_items()) {
    return absl::InvalidArgumentError("confidence: not the data's users x items");
  }
  const int dim = users.dim;
  AlsModel model;
  model.factors = dim;
  model.num_users = data.num_users();
  model.num_items = data.num_items();
  model.user_factors.assign(static_cast<size_t>(model.num_users) * dim, 0.f);
  model.item_factors.assign(static_cast<size_t>(model.num_items) * dim, 0.f);
  const std::vector<int32_t> missing_users =
      FillKnown(users, data.user_ids, &model.user_factors, &stats->users_unknown);
  const std::vector<int32_t> missing_items =
      FillKnown(items, data.item_ids, &model.item_factors, &stats->items_unknown);
  stats->users_matched = model.num_users - static_cast<int32_t>(missing_users.size());
  stats->items_matched = model.num_items - static_cast<int32_t>(missing_items.size());
  stats->users_solved = static_cast<int32_t>(missing_users.size());
  stats->items_solved = static_cast<int32_t>(missing_items.size());
  if (stats->users_matched == 0 || stats->items_matched == 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        "factors: ", stats->users_matched, " of ", model.num_users, " users and ",
        stats->items_matched, " of ", model.num_items,
        " items of the history have an exported vector; are the ids the history's (see "
        "--user_id_map / --item_id_map)?"));
  }
  // Items from the exported users (users without a vector are zero rows
  // and add nothing), then users from every item.
  RECSYS_RETURN_IF_ERROR(SolveRows(Transpose(confidence), model.user_factors, dim,
                                   lambda, missing_items, &model.item_factors));
  RECSYS_RETURN_IF_ERROR(SolveRows(confidence, model.item_factors, dim, lambda, missing_users,
                                   &model.user_factors));
  return model;
}

}  // namespace recsys::training
