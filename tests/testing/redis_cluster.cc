#include "tests/testing/redis_cluster.h"

#include <hiredis/hiredis.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "tests/testing/child_process.h"

namespace recsys::testing {
namespace {

constexpr int kSlots = 16384;

absl::StatusOr<std::string> FindRedisCli() {
  if (const char* path = std::getenv("PATH"); path != nullptr) {
    for (absl::string_view dir : absl::StrSplit(path, ':')) {
      if (dir.empty()) continue;
      std::string candidate = absl::StrCat(dir, "/redis-cli");
      if (access(candidate.c_str(), X_OK) == 0) return candidate;
    }
  }
  if (access("/usr/bin/redis-cli", X_OK) == 0) return "/usr/bin/redis-cli";
  return absl::FailedPreconditionError(
      "redis-cli not found in PATH or at /usr/bin/redis-cli; the cluster "
      "tests need it (Debian/Ubuntu: apt-get install redis-tools)");
}

std::string ReadAll(const std::string& path) {
  std::ifstream in(path);
  std::stringstream buffer;
  buffer << in.rdbuf();
  return buffer.str();
}

std::string Tail(const std::string& text, size_t n = 1500) {
  return text.size() <= n ? text : text.substr(text.size() - n);
}

// Parses CLUSTER NODES; `slot_master`, when set, gets the master address
// of every slot a healthy master claims ("" for none).
std::vector<ClusterNodeInfo> ParseNodes(const std::string& text,
                                        std::vector<std::string>* slot_master) {
  std::vector<ClusterNodeInfo> nodes;
  if (slot_master != nullptr) slot_master->assign(kSlots, "");
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    std::vector<absl::string_view> fields =
        absl::StrSplit(line, ' ', absl::SkipEmpty());
    if (fields.size() < 8) continue;
    ClusterNodeInfo node;
    node.id = std::string(fields[0]);
    // "127.0.0.1:7000@17000[,hostname]".
    absl::string_view address = fields[1];
    address = address.substr(0, address.find('@'));
    node.address = std::string(address);
    node.master = absl::StrContains(fields[2], "master");
    node.failed = absl::StrContains(fields[2], "fail");
    if (fields[3] != "-") node.master_id = std::string(fields[3]);
    if (slot_master != nullptr && node.master && !node.failed) {
      for (size_t i = 8; i < fields.size(); ++i) {
        absl::string_view range = fields[i];
        if (absl::StartsWith(range, "[")) continue;  // migration marker
        std::pair<absl::string_view, absl::string_view> bounds =
            absl::StrSplit(range, absl::MaxSplits('-', 1));
        int first = 0;
        int last = 0;
        if (!absl::SimpleAtoi(bounds.first, &first)) continue;
        if (bounds.second.empty()) {
          last = first;
        } else if (!absl::SimpleAtoi(bounds.second, &last)) {
          continue;
        }
        for (int slot = std::max(first, 0); slot <= last && slot < kSlots;
             ++slot) {
          (*slot_master)[slot] = node.address;
        }
      }
    }
    nodes.push_back(std::move(node));
  }
  return nodes;
}

}  // namespace

absl::StatusOr<std::unique_ptr<RedisCluster>> RedisCluster::Start(
    const RedisClusterOptions& options) {
  if (options.masters < 3) {
    return absl::InvalidArgumentError("masters: redis-cli needs at least 3");
  }
  absl::StatusOr<std::string> cli = FindRedisCli();
  if (!cli.ok()) return cli.status();
  const absl::Time deadline = absl::Now() + options.startup_timeout;
  std::unique_ptr<RedisCluster> cluster(new RedisCluster(options, *cli));
  const int total = options.masters * (1 + options.replicas_per_master);
  RedisServerOptions server_options;
  server_options.max_port = 65535 - 10000;  // the bus listens on port + 10000
  server_options.extra_args = {
      "--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf",
      "--cluster-node-timeout",
      absl::StrCat(absl::ToInt64Milliseconds(options.node_timeout)),
      // A replica whose master died long ago may still be promoted.
      "--cluster-replica-validity-factor", "0"};
  server_options.extra_args.insert(server_options.extra_args.end(),
                                   options.extra_args.begin(),
                                   options.extra_args.end());
  for (int i = 0; i < total; ++i) {
    absl::StatusOr<std::unique_ptr<RedisServer>> node =
        RedisServer::Start(server_options);
    if (!node.ok()) {
      return absl::UnavailableError(absl::StrCat(
          "starting cluster node ", i, ": ", node.status().message()));
    }
    cluster->nodes_.push_back(*std::move(node));
  }
  std::vector<std::string> addresses;
  for (const auto& node : cluster->nodes_) addresses.push_back(node->address());
  const std::string log =
      (std::filesystem::path(cluster->nodes_[0]->log_path()).parent_path() /
       "cluster-create.log")
          .string();
  const std::string command = absl::StrCat(
      "timeout ",
      std::max<int64_t>(1, absl::ToInt64Seconds(deadline - absl::Now())), " ",
      *cli, " --cluster create ", absl::StrJoin(addresses, " "),
      " --cluster-replicas ", options.replicas_per_master, " --cluster-yes > ",
      log, " 2>&1");
  if (const int code = RunCommand(command); code != 0) {
    return absl::UnavailableError(absl::StrCat(
        "redis-cli --cluster create exited ", code, ": ", Tail(ReadAll(log))));
  }
  absl::Status healthy = cluster->WaitHealthy(deadline - absl::Now());
  if (!healthy.ok()) return healthy;
  return cluster;
}

RedisServer* RedisCluster::NodeAt(const std::string& address) {
  for (auto& node : nodes_) {
    if (node->address() == address) return node.get();
  }
  return nullptr;
}

std::string RedisCluster::url() const {
  std::vector<std::string> addresses;
  for (const auto& node : nodes_) addresses.push_back(node->address());
  return absl::StrCat("redis-cluster://", absl::StrJoin(addresses, ","));
}

const RedisServer* RedisCluster::AnyRunning() const {
  for (const auto& node : nodes_) {
    if (node->running()) return node.get();
  }
  return nullptr;
}

absl::StatusOr<std::vector<ClusterNodeInfo>> RedisCluster::Nodes() const {
  const RedisServer* node = AnyRunning();
  if (node == nullptr) return absl::UnavailableError("no node is running");
  absl::StatusOr<std::string> text = node->Command({"CLUSTER", "NODES"});
  if (!text.ok()) return text.status();
  return ParseNodes(*text, nullptr);
}

absl::StatusOr<std::string> RedisCluster::MasterOf(int slot) const {
  const RedisServer* node = AnyRunning();
  if (node == nullptr) return absl::UnavailableError("no node is running");
  absl::StatusOr<std::string> text = node->Command({"CLUSTER", "NODES"});
  if (!text.ok()) return text.status();
  std::vector<std::string> slot_master;
  ParseNodes(*text, &slot_master);
  if (slot < 0 || slot >= kSlots || slot_master[slot].empty()) {
    return absl::NotFoundError(absl::StrCat("no master serves slot ", slot));
  }
  return slot_master[slot];
}

absl::StatusOr<std::string> RedisCluster::IdOf(
    const std::string& address) const {
  absl::StatusOr<std::vector<ClusterNodeInfo>> nodes = Nodes();
  if (!nodes.ok()) return nodes.status();
  for (const ClusterNodeInfo& node : *nodes) {
    if (node.address == address) return node.id;
  }
  return absl::NotFoundError(absl::StrCat("no node at ", address));
}

absl::Status RedisCluster::WaitHealthy(absl::Duration timeout) const {
  const absl::Time deadline = absl::Now() + timeout;
  std::string why = "not checked";
  while (true) {
    std::vector<std::string> first_map;
    bool ok = true;
    for (const auto& node : nodes_) {
      if (!node->running()) continue;
      absl::StatusOr<std::string> info = node->Command({"CLUSTER", "INFO"});
      if (!info.ok() || !absl::StrContains(*info, "cluster_state:ok")) {
        why = absl::StrCat(node->address(), ": cluster_state not ok");
        ok = false;
        break;
      }
      absl::StatusOr<std::string> text = node->Command({"CLUSTER", "NODES"});
      if (!text.ok()) {
        why = std::string(text.status().message());
        ok = false;
        break;
      }
      // A replica counts once its initial sync is done (WAIT needs it).
      if (absl::StrContains(*text, "myself,slave")) {
        absl::StatusOr<std::string> replication =
            node->Command({"INFO", "replication"});
        if (!replication.ok() ||
            !absl::StrContains(*replication, "master_link_status:up")) {
          why = absl::StrCat(node->address(), ": replica not in sync yet");
          ok = false;
          break;
        }
      }
      std::vector<std::string> slot_master;
      const std::vector<ClusterNodeInfo> known =
          ParseNodes(*text, &slot_master);
      if (known.size() != nodes_.size()) {
        why = absl::StrCat(node->address(), " knows ", known.size(), " of ",
                           nodes_.size(), " nodes");
        ok = false;
        break;
      }
      for (int slot = 0; slot < kSlots && ok; ++slot) {
        const std::string& master = slot_master[slot];
        bool running = false;
        for (const auto& other : nodes_) {
          if (other->running() && other->address() == master) running = true;
        }
        if (!running) {
          why = absl::StrCat(node->address(), ": slot ", slot,
                             " has no running master");
          ok = false;
        }
      }
      if (!ok) break;
      if (first_map.empty()) {
        first_map = std::move(slot_master);
      } else if (first_map != slot_master) {
        why = absl::StrCat(node->address(),
                           " disagrees with the first node's slot map");
        ok = false;
        break;
      }
    }
    if (ok) return absl::OkStatus();
    if (absl::Now() >= deadline) {
      return absl::UnavailableError(
          absl::StrCat("redis cluster not healthy after ",
                       absl::FormatDuration(timeout), ": ", why));
    }
    absl::SleepFor(absl::Milliseconds(50));
  }
}

absl::Status RedisCluster::OnEveryMaster(
    const std::vector<std::string>& command) const {
  absl::StatusOr<std::vector<ClusterNodeInfo>> nodes = Nodes();
  if (!nodes.ok()) return nodes.status();
  for (const ClusterNodeInfo& info : *nodes) {
    if (!info.master || info.failed) continue;
    for (const auto& node : nodes_) {
      if (node->address() != info.address || !node->running()) continue;
      absl::StatusOr<std::string> reply = node->Command(command);
      if (!reply.ok()) return reply.status();
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<int64_t> RedisCluster::KeyCount() const {
  absl::StatusOr<std::vector<ClusterNodeInfo>> nodes = Nodes();
  if (!nodes.ok()) return nodes.status();
  int64_t total = 0;
  for (const ClusterNodeInfo& info : *nodes) {
    if (!info.master || info.failed) continue;
    for (const auto& node : nodes_) {
      if (node->address() != info.address || !node->running()) continue;
      absl::StatusOr<std::string> reply = node->Command({"DBSIZE"});
      if (!reply.ok()) return reply.status();
      int64_t n = 0;
      if (!absl::SimpleAtoi(*reply, &n)) {
        return absl::InternalError(absl::StrCat("DBSIZE answered ", *reply));
      }
      total += n;
    }
  }
  return total;
}

absl::Status RedisCluster::Reshard(const std::string& from,
                                   const std::string& to, int slots) const {
  absl::StatusOr<std::string> from_id = IdOf(from);
  if (!from_id.ok()) return from_id.status();
  absl::StatusOr<std::string> to_id = IdOf(to);
  if (!to_id.ok()) return to_id.status();
  const std::string log =
      (std::filesystem::path(nodes_[0]->log_path()).parent_path() /
       "reshard.log")
          .string();
  const std::string command = absl::StrCat(
      "timeout 120 ", cli_, " --cluster reshard ", from, " --cluster-from ",
      *from_id, " --cluster-to ", *to_id, " --cluster-slots ", slots,
      " --cluster-pipeline 5 --cluster-yes > ", log, " 2>&1");
  if (const int code = RunCommand(command); code != 0) {
    return absl::InternalError(absl::StrCat(
        "redis-cli --cluster reshard exited ", code, ": ", Tail(ReadAll(log))));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::unique_ptr<RedisSentinelGroup>> RedisSentinelGroup::Start(
    const RedisSentinelOptions& options) {
  const absl::Time deadline = absl::Now() + options.startup_timeout;
  std::unique_ptr<RedisSentinelGroup> group(new RedisSentinelGroup());
  group->options_ = options;
  absl::StatusOr<std::unique_ptr<RedisServer>> master = RedisServer::Start();
  if (!master.ok()) return master.status();
  group->master_ = *std::move(master);
  RedisServerOptions replica_options;
  replica_options.extra_args = {"--replicaof", "127.0.0.1",
                                absl::StrCat(group->master_->port())};
  absl::StatusOr<std::unique_ptr<RedisServer>> replica =
      RedisServer::Start(replica_options);
  if (!replica.ok()) return replica.status();
  group->replica_ = *std::move(replica);
  group->dir_ =
      std::filesystem::path(group->master_->log_path()).parent_path().string();
  // A sentinel that exits (its port was taken between the pick and the bind)
  // is started again on a new port.
  std::string why = "no start attempt made";
  for (int attempt = 0; attempt < 3; ++attempt) {
    absl::StatusOr<int> port = PickUnusedPort();
    if (!port.ok()) return port.status();
    group->sentinel_port_ = *port;
    const std::string config = group->dir_ + "/sentinel.conf";
    {
      std::ofstream out(config);
      out << "port " << *port << "\nbind 127.0.0.1\ndir " << group->dir_
          << "\nsentinel monitor " << options.master_name << " 127.0.0.1 "
          << group->master_->port() << " 1\n"
          << "sentinel down-after-milliseconds " << options.master_name << " "
          << absl::ToInt64Milliseconds(options.down_after) << "\n"
          << "sentinel failover-timeout " << options.master_name << " "
          << absl::ToInt64Milliseconds(options.failover_timeout) << "\n";
      if (!out) return absl::InternalError("cannot write " + config);
    }
    absl::StatusOr<std::unique_ptr<ChildProcess>> sentinel =
        ChildProcess::Start({"/usr/bin/redis-server", config, "--sentinel"},
                            group->dir_ + "/sentinel.log");
    if (!sentinel.ok()) return sentinel.status();
    group->sentinel_ = *std::move(sentinel);
    // Ready once the sentinel knows the master and has found the replica.
    while (group->sentinel_->Running()) {
      absl::StatusOr<std::string> replicas =
          group->SentinelCommand({"SENTINEL", "REPLICAS", options.master_name});
      if (replicas.ok() &&
          absl::StrContains(*replicas, absl::StrCat(group->replica_->port())) &&
          absl::StrContains(*replicas, "slave")) {
        absl::StatusOr<std::string> replication =
            group->replica_->Command({"INFO", "replication"});
        if (replication.ok() &&
            absl::StrContains(*replication, "master_link_status:up")) {
          return group;
        }
        why = "replica not linked to the master yet";
      } else {
        why = replicas.ok() ? "sentinel has not found the replica yet"
                            : std::string(replicas.status().message());
      }
      if (absl::Now() >= deadline) {
        return absl::UnavailableError(absl::StrCat(
            "sentinel group not ready: ", why,
            "; sentinel log: ", Tail(ReadAll(group->dir_ + "/sentinel.log"))));
      }
      absl::SleepFor(absl::Milliseconds(50));
    }
    why = absl::StrCat("sentinel exited; its log: ",
                       Tail(ReadAll(group->dir_ + "/sentinel.log")));
    group->sentinel_->Stop(SIGKILL, absl::ZeroDuration()).IgnoreError();
    group->sentinel_.reset();
  }
  return absl::UnavailableError(absl::StrCat("sentinel group not ready: ", why));
}

RedisSentinelGroup::~RedisSentinelGroup() {
  if (sentinel_ != nullptr)
    sentinel_->Stop(SIGKILL, absl::Seconds(5)).IgnoreError();
}

std::string RedisSentinelGroup::url() const {
  return absl::StrCat("redis-sentinel://127.0.0.1:", sentinel_port_, "/",
                      options_.master_name);
}

absl::StatusOr<std::string> RedisSentinelGroup::CurrentMaster() const {
  absl::StatusOr<std::string> reply = SentinelCommand(
      {"SENTINEL", "GET-MASTER-ADDR-BY-NAME", options_.master_name});
  if (!reply.ok()) return reply.status();
  std::vector<std::string> parts = absl::StrSplit(*reply, '\n');
  if (parts.size() != 2) {
    return absl::NotFoundError(absl::StrCat("sentinel answered ", *reply));
  }
  return absl::StrCat(parts[0], ":", parts[1]);
}

absl::StatusOr<std::string> RedisSentinelGroup::SentinelCommand(
    const std::vector<std::string>& argv) const {
  std::unique_ptr<redisContext, void (*)(redisContext*)> context(
      redisConnectWithTimeout("127.0.0.1", sentinel_port_,
                              absl::ToTimeval(absl::Seconds(2))),
      redisFree);
  if (context == nullptr || context->err != 0) {
    return absl::UnavailableError("cannot connect to the sentinel");
  }
  redisSetTimeout(context.get(), absl::ToTimeval(absl::Seconds(5)));
  std::vector<const char*> args;
  std::vector<size_t> lengths;
  for (const std::string& arg : argv) {
    args.push_back(arg.data());
    lengths.push_back(arg.size());
  }
  std::unique_ptr<redisReply, void (*)(void*)> reply(
      static_cast<redisReply*>(redisCommandArgv(context.get(),
                                                static_cast<int>(args.size()),
                                                args.data(), lengths.data())),
      freeReplyObject);
  if (reply == nullptr) return absl::UnavailableError(context->errstr);
  if (reply->type == REDIS_REPLY_ERROR) {
    return absl::InternalError(std::string(reply->str, reply->len));
  }
  // Flattened, one element per line (nested arrays too).
  std::string out;
  std::vector<const redisReply*> stack = {reply.get()};
  while (!stack.empty()) {
    const redisReply* r = stack.back();
    stack.pop_back();
    if (r->type == REDIS_REPLY_ARRAY) {
      for (size_t i = r->elements; i > 0; --i)
        stack.push_back(r->element[i - 1]);
      continue;
    }
    if (!out.empty()) out += '\n';
    if (r->type == REDIS_REPLY_INTEGER) {
      out += absl::StrCat(r->integer);
    } else if (r->str != nullptr) {
      out.append(r->str, r->len);
    }
  }
  return out;
}

absl::StatusOr<RedisCluster*> SharedRedisCluster() {
  static absl::StatusOr<std::unique_ptr<RedisCluster>> cluster = [] {
    RedisClusterOptions options;
    options.replicas_per_master = 0;
    return RedisCluster::Start(options);
  }();
  if (!cluster.ok()) return cluster.status();
  return cluster->get();
}

}  // namespace recsys::testing
