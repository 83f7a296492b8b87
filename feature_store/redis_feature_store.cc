#include "feature_store/redis_feature_store.h"

#include <algorithm>
#include <atomic>
#include <charconv>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <iterator>
#include <limits>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "absl/types/span.h"
#include "common/status_macros.h"
#include "feature_store/validation.h"
#include "redis/bulk_writer.h"
#include "redis/client.h"
#include "redis/generation.h"

namespace recsys::feature_store {
namespace {

using redis::CallKind;
using redis::Command;
using redis::Value;

// Applies one event at most once to its user's keys, which share the
// user's hash tag, so the script runs on one Redis Cluster slot. KEYS[1] is
// the event's dedup marker ({p}ev:{<user>}:<EventDedupKey>); when it exists
// the event was applied within the window and the script returns 0 without
// changing anything. Otherwise:
//   KEYS[3] (purchases only: the user's purchase journal {p}u:{<user>}:rp, a
//     ZSET): adds member ARGV[4] with score ARGV[5] (the purchase time),
//     then drops the entries more than ARGV[6] seconds (the retention) older
//     than it;
//   KEYS[2] (act or imp list): LPUSH ARGV[2], LTRIM to ARGV[3] entries;
// then writes the marker with a TTL of ARGV[1] seconds and returns 1. The
// marker is written last: a Redis error half way stops the script before
// it, so a marker always means the event was applied (Redis runs a script
// atomically: no reader sees the effect without the marker).
constexpr absl::string_view kEventScript =
    "if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end\n"
    "if #KEYS >= 3 then\n"
    "  redis.call('ZADD', KEYS[3], ARGV[5], ARGV[4])\n"
    "  redis.call('ZREMRANGEBYSCORE', KEYS[3], '-inf',\n"
    "             '(' .. (tonumber(ARGV[5]) - tonumber(ARGV[6])))\n"
    "end\n"
    "redis.call('LPUSH', KEYS[2], ARGV[2])\n"
    "redis.call('LTRIM', KEYS[2], 0, tonumber(ARGV[3]) - 1)\n"
    "redis.call('SET', KEYS[1], '1', 'EX', ARGV[1])\n"
    "return 1\n";

// Counts one event for an item's trial at most once, on the item's slot:
// KEYS[1] is the item's trial hash ({p}t:{<item>}), KEYS[2] the event's
// trial marker ({p}tev:{<item>}:<EventDedupKey>). A marker present: returns
// 0, nothing changed. Otherwise field ARGV[1] += 1, the marker is written
// last with a TTL of ARGV[2] seconds, and it returns 1.
constexpr absl::string_view kTrialScript =
    "if redis.call('EXISTS', KEYS[2]) == 1 then return 0 end\n"
    "redis.call('HINCRBY', KEYS[1], ARGV[1], 1)\n"
    "redis.call('SET', KEYS[2], '1', 'EX', ARGV[2])\n"
    "return 1\n";

// Records a PutItems batch in the catalog change feed: raises the version
// counter (KEYS[1]) and scores each item (ARGV) in the change set (KEYS[2])
// with the new version. One script, so a reader sees the version together
// with all of its items.
constexpr absl::string_view kCatalogChangeScript =
    "local v = redis.call('INCR', KEYS[1]) "
    "for i = 1, #ARGV do redis.call('ZADD', KEYS[2], v, ARGV[i]) end "
    "return v";

// Item hash fields, in the order GetItems asks for them (HMGET).
constexpr absl::string_view kItemCategory = "category";
constexpr absl::string_view kItemPrice = "price";
constexpr absl::string_view kItemTitle = "title";
constexpr absl::string_view kItemStock = "stock";
constexpr absl::string_view kItemSlowMover = "slow";
constexpr absl::string_view kItemListed = "listed";
constexpr absl::string_view kItemCost = "cost";
constexpr absl::string_view kItemRole = "role";

// Trial counter fields ({p}t:{item_id} hash).
constexpr absl::string_view kTrialImpressions = "impressions";
constexpr absl::string_view kTrialClicks = "clicks";
constexpr absl::string_view kTrialPurchases = "purchases";

absl::string_view ReplyText(const Value* reply) { return reply->text; }

bool IsString(const Value* reply) {
  return reply != nullptr && reply->type == Value::Type::kString;
}

std::string FormatDouble(double value) {
  char buffer[64];
  auto [end, ec] = std::to_chars(buffer, buffer + sizeof(buffer), value);
  if (ec != std::errc()) return "0";
  return std::string(buffer, end);
}

// Parses "type|unix_seconds|item_id"; nullopt for a malformed entry.
std::optional<ActivityRecord> ParseActivity(absl::string_view entry) {
  const size_t first = entry.find('|');
  if (first == absl::string_view::npos) return std::nullopt;
  const size_t second = entry.find('|', first + 1);
  if (second == absl::string_view::npos) return std::nullopt;
  std::optional<EventType> type = EventTypeFromName(entry.substr(0, first));
  if (!type.has_value()) return std::nullopt;
  int64_t seconds = 0;
  if (!absl::SimpleAtoi(entry.substr(first + 1, second - first - 1),
                        &seconds)) {
    return std::nullopt;
  }
  absl::string_view item = entry.substr(second + 1);
  if (item.empty()) return std::nullopt;
  return ActivityRecord{.item_id = std::string(item),
                        .type = *type,
                        .time = absl::FromUnixSeconds(seconds)};
}

std::string FormatActivity(const Event& event) {
  return absl::StrCat(EventTypeName(event.type), "|",
                      absl::ToUnixSeconds(event.time), "|", event.item_id);
}

// Appends the parsable entries of an LRANGE reply to `out`.
void ParseActivityList(const Value* reply,
                       std::vector<ActivityRecord>& out) {
  if (reply->type != Value::Type::kArray) return;
  out.reserve(reply->elements.size());
  for (size_t i = 0; i < reply->elements.size(); ++i) {
    const Value* element = &reply->elements[i];
    if (!IsString(element)) continue;
    std::optional<ActivityRecord> record = ParseActivity(ReplyText(element));
    if (record.has_value()) out.push_back(*std::move(record));
  }
}

// A purchase journal member: "<length of the dedup key>:<dedup key><item
// id>", unique per event (its dedup key) and holding any bytes in the ids.
std::string JournalMember(const std::string& dedup_key,
                          absl::string_view item_id) {
  return absl::StrCat(dedup_key.size(), ":", dedup_key, item_id);
}

// The item of a journal member; empty when malformed.
absl::string_view JournalItem(absl::string_view member) {
  const size_t colon = member.find(':');
  size_t length = 0;
  if (colon == absl::string_view::npos ||
      !absl::SimpleAtoi(member.substr(0, colon), &length) ||
      member.size() - colon - 1 < length) {
    return {};
  }
  return member.substr(colon + 1 + length);
}

// True unless `reply` is an empty array, i.e. the key exists (an error reply
// such as WRONGTYPE also means a key exists).
bool KeyExists(const Value* reply) {
  return !(reply->type == Value::Type::kArray && reply->elements.size() == 0);
}

class RedisFeatureStore final : public FeatureStore {
 public:
  RedisFeatureStore(redis::Client* client,
                    const RedisFeatureStoreOptions& options)
      : client_(client),
        options_(options),
        generations_(client, options.key_prefix, options.generation_refresh) {}

  std::string Describe() const override { return client_->Describe(); }

  absl::StatusOr<UserFeatures> GetUser(absl::string_view user_id,
                                       absl::Time deadline) const override;
  absl::StatusOr<std::vector<std::optional<ItemFeatures>>> GetItems(
      absl::Span<const std::string> item_ids,
      absl::Time deadline) const override;
  absl::StatusOr<RecordOutcome> RecordEvents(absl::Span<const Event> events,
                                             absl::Time deadline) override;
  absl::Status PutUsers(absl::Span<const UserFeatures> users) override;
  absl::Status PutItems(absl::Span<const ItemFeatures> items) override;
  absl::StatusOr<std::vector<ListedItem>> GetListedItems(
      int limit, absl::Time deadline) const override;
  absl::StatusOr<std::vector<TrialCounts>> GetTrialCounts(
      absl::Span<const std::string> item_ids,
      absl::Time deadline) const override;
  absl::StatusOr<ItemChanges> GetItemChanges(
      int64_t since, absl::Time deadline) const override;
  absl::Status Ping(absl::Time deadline) const override;
  absl::Status MarkLoaded(absl::string_view model_version,
                          absl::Time loaded_at) override;
  absl::Status CheckLoaded(absl::Time deadline) const override;

 private:
  std::string LoadedKey() const {
    return absl::StrCat(options_.key_prefix, "loaded");
  }
  absl::Status NotLoadedError() const {
    return absl::UnavailableError(absl::StrCat(
        "feature store holds no loaded data (key ", LoadedKey(),
        " missing: Redis restarted empty?); reload with: recsys_train "
        "--load_redis_only --model_dir=<published model dir> --redis=",
        client_->address(),
        options_.key_prefix == "rs:"
            ? ""
            : absl::StrCat(" --redis_key_prefix=", options_.key_prefix)));
  }
  // Keys hold the user or item id as a Redis Cluster hash tag ({...}), so
  // one user's keys (and one item's) share a slot; the key families with
  // no id share the {catalog} tag where one script writes them together.
  std::string TrialKey(absl::string_view item_id) const {
    return absl::StrCat(options_.key_prefix, "t:{", item_id, "}");
  }
  std::string TrialEventKey(const Event& event) const {
    return absl::StrCat(options_.key_prefix, "tev:{", event.item_id, "}:",
                        EventDedupKey(event));
  }
  std::string ListedKey() const {
    return absl::StrCat(options_.key_prefix, "listed");
  }
  std::string CatalogVersionKey() const {
    return absl::StrCat(options_.key_prefix, "{catalog}:version");
  }
  std::string CatalogChangesKey() const {
    return absl::StrCat(options_.key_prefix, "{catalog}:changes");
  }
  // The change-feed command for the items of one PutItems batch.
  absl::StatusOr<Command> CatalogChange(
      absl::Span<const ItemFeatures> items) const {
    std::vector<std::string> ids;
    ids.reserve(items.size());
    for (const ItemFeatures& item : items) ids.push_back(item.item_id);
    return client_->ScriptCommand(catalog_change_script_,
                                  {CatalogVersionKey(), CatalogChangesKey()},
                                  ids, absl::InfiniteFuture());
  }
  // The key builders. `base` is options_.key_prefix for the real-time keys
  // (act, imp, the purchase journal rp, the item's live record) or
  // BulkPrefix(generation) for a generation's bulk keys (pc, pt, the item's
  // bulk record).
  std::string UserKey(absl::string_view base, absl::string_view user_id,
                      absl::string_view suffix) const {
    return absl::StrCat(base, "u:{", user_id, "}:", suffix);
  }
  std::string UserKey(absl::string_view user_id,
                      absl::string_view suffix) const {
    return UserKey(options_.key_prefix, user_id, suffix);
  }
  // The item's record: the live one under options_.key_prefix, a
  // generation's bulk one under BulkPrefix(generation).
  std::string ItemKey(absl::string_view base, absl::string_view item_id) const {
    return absl::StrCat(base, "i:{", item_id, "}");
  }
  std::string ItemKey(absl::string_view item_id) const {
    return ItemKey(options_.key_prefix, item_id);
  }
  std::string EventKey(const Event& event) const {
    return absl::StrCat(options_.key_prefix, "ev:{", event.user_id, "}:",
                        EventDedupKey(event));
  }
  // The generation part goes before the key family, so a user's keys of
  // every generation keep the {<user>} tag ({p}g7:u:{<user>}:pc).
  std::string BulkPrefix(int64_t generation) const {
    return redis::GenerationKeyPrefix(options_.key_prefix, generation);
  }
  // The generation PutUsers / PutItems write: load_generation, or 0.
  int64_t WriteGeneration() const {
    return options_.load_generation > 0 ? options_.load_generation : 0;
  }

  // Immutable after construction.
  redis::Client* const client_;  // borrowed; thread-safe
  const RedisFeatureStoreOptions options_;
  const redis::Script event_script_{std::string(kEventScript)};
  const redis::Script trial_script_{std::string(kTrialScript)};
  const redis::Script catalog_change_script_{
      std::string(kCatalogChangeScript)};
  // The live generation (thread-safe).
  const redis::GenerationCache generations_;

  // The load marker (CheckLoaded): seen present once; missing since the
  // last CheckLoaded. Read by GetUser on the request path.
  mutable std::atomic<bool> loaded_seen_{false};
  mutable std::atomic<bool> loaded_missing_{false};
};

absl::StatusOr<UserFeatures> RedisFeatureStore::GetUser(
    absl::string_view user_id, absl::Time deadline) const {
  RECSYS_RETURN_IF_ERROR(internal::ValidateUserId(user_id));
  if (loaded_missing_.load(std::memory_order_relaxed)) return NotLoadedError();
  // The generation's history, the real-time lists and the purchases
  // recorded after the generation's cutoff, all from one generation.
  auto build = [&](const redis::GenerationView& view) {
    const std::string bulk = BulkPrefix(view.generation);
    return std::vector<Command>{
        {"HGETALL", UserKey(bulk, user_id, "pc")},
        {"HGETALL", UserKey(bulk, user_id, "pt")},
        {"LRANGE", UserKey(user_id, "act"), "0",
         absl::StrCat(options_.recent_limit - 1)},
        {"LRANGE", UserKey(user_id, "imp"), "0",
         absl::StrCat(options_.impression_limit - 1)},
        {"ZRANGEBYSCORE", UserKey(user_id, "rp"),
         view.cutoff_unix == redis::kNoCutoff
             ? std::string("-inf")
             : absl::StrCat("(", view.cutoff_unix),
         "+inf", "WITHSCORES"},
    };
  };
  RECSYS_ASSIGN_OR_RETURN(auto read, generations_.RoundTrip(build, deadline));
  const std::vector<Value>& replies = read.second;
  const Value* counts = &replies[0];
  const Value* times = &replies[1];
  const Value* recent = &replies[2];
  const Value* impressions = &replies[3];
  const Value* journal = &replies[4];
  if (!KeyExists(counts) && !KeyExists(times) && !KeyExists(recent) &&
      !KeyExists(impressions) && !KeyExists(journal)) {
    return absl::NotFoundError(
        absl::StrCat("no features for user '", user_id, "'"));
  }

  UserFeatures user;
  user.user_id = std::string(user_id);
  // Values that do not parse are skipped: one corrupt field must not make the
  // whole user unreadable.
  absl::flat_hash_map<absl::string_view, int64_t> last_purchase;
  // Purchases recorded since the generation's export: one per journal entry.
  absl::flat_hash_map<absl::string_view, int64_t> recorded;
  if (journal->type == Value::Type::kArray) {
    for (size_t i = 0; i + 1 < journal->elements.size(); i += 2) {
      const Value* member = &journal->elements[i];
      double score = 0;
      if (!IsString(member) || !IsString(&journal->elements[i + 1]) ||
          !absl::SimpleAtod(ReplyText(&journal->elements[i + 1]), &score)) {
        continue;
      }
      absl::string_view item = JournalItem(ReplyText(member));
      if (item.empty()) continue;
      ++recorded[item];
      const int64_t seconds = static_cast<int64_t>(score);
      auto [it, inserted] = last_purchase.try_emplace(item, seconds);
      if (!inserted) it->second = std::max(it->second, seconds);
    }
  }
  if (times->type == Value::Type::kArray) {
    for (size_t i = 0; i + 1 < times->elements.size(); i += 2) {
      const Value* field = &times->elements[i];
      const Value* value = &times->elements[i + 1];
      int64_t seconds = 0;
      if (IsString(field) && IsString(value) &&
          absl::SimpleAtoi(ReplyText(value), &seconds)) {
        auto [it, inserted] = last_purchase.try_emplace(ReplyText(field), seconds);
        if (!inserted) it->second = std::max(it->second, seconds);
      }
    }
  }
  if (counts->type == Value::Type::kArray) {
    user.purchases.reserve(counts->elements.size() / 2);
    for (size_t i = 0; i + 1 < counts->elements.size(); i += 2) {
      const Value* field = &counts->elements[i];
      const Value* value = &counts->elements[i + 1];
      int64_t count = 0;
      if (!IsString(field) || ReplyText(field).empty() || !IsString(value) ||
          !absl::SimpleAtoi(ReplyText(value), &count) || count < 1) {
        continue;
      }
      if (auto r = recorded.find(ReplyText(field)); r != recorded.end()) {
        count += r->second;
        recorded.erase(r);
      }
      PurchaseRecord purchase;
      purchase.item_id = std::string(ReplyText(field));
      purchase.count = static_cast<int32_t>(
          std::min<int64_t>(count, std::numeric_limits<int32_t>::max()));
      auto it = last_purchase.find(ReplyText(field));
      if (it != last_purchase.end()) {
        purchase.last_purchase = absl::FromUnixSeconds(it->second);
      }
      user.purchases.push_back(std::move(purchase));
    }
  }
  // Items bought only since the export.
  for (const auto& [item, count] : recorded) {
    PurchaseRecord purchase;
    purchase.item_id = std::string(item);
    purchase.count = static_cast<int32_t>(
        std::min<int64_t>(count, std::numeric_limits<int32_t>::max()));
    purchase.last_purchase = absl::FromUnixSeconds(last_purchase[item]);
    user.purchases.push_back(std::move(purchase));
  }
  ParseActivityList(recent, user.recent);
  ParseActivityList(impressions, user.impressions);
  return user;
}

absl::StatusOr<std::vector<std::optional<ItemFeatures>>>
RedisFeatureStore::GetItems(absl::Span<const std::string> item_ids,
                            absl::Time deadline) const {
  RECSYS_RETURN_IF_ERROR(internal::ValidateItemIds(item_ids));
  std::vector<std::optional<ItemFeatures>> result;
  if (item_ids.empty()) return result;
  // Per item the live record (Admin.UpdateItems: stock, flags, listing,
  // cost, role) and, from generation 1 on, the generation's bulk record
  // (category, price, title from the model), which wins for those three
  // fields.
  auto build = [&](const redis::GenerationView& view) {
    std::vector<Command> commands;
    commands.reserve(item_ids.size() * (view.generation > 0 ? 2 : 1));
    for (const std::string& id : item_ids) {
      commands.push_back({"HMGET", ItemKey(id), std::string(kItemCategory),
                          std::string(kItemPrice), std::string(kItemTitle),
                          std::string(kItemStock), std::string(kItemSlowMover),
                          std::string(kItemListed), std::string(kItemCost),
                          std::string(kItemRole)});
      if (view.generation > 0) {
        commands.push_back({"HMGET", ItemKey(BulkPrefix(view.generation), id),
                            std::string(kItemCategory), std::string(kItemPrice),
                            std::string(kItemTitle)});
      }
    }
    return commands;
  };
  RECSYS_ASSIGN_OR_RETURN(auto read, generations_.RoundTrip(build, deadline));
  std::vector<Value>& replies = read.second;
  const size_t stride = read.first.generation > 0 ? 2 : 1;
  result.reserve(item_ids.size());
  for (size_t i = 0; i < item_ids.size(); ++i) {
    Value* reply = &replies[i * stride];
    // Unknown item: every field nil. A key of another type (an error reply)
    // is treated as unknown too.
    bool any = false;
    if (reply->type == Value::Type::kArray && reply->elements.size() == 8) {
      for (size_t j = 0; j < 8; ++j) any = any || IsString(&reply->elements[j]);
    } else {
      reply->type = Value::Type::kArray;
      reply->elements.assign(8, Value{});
    }
    if (stride == 2) {
      const Value* bulk = &replies[i * stride + 1];
      bool any_bulk = false;
      if (bulk->type == Value::Type::kArray && bulk->elements.size() == 3) {
        for (size_t j = 0; j < 3; ++j) any_bulk = any_bulk || IsString(&bulk->elements[j]);
      }
      if (any_bulk) {
        for (size_t j = 0; j < 3; ++j) reply->elements[j] = bulk->elements[j];
        any = true;
      }
    }
    if (!any) {
      result.emplace_back(std::nullopt);
      continue;
    }
    ItemFeatures item;
    item.item_id = item_ids[i];
    // Fields missing or failing to parse keep their defaults.
    if (IsString(&reply->elements[0])) {
      item.category = std::string(ReplyText(&reply->elements[0]));
    }
    double price = 0;
    if (IsString(&reply->elements[1]) &&
        absl::SimpleAtod(ReplyText(&reply->elements[1]), &price)) {
      item.price = price;
    }
    if (IsString(&reply->elements[2])) {
      item.title = std::string(ReplyText(&reply->elements[2]));
    }
    int64_t stock = 0;
    if (IsString(&reply->elements[3]) &&
        absl::SimpleAtoi(ReplyText(&reply->elements[3]), &stock)) {
      item.stock = stock;
    }
    item.slow_mover = IsString(&reply->elements[4]) && ReplyText(&reply->elements[4]) == "1";
    int64_t listed = 0;
    if (IsString(&reply->elements[5]) &&
        absl::SimpleAtoi(ReplyText(&reply->elements[5]), &listed)) {
      item.listed = absl::FromUnixSeconds(listed);
    }
    double cost = 0;
    if (IsString(&reply->elements[6]) &&
        absl::SimpleAtod(ReplyText(&reply->elements[6]), &cost) && cost >= 0) {
      item.cost = cost;
    }
    if (IsString(&reply->elements[7])) item.role = std::string(ReplyText(&reply->elements[7]));
    result.emplace_back(std::move(item));
  }
  return result;
}

absl::StatusOr<RecordOutcome> RedisFeatureStore::RecordEvents(
    absl::Span<const Event> events, absl::Time deadline) {
  RECSYS_RETURN_IF_ERROR(internal::ValidateEvents(events));
  RecordOutcome outcome;
  if (events.empty()) return outcome;
  const std::string window =
      absl::StrCat(absl::ToInt64Seconds(options_.event_dedup_window));
  const std::string retention = absl::StrCat(
      absl::ToInt64Seconds(options_.purchase_journal_retention));
  // The event scripts first (replies 0..n-1), then the trial scripts.
  std::vector<Command> commands;
  commands.reserve(events.size());
  std::vector<Command> trial_commands;
  for (const Event& event : events) {
    absl::string_view trial_field;
    if (event.count_for_trial) {
      if (event.type == EventType::kImpression) trial_field = kTrialImpressions;
      if (event.type == EventType::kClick) trial_field = kTrialClicks;
      if (event.type == EventType::kPurchase) trial_field = kTrialPurchases;
    }
    const bool impression = event.type == EventType::kImpression;
    const std::string dedup_key = EventDedupKey(event);
    std::vector<std::string> keys = {
        EventKey(event), UserKey(event.user_id, impression ? "imp" : "act")};
    std::vector<std::string> args = {
        window, FormatActivity(event),
        absl::StrCat(impression ? options_.impression_limit
                                : options_.recent_limit)};
    if (event.type == EventType::kPurchase) {
      keys.push_back(UserKey(event.user_id, "rp"));
      args.push_back(JournalMember(dedup_key, event.item_id));
      args.push_back(absl::StrCat(absl::ToUnixSeconds(event.time)));
      args.push_back(retention);
    }
    RECSYS_ASSIGN_OR_RETURN(
        Command command,
        client_->ScriptCommand(event_script_, keys, args, deadline));
    commands.push_back(std::move(command));
    if (!trial_field.empty()) {
      // The item's trial counter lives on the item's slot, not the user's:
      // its own script and marker, so it too counts the event at most once.
      const std::string trial_keys[] = {TrialKey(event.item_id),
                                        TrialEventKey(event)};
      const std::string trial_args[] = {std::string(trial_field), window};
      RECSYS_ASSIGN_OR_RETURN(
          Command trial,
          client_->ScriptCommand(trial_script_, trial_keys, trial_args,
                                 deadline));
      trial_commands.push_back(std::move(trial));
    }
  }
  commands.insert(commands.end(), std::make_move_iterator(trial_commands.begin()),
                  std::make_move_iterator(trial_commands.end()));
  // Every event is applied at most once (its markers), so the pipeline is
  // idempotent: CallKind::kRead lets the client send it again on a new
  // connection when a stale pooled one fails before any reply.
  RECSYS_ASSIGN_OR_RETURN(std::vector<Value> replies,
                          client_->Execute(commands, deadline, CallKind::kRead));
  for (size_t i = 0; i < events.size(); ++i) {
    const std::optional<int64_t> applied = replies[i].AsInt();
    if (!applied.has_value()) {
      return absl::InternalError(absl::StrCat(
          "redis ", client_->address(), ": unexpected reply of the event script for events[",
          i, "]"));
    }
    if (*applied == 1) {
      ++outcome.applied;
    } else {
      outcome.duplicates.push_back(static_cast<int>(i));
    }
  }
  return outcome;
}

absl::Status RedisFeatureStore::PutUsers(absl::Span<const UserFeatures> users) {
  RECSYS_RETURN_IF_ERROR(internal::ValidateUsers(users));
  // bulk_threads lanes; each user's writes go on the lane of its id, so a
  // user given twice keeps its last history (one lane sends in order).
  redis::BulkWriter writer(client_, options_.bulk_threads);
  std::vector<std::vector<Command>> batches(writer.lanes());
  for (std::vector<Command>& batch : batches) {
    batch.reserve(options_.bulk_batch + 8);
  }
  // Generation 0 is the one GetUser reads: MULTI/EXEC so that a concurrent
  // GetUser never sees a history half-replaced. A load's generation N > 0 is
  // read by nobody until the flip and never written after it, so its users
  // go without the transaction: 3 commands per user instead of 5, the same
  // keys and values.
  const int64_t generation = WriteGeneration();
  const bool transactions = generation == 0;
  const std::string bulk = BulkPrefix(generation);
  for (const UserFeatures& user : users) {
    const int lane = writer.LaneFor(user.user_id);
    std::vector<Command>& batch = batches[lane];
    const std::string counts_key = UserKey(bulk, user.user_id, "pc");
    const std::string times_key = UserKey(bulk, user.user_id, "pt");
    if (transactions) batch.push_back({"MULTI"});
    batch.push_back({"DEL", counts_key, times_key});
    if (!user.purchases.empty()) {
      Command counts = {"HSET", counts_key};
      Command times = {"HSET", times_key};
      counts.reserve(2 + 2 * user.purchases.size());
      times.reserve(2 + 2 * user.purchases.size());
      for (const PurchaseRecord& purchase : user.purchases) {
        counts.push_back(purchase.item_id);
        counts.push_back(absl::StrCat(purchase.count));
        if (purchase.last_purchase != absl::InfinitePast() &&
            purchase.last_purchase != absl::InfiniteFuture()) {
          times.push_back(purchase.item_id);
          times.push_back(
              absl::StrCat(absl::ToUnixSeconds(purchase.last_purchase)));
        }
      }
      batch.push_back(std::move(counts));
      if (times.size() > 2) batch.push_back(std::move(times));
    }
    if (transactions) batch.push_back({"EXEC"});
    if (batch.size() >= static_cast<size_t>(options_.bulk_batch)) {
      RECSYS_RETURN_IF_ERROR(writer.Send(lane, std::move(batch)));
      batch = std::vector<Command>();
      batch.reserve(options_.bulk_batch + 8);
    }
  }
  for (int lane = 0; lane < writer.lanes(); ++lane) {
    if (!batches[lane].empty()) {
      RECSYS_RETURN_IF_ERROR(writer.Send(lane, std::move(batches[lane])));
    }
  }
  return writer.Finish();
}

absl::Status RedisFeatureStore::PutItems(absl::Span<const ItemFeatures> items) {
  RECSYS_RETURN_IF_ERROR(internal::ValidateItems(items));
  std::vector<Command> batch;
  batch.reserve(std::min<size_t>(items.size(), options_.bulk_batch) + 1);
  size_t batch_begin = 0;  // first item of `batch`
  const int64_t generation = WriteGeneration();
  for (size_t i = 0; i < items.size(); ++i) {
    const ItemFeatures& item = items[i];
    if (generation > 0) {
      // A generation's bulk record: the model's metadata only; stock, flags
      // and listings stay in the live record.
      batch.push_back({"HSET", ItemKey(BulkPrefix(generation), item.item_id),
                       std::string(kItemCategory), item.category,
                       std::string(kItemPrice), FormatDouble(item.price),
                       std::string(kItemTitle), item.title});
      // Cost and role (Admin.UpdateItems) are not the model's: set, they
      // go to the live record as without generations.
      if (item.cost >= 0) {
        batch.push_back({"HSET", ItemKey(item.item_id), std::string(kItemCost),
                         FormatDouble(item.cost)});
      }
      if (!item.role.empty()) {
        batch.push_back({"HSET", ItemKey(item.item_id), std::string(kItemRole),
                         item.role});
      }
      if (batch.size() >= static_cast<size_t>(options_.bulk_batch) ||
          i + 1 == items.size()) {
        RECSYS_RETURN_IF_ERROR(
            client_->Execute(batch, absl::InfiniteFuture()).status());
        batch.clear();
      }
      continue;
    }
    batch.push_back({"HSET", ItemKey(item.item_id), std::string(kItemCategory),
                     item.category, std::string(kItemPrice),
                     FormatDouble(item.price), std::string(kItemTitle),
                     item.title, std::string(kItemStock),
                     absl::StrCat(item.stock), std::string(kItemSlowMover),
                     item.slow_mover ? "1" : "0"});
    if (item.listed != absl::InfinitePast()) {
      const std::string listed = absl::StrCat(absl::ToUnixSeconds(item.listed));
      batch.push_back({"HSET", ItemKey(item.item_id), std::string(kItemListed), listed});
      batch.push_back({"ZADD", ListedKey(), listed, item.item_id});
    }
    if (item.cost >= 0) {
      batch.push_back({"HSET", ItemKey(item.item_id), std::string(kItemCost),
                       FormatDouble(item.cost)});
    }
    if (!item.role.empty()) {
      batch.push_back({"HSET", ItemKey(item.item_id), std::string(kItemRole), item.role});
    }
    if (batch.size() >= static_cast<size_t>(options_.bulk_batch) || i + 1 == items.size()) {
      // The change feed entry follows the features it announces: on one
      // Redis in the same pipeline (one connection keeps the order); in a
      // cluster the items are on other nodes than {catalog}, with no order
      // between nodes, so it goes in a round trip of its own after them.
      RECSYS_ASSIGN_OR_RETURN(
          Command change,
          CatalogChange(items.subspan(batch_begin, i + 1 - batch_begin)));
      if (client_->options().topology == redis::Topology::kCluster) {
        RECSYS_RETURN_IF_ERROR(
            client_->Execute(batch, absl::InfiniteFuture()).status());
        batch.clear();
      }
      batch.push_back(std::move(change));
      RECSYS_RETURN_IF_ERROR(
          client_->Execute(batch, absl::InfiniteFuture()).status());
      batch.clear();
      batch_begin = i + 1;
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<ItemChanges> RedisFeatureStore::GetItemChanges(
    int64_t since, absl::Time deadline) const {
  if (since < kLatestCatalogVersion) {
    return absl::InvalidArgumentError(
        absl::StrCat("since: must be a catalog version (>= 0) or ",
                     kLatestCatalogVersion, ", got ", since));
  }
  auto build = [&](const redis::GenerationView&) {
    std::vector<Command> commands = {{"GET", CatalogVersionKey()}};
    if (since != kLatestCatalogVersion) {
      commands.push_back({"ZRANGEBYSCORE", CatalogChangesKey(),
                          absl::StrCat("(", since), "+inf", "WITHSCORES"});
    }
    return commands;
  };
  RECSYS_ASSIGN_OR_RETURN(auto read, generations_.RoundTrip(build, deadline));
  const std::vector<Value>& replies = read.second;
  ItemChanges changes;
  changes.generation = read.first.generation;
  const Value* version = &replies[0];
  if (version->type == Value::Type::kError) {
    return absl::InternalError(absl::StrCat("redis ", client_->address(), ": GET ",
                                            CatalogVersionKey(),
                                            " failed: ", ReplyText(version)));
  }
  if (IsString(version) && !absl::SimpleAtoi(ReplyText(version), &changes.version)) {
    return absl::InternalError(absl::StrCat("redis ", client_->address(), ": ",
                                            CatalogVersionKey(), " holds \"",
                                            ReplyText(version), "\", not a version"));
  }
  if (since == kLatestCatalogVersion) return changes;
  if (changes.version < since) {
    changes.reset = true;
    return changes;
  }
  // The GET ran first: items written between the two commands arrive with
  // versions above it. The highest score seen is the version reached.
  const Value* items = &replies[1];
  if (items->type != Value::Type::kArray) {
    return absl::InternalError(absl::StrCat("redis ", client_->address(), ": ",
                                            CatalogChangesKey(), " is not a sorted set"));
  }
  changes.item_ids.reserve(items->elements.size() / 2);
  for (size_t i = 0; i + 1 < items->elements.size(); i += 2) {
    double score = 0;
    if (!IsString(&items->elements[i]) || !IsString(&items->elements[i + 1]) ||
        !absl::SimpleAtod(ReplyText(&items->elements[i + 1]), &score)) {
      continue;
    }
    changes.item_ids.emplace_back(ReplyText(&items->elements[i]));
    changes.version = std::max(changes.version, static_cast<int64_t>(score));
  }
  return changes;
}

absl::StatusOr<std::vector<ListedItem>> RedisFeatureStore::GetListedItems(
    int limit, absl::Time deadline) const {
  if (limit < 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("limit: must be at least 1, got ", limit));
  }
  const Command commands[] = {{"ZREVRANGE", ListedKey(), "0",
                               absl::StrCat(limit - 1), "WITHSCORES"}};
  RECSYS_ASSIGN_OR_RETURN(std::vector<Value> replies,
                          client_->RoundTrip(commands, deadline, CallKind::kRead));
  const Value* reply = &replies[0];
  std::vector<ListedItem> result;
  if (reply->type != Value::Type::kArray) return result;  // wrong type: empty
  for (size_t i = 0; i + 1 < reply->elements.size(); i += 2) {
    double score = 0;
    if (!IsString(&reply->elements[i]) || !IsString(&reply->elements[i + 1]) ||
        !absl::SimpleAtod(ReplyText(&reply->elements[i + 1]), &score)) {
      continue;
    }
    result.push_back({std::string(ReplyText(&reply->elements[i])),
                      absl::FromUnixSeconds(static_cast<int64_t>(score))});
  }
  return result;
}

absl::StatusOr<std::vector<TrialCounts>> RedisFeatureStore::GetTrialCounts(
    absl::Span<const std::string> item_ids, absl::Time deadline) const {
  RECSYS_RETURN_IF_ERROR(internal::ValidateItemIds(item_ids));
  std::vector<TrialCounts> result(item_ids.size());
  if (item_ids.empty()) return result;
  std::vector<Command> commands;
  commands.reserve(item_ids.size());
  for (const std::string& id : item_ids) {
    commands.push_back({"HMGET", TrialKey(id), std::string(kTrialImpressions),
                        std::string(kTrialClicks), std::string(kTrialPurchases)});
  }
  RECSYS_ASSIGN_OR_RETURN(std::vector<Value> replies,
                          client_->RoundTrip(commands, deadline, CallKind::kRead));
  for (size_t i = 0; i < item_ids.size(); ++i) {
    const Value* reply = &replies[i];
    if (reply->type != Value::Type::kArray || reply->elements.size() != 3) continue;
    int64_t* fields[] = {&result[i].impressions, &result[i].clicks,
                         &result[i].purchases};
    for (size_t j = 0; j < 3; ++j) {
      int64_t value = 0;
      if (IsString(&reply->elements[j]) &&
          absl::SimpleAtoi(ReplyText(&reply->elements[j]), &value)) {
        *fields[j] = value;
      }
    }
  }
  return result;
}

absl::Status RedisFeatureStore::Ping(absl::Time deadline) const {
  return client_->Ping(deadline);
}

absl::Status RedisFeatureStore::MarkLoaded(absl::string_view model_version,
                                           absl::Time loaded_at) {
  // A store loading a generation: the flip writes the marker
  // (redis::Generations::Flip), so it means "a complete, live load".
  if (WriteGeneration() > 0) return absl::OkStatus();
  const Command command = {
      "HSET", LoadedKey(), "model_version", std::string(model_version),
      "loaded_unix", absl::StrCat(absl::ToUnixSeconds(loaded_at))};
  RECSYS_RETURN_IF_ERROR(
      client_->Execute({&command, 1}, absl::InfiniteFuture()).status());
  loaded_seen_.store(true, std::memory_order_relaxed);
  loaded_missing_.store(false, std::memory_order_relaxed);
  return absl::OkStatus();
}

absl::Status RedisFeatureStore::CheckLoaded(absl::Time deadline) const {
  const Command command = {"EXISTS", LoadedKey()};
  RECSYS_ASSIGN_OR_RETURN(
      std::vector<Value> replies,
      client_->Execute({&command, 1}, deadline, CallKind::kRead));
  if (replies[0].AsInt().value_or(0) > 0) {
    loaded_seen_.store(true, std::memory_order_relaxed);
    loaded_missing_.store(false, std::memory_order_relaxed);
    return absl::OkStatus();
  }
  if (!loaded_seen_.load(std::memory_order_relaxed) && !options_.require_loaded) {
    return absl::OkStatus();
  }
  loaded_missing_.store(true, std::memory_order_relaxed);
  return NotLoadedError();
}

}  // namespace

absl::StatusOr<std::unique_ptr<FeatureStore>> NewRedisFeatureStore(
    redis::Client* client, const RedisFeatureStoreOptions& options) {
  if (client == nullptr) {
    return absl::InvalidArgumentError("client: must not be null");
  }
  if (options.recent_limit < 1) {
    return absl::InvalidArgumentError(absl::StrCat(
        "recent_limit: must be >= 1, got ", options.recent_limit));
  }
  if (options.impression_limit < 1) {
    return absl::InvalidArgumentError(absl::StrCat(
        "impression_limit: must be >= 1, got ", options.impression_limit));
  }
  if (options.event_dedup_window < absl::Seconds(1)) {
    return absl::InvalidArgumentError(
        absl::StrCat("event_dedup_window: must be at least 1s, got ",
                     absl::FormatDuration(options.event_dedup_window)));
  }
  if (options.bulk_batch < 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("bulk_batch: must be >= 1, got ", options.bulk_batch));
  }
  if (options.bulk_threads < 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("bulk_threads: must be >= 1, got ", options.bulk_threads));
  }
  if (options.load_generation < 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        "load_generation: must be >= 0, got ", options.load_generation));
  }
  if (options.generation_refresh < absl::ZeroDuration()) {
    return absl::InvalidArgumentError(
        absl::StrCat("generation_refresh: must be >= 0, got ",
                     absl::FormatDuration(options.generation_refresh)));
  }
  if (options.purchase_journal_retention < absl::Seconds(1)) {
    return absl::InvalidArgumentError(
        absl::StrCat("purchase_journal_retention: must be at least 1s, got ",
                     absl::FormatDuration(options.purchase_journal_retention)));
  }
  return std::make_unique<RedisFeatureStore>(client, options);
}

}  // namespace recsys::feature_store
