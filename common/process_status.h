// Memory and thread counts of a process, read from /proc (Linux).
//
//   ResetPeakRss();                       // start of a phase
//   ... the phase ...
//   absl::StatusOr<ProcessStatus> s = ReadProcessStatus(getpid());
//   // s->hwm_kb: the phase's peak resident set (when the reset worked)
//
// Thread safety: the functions keep no state and may be called from any
// thread; ResetPeakRss affects the whole process.
#ifndef RECSYS_COMMON_PROCESS_STATUS_H_
#define RECSYS_COMMON_PROCESS_STATUS_H_

#include <cstdint>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace recsys {

// VmRSS (resident set now), VmHWM (peak resident set since the process
// started or since the last ResetPeakRss) in kB, and Threads, of
// /proc/<pid>/status.
struct ProcessStatus {
  int64_t rss_kb = 0;
  int64_t hwm_kb = 0;
  int64_t threads = 0;
};

// NotFound when the file cannot be read or lacks one of the three fields;
// the message names the file.
absl::StatusOr<ProcessStatus> ReadProcessStatus(int pid);

// Resets this process's VmHWM to its current resident set (writes "5" to
// /proc/self/clear_refs, Linux 4.0+), so a later VmHWM is the peak since
// this call. Unavailable when the file cannot be written (some sandboxes);
// VmHWM then keeps counting from the process start.
absl::Status ResetPeakRss();

}  // namespace recsys

#endif  // RECSYS_COMMON_PROCESS_STATUS_H_
