// Process metrics under the names every Prometheus client library uses
// (process_cpu_seconds_total, process_resident_memory_bytes,
// process_virtual_memory_bytes, process_open_fds, process_max_fds,
// process_start_time_seconds), read from /proc/self at scrape time.
#ifndef RECSYS_METRICS_PROCESS_H_
#define RECSYS_METRICS_PROCESS_H_

#include <vector>

#include "metrics/metrics.h"

namespace recsys::metrics {

// A collector (Registry::AddCollector) of this process's metrics. On a
// system without /proc it returns the families it could read (none).
Collector ProcessCollector();

// The families ProcessCollector returns now.
std::vector<FamilySnapshot> ReadProcessMetrics();

}  // namespace recsys::metrics

#endif  // RECSYS_METRICS_PROCESS_H_
