// ChildProcess: a program started by a test, killed with the test.
//
//   auto server = recsys::testing::ChildProcess::Start(
//       {"/path/recsys_server", "--listen=127.0.0.1:0", "--port_file=/tmp/p"},
//       "/tmp/server.log");
//   ASSERT_TRUE(server.ok()) << server.status();
//
// The child's stdout and stderr go to `log_path` (appended). It gets
// PR_SET_PDEATHSIG(SIGKILL), so it dies with the thread that started it:
// start it from a thread that outlives it (the test body or
// SetUpTestSuite). The destructor kills it (SIGKILL) and reaps it.
//
// Thread safety: not thread-safe; use one ChildProcess from one thread.
#ifndef RECSYS_TESTS_TESTING_CHILD_PROCESS_H_
#define RECSYS_TESTS_TESTING_CHILD_PROCESS_H_

#include <sys/types.h>

#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace recsys::testing {

class ChildProcess {
 public:
  // Forks and executes argv[0] (a path) with `argv`. Internal when the fork
  // or the log file fails; an exec failure shows as exit code 127.
  static absl::StatusOr<std::unique_ptr<ChildProcess>> Start(
      const std::vector<std::string>& argv, const std::string& log_path);

  ~ChildProcess();
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;

  pid_t pid() const { return pid_; }
  // True until the child has exited and been reaped.
  bool Running();
  // Sends `signal` (e.g. SIGSTOP) without waiting. FailedPrecondition when
  // the child has exited.
  absl::Status Signal(int signal);
  // Sends `signal` (e.g. SIGTERM) and waits up to `timeout` for the exit.
  // Returns the exit code (128 + signal when killed by one); DeadlineExceeded
  // when it is still running.
  absl::StatusOr<int> Stop(int signal, absl::Duration timeout);

 private:
  explicit ChildProcess(pid_t pid) : pid_(pid) {}
  pid_t pid_;
  int exit_code_ = -1;
};

// Runs `command` through /bin/sh and returns its exit code (-1 when it did
// not exit normally).
int RunCommand(const std::string& command);

// Waits until `path` holds a decimal number (a port file written by
// recsys_server --port_file) and returns it. DeadlineExceeded after
// `timeout`; Unavailable when `process` exits first.
absl::StatusOr<int> WaitForPortFile(const std::string& path, ChildProcess* process,
                                    absl::Duration timeout);

}  // namespace recsys::testing

#endif  // RECSYS_TESTS_TESTING_CHILD_PROCESS_H_
