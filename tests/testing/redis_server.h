// RedisServer: a throwaway redis-server for integration tests.
//
// Start() picks a free TCP port on 127.0.0.1, runs
//   redis-server --port N --bind 127.0.0.1 --save "" --appendonly no
//                --daemonize no --dir <fresh temp dir> <extra_args...>
// as a child process (stdout/stderr go to <temp dir>/redis.log) and returns
// once the server answers as that child (INFO server's process_id is the
// child's pid: a server another test process started on the same port a
// moment earlier does not count, ours fails to bind and Start() retries on a
// new port). Nothing is persisted: Restart() comes back
// empty, on the same port. The destructor stops the server and removes the
// temp dir.
//
// redis-server is looked up in RedisServerOptions::binary, then PATH, then
// /usr/bin/redis-server. When it cannot be found, Start() returns
// FailedPrecondition with an install hint: tests should ASSERT on the status
// (and so fail, not skip), e.g.
//
//   absl::StatusOr<std::unique_ptr<recsys::testing::RedisServer>> redis =
//       recsys::testing::RedisServer::Start();
//   ASSERT_TRUE(redis.ok()) << redis.status();
//   options.host = (*redis)->host();
//   options.port = (*redis)->port();
//
// The child gets PR_SET_PDEATHSIG(SIGKILL): it is killed if the thread that
// started it exits, so a crashed test never leaks a server. Start the server
// from a thread that outlives it (the test body or SetUpTestSuite).
//
// Note: inside namespace recsys, `testing::` names this namespace; refer to
// GoogleTest as `::testing::`.
//
// Thread safety: not thread-safe; use one RedisServer from one thread (the
// server itself of course accepts any number of client connections).
#ifndef RECSYS_TESTS_TESTING_REDIS_SERVER_H_
#define RECSYS_TESTS_TESTING_REDIS_SERVER_H_

#include <sys/types.h>

#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "tests/testing/child_process.h"

namespace recsys::testing {

// A TCP port on 127.0.0.1 that was free when checked (bound to port 0, read
// back, closed). Another process may take it before it is used; callers that
// start a server on it should retry on failure. For a "dead Redis" address
// use RefusingPort, which no other process can take. The port is at most
// max_port (the kernel is asked again, up to 64 times, while it hands out a
// higher one): a Redis Cluster node needs port + 10000 to exist for its bus.
absl::StatusOr<int> PickUnusedPort(int max_port = 65535);

// A port on 127.0.0.1 that refuses connections for this object's lifetime: a
// socket is bound to it and never listens, so a connect gets ECONNREFUSED and
// no other process (a test running beside this one) can start a server on it.
// Thread safety: immutable after Open().
class RefusingPort {
 public:
  static absl::StatusOr<std::unique_ptr<RefusingPort>> Open();
  ~RefusingPort();
  RefusingPort(const RefusingPort&) = delete;
  RefusingPort& operator=(const RefusingPort&) = delete;

  int port() const { return port_; }

 private:
  RefusingPort(int fd, int port) : fd_(fd), port_(port) {}
  const int fd_;
  const int port_;
};

struct RedisServerOptions {
  // Path of redis-server. Empty: search PATH, then /usr/bin/redis-server.
  std::string binary;
  // How long Start() and Restart() wait for the server to answer.
  absl::Duration startup_timeout = absl::Seconds(10);
  // Start() retries with a new port this many times when the server exits
  // early (e.g. the port was taken in the meantime).
  int start_attempts = 3;
  // The port to listen on; 0 (the default) picks an unused one per attempt.
  int port = 0;
  // Highest port the server may listen on (55535 for Cluster nodes, whose
  // bus listens on port + 10000).
  int max_port = 65535;
  // Appended to the command line, e.g. {"--requirepass", "s3cret"} or
  // {"--user", "app", "on", ">pw", "~*", "&*", "+@all"} (each word of a
  // config directive is its own argument). Kept across Restart().
  std::vector<std::string> extra_args;
  // Credentials of the fixture's own connections (the readiness check
  // and Command()): with auth_password set they send AUTH [auth_user]
  // auth_password first. Needed when extra_args make Redis require one.
  std::string auth_user;
  std::string auth_password;
};

class RedisServer {
 public:
  // Starts a server and waits until it answers as its own child.
  // FailedPrecondition: redis-server not found. Unavailable: it did not start
  // or answer within startup_timeout (the message quotes its log).
  static absl::StatusOr<std::unique_ptr<RedisServer>> Start(
      const RedisServerOptions& options = {});

  // Stops the server (if running) and removes its temp dir.
  ~RedisServer();

  RedisServer(const RedisServer&) = delete;
  RedisServer& operator=(const RedisServer&) = delete;

  // Always "127.0.0.1".
  const std::string& host() const { return host_; }
  int port() const { return port_; }
  // "127.0.0.1:<port>", the form redis::ParseAddress and --redis flags take.
  std::string address() const;

  // True between a successful Start()/Restart() and Stop().
  bool running() const { return process_ != nullptr; }

  // Kills the server with SIGKILL (clients see their connections reset, as
  // with a crashed Redis) and reaps it. OK when already stopped.
  absl::Status Stop();

  // Freezes the server with SIGSTOP: the kernel still accepts connections
  // on its port, but nothing is answered (a hung Redis). Resume() sends
  // SIGCONT. Stop() and the destructor work on a suspended server too.
  // FailedPrecondition when not running.
  absl::Status Suspend();
  absl::Status Resume();

  // Stop(), then starts a fresh, empty server on the same port and waits
  // until it answers as its own child. Unavailable when it does not come up.
  absl::Status Restart();

  // Runs one command on a fresh connection (authenticated with the options'
  // auth_user/auth_password) and returns the reply as text:
  // strings and status replies verbatim, integers in decimal, nil as "(nil)",
  // arrays as their elements' text joined with '\n'. An error reply is
  // returned as Internal. Handy to plant or inspect raw keys.
  absl::StatusOr<std::string> Command(
      const std::vector<std::string>& argv) const;

  // FLUSHALL.
  absl::Status FlushAll() const;

  // Path of the server's log file (stdout and stderr).
  std::string log_path() const;

 private:
  RedisServer(const RedisServerOptions& options, std::string binary,
              std::string dir);

  // Spawns redis-server on port_ and waits until it answers as that child.
  // On failure the child is reaped and process_ is null.
  absl::Status SpawnAndWait();
  // Tail of the log, for error messages.
  std::string LogTail() const;

  const RedisServerOptions options_;
  const std::string binary_;
  const std::string dir_;
  const std::string host_ = "127.0.0.1";
  int port_ = 0;
  std::unique_ptr<ChildProcess> process_;
};

// One server for the whole test executable, started on first use and
// stopped at exit. Call it first from the main test thread (see
// PR_SET_PDEATHSIG above). Tests that stop, restart, pause or suspend Redis
// start their own instead.
absl::StatusOr<RedisServer*> SharedRedisServer();

}  // namespace recsys::testing

#endif  // RECSYS_TESTS_TESTING_REDIS_SERVER_H_
