// The node-exporter textfile format (Prometheus text exposition 0.0.4) for
// the nightly job's own metrics: gauges with HELP and TYPE lines, written
// to a temp name and renamed so the collector never reads half a file.
//
//   std::vector<Gauge> g = {{"recsys_nightly_duration_seconds", "...",
//   {{"", 12.5}}}}; WriteTextfile("/var/lib/node_exporter/recsys_nightly.prom",
//   FormatGauges(g));
//
// Thread safety: free functions without shared state.
#ifndef RECSYS_NIGHTLY_TEXTFILE_H_
#define RECSYS_NIGHTLY_TEXTFILE_H_

#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"

namespace recsys::nightly {

struct Gauge {
  std::string name;
  std::string help;
  // (labels, value); labels are the text between braces, e.g.
  // `decision="passed"`, or empty.
  std::vector<std::pair<std::string, double>> samples;
};

// HELP, TYPE gauge and one line per sample; values with up to 17
// significant digits (a version like 20241203033000 stays exact).
std::string FormatGauges(const std::vector<Gauge>& gauges);

// Escapes a label value (backslash, double quote, line break).
std::string EscapeLabelValue(const std::string& value);

// Writes `text` to `path` + ".tmp" and renames it over `path`.
// Unavailable names the path on an I/O failure.
absl::Status WriteTextfile(const std::string& path, const std::string& text);

}  // namespace recsys::nightly

#endif  // RECSYS_NIGHTLY_TEXTFILE_H_
