#include "tests/testing/redis_server.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "gtest/gtest.h"
#include "tests/testing/status_matchers.h"

namespace recsys::testing {
namespace {

TEST(PickUnusedPortTest, ReturnsAPort) {
  RECSYS_ASSERT_OK_AND_ASSIGN(int port, PickUnusedPort());
  EXPECT_GT(port, 0);
  EXPECT_LE(port, 65535);
}

TEST(PickUnusedPortTest, StaysAtOrBelowTheLimit) {
  // The kernel's ephemeral range usually reaches past 55535; a Cluster node
  // there cannot start (its bus needs port + 10000).
  for (int i = 0; i < 200; ++i) {
    RECSYS_ASSERT_OK_AND_ASSIGN(int port, PickUnusedPort(55535));
    ASSERT_GT(port, 0);
    ASSERT_LE(port, 55535);
  }
}

TEST(RefusingPortTest, RefusesConnectionsAndCannotBeTaken) {
  RECSYS_ASSERT_OK_AND_ASSIGN(std::unique_ptr<RefusingPort> dead,
                              RefusingPort::Open());
  ASSERT_GT(dead->port(), 0);
  const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  ASSERT_GE(fd, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  address.sin_port = htons(static_cast<uint16_t>(dead->port()));
  const int connected =
      connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address));
  const int error = errno;
  close(fd);
  EXPECT_EQ(connected, -1);
  EXPECT_EQ(error, ECONNREFUSED);
  // A redis-server (which binds with SO_REUSEADDR) cannot take it either.
  RedisServerOptions options;
  options.port = dead->port();
  options.start_attempts = 1;
  EXPECT_FALSE(RedisServer::Start(options).ok());
}

TEST(RedisServerTest, StartsAnswersStopsAndRestarts) {
  RECSYS_ASSERT_OK_AND_ASSIGN(std::unique_ptr<RedisServer> server,
                              RedisServer::Start());
  EXPECT_TRUE(server->running());
  EXPECT_EQ(server->host(), "127.0.0.1");
  EXPECT_EQ(server->address(), "127.0.0.1:" + std::to_string(server->port()));
  RECSYS_ASSERT_OK_AND_ASSIGN(std::string pong, server->Command({"PING"}));
  EXPECT_EQ(pong, "PONG");
  RECSYS_ASSERT_OK(server->Command({"SET", "k", "v"}).status());
  RECSYS_ASSERT_OK_AND_ASSIGN(std::string value, server->Command({"GET", "k"}));
  EXPECT_EQ(value, "v");
  EXPECT_EQ(server->Command({"NOSUCHCOMMAND"}).status().code(),
            absl::StatusCode::kInternal);

  RECSYS_ASSERT_OK(server->Stop());
  EXPECT_FALSE(server->running());
  EXPECT_EQ(server->Command({"PING"}).status().code(),
            absl::StatusCode::kUnavailable);
  RECSYS_EXPECT_OK(server->Stop());  // Idempotent.

  const int port = server->port();
  RECSYS_ASSERT_OK(server->Restart());
  EXPECT_TRUE(server->running());
  EXPECT_EQ(server->port(), port);
  // Nothing is persisted across a restart.
  RECSYS_ASSERT_OK_AND_ASSIGN(value, server->Command({"GET", "k"}));
  EXPECT_EQ(value, "(nil)");
  RECSYS_ASSERT_OK(server->Command({"RPUSH", "l", "a", "b"}).status());
  RECSYS_ASSERT_OK_AND_ASSIGN(value,
                              server->Command({"LRANGE", "l", "0", "-1"}));
  EXPECT_EQ(value, "a\nb");
  RECSYS_ASSERT_OK(server->FlushAll());
  RECSYS_ASSERT_OK_AND_ASSIGN(value, server->Command({"DBSIZE"}));
  EXPECT_EQ(value, "0");
}

TEST(RedisServerTest, TwoServersUseDifferentPorts) {
  RECSYS_ASSERT_OK_AND_ASSIGN(std::unique_ptr<RedisServer> a,
                              RedisServer::Start());
  RECSYS_ASSERT_OK_AND_ASSIGN(std::unique_ptr<RedisServer> b,
                              RedisServer::Start());
  EXPECT_NE(a->port(), b->port());
}

// Two test processes may pick the same unused port: the second server fails
// to bind, and the first one's answer must not pass for it.
TEST(RedisServerTest, AServerOnTheSamePortIsNotMistakenForOurs) {
  RECSYS_ASSERT_OK_AND_ASSIGN(std::unique_ptr<RedisServer> a,
                              RedisServer::Start());
  RedisServerOptions options;
  options.port = a->port();
  options.start_attempts = 1;
  absl::StatusOr<std::unique_ptr<RedisServer>> b = RedisServer::Start(options);
  ASSERT_FALSE(b.ok());
  EXPECT_EQ(b.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_TRUE(absl::StrContains(b.status().message(), "exited early")) << b.status();
  // The first server is untouched.
  RECSYS_ASSERT_OK_AND_ASSIGN(std::string pong, a->Command({"PING"}));
  EXPECT_EQ(pong, "PONG");
}

TEST(RedisServerTest, DestructorRemovesTheTempDir) {
  std::filesystem::path dir;
  {
    RECSYS_ASSERT_OK_AND_ASSIGN(std::unique_ptr<RedisServer> server,
                                RedisServer::Start());
    dir = std::filesystem::path(server->log_path()).parent_path();
    EXPECT_TRUE(std::filesystem::exists(dir));
  }
  EXPECT_FALSE(std::filesystem::exists(dir));
}

TEST(RedisServerTest, MissingBinaryIsFailedPrecondition) {
  RedisServerOptions options;
  options.binary = "/nonexistent/redis-server";
  absl::Status status = RedisServer::Start(options).status();
  EXPECT_EQ(status.code(), absl::StatusCode::kFailedPrecondition) << status;
}

}  // namespace
}  // namespace recsys::testing
