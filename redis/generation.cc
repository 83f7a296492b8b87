#include "redis/generation.h"

#include <algorithm>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "common/status_macros.h"
#include "redis/scan.h"

namespace recsys::redis {
namespace {

// Fields of the pointer hash {p}{gen}.
constexpr const char* kLive = "live";
constexpr const char* kCutoff = "cutoff";
constexpr const char* kHistory = "history";
constexpr const char* kModelVersion = "model_version";
constexpr const char* kLoading = "loading";
constexpr const char* kLoadingId = "loading_id";
constexpr const char* kNext = "next";
// "<N>;<g>,<g>,...": the last complete prune removed every generation up to
// N but the listed ones (Generations::Prune).
constexpr const char* kSwept = "swept";

// KEYS[1] = {p}{gen}; ARGV[1] = load id. Returns {generation, already_live}.
constexpr absl::string_view kBeginScript =
    "local s = redis.call('HMGET', KEYS[1], 'live', 'model_version', "
    "'loading', 'loading_id', 'next')\n"
    "if s[1] and s[2] == ARGV[1] then return {tonumber(s[1]), 1} end\n"
    "if s[3] and s[4] == ARGV[1] then return {tonumber(s[3]), 0} end\n"
    "if not s[1] and not s[5] then\n"
    "  redis.call('HSET', KEYS[1], 'swept', '0;0')\n"
    "end\n"
    "local n = math.max(tonumber(s[5]) or 0, tonumber(s[1]) or 0) + 1\n"
    "redis.call('HSET', KEYS[1], 'loading', n, 'loading_id', ARGV[1], "
    "'next', n)\n"
    "return {n, 0}\n";

// KEYS[1] = {p}{gen}, KEYS[2] = {p}{gen}:meta:<N> (one slot: the {gen}
// tag). ARGV: generation, cutoff ('' = none), model version, users, items,
// segments, keep, now, '1' when the layout before generations holds data
// (its load marker exists). Returns 1 (flipped) or 0 (already live).
constexpr absl::string_view kFlipScript =
    "local s = redis.call('HMGET', KEYS[1], 'live', 'loading', 'history')\n"
    "if s[2] ~= ARGV[1] then\n"
    "  if s[1] == ARGV[1] then return 0 end\n"
    "  return redis.error_reply('generation ' .. ARGV[1] .. "
    "' is not the load in progress')\n"
    "end\n"
    "redis.call('HSET', KEYS[2], 'cutoff', ARGV[2], 'model_version', ARGV[3], "
    "'users', ARGV[4], 'items', ARGV[5], 'segments', ARGV[6], "
    "'flipped_unix', ARGV[8])\n"
    "local old = s[3]\n"
    "if not old then\n"
    "  if s[1] then old = s[1]\n"
    "  elseif ARGV[9] == '1' then old = '0'\n"
    "  else old = '' end\n"
    "end\n"
    "local h = {ARGV[1]}\n"
    "for g in string.gmatch(old, '[^,]+') do\n"
    "  if #h < tonumber(ARGV[7]) and g ~= ARGV[1] then h[#h + 1] = g end\n"
    "end\n"
    "redis.call('HSET', KEYS[1], 'live', ARGV[1], 'cutoff', ARGV[2], "
    "'model_version', ARGV[3], 'history', table.concat(h, ','), "
    "'flipped_unix', ARGV[8])\n"
    "redis.call('HDEL', KEYS[1], 'loading', 'loading_id')\n"
    "return 1\n";

// KEYS[1] = {p}{gen}. ARGV: expected live generation, target, its cutoff,
// its model version, the new history, now. Returns 1, or 0 when the live
// generation is not the expected one.
constexpr absl::string_view kRollbackScript =
    "if redis.call('HGET', KEYS[1], 'live') ~= ARGV[1] then return 0 end\n"
    "redis.call('HSET', KEYS[1], 'live', ARGV[2], 'cutoff', ARGV[3], "
    "'model_version', ARGV[4], 'history', ARGV[5], 'flipped_unix', ARGV[6])\n"
    "return 1\n";

const Script& BeginScript() {
  static const Script* script = new Script(std::string(kBeginScript));
  return *script;
}
const Script& FlipScript() {
  static const Script* script = new Script(std::string(kFlipScript));
  return *script;
}
const Script& RollbackScript() {
  static const Script* script = new Script(std::string(kRollbackScript));
  return *script;
}

// The text of a string reply; empty for nil.
std::string Text(const Value& v) { return v.is_string() ? v.text : ""; }

absl::Status ScriptError(const Value& reply, absl::string_view what) {
  if (reply.is_error()) {
    return absl::InternalError(absl::StrCat(what, ": ", reply.text));
  }
  return absl::OkStatus();
}

std::string CutoffText(int64_t cutoff) {
  return cutoff == kNoCutoff ? "" : absl::StrCat(cutoff);
}

}  // namespace

std::string GenerationKeyPrefix(absl::string_view key_prefix,
                                int64_t generation) {
  if (generation <= 0) return std::string(key_prefix);
  return absl::StrCat(key_prefix, "g", generation, ":");
}

std::string GenerationPointerKey(absl::string_view key_prefix) {
  return absl::StrCat(key_prefix, "{gen}");
}

std::string GenerationMetaKey(absl::string_view key_prefix,
                              int64_t generation) {
  return absl::StrCat(key_prefix, "{gen}:meta:", generation);
}

// --- GenerationCache ---------------------------------------------------------

GenerationCache::GenerationCache(const Client* client, std::string key_prefix,
                                 absl::Duration refresh)
    : client_(client), key_prefix_(std::move(key_prefix)), refresh_(refresh) {}

GenerationView GenerationCache::Current() const {
  absl::MutexLock lock(&mu_);
  return view_;
}

absl::StatusOr<GenerationView> GenerationCache::Parse(
    const Value& reply) const {
  GenerationView view;
  if (reply.type != Value::Type::kArray || reply.elements.size() != 2) {
    return absl::InternalError(absl::StrCat(
        "redis ", client_->address(), ": ", GenerationPointerKey(key_prefix_),
        " is not a generation pointer (hash)"));
  }
  if (reply.elements[0].is_nil()) return view;  // the layout before
  if (!absl::SimpleAtoi(Text(reply.elements[0]), &view.generation) ||
      view.generation < 0) {
    return absl::InternalError(absl::StrCat(
        "redis ", client_->address(), ": ", GenerationPointerKey(key_prefix_),
        " names generation \"", Text(reply.elements[0]), "\""));
  }
  int64_t cutoff = 0;
  if (absl::SimpleAtoi(Text(reply.elements[1]), &cutoff)) {
    view.cutoff_unix = cutoff;
  }
  return view;
}

void GenerationCache::Store(const GenerationView& view, absl::Time now) const {
  absl::MutexLock lock(&mu_);
  view_ = view;
  checked_at_ = now;
}

absl::StatusOr<GenerationView> GenerationCache::Resolve(
    absl::Time deadline) const {
  const absl::Time now = absl::Now();
  const Command command = {"HMGET", GenerationPointerKey(key_prefix_), kLive,
                           kCutoff};
  RECSYS_ASSIGN_OR_RETURN(
      std::vector<Value> replies,
      client_->RoundTrip({&command, 1}, deadline, CallKind::kRead));
  RECSYS_ASSIGN_OR_RETURN(GenerationView view, Parse(replies[0]));
  Store(view, now);
  return view;
}

absl::StatusOr<std::pair<GenerationView, std::vector<Value>>>
GenerationCache::RoundTrip(
    const std::function<std::vector<Command>(const GenerationView&)>& build,
    absl::Time deadline) const {
  if (client_->options().topology == Topology::kCluster) {
    return ClusterRoundTrip(build, deadline);
  }
  const absl::Time now = absl::Now();
  GenerationView view;
  bool stale = false;
  {
    absl::MutexLock lock(&mu_);
    view = view_;
    stale = now - checked_at_ >= refresh_;
  }
  std::vector<Command> commands = build(view);
  if (stale) {
    commands.push_back(
        {"HMGET", GenerationPointerKey(key_prefix_), kLive, kCutoff});
  }
  RECSYS_ASSIGN_OR_RETURN(
      std::vector<Value> replies,
      client_->RoundTrip(commands, deadline, CallKind::kRead));
  if (!stale) return std::make_pair(view, std::move(replies));
  RECSYS_ASSIGN_OR_RETURN(GenerationView fresh, Parse(replies.back()));
  replies.pop_back();
  Store(fresh, now);
  if (fresh == view) return std::make_pair(view, std::move(replies));
  // The pointer moved: read again, all of it from the new generation.
  RECSYS_ASSIGN_OR_RETURN(
      replies, client_->RoundTrip(build(fresh), deadline, CallKind::kRead));
  return std::make_pair(fresh, std::move(replies));
}

absl::StatusOr<std::pair<GenerationView, std::vector<Value>>>
GenerationCache::ClusterRoundTrip(
    const std::function<std::vector<Command>(const GenerationView&)>& build,
    absl::Time deadline) const {
  GenerationView view;
  bool resolve = false;
  bool never = false;
  {
    absl::MutexLock lock(&mu_);
    view = view_;
    never = checked_at_ == absl::InfinitePast();
    if (never || (absl::Now() - checked_at_ >= refresh_ && !resolving_)) {
      // Before the first resolution every reader resolves; after it, one
      // reader at a time does while the others keep the cached view.
      resolve = true;
      if (!never) resolving_ = true;
    }
  }
  if (resolve) {
    absl::StatusOr<GenerationView> fresh = Resolve(deadline);
    {
      absl::MutexLock lock(&mu_);
      resolving_ = false;
    }
    if (fresh.ok()) {
      view = *fresh;
    } else if (never) {
      return fresh.status();
    }
    // Else the pointer's node did not answer: the read goes on with the
    // view resolved before (its generation is kept until a later load's
    // prune, which needs that node too); the next read tries again.
  }
  RECSYS_ASSIGN_OR_RETURN(
      std::vector<Value> replies,
      client_->RoundTrip(build(view), deadline, CallKind::kRead));
  return std::make_pair(view, std::move(replies));
}

// --- Generations -------------------------------------------------------------

Generations::Generations(const Client* client, std::string key_prefix)
    : client_(client), key_prefix_(std::move(key_prefix)) {}

absl::StatusOr<GenerationState> Generations::Read(absl::Time deadline) const {
  const Command command = {"HMGET",  GenerationPointerKey(key_prefix_),
                           kLive,    kCutoff,
                           kHistory, kModelVersion,
                           kLoading, kLoadingId,
                           kNext,    kSwept};
  RECSYS_ASSIGN_OR_RETURN(
      std::vector<Value> replies,
      client_->Execute({&command, 1}, deadline, CallKind::kRead));
  const Value& r = replies[0];
  GenerationState state;
  if (r.type != Value::Type::kArray || r.elements.size() != 8) {
    return absl::InternalError(
        absl::StrCat(GenerationPointerKey(key_prefix_), ": unexpected reply"));
  }
  auto number = [&](size_t i) -> int64_t {
    int64_t n = 0;
    return absl::SimpleAtoi(Text(r.elements[i]), &n) ? n : 0;
  };
  state.live.generation = number(0);
  int64_t cutoff = 0;
  if (absl::SimpleAtoi(Text(r.elements[1]), &cutoff)) {
    state.live.cutoff_unix = cutoff;
  }
  for (absl::string_view g :
       absl::StrSplit(Text(r.elements[2]), ',', absl::SkipEmpty())) {
    int64_t n = 0;
    if (absl::SimpleAtoi(g, &n)) state.history.push_back(n);
  }
  if (state.history.empty() && !r.elements[0].is_nil()) {
    state.history.push_back(state.live.generation);
  }
  state.model_version = Text(r.elements[3]);
  state.loading = number(4);
  state.loading_id = Text(r.elements[5]);
  state.last_allocated = std::max(number(6), state.live.generation);
  // A record that does not parse counts as none (the full walk).
  const std::string swept_text = Text(r.elements[7]);
  const std::pair<absl::string_view, absl::string_view> swept =
      absl::StrSplit(swept_text, absl::MaxSplits(';', 1));
  int64_t through = 0;
  std::vector<int64_t> survivors;
  bool valid = absl::SimpleAtoi(swept.first, &through) && through >= 0;
  for (absl::string_view g :
       absl::StrSplit(swept.second, ',', absl::SkipEmpty())) {
    int64_t n = 0;
    valid = valid && absl::SimpleAtoi(g, &n) && n >= 0;
    survivors.push_back(n);
  }
  if (valid) {
    state.swept_through = through;
    state.swept_survivors = std::move(survivors);
  }
  return state;
}

absl::StatusOr<Generations::Begun> Generations::Begin(
    absl::string_view load_id, absl::Time deadline) const {
  if (load_id.empty()) {
    return absl::InvalidArgumentError("load_id: must not be empty");
  }
  const std::string keys[] = {GenerationPointerKey(key_prefix_)};
  const std::string args[] = {std::string(load_id)};
  RECSYS_ASSIGN_OR_RETURN(Value reply,
                          client_->Eval(BeginScript(), keys, args, deadline));
  RECSYS_RETURN_IF_ERROR(ScriptError(reply, "starting a generation"));
  if (reply.type != Value::Type::kArray || reply.elements.size() != 2) {
    return absl::InternalError("starting a generation: unexpected reply");
  }
  Begun begun;
  begun.generation = reply.elements[0].AsInt().value_or(0);
  begun.already_live = reply.elements[1].AsInt().value_or(0) == 1;
  return begun;
}

absl::Status Generations::Scan(
    const std::string& pattern, absl::Duration call_timeout,
    const std::function<absl::Status(const std::vector<std::string>&)>& each)
    const {
  // Every node holding keys (each master of a cluster) has its own
  // keyspace and cursor: the nodes are walked at once, one thread each, so
  // their servers iterate in parallel (a walk reads every key of every
  // generation kept: tens of millions at 10M users). `each` runs for one
  // batch at a time; the first error stops every walk.
  RECSYS_ASSIGN_OR_RETURN(std::vector<std::string> nodes,
                          client_->DataNodes(absl::Now() + call_timeout));
  absl::Mutex mu;
  absl::Status first_error;
  auto walk = [&](const std::string& node) {
    absl::Status status = ScanNode(
        *client_, node, pattern, 1000, call_timeout,
        [&](std::vector<std::string> keys) {
          absl::MutexLock lock(&mu);
          RECSYS_RETURN_IF_ERROR(first_error);
          return each(keys);
        });
    absl::MutexLock lock(&mu);
    if (first_error.ok()) first_error = std::move(status);
  };
  if (nodes.size() == 1) {
    walk(nodes[0]);
  } else {
    std::vector<std::thread> threads;
    threads.reserve(nodes.size());
    for (const std::string& node : nodes) threads.emplace_back(walk, node);
    for (std::thread& t : threads) t.join();
  }
  return first_error;
}

absl::StatusOr<GenerationCounts> Generations::Count(
    int64_t generation, absl::Duration call_timeout) const {
  if (generation <= 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("generation: must be >= 1, got ", generation));
  }
  const std::string prefix = GenerationKeyPrefix(key_prefix_, generation);
  GenerationCounts counts;
  RECSYS_RETURN_IF_ERROR(Scan(
      EscapeGlob(prefix) + "*", call_timeout,
      [&](const std::vector<std::string>& keys) {
        for (const std::string& key : keys) {
          ++counts.keys;
          absl::string_view rest = absl::string_view(key).substr(prefix.size());
          if (absl::StartsWith(rest, "i:")) {
            ++counts.items;
          } else if (absl::StartsWith(rest, "u:")) {
            if (absl::EndsWith(rest, ":pc")) ++counts.users;
            if (absl::EndsWith(rest, ":seg")) ++counts.segments;
          }
        }
        return absl::OkStatus();
      }));
  return counts;
}

absl::Status Generations::Flip(const FlipInfo& info,
                               absl::Time deadline) const {
  if (info.generation <= 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("generation: must be >= 1, got ", info.generation));
  }
  if (info.keep < 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("keep: must be >= 1, got ", info.keep));
  }
  // Whether the layout before generations holds data (a rollback target
  // for the first flip): its load marker, on another slot than the script's.
  const std::string loaded_key = absl::StrCat(key_prefix_, "loaded");
  const Command exists = {"EXISTS", loaded_key};
  RECSYS_ASSIGN_OR_RETURN(
      std::vector<Value> exists_reply,
      client_->Execute({&exists, 1}, deadline, CallKind::kRead));
  const bool had_marker = exists_reply[0].AsInt().value_or(0) > 0;
  const std::string keys[] = {GenerationPointerKey(key_prefix_),
                              GenerationMetaKey(key_prefix_, info.generation)};
  const std::string args[] = {absl::StrCat(info.generation),
                              CutoffText(info.cutoff_unix),
                              info.model_version,
                              absl::StrCat(info.counts.users),
                              absl::StrCat(info.counts.items),
                              absl::StrCat(info.counts.segments),
                              absl::StrCat(info.keep),
                              absl::StrCat(absl::ToUnixSeconds(info.now)),
                              had_marker ? "1" : "0"};
  RECSYS_ASSIGN_OR_RETURN(Value reply,
                          client_->Eval(FlipScript(), keys, args, deadline));
  if (reply.is_error()) {
    return absl::FailedPreconditionError(
        absl::StrCat("flip to generation ", info.generation, ": ", reply.text));
  }
  // The load marker follows the pointer (its own slot, so its own command;
  // a rerun after a crash right here writes it: the flip is then a no-op).
  const Command marker = {
      "HSET",        loaded_key,
      kModelVersion, info.model_version,
      "loaded_unix", absl::StrCat(absl::ToUnixSeconds(info.now))};
  return client_->Execute({&marker, 1}, deadline).status();
}

absl::StatusOr<int64_t> Generations::Prune(
    int keep, absl::Duration call_timeout) const {
  if (keep < 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("keep: must be >= 1, got ", keep));
  }
  RECSYS_ASSIGN_OR_RETURN(GenerationState state,
                          Read(absl::Now() + call_timeout));
  absl::flat_hash_set<int64_t> kept;
  for (size_t i = 0; i < state.history.size() && i < static_cast<size_t>(keep);
       ++i) {
    kept.insert(state.history[i]);
  }
  kept.insert(state.live.generation);
  if (state.loading > 0) kept.insert(state.loading);

  int64_t removed = 0;
  // One UNLINK per key, pipelined 500 at a time: the keys of one SCAN
  // batch are on one node but on many slots, and a multi-key command must
  // stay in one slot in a cluster. The client routes each to its master.
  auto unlink = [&](std::vector<std::string>& doomed) -> absl::Status {
    for (size_t b = 0; b < doomed.size(); b += 500) {
      const size_t e = std::min(doomed.size(), b + 500);
      std::vector<Command> commands;
      commands.reserve(e - b);
      for (size_t k = b; k < e; ++k) commands.push_back({"UNLINK", doomed[k]});
      RECSYS_ASSIGN_OR_RETURN(std::vector<Value> replies,
                              client_->Execute(commands,
                                               absl::Now() + call_timeout));
      for (const Value& r : replies) removed += r.AsInt().value_or(0);
    }
    doomed.clear();
    return absl::OkStatus();
  };

  auto unlink_all = [&](const std::vector<std::string>& keys) {
    std::vector<std::string> doomed = keys;
    return unlink(doomed);
  };
  if (state.swept_through >= 0) {
    // Only the generations that can still hold keys: the survivors of the
    // last complete prune and every one allocated since. Each is walked
    // with its own pattern, so the walk returns only the keys to remove
    // (not those of the generations kept: tens of millions at 10M users).
    std::vector<int64_t> candidates = state.swept_survivors;
    for (int64_t g = state.swept_through + 1; g <= state.last_allocated; ++g) {
      candidates.push_back(g);
    }
    std::sort(candidates.begin(), candidates.end());
    candidates.erase(std::unique(candidates.begin(), candidates.end()),
                     candidates.end());
    std::vector<std::string> metas;
    for (int64_t g : candidates) {
      if (g <= 0 || kept.contains(g)) continue;
      RECSYS_RETURN_IF_ERROR(
          Scan(EscapeGlob(GenerationKeyPrefix(key_prefix_, g)) + "*",
               call_timeout, unlink_all));
      metas.push_back(GenerationMetaKey(key_prefix_, g));
    }
    RECSYS_RETURN_IF_ERROR(unlink(metas));
  } else {
    // No record of an earlier prune (a pointer written before it): every
    // generation key, and every record.
    const std::string g_prefix = key_prefix_ + "g";
    RECSYS_RETURN_IF_ERROR(Scan(
        EscapeGlob(g_prefix) + "*", call_timeout,
        [&](const std::vector<std::string>& keys) {
          std::vector<std::string> doomed;
          for (const std::string& key : keys) {
            absl::string_view rest =
                absl::string_view(key).substr(g_prefix.size());
            const size_t colon = rest.find(':');
            int64_t g = 0;
            if (colon == absl::string_view::npos || colon == 0 ||
                !std::all_of(rest.begin(), rest.begin() + colon,
                             [](char c) { return absl::ascii_isdigit(c); }) ||
                !absl::SimpleAtoi(rest.substr(0, colon), &g) || g <= 0) {
              continue;  // not a generation key (e.g. a prefix "gen:")
            }
            if (!kept.contains(g)) doomed.push_back(key);
          }
          return unlink(doomed);
        }));

    // The records of the generations removed ({p}{gen}:meta:<N>).
    const std::string meta_prefix = GenerationMetaKey(key_prefix_, 0);
    const std::string meta_base = meta_prefix.substr(0, meta_prefix.size() - 1);
    RECSYS_RETURN_IF_ERROR(
        Scan(EscapeGlob(meta_base) + "*", call_timeout,
             [&](const std::vector<std::string>& keys) {
               std::vector<std::string> doomed;
               for (const std::string& key : keys) {
                 int64_t g = 0;
                 if (absl::SimpleAtoi(
                         absl::string_view(key).substr(meta_base.size()), &g) &&
                     g > 0 && !kept.contains(g)) {
                   doomed.push_back(key);
                 }
               }
               return unlink(doomed);
             }));
  }

  // Generation 0's bulk keys, once it is no longer a rollback target.
  // Walked once: the record of that prune no longer lists generation 0.
  const bool zero_may_hold_keys =
      state.swept_through < 0 ||
      std::find(state.swept_survivors.begin(), state.swept_survivors.end(),
                0) != state.swept_survivors.end();
  if (state.live.generation > 0 && !kept.contains(0) && zero_may_hold_keys) {
    const std::string u_prefix = key_prefix_ + "u:";
    RECSYS_RETURN_IF_ERROR(Scan(EscapeGlob(u_prefix) + "*", call_timeout,
                                [&](const std::vector<std::string>& keys) {
                                  std::vector<std::string> doomed;
                                  for (const std::string& key : keys) {
                                    if (absl::EndsWith(key, ":pc") ||
                                        absl::EndsWith(key, ":pt") ||
                                        absl::EndsWith(key, ":seg")) {
                                      doomed.push_back(key);
                                    }
                                  }
                                  return unlink(doomed);
                                }));
  }
  // The record of this prune: every generation up to the highest allocated
  // is gone but the ones kept. A generation allocated meanwhile is above it.
  std::vector<int64_t> survivors(kept.begin(), kept.end());
  std::sort(survivors.begin(), survivors.end());
  const Command record = {
      "HSET", GenerationPointerKey(key_prefix_), kSwept,
      absl::StrCat(state.last_allocated, ";", absl::StrJoin(survivors, ","))};
  RECSYS_RETURN_IF_ERROR(
      client_->Execute({&record, 1}, absl::Now() + call_timeout).status());
  return removed;
}

absl::StatusOr<int64_t> Generations::Rollback(absl::Time deadline) const {
  RECSYS_ASSIGN_OR_RETURN(GenerationState state, Read(deadline));
  if (state.history.size() < 2) {
    return absl::FailedPreconditionError(absl::StrCat(
        GenerationPointerKey(key_prefix_),
        ": no previous generation to roll back to (live generation ",
        state.live.generation, ")"));
  }
  const int64_t target = state.history[1];
  std::string cutoff;
  std::string model_version;
  if (target > 0) {
    const Command command = {"HMGET", GenerationMetaKey(key_prefix_, target),
                             kCutoff, kModelVersion};
    RECSYS_ASSIGN_OR_RETURN(
        std::vector<Value> replies,
        client_->Execute({&command, 1}, deadline, CallKind::kRead));
    const Value& r = replies[0];
    if (r.type != Value::Type::kArray || r.elements.size() != 2 ||
        r.elements[1].is_nil()) {
      return absl::FailedPreconditionError(
          absl::StrCat("generation ", target, " is gone (pruned)"));
    }
    cutoff = Text(r.elements[0]);
    model_version = Text(r.elements[1]);
  }
  std::vector<int64_t> rest(state.history.begin() + 1, state.history.end());
  const std::string keys[] = {GenerationPointerKey(key_prefix_)};
  const absl::Time now = absl::Now();
  const std::string args[] = {absl::StrCat(state.live.generation),
                              absl::StrCat(target),
                              cutoff,
                              model_version,
                              absl::StrJoin(rest, ","),
                              absl::StrCat(absl::ToUnixSeconds(now))};
  RECSYS_ASSIGN_OR_RETURN(
      Value reply, client_->Eval(RollbackScript(), keys, args, deadline));
  RECSYS_RETURN_IF_ERROR(ScriptError(reply, "rollback"));
  if (reply.AsInt().value_or(0) != 1) {
    return absl::FailedPreconditionError(
        "rollback: the live generation changed meanwhile; retry");
  }
  // The load marker names the model of the generation now live (its own
  // slot, so its own command after the switch).
  if (!model_version.empty()) {
    const Command marker = {
        "HSET",        absl::StrCat(key_prefix_, "loaded"),
        kModelVersion, model_version,
        "loaded_unix", absl::StrCat(absl::ToUnixSeconds(now))};
    RECSYS_RETURN_IF_ERROR(client_->Execute({&marker, 1}, deadline).status());
  }
  return target;
}

}  // namespace recsys::redis
