#include "redis/slot.h"

#include <array>
#include <cstdint>
#include <string>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"

namespace recsys::redis {
namespace {

constexpr std::array<uint16_t, 256> MakeCrc16Table() {
  std::array<uint16_t, 256> table{};
  for (int byte = 0; byte < 256; ++byte) {
    uint16_t crc = static_cast<uint16_t>(byte << 8);
    for (int bit = 0; bit < 8; ++bit) {
      crc = (crc & 0x8000) ? static_cast<uint16_t>((crc << 1) ^ 0x1021)
                           : static_cast<uint16_t>(crc << 1);
    }
    table[byte] = crc;
  }
  return table;
}

constexpr std::array<uint16_t, 256> kCrc16Table = MakeCrc16Table();

// Commands without a key: their first argument is no key name.
bool IsKeyless(absl::string_view name) {
  static constexpr absl::string_view kKeyless[] = {
      "ASKING",  "AUTH",     "BGSAVE",    "CLIENT",   "CLUSTER",   "COMMAND",
      "CONFIG",  "DBSIZE",   "DISCARD",   "ECHO",     "EXEC",      "FLUSHALL",
      "FLUSHDB", "FUNCTION", "HELLO",     "INFO",     "KEYS",      "LASTSAVE",
      "MULTI",   "PING",     "RANDOMKEY", "READONLY", "READWRITE", "ROLE",
      "SAVE",    "SCAN",     "SCRIPT",    "SELECT",   "TIME",      "UNWATCH",
      "WAIT"};
  for (absl::string_view keyless : kKeyless) {
    // The length first: most names differ in it, and the check is inline.
    if (keyless.size() == name.size() &&
        absl::EqualsIgnoreCase(name, keyless)) {
      return true;
    }
  }
  return false;
}

}  // namespace

uint16_t Crc16(absl::string_view bytes) {
  uint16_t crc = 0;
  for (const char c : bytes) {
    crc = static_cast<uint16_t>(
        (crc << 8) ^
        kCrc16Table[((crc >> 8) ^ static_cast<uint8_t>(c)) & 0xff]);
  }
  return crc;
}

absl::string_view HashTagOf(absl::string_view key) {
  const size_t open = key.find('{');
  if (open == absl::string_view::npos) return key;
  const size_t close = key.find('}', open + 1);
  if (close == absl::string_view::npos || close == open + 1) return key;
  return key.substr(open + 1, close - open - 1);
}

int KeySlot(absl::string_view key) {
  return Crc16(HashTagOf(key)) & (kClusterSlots - 1);
}

int CommandSlot(absl::Span<const std::string> command) {
  if (command.size() < 2) return -1;
  const absl::string_view name = command[0];
  if (IsKeyless(name)) return -1;
  if (absl::EqualsIgnoreCase(name, "EVALSHA") ||
      absl::EqualsIgnoreCase(name, "EVAL") ||
      absl::EqualsIgnoreCase(name, "EVALSHA_RO") ||
      absl::EqualsIgnoreCase(name, "EVAL_RO") ||
      absl::EqualsIgnoreCase(name, "FCALL") ||
      absl::EqualsIgnoreCase(name, "FCALL_RO")) {
    int numkeys = 0;
    if (command.size() < 4 || !absl::SimpleAtoi(command[2], &numkeys) ||
        numkeys < 1) {
      return -1;
    }
    return KeySlot(command[3]);
  }
  return KeySlot(command[1]);
}

}  // namespace recsys::redis
