// RedisCluster: a throwaway Redis Cluster on loopback for integration tests.
//
// Start() runs masters (+ replicas_per_master replicas each) redis-servers
// with --cluster-enabled yes on free ports (each a RedisServer, so each has
// its own temp dir, log and PR_SET_PDEATHSIG), joins them with
//   redis-cli --cluster create <nodes...> --cluster-replicas R --cluster-yes
// (which gives each master an equal share of the 16384 slots) and returns
// once every node reports cluster_state:ok and knows every other node. All
// of it is bounded by startup_timeout. The destructor kills every node and
// removes their dirs.
//
//   RECSYS_ASSERT_OK_AND_ASSIGN(std::unique_ptr<RedisCluster> cluster,
//                               RedisCluster::Start());
//   redis::Options options;  // or redis::ParseAddress(cluster->url())
//   options.topology = redis::Topology::kCluster;
//   options.nodes = {{"127.0.0.1", cluster->node(0).port()}};
//
// Thread safety: not thread-safe; use one RedisCluster from one thread
// (the servers accept any number of client connections). Start it from a
// thread that outlives it (the test body or SetUpTestSuite).
#ifndef RECSYS_TESTS_TESTING_REDIS_CLUSTER_H_
#define RECSYS_TESTS_TESTING_REDIS_CLUSTER_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "tests/testing/child_process.h"
#include "tests/testing/redis_server.h"

namespace recsys::testing {

struct RedisClusterOptions {
  // Masters; each gets 16384 / masters slots. At least 3 (redis-cli's
  // minimum).
  int masters = 3;
  // Replicas of each master (0 or more).
  int replicas_per_master = 1;
  // cluster-node-timeout: how long a master may be unreachable before its
  // replica is promoted (a failover takes about twice this).
  absl::Duration node_timeout = absl::Milliseconds(1000);
  // Bound on starting the nodes and joining them.
  absl::Duration startup_timeout = absl::Seconds(60);
  // Appended to every node's command line.
  std::vector<std::string> extra_args;
};

// One line of CLUSTER NODES.
struct ClusterNodeInfo {
  std::string id;
  std::string address;  // "127.0.0.1:port"
  bool master = false;
  bool failed = false;    // flagged fail (or fail?)
  std::string master_id;  // of a replica
};

class RedisCluster {
 public:
  // FailedPrecondition: redis-server or redis-cli not found. Unavailable:
  // a node did not start, or the cluster did not reach cluster_state:ok
  // before startup_timeout (the message says which step).
  static absl::StatusOr<std::unique_ptr<RedisCluster>> Start(
      const RedisClusterOptions& options = {});

  ~RedisCluster() = default;
  RedisCluster(const RedisCluster&) = delete;
  RedisCluster& operator=(const RedisCluster&) = delete;

  // All nodes, masters first as created (a failover changes the roles:
  // ask MasterOf / Nodes).
  int size() const { return static_cast<int>(nodes_.size()); }
  RedisServer& node(int i) { return *nodes_[i]; }
  // The node listening on "127.0.0.1:port"; null when none.
  RedisServer* NodeAt(const std::string& address);

  // "redis-cluster://127.0.0.1:p0,127.0.0.1:p1,..." of every node, the
  // form --redis and redis::ParseAddress take.
  std::string url() const;

  // CLUSTER NODES as seen by the first running node.
  absl::StatusOr<std::vector<ClusterNodeInfo>> Nodes() const;
  // "127.0.0.1:port" of the master serving `slot`, as the first running
  // node sees it. NotFound when no master serves it.
  absl::StatusOr<std::string> MasterOf(int slot) const;
  // The node id of the node at `address`.
  absl::StatusOr<std::string> IdOf(const std::string& address) const;

  // Waits until every running node reports cluster_state:ok and agrees on
  // who serves every slot, with every slot served by a running master
  // (after a kill: until the replica took over), and every running replica
  // has finished its sync (master_link_status:up). Unavailable on timeout.
  absl::Status WaitHealthy(absl::Duration timeout) const;

  // Runs `command` on every running master (FLUSHALL, SCRIPT FLUSH, ...).
  absl::Status OnEveryMaster(const std::vector<std::string>& command) const;
  // Sum of DBSIZE over the running masters.
  absl::StatusOr<int64_t> KeyCount() const;

  // Moves `slots` slots from the master at `from` to the master at `to`
  // with redis-cli --cluster reshard (keys move with MIGRATE while clients
  // keep working). Blocks until redis-cli exits; Internal when it fails
  // (the message quotes its output).
  absl::Status Reshard(const std::string& from, const std::string& to,
                       int slots) const;

 private:
  RedisCluster(const RedisClusterOptions& options, std::string cli)
      : options_(options), cli_(std::move(cli)) {}
  // The first node that answers, for CLUSTER NODES.
  const RedisServer* AnyRunning() const;

  const RedisClusterOptions options_;
  const std::string cli_;
  std::vector<std::unique_ptr<RedisServer>> nodes_;
};

// A master, one replica and one Redis Sentinel watching them, on loopback:
// the master and the replica are RedisServers, the sentinel is
// `redis-server <dir>/sentinel.conf --sentinel` with quorum 1. Start()
// returns once the sentinel names the master and knows the replica. The
// destructor kills all three.
struct RedisSentinelOptions {
  std::string master_name = "mymaster";
  // sentinel down-after-milliseconds and failover-timeout.
  absl::Duration down_after = absl::Milliseconds(500);
  absl::Duration failover_timeout = absl::Seconds(3);
  absl::Duration startup_timeout = absl::Seconds(30);
};

class RedisSentinelGroup {
 public:
  static absl::StatusOr<std::unique_ptr<RedisSentinelGroup>> Start(
      const RedisSentinelOptions& options = {});
  ~RedisSentinelGroup();
  RedisSentinelGroup(const RedisSentinelGroup&) = delete;
  RedisSentinelGroup& operator=(const RedisSentinelGroup&) = delete;

  RedisServer& master() { return *master_; }
  RedisServer& replica() { return *replica_; }
  // "redis-sentinel://127.0.0.1:<sentinel port>/<master_name>".
  std::string url() const;
  // "host:port" of the master as the sentinel names it now.
  absl::StatusOr<std::string> CurrentMaster() const;

 private:
  RedisSentinelGroup() = default;
  // Runs one command on the sentinel; the reply as RedisServer::Command.
  absl::StatusOr<std::string> SentinelCommand(
      const std::vector<std::string>& argv) const;

  RedisSentinelOptions options_;
  std::unique_ptr<RedisServer> master_;
  std::unique_ptr<RedisServer> replica_;
  int sentinel_port_ = 0;
  std::string dir_;
  std::unique_ptr<ChildProcess> sentinel_;
};

// One cluster (3 masters, no replicas) for the whole test executable,
// started on first use and stopped at exit; the contract suites run on it.
// Call it first from the main test thread (see PR_SET_PDEATHSIG above).
// Tests that kill nodes or move slots start their own.
absl::StatusOr<RedisCluster*> SharedRedisCluster();

}  // namespace recsys::testing

#endif  // RECSYS_TESTS_TESTING_REDIS_CLUSTER_H_
