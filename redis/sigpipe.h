// ScopedSigpipeBlock: internal to redis/ (client.cc is its only user).
//
// hiredis 0.14 writes with write(2), so a peer that reset the connection
// raises SIGPIPE, whose default action kills the process. While alive, a
// ScopedSigpipeBlock blocks SIGPIPE in the calling thread; on destruction it
// discards a SIGPIPE raised meanwhile (unless one was already pending
// before) and restores the thread's signal mask. errno is preserved.
//
// Thread safety: affects the calling thread only; create and destroy it on
// the same thread.
#ifndef RECSYS_REDIS_SIGPIPE_H_
#define RECSYS_REDIS_SIGPIPE_H_

#include <pthread.h>
#include <signal.h>

#include <cerrno>
#include <ctime>

namespace recsys::redis::internal {

class ScopedSigpipeBlock {
 public:
  ScopedSigpipeBlock() {
    sigemptyset(&pipe_);
    sigaddset(&pipe_, SIGPIPE);
    sigset_t pending;
    sigemptyset(&pending);
    was_pending_ = sigpending(&pending) == 0 && sigismember(&pending, SIGPIPE);
    blocked_ = pthread_sigmask(SIG_BLOCK, &pipe_, &old_) == 0;
  }
  ~ScopedSigpipeBlock() {
    if (!blocked_) return;
    const int saved_errno = errno;
    if (!was_pending_) {
      sigset_t pending;
      sigemptyset(&pending);
      if (sigpending(&pending) == 0 && sigismember(&pending, SIGPIPE)) {
        const struct timespec zero = {0, 0};
        while (sigtimedwait(&pipe_, nullptr, &zero) == -1 && errno == EINTR) {
        }
      }
    }
    pthread_sigmask(SIG_SETMASK, &old_, nullptr);
    errno = saved_errno;
  }
  ScopedSigpipeBlock(const ScopedSigpipeBlock&) = delete;
  ScopedSigpipeBlock& operator=(const ScopedSigpipeBlock&) = delete;

 private:
  sigset_t pipe_;
  sigset_t old_;
  bool was_pending_ = false;
  bool blocked_ = false;
};

}  // namespace recsys::redis::internal

#endif  // RECSYS_REDIS_SIGPIPE_H_
