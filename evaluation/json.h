// A minimal JSON value for the evaluation reports (write-only): null,
// bool, number, string, array and object (keys kept in insertion order).
//
//   Json report = Json::Object();
//   report.Set("users", 1950).Set("model", "ials");
//   report.Set("ks", Json::Array().Push(10).Push(20));
//   std::string text = report.Dump();
//
// Thread safety: a value is not thread-safe; distinct values are
// independent.
#ifndef RECSYS_EVALUATION_JSON_H_
#define RECSYS_EVALUATION_JSON_H_

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/string_view.h"

namespace recsys::evaluation {

class Json {
 public:
  Json() = default;                                                 // null
  Json(bool b) : kind_(kBool), bool_(b) {}                          // NOLINT
  Json(int v) : kind_(kInt), int_(v) {}                             // NOLINT
  Json(int64_t v) : kind_(kInt), int_(v) {}                         // NOLINT
  Json(uint64_t v) : kind_(kInt), int_(static_cast<int64_t>(v)) {}  // NOLINT
  Json(double v) : kind_(kDouble), double_(v) {}                    // NOLINT
  Json(float v) : kind_(kDouble), double_(v) {}                     // NOLINT
  Json(const char* s) : kind_(kString), string_(s) {}               // NOLINT
  Json(std::string s) : kind_(kString), string_(std::move(s)) {}    // NOLINT
  Json(absl::string_view s) : kind_(kString), string_(s) {}         // NOLINT

  static Json Array() {
    Json j;
    j.kind_ = kArray;
    return j;
  }
  static Json Object() {
    Json j;
    j.kind_ = kObject;
    return j;
  }

  // Appends to an array (a null value becomes an array).
  Json& Push(Json value);
  // Sets a key of an object (a null value becomes an object); an existing
  // key is replaced.
  Json& Set(absl::string_view key, Json value);

  // Compact text when indent < 0, else pretty-printed with `indent` spaces.
  // Non-finite numbers are written as null.
  std::string Dump(int indent = 2) const;

 private:
  enum Kind { kNull, kBool, kInt, kDouble, kString, kArray, kObject };
  void DumpTo(std::string* out, int indent, int depth) const;

  Kind kind_ = kNull;
  bool bool_ = false;
  int64_t int_ = 0;
  double double_ = 0;
  std::string string_;
  std::vector<Json> items_;
  std::vector<std::pair<std::string, Json>> fields_;
};

// Escapes `s` as a JSON string literal, quotes included.
std::string JsonQuote(absl::string_view s);

}  // namespace recsys::evaluation

#endif  // RECSYS_EVALUATION_JSON_H_
