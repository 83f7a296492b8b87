#include "server/callback_handler.h"

#include <google/protobuf/unknown_field_set.h>

#include <map>

#include "absl/strings/str_cat.h"
#include "common/validation.h"

namespace recsys::server {
namespace {

using google::protobuf::Descriptor;
using google::protobuf::FieldDescriptor;
using google::protobuf::FileDescriptor;
using google::protobuf::UnknownField;
using google::protobuf::UnknownFieldSet;

// Drops the invalid string fields of `set` (a message of `type`) and of
// its nested messages; false when a nested message is not wire format.
bool Walk(const Descriptor& type, const std::string& prefix,
          UnknownFieldSet* set, std::vector<std::string>* fields) {
  std::map<int, int> occurrences;
  std::vector<int> dropped;
  for (int i = 0; i < set->field_count(); ++i) {
    UnknownField* field = set->mutable_field(i);
    const int occurrence = occurrences[field->number()]++;
    const FieldDescriptor* fd = type.FindFieldByNumber(field->number());
    if (fd == nullptr || field->type() != UnknownField::TYPE_LENGTH_DELIMITED)
      continue;
    std::string path = absl::StrCat(prefix, fd->name());
    if (fd->is_repeated()) absl::StrAppend(&path, "[", occurrence, "]");
    if (fd->type() == FieldDescriptor::TYPE_STRING) {
      // Only proto3 parsers refuse invalid UTF-8 (proto2 accepts it).
      if (fd->file()->syntax() == FileDescriptor::SYNTAX_PROTO3 &&
          !IsValidUtf8(field->length_delimited())) {
        fields->push_back(std::move(path));
        dropped.push_back(i);
      }
    } else if (fd->type() == FieldDescriptor::TYPE_MESSAGE) {
      UnknownFieldSet nested;
      if (!nested.ParseFromString(field->length_delimited())) return false;
      const size_t before = fields->size();
      if (!Walk(*fd->message_type(), absl::StrCat(path, "."), &nested, fields))
        return false;
      if (fields->size() != before) {
        std::string bytes;
        if (!nested.SerializeToString(&bytes)) return false;
        *field->mutable_length_delimited() = std::move(bytes);
      }
    }
  }
  for (auto it = dropped.rbegin(); it != dropped.rend(); ++it)
    set->DeleteSubrange(*it, 1);
  return true;
}

}  // namespace

bool DropInvalidUtf8(const Descriptor& type, absl::string_view wire,
                     std::string* cleaned, std::vector<std::string>* fields) {
  UnknownFieldSet set;
  if (!set.ParseFromArray(wire.data(), static_cast<int>(wire.size())))
    return false;
  if (!Walk(type, "", &set, fields)) return false;
  cleaned->clear();
  return set.SerializeToString(cleaned);
}

std::string InvalidUtf8Message(const std::vector<std::string>& fields) {
  std::string message = absl::StrCat(fields.front(), ": invalid UTF-8");
  if (fields.size() > 1) {
    absl::StrAppend(&message, " (and ", fields.size() - 1, " more string field",
                    fields.size() > 2 ? "s" : "", ")");
  }
  return message;
}

int MethodIndex(const google::protobuf::ServiceDescriptor& service,
                absl::string_view method) {
  const google::protobuf::MethodDescriptor* m =
      service.FindMethodByName(std::string(method));
  return m == nullptr ? -1 : m->index();
}

}  // namespace recsys::server
