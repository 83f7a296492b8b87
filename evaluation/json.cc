#include "evaluation/json.h"

#include <cmath>
#include <cstdio>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace recsys::evaluation {

Json& Json::Push(Json value) {
  if (kind_ == kNull) kind_ = kArray;
  items_.push_back(std::move(value));
  return *this;
}

Json& Json::Set(absl::string_view key, Json value) {
  if (kind_ == kNull) kind_ = kObject;
  for (auto& [k, v] : fields_) {
    if (k == key) {
      v = std::move(value);
      return *this;
    }
  }
  fields_.emplace_back(std::string(key), std::move(value));
  return *this;
}

std::string JsonQuote(absl::string_view s) {
  std::string out = "\"";
  for (unsigned char c : s) {
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        if (c < 0x20) {
          out += absl::StrFormat("\\u%04x", c);
        } else {
          out += static_cast<char>(c);
        }
    }
  }
  out += "\"";
  return out;
}

std::string Json::Dump(int indent) const {
  std::string out;
  DumpTo(&out, indent, 0);
  if (indent >= 0) out += "\n";
  return out;
}

void Json::DumpTo(std::string* out, int indent, int depth) const {
  auto newline = [&](int d) {
    if (indent < 0) return;
    *out += "\n";
    out->append(static_cast<size_t>(indent) * d, ' ');
  };
  switch (kind_) {
    case kNull:
      *out += "null";
      return;
    case kBool:
      *out += bool_ ? "true" : "false";
      return;
    case kInt:
      absl::StrAppend(out, int_);
      return;
    case kDouble:
      if (!std::isfinite(double_)) {
        *out += "null";
      } else {
        *out += absl::StrFormat("%.10g", double_);
      }
      return;
    case kString:
      *out += JsonQuote(string_);
      return;
    case kArray: {
      if (items_.empty()) {
        *out += "[]";
        return;
      }
      // Arrays of scalars stay on one line.
      bool flat = true;
      for (const Json& j : items_) {
        if (j.kind_ == kArray || j.kind_ == kObject) flat = false;
      }
      *out += "[";
      for (size_t i = 0; i < items_.size(); ++i) {
        if (i > 0) *out += flat && indent >= 0 ? ", " : ",";
        if (!flat) newline(depth + 1);
        items_[i].DumpTo(out, indent, depth + 1);
      }
      if (!flat) newline(depth);
      *out += "]";
      return;
    }
    case kObject: {
      if (fields_.empty()) {
        *out += "{}";
        return;
      }
      *out += "{";
      for (size_t i = 0; i < fields_.size(); ++i) {
        if (i > 0) *out += ",";
        newline(depth + 1);
        *out += JsonQuote(fields_[i].first);
        *out += indent >= 0 ? ": " : ":";
        fields_[i].second.DumpTo(out, indent, depth + 1);
      }
      newline(depth);
      *out += "}";
      return;
    }
  }
}

}  // namespace recsys::evaluation
