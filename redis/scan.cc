#include "redis/scan.h"

#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "common/status_macros.h"

namespace recsys::redis {

std::string EscapeGlob(absl::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    if (c == '*' || c == '?' || c == '[' || c == ']' || c == '\\') {
      out.push_back('\\');
    }
    out.push_back(c);
  }
  return out;
}

absl::Status ScanNode(
    const Client& client, const std::string& node, absl::string_view pattern,
    int count, absl::Duration call_timeout,
    const std::function<absl::Status(std::vector<std::string> keys)>& each) {
  const std::string count_text = absl::StrCat(count);
  std::string cursor = "0";
  do {
    const Command command = {"SCAN",  cursor,    "MATCH", std::string(pattern),
                             "COUNT", count_text};
    const absl::Time deadline = call_timeout == absl::InfiniteDuration()
                                    ? absl::InfiniteFuture()
                                    : absl::Now() + call_timeout;
    RECSYS_ASSIGN_OR_RETURN(
        std::vector<Value> replies,
        client.RoundTripOnNode(node, {&command, 1}, deadline, CallKind::kRead));
    Value& r = replies[0];
    if (r.type != Value::Type::kArray || r.elements.size() != 2 ||
        !r.elements[0].is_string() ||
        r.elements[1].type != Value::Type::kArray) {
      return absl::InternalError(
          absl::StrCat("SCAN on ", node, ": unexpected reply ", r.text));
    }
    cursor = r.elements[0].text;
    std::vector<std::string> keys;
    keys.reserve(r.elements[1].elements.size());
    for (Value& k : r.elements[1].elements) {
      if (k.is_string()) keys.push_back(std::move(k.text));
    }
    if (!keys.empty()) RECSYS_RETURN_IF_ERROR(each(std::move(keys)));
  } while (cursor != "0" && !cursor.empty());
  return absl::OkStatus();
}

}  // namespace recsys::redis
