// Redis Cluster key slots: which of the 16384 hash slots a key, and a
// command, belongs to. Redis Cluster assigns each slot to one master; the
// keys of one command, one MULTI/EXEC transaction or one Lua script must
// share a slot.
//
// A key's slot is CRC16 (XMODEM) of the key modulo 16384, unless the key
// holds a hash tag: then only the bytes between the first '{' and the first
// '}' after it are hashed, if there is at least one byte between them. So
// "rs:u:{42}:pc" and "rs:u:{42}:act" share a slot, "rs:u:{}:pc" does not
// use a tag. (Redis Cluster specification, "Hash tags".)
//
// Thread safety: pure functions.
#ifndef RECSYS_REDIS_SLOT_H_
#define RECSYS_REDIS_SLOT_H_

#include <cstdint>
#include <string>

#include "absl/strings/string_view.h"
#include "absl/types/span.h"

namespace recsys::redis {

inline constexpr int kClusterSlots = 16384;

// CRC16-CCITT (XMODEM: polynomial 0x1021, initial value 0), the checksum
// Redis Cluster hashes keys with. Crc16("123456789") == 0x31C3.
uint16_t Crc16(absl::string_view bytes);

// The hash tag of `key`: the bytes between the first '{' and the first '}'
// after it when there is at least one; otherwise the whole key.
absl::string_view HashTagOf(absl::string_view key);

// The slot of `key`, in [0, kClusterSlots).
int KeySlot(absl::string_view key);

// The slot of a command's first key, or -1 for a command without keys
// (MULTI, EXEC, PING, SCRIPT, CLUSTER, INFO, ...; EVALSHA / EVAL / FCALL
// with 0 keys). The first key is argv[1], or for EVALSHA / EVAL / FCALL /
// FCALL_RO the first of its numkeys keys (argv[3]). Commands with several
// keys are not checked here: Redis answers CROSSSLOT when they differ.
int CommandSlot(absl::Span<const std::string> command);

}  // namespace recsys::redis

#endif  // RECSYS_REDIS_SLOT_H_
