#include "redis/migrate.h"

#include <algorithm>
#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "common/status_macros.h"
#include "redis/scan.h"

namespace recsys::redis {
namespace {

absl::Status Validate(const MigrateOptions& options) {
  if (options.batch_size < 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("batch_size: must be >= 1, got ", options.batch_size));
  }
  if (options.call_timeout <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError(
        absl::StrCat("call_timeout: must be > 0, got ",
                     absl::FormatDuration(options.call_timeout)));
  }
  if (options.examples < 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("examples: must be >= 0, got ", options.examples));
  }
  return absl::OkStatus();
}

std::string Escaped(absl::string_view key) {
  return absl::StrCat("\"", absl::CEscape(key), "\"");
}

// "<run_id> db <db>" of every node of `client` holding keys: a redis-server
// process's run_id (INFO server) is random per start, so two clients whose
// sets share one talk to the same server.
absl::StatusOr<std::vector<std::string>> ServerIds(const Client& client,
                                                   absl::Time deadline) {
  RECSYS_ASSIGN_OR_RETURN(std::vector<std::string> nodes,
                          client.DataNodes(deadline));
  std::vector<std::string> ids;
  for (const std::string& node : nodes) {
    const Command info = {"INFO", "server"};
    RECSYS_ASSIGN_OR_RETURN(
        std::vector<Value> replies,
        client.RoundTripOnNode(node, {&info, 1}, deadline, CallKind::kRead));
    std::string run_id;
    if (replies[0].is_string()) {
      for (absl::string_view line : absl::StrSplit(replies[0].text, '\n')) {
        if (absl::ConsumePrefix(&line, "run_id:")) {
          run_id = std::string(absl::StripTrailingAsciiWhitespace(line));
        }
      }
    }
    if (run_id.empty()) {
      return absl::InternalError(
          absl::StrCat("INFO server on ", node, ": no run_id"));
    }
    ids.push_back(absl::StrCat(run_id, " db ", client.options().db));
  }
  return ids;
}

// FailedPrecondition when `source` and `target` share a server and
// database: a copy onto itself.
absl::Status CheckDistinct(const Client& source, const Client& target,
                           absl::Time deadline) {
  RECSYS_ASSIGN_OR_RETURN(std::vector<std::string> from,
                          ServerIds(source, deadline));
  RECSYS_ASSIGN_OR_RETURN(std::vector<std::string> to,
                          ServerIds(target, deadline));
  const absl::flat_hash_set<std::string> seen(from.begin(), from.end());
  for (const std::string& id : to) {
    if (seen.contains(id)) {
      return absl::FailedPreconditionError(absl::StrCat(
          "source ", source.address(), " and target ", target.address(),
          " are the same Redis server and database (run_id ", id,
          "): nothing to copy"));
    }
  }
  return absl::OkStatus();
}

// A PEXPIRETIME reply: the absolute expiry in Unix milliseconds, -1 for a
// key without one, -2 for a missing key.
absl::StatusOr<int64_t> ExpiryOf(const Value& reply, absl::string_view key,
                                 absl::string_view side) {
  if (reply.is_error()) {
    if (absl::StrContains(absl::AsciiStrToLower(reply.text),
                          "unknown command")) {
      return absl::FailedPreconditionError(absl::StrCat(
          "the ", side,
          " Redis does not know PEXPIRETIME: Redis >= 7.0 is required (",
          reply.text, ")"));
    }
    return absl::InternalError(absl::StrCat(
        "PEXPIRETIME ", Escaped(key), " on the ", side, ": ", reply.text));
  }
  std::optional<int64_t> expiry = reply.AsInt();
  if (!expiry.has_value()) {
    return absl::InternalError(absl::StrCat(
        "PEXPIRETIME ", Escaped(key), " on the ", side, ": unexpected reply"));
  }
  return *expiry;
}

// One key as DUMP and PEXPIRETIME read it.
struct Dumped {
  bool present = false;
  int64_t expiry_ms = -1;  // -1: none
  std::string payload;
};

// Reads `keys` from `client` in one pipelined round trip.
absl::StatusOr<std::vector<Dumped>> DumpKeys(const Client& client,
                                             absl::Span<const std::string> keys,
                                             absl::Time deadline,
                                             absl::string_view side) {
  std::vector<Command> reads;
  reads.reserve(2 * keys.size());
  for (const std::string& key : keys) {
    reads.push_back({"PEXPIRETIME", key});
    reads.push_back({"DUMP", key});
  }
  RECSYS_ASSIGN_OR_RETURN(std::vector<Value> replies,
                          client.RoundTrip(reads, deadline, CallKind::kRead));
  std::vector<Dumped> out(keys.size());
  for (size_t i = 0; i < keys.size(); ++i) {
    RECSYS_ASSIGN_OR_RETURN(int64_t expiry,
                            ExpiryOf(replies[2 * i], keys[i], side));
    Value& dump = replies[2 * i + 1];
    if (dump.is_error()) {
      return absl::InternalError(absl::StrCat(
          "DUMP ", Escaped(keys[i]), " on the ", side, ": ", dump.text));
    }
    // Gone between SCAN and now (expired or deleted), or between the two
    // commands.
    if (expiry == -2 || dump.is_nil()) continue;
    out[i].present = true;
    out[i].expiry_ms = expiry;
    out[i].payload = std::move(dump.text);
  }
  return out;
}

// Walks every source node, calling `each(node, index, nodes, keys)` with
// batches of at most batch_size keys under the prefix. `each` returning
// CancelledError stops the walk quietly (returns OK).
absl::Status WalkKeys(
    const Client& client, const MigrateOptions& options,
    const std::function<absl::Status(const std::string&, int, int,
                                     absl::Span<const std::string>)>& each) {
  RECSYS_ASSIGN_OR_RETURN(std::vector<std::string> nodes,
                          client.DataNodes(absl::Now() + options.call_timeout));
  const std::string pattern = EscapeGlob(options.prefix) + "*";
  for (size_t n = 0; n < nodes.size(); ++n) {
    absl::Status status = ScanNode(
        client, nodes[n], pattern, options.batch_size, options.call_timeout,
        [&](std::vector<std::string> keys) -> absl::Status {
          const absl::Span<const std::string> all(keys);
          for (size_t b = 0; b < all.size(); b += options.batch_size) {
            RECSYS_RETURN_IF_ERROR(each(nodes[n], static_cast<int>(n),
                                        static_cast<int>(nodes.size()),
                                        all.subspan(b, options.batch_size)));
          }
          return absl::OkStatus();
        });
    if (absl::IsCancelled(status)) return absl::OkStatus();
    RECSYS_RETURN_IF_ERROR(status);
  }
  return absl::OkStatus();
}

void Add(MigrateCounts& into, const MigrateCounts& delta) {
  into.scanned += delta.scanned;
  into.copied += delta.copied;
  into.skipped_existing += delta.skipped_existing;
  into.expired += delta.expired;
  into.bytes += delta.bytes;
}

// A value read by its type, normalized so that equal contents compare
// equal: the members of a set and the fields of a hash sorted.
std::vector<std::string> Content(const Value& reply, absl::string_view type) {
  std::vector<std::string> out;
  if (reply.type != Value::Type::kArray) {
    out.push_back(reply.text);
    return out;
  }
  for (const Value& e : reply.elements) out.push_back(e.text);
  if (type == "set") {
    std::sort(out.begin(), out.end());
  } else if (type == "hash") {
    std::vector<std::pair<std::string, std::string>> pairs;
    for (size_t i = 0; i + 1 < out.size(); i += 2) {
      pairs.emplace_back(std::move(out[i]), std::move(out[i + 1]));
    }
    std::sort(pairs.begin(), pairs.end());
    out.clear();
    for (auto& [field, value] : pairs) {
      out.push_back(std::move(field));
      out.push_back(std::move(value));
    }
  }
  return out;
}

// The command reading a key of `type` whole; empty for a type compared by
// payload only (stream, module types).
Command ReadByType(absl::string_view type, const std::string& key) {
  if (type == "string") return {"GET", key};
  if (type == "hash") return {"HGETALL", key};
  if (type == "set") return {"SMEMBERS", key};
  if (type == "list") return {"LRANGE", key, "0", "-1"};
  if (type == "zset") return {"ZRANGE", key, "0", "-1", "WITHSCORES"};
  return {};
}

// Of `keys`, whose DUMP payloads differ on the two sides, the indices whose
// values differ when read by type (two round trips per side).
absl::StatusOr<std::vector<size_t>> DifferentByContent(
    const Client& source, const Client& target,
    const std::vector<std::string>& keys, absl::Time deadline) {
  std::vector<Command> types;
  for (const std::string& key : keys) types.push_back({"TYPE", key});
  RECSYS_ASSIGN_OR_RETURN(std::vector<Value> source_types,
                          source.RoundTrip(types, deadline, CallKind::kRead));
  RECSYS_ASSIGN_OR_RETURN(std::vector<Value> target_types,
                          target.RoundTrip(types, deadline, CallKind::kRead));
  std::vector<size_t> different;
  std::vector<size_t> compared;
  std::vector<Command> reads;
  for (size_t i = 0; i < keys.size(); ++i) {
    Command read = ReadByType(source_types[i].text, keys[i]);
    if (source_types[i].text != target_types[i].text || read.empty()) {
      different.push_back(i);
      continue;
    }
    compared.push_back(i);
    reads.push_back(std::move(read));
  }
  RECSYS_ASSIGN_OR_RETURN(std::vector<Value> source_values,
                          source.RoundTrip(reads, deadline, CallKind::kRead));
  RECSYS_ASSIGN_OR_RETURN(std::vector<Value> target_values,
                          target.RoundTrip(reads, deadline, CallKind::kRead));
  for (size_t j = 0; j < compared.size(); ++j) {
    const std::string& type = source_types[compared[j]].text;
    if (source_values[j].is_error() || target_values[j].is_error() ||
        Content(source_values[j], type) != Content(target_values[j], type)) {
      different.push_back(compared[j]);
    }
  }
  std::sort(different.begin(), different.end());
  return different;
}

void Note(std::vector<std::string>& examples, int limit,
          absl::string_view key) {
  if (static_cast<int>(examples.size()) < limit) {
    examples.push_back(absl::CEscape(key));
  }
}

}  // namespace

std::string MigrateResult::ToString() const {
  const double seconds = absl::ToDoubleSeconds(elapsed);
  return absl::StrFormat(
      "scanned %d, copied %d, existing %d, expired %d, %d bytes, in %.2f s "
      "(%.0f keys/s)%s",
      totals.scanned, totals.copied, totals.skipped_existing, totals.expired,
      totals.bytes, seconds,
      seconds > 0 ? static_cast<double>(totals.scanned) / seconds : 0.0,
      complete ? "" : ", stopped before the end");
}

std::string VerifyResult::ToString() const {
  std::string out = absl::StrFormat(
      "source %d keys, target %d keys: missing %d, different %d, extra %d",
      source_keys, target_keys, missing, different, extra);
  if (expired > 0)
    absl::StrAppend(&out, ", expired during the check ", expired);
  auto list = [&](absl::string_view name,
                  const std::vector<std::string>& examples) {
    if (examples.empty()) return;
    absl::StrAppend(&out, "; ", name, ": \"", absl::StrJoin(examples, "\", \""),
                    "\"");
  };
  list("missing", missing_examples);
  list("different", different_examples);
  list("extra", extra_examples);
  return out;
}

absl::StatusOr<MigrateResult> MigrateKeys(const Client& source,
                                          const Client& target,
                                          const MigrateOptions& options) {
  RECSYS_RETURN_IF_ERROR(Validate(options));
  const absl::Time start = absl::Now();
  RECSYS_RETURN_IF_ERROR(
      CheckDistinct(source, target, start + options.call_timeout));
  MigrateResult result;
  RECSYS_RETURN_IF_ERROR(WalkKeys(
      source, options,
      [&](const std::string& node, int index, int nodes,
          absl::Span<const std::string> keys) -> absl::Status {
        MigrateCounts batch;
        batch.scanned = static_cast<int64_t>(keys.size());
        RECSYS_ASSIGN_OR_RETURN(
            std::vector<Dumped> dumped,
            DumpKeys(source, keys, absl::Now() + options.call_timeout,
                     "source"));
        std::vector<Command> writes;
        std::vector<size_t> written;  // index into keys of each write
        for (size_t i = 0; i < keys.size(); ++i) {
          Dumped& d = dumped[i];
          if (!d.present) {
            ++batch.expired;
            continue;
          }
          batch.bytes += static_cast<int64_t>(d.payload.size());
          written.push_back(i);
          if (options.dry_run) {
            writes.push_back({"EXISTS", keys[i]});
            continue;
          }
          // ABSTTL: the expiry is the source's instant, not a duration
          // that would restart now.
          Command restore = {"RESTORE", keys[i],
                             d.expiry_ms > 0 ? absl::StrCat(d.expiry_ms) : "0",
                             std::move(d.payload)};
          if (d.expiry_ms > 0) restore.push_back("ABSTTL");
          if (options.replace) restore.push_back("REPLACE");
          writes.push_back(std::move(restore));
        }
        RECSYS_ASSIGN_OR_RETURN(
            std::vector<Value> replies,
            target.RoundTrip(
                writes, absl::Now() + options.call_timeout,
                options.dry_run ? CallKind::kRead : CallKind::kWrite));
        for (size_t w = 0; w < writes.size(); ++w) {
          const Value& r = replies[w];
          const std::string& key = keys[written[w]];
          if (options.dry_run) {
            if (r.AsInt().value_or(0) > 0 && !options.replace) {
              ++batch.skipped_existing;
            } else {
              ++batch.copied;
            }
          } else if (!r.is_error()) {
            ++batch.copied;
          } else if (absl::StartsWith(r.text, "BUSYKEY")) {
            ++batch.skipped_existing;
          } else {
            return absl::InternalError(absl::StrCat(
                "RESTORE ", Escaped(key), " on the target: ", r.text));
          }
        }
        Add(result.per_node[node], batch);
        Add(result.totals, batch);
        if (options.progress && !options.progress({.node = node,
                                                   .node_index = index,
                                                   .nodes = nodes,
                                                   .totals = result.totals})) {
          result.complete = false;
          return absl::CancelledError("stopped by the progress callback");
        }
        return absl::OkStatus();
      }));
  result.elapsed = absl::Now() - start;
  return result;
}

absl::StatusOr<VerifyResult> VerifyKeys(const Client& source,
                                        const Client& target,
                                        const MigrateOptions& options) {
  RECSYS_RETURN_IF_ERROR(Validate(options));
  RECSYS_RETURN_IF_ERROR(
      CheckDistinct(source, target, absl::Now() + options.call_timeout));
  VerifyResult result;
  // Every source key on the target, with its value and expiry.
  RECSYS_RETURN_IF_ERROR(WalkKeys(
      source, options,
      [&](const std::string&, int, int,
          absl::Span<const std::string> keys) -> absl::Status {
        const absl::Time deadline = absl::Now() + options.call_timeout;
        RECSYS_ASSIGN_OR_RETURN(std::vector<Dumped> from,
                                DumpKeys(source, keys, deadline, "source"));
        RECSYS_ASSIGN_OR_RETURN(std::vector<Dumped> to,
                                DumpKeys(target, keys, deadline, "target"));
        std::vector<std::string> unequal_payloads;
        for (size_t i = 0; i < keys.size(); ++i) {
          if (!from[i].present) {
            ++result.expired;
            continue;
          }
          ++result.source_keys;
          if (!to[i].present) {
            ++result.missing;
            Note(result.missing_examples, options.examples, keys[i]);
          } else if (from[i].expiry_ms != to[i].expiry_ms) {
            ++result.different;
            Note(result.different_examples, options.examples, keys[i]);
          } else if (from[i].payload != to[i].payload) {
            unequal_payloads.push_back(keys[i]);
          }
        }
        if (unequal_payloads.empty()) return absl::OkStatus();
        RECSYS_ASSIGN_OR_RETURN(
            std::vector<size_t> different,
            DifferentByContent(source, target, unequal_payloads, deadline));
        for (size_t i : different) {
          ++result.different;
          Note(result.different_examples, options.examples,
               unequal_payloads[i]);
        }
        return absl::OkStatus();
      }));
  // Every target key on the source.
  RECSYS_RETURN_IF_ERROR(WalkKeys(
      target, options,
      [&](const std::string& node, int, int,
          absl::Span<const std::string> keys) -> absl::Status {
        result.target_keys += static_cast<int64_t>(keys.size());
        result.target_per_node[node] += static_cast<int64_t>(keys.size());
        std::vector<Command> exists;
        exists.reserve(keys.size());
        for (const std::string& key : keys) exists.push_back({"EXISTS", key});
        RECSYS_ASSIGN_OR_RETURN(
            std::vector<Value> replies,
            source.RoundTrip(exists, absl::Now() + options.call_timeout,
                             CallKind::kRead));
        for (size_t i = 0; i < keys.size(); ++i) {
          if (replies[i].AsInt().value_or(0) == 0) {
            ++result.extra;
            Note(result.extra_examples, options.examples, keys[i]);
          }
        }
        return absl::OkStatus();
      }));
  return result;
}

}  // namespace recsys::redis
