#include "tests/testing/redis_server.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <hiredis/hiredis.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <memory>
#include <sstream>
#include <string>
#include <system_error>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "tests/testing/child_process.h"

namespace recsys::testing {
namespace {

constexpr absl::Duration kPollInterval = absl::Milliseconds(10);

struct ContextDeleter {
  void operator()(redisContext* c) const { redisFree(c); }
};
using Context = std::unique_ptr<redisContext, ContextDeleter>;

struct ReplyDeleter {
  void operator()(redisReply* r) const { freeReplyObject(r); }
};
using Reply = std::unique_ptr<redisReply, ReplyDeleter>;

absl::Status ErrnoStatus(absl::string_view what) {
  return absl::InternalError(absl::StrCat(what, ": ", std::strerror(errno)));
}

bool IsExecutable(const std::string& path) {
  return !path.empty() && access(path.c_str(), X_OK) == 0;
}

absl::StatusOr<std::string> FindRedisServer(const std::string& configured) {
  if (!configured.empty()) {
    if (IsExecutable(configured)) return configured;
    return absl::FailedPreconditionError(absl::StrCat(
        "redis-server binary '", configured, "' is not executable"));
  }
  if (const char* path = std::getenv("PATH"); path != nullptr) {
    for (absl::string_view dir : absl::StrSplit(path, ':')) {
      if (dir.empty()) continue;
      std::string candidate = absl::StrCat(dir, "/redis-server");
      if (IsExecutable(candidate)) return candidate;
    }
  }
  if (IsExecutable("/usr/bin/redis-server")) return "/usr/bin/redis-server";
  return absl::FailedPreconditionError(
      "redis-server not found in PATH or at /usr/bin/redis-server; the "
      "integration tests need it (Debian/Ubuntu: apt-get install "
      "redis-server)");
}

absl::StatusOr<std::string> MakeTempDir() {
  std::error_code error;
  std::filesystem::path base = std::filesystem::temp_directory_path(error);
  if (error) base = "/tmp";
  std::string pattern = (base / "recsys-redis-XXXXXX").string();
  if (mkdtemp(pattern.data()) == nullptr) {
    return ErrnoStatus(absl::StrCat("mkdtemp ", pattern));
  }
  return pattern;
}

Context Connect(const std::string& host, int port, absl::Duration timeout) {
  Context context(
      redisConnectWithTimeout(host.c_str(), port, absl::ToTimeval(timeout)));
  if (context == nullptr || context->err != 0) return nullptr;
  if (redisSetTimeout(context.get(), absl::ToTimeval(timeout)) != REDIS_OK) {
    return nullptr;
  }
  return context;
}

std::string RenderReply(const redisReply* reply) {
  switch (reply->type) {
    case REDIS_REPLY_STRING:
    case REDIS_REPLY_STATUS:
    case REDIS_REPLY_ERROR:
      return std::string(reply->str, reply->len);
    case REDIS_REPLY_INTEGER:
      return absl::StrCat(reply->integer);
    case REDIS_REPLY_NIL:
      return "(nil)";
    case REDIS_REPLY_ARRAY: {
      std::vector<std::string> parts;
      for (size_t i = 0; i < reply->elements; ++i) {
        parts.push_back(RenderReply(reply->element[i]));
      }
      return absl::StrJoin(parts, "\n");
    }
    default:
      return "";
  }
}

// Sends AUTH [user] password on `context` when a password is given.
absl::Status Authenticate(redisContext* context, const std::string& user,
                          const std::string& password) {
  if (password.empty()) return absl::OkStatus();
  std::vector<const char*> args = {"AUTH"};
  std::vector<size_t> lengths = {4};
  if (!user.empty()) {
    args.push_back(user.data());
    lengths.push_back(user.size());
  }
  args.push_back(password.data());
  lengths.push_back(password.size());
  Reply reply(static_cast<redisReply*>(
      redisCommandArgv(context, static_cast<int>(args.size()), args.data(),
                       lengths.data())));
  if (reply == nullptr) return absl::UnavailableError(context->errstr);
  if (reply->type == REDIS_REPLY_ERROR) {
    return absl::PermissionDeniedError(RenderReply(reply.get()));
  }
  return absl::OkStatus();
}

// The process id of the redis-server answering on host:port, or 0 when none
// answers (yet). A server on a port picked as unused may belong to another
// test process that picked the same port a moment earlier: the caller
// compares the id with its own child's.
pid_t AnsweringPid(const std::string& host, int port, const std::string& user,
                   const std::string& password) {
  Context context = Connect(host, port, absl::Milliseconds(500));
  if (context == nullptr) return 0;
  if (!Authenticate(context.get(), user, password).ok()) return 0;
  Reply reply(static_cast<redisReply*>(redisCommand(context.get(), "INFO server")));
  if (reply == nullptr || reply->type != REDIS_REPLY_STRING) return 0;
  for (absl::string_view line :
       absl::StrSplit(absl::string_view(reply->str, reply->len), "\r\n")) {
    int64_t pid = 0;
    if (absl::ConsumePrefix(&line, "process_id:") && absl::SimpleAtoi(line, &pid)) {
      return static_cast<pid_t>(pid);
    }
  }
  return 0;
}

}  // namespace

namespace {

// A socket bound to 127.0.0.1:<a port the kernel picks>, not listening; the
// caller owns `*fd`.
absl::StatusOr<int> BindAnyPort(int* fd) {
  *fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (*fd < 0) return ErrnoStatus("socket");
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  address.sin_port = 0;
  if (bind(*fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)) != 0) {
    absl::Status status = ErrnoStatus("bind 127.0.0.1:0");
    close(*fd);
    return status;
  }
  socklen_t length = sizeof(address);
  if (getsockname(*fd, reinterpret_cast<sockaddr*>(&address), &length) != 0) {
    absl::Status status = ErrnoStatus("getsockname");
    close(*fd);
    return status;
  }
  return static_cast<int>(ntohs(address.sin_port));
}

absl::StatusOr<int> PickUnusedPortOnce() {
  int fd = -1;
  absl::StatusOr<int> port = BindAnyPort(&fd);
  if (port.ok()) close(fd);
  return port;
}

}  // namespace

absl::StatusOr<int> PickUnusedPort(int max_port) {
  int last = 0;
  for (int attempt = 0; attempt < 64; ++attempt) {
    absl::StatusOr<int> port = PickUnusedPortOnce();
    if (!port.ok() || *port <= max_port) return port;
    last = *port;
  }
  return absl::UnavailableError(absl::StrCat(
      "no free port at most ", max_port, " in 64 tries (last ", last, ")"));
}

absl::StatusOr<std::unique_ptr<RefusingPort>> RefusingPort::Open() {
  int fd = -1;
  absl::StatusOr<int> port = BindAnyPort(&fd);
  if (!port.ok()) return port.status();
  return std::unique_ptr<RefusingPort>(new RefusingPort(fd, *port));
}

RefusingPort::~RefusingPort() { close(fd_); }

RedisServer::RedisServer(const RedisServerOptions& options, std::string binary,
                         std::string dir)
    : options_(options), binary_(std::move(binary)), dir_(std::move(dir)) {}

RedisServer::~RedisServer() {
  Stop().IgnoreError();
  std::error_code error;
  std::filesystem::remove_all(dir_, error);
}

absl::StatusOr<std::unique_ptr<RedisServer>> RedisServer::Start(
    const RedisServerOptions& options) {
  absl::StatusOr<std::string> binary = FindRedisServer(options.binary);
  if (!binary.ok()) return binary.status();
  absl::StatusOr<std::string> dir = MakeTempDir();
  if (!dir.ok()) return dir.status();
  std::unique_ptr<RedisServer> server(
      new RedisServer(options, *std::move(binary), *std::move(dir)));
  absl::Status status = absl::UnavailableError("no start attempt made");
  for (int attempt = 0; attempt < std::max(1, options.start_attempts);
       ++attempt) {
    absl::StatusOr<int> port =
        options.port != 0 ? options.port : PickUnusedPort(options.max_port);
    if (!port.ok()) return port.status();
    server->port_ = *port;
    status = server->SpawnAndWait();
    if (status.ok()) return server;
  }
  return status;
}

std::string RedisServer::address() const {
  return absl::StrCat(host_, ":", port_);
}

std::string RedisServer::log_path() const { return dir_ + "/redis.log"; }

std::string RedisServer::LogTail() const {
  std::ifstream in(log_path());
  std::string log((std::istreambuf_iterator<char>(in)),
                  std::istreambuf_iterator<char>());
  constexpr size_t kTail = 2000;
  if (log.size() > kTail) log = log.substr(log.size() - kTail);
  return log;
}

absl::Status RedisServer::SpawnAndWait() {
  // clang-format off
  std::vector<std::string> argv = {
      binary_,
      "--port", absl::StrCat(port_),
      "--bind", host_,
      "--save", "",
      "--appendonly", "no",
      "--daemonize", "no",
      "--dir", dir_,
  };
  // clang-format on
  argv.insert(argv.end(), options_.extra_args.begin(),
              options_.extra_args.end());
  auto process = ChildProcess::Start(argv, log_path());
  if (!process.ok()) return process.status();
  process_ = *std::move(process);

  // Bounded polling.
  const absl::Time deadline = absl::Now() + options_.startup_timeout;
  while (true) {
    if (!process_->Running()) {
      const int code = process_->Stop(SIGKILL, absl::ZeroDuration()).value_or(-1);
      process_.reset();
      return absl::UnavailableError(absl::StrCat("redis-server on port ", port_,
                                                 " exited early (exit code ", code,
                                                 "); log tail:\n", LogTail()));
    }
    // Ready when our own child answers; another process's server on the same
    // port makes ours fail to bind and exit, and the next attempt picks
    // another port.
    if (AnsweringPid(host_, port_, options_.auth_user, options_.auth_password) ==
        process_->pid()) {
      return absl::OkStatus();
    }
    if (absl::Now() >= deadline) break;
    absl::SleepFor(kPollInterval);
  }
  Stop().IgnoreError();
  return absl::UnavailableError(absl::StrCat(
      "redis-server on port ", port_, " did not answer within ",
      absl::FormatDuration(options_.startup_timeout), "; log tail:\n",
      LogTail()));
}

absl::Status RedisServer::Stop() {
  if (process_ == nullptr) return absl::OkStatus();
  auto stopped = process_->Stop(SIGKILL, absl::Seconds(30));
  process_.reset();
  return stopped.ok() ? absl::OkStatus() : stopped.status();
}

absl::Status RedisServer::Suspend() {
  if (process_ == nullptr) return absl::FailedPreconditionError("redis-server is not running");
  return process_->Signal(SIGSTOP);
}

absl::Status RedisServer::Resume() {
  if (process_ == nullptr) return absl::FailedPreconditionError("redis-server is not running");
  return process_->Signal(SIGCONT);
}

absl::Status RedisServer::Restart() {
  if (absl::Status status = Stop(); !status.ok()) return status;
  absl::Status status = absl::UnavailableError("no restart attempt made");
  for (int attempt = 0; attempt < std::max(1, options_.start_attempts);
       ++attempt) {
    status = SpawnAndWait();
    if (status.ok()) return status;
  }
  return status;
}

absl::StatusOr<std::string> RedisServer::Command(
    const std::vector<std::string>& argv) const {
  if (argv.empty()) return absl::InvalidArgumentError("empty command");
  Context context = Connect(host_, port_, absl::Seconds(5));
  if (context == nullptr) {
    return absl::UnavailableError(
        absl::StrCat("cannot connect to redis at ", address()));
  }
  if (absl::Status auth = Authenticate(context.get(), options_.auth_user,
                                       options_.auth_password);
      !auth.ok()) {
    return auth;
  }
  std::vector<const char*> args;
  std::vector<size_t> lengths;
  for (const std::string& arg : argv) {
    args.push_back(arg.data());
    lengths.push_back(arg.size());
  }
  Reply reply(static_cast<redisReply*>(
      redisCommandArgv(context.get(), static_cast<int>(args.size()),
                       args.data(), lengths.data())));
  if (reply == nullptr) {
    return absl::UnavailableError(
        absl::StrCat("redis at ", address(), ": ", context->errstr));
  }
  if (reply->type == REDIS_REPLY_ERROR) {
    return absl::InternalError(RenderReply(reply.get()));
  }
  return RenderReply(reply.get());
}

absl::Status RedisServer::FlushAll() const {
  absl::StatusOr<std::string> reply = Command({"FLUSHALL"});
  return reply.status();
}

absl::StatusOr<RedisServer*> SharedRedisServer() {
  static absl::StatusOr<std::unique_ptr<RedisServer>> server =
      RedisServer::Start();
  if (!server.ok()) return server.status();
  return server->get();
}

}  // namespace recsys::testing
