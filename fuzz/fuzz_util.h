// Helpers shared by the libFuzzer targets of this folder: a scratch
// directory for the readers that take a path, and a tiny valid model for the
// targets that need one published (model files, recommender requests).
//
// Thread safety: libFuzzer runs one input at a time; these helpers are not
// meant for concurrent use.
#ifndef RECSYS_FUZZ_FUZZ_UTIL_H_
#define RECSYS_FUZZ_FUZZ_UTIL_H_

#include <string>

#include "absl/strings/string_view.h"
#include "model/model_format.h"

// Aborts with the condition's text and line when `condition` is false: a
// property of the code under test does not hold for this input.
#define RECSYS_FUZZ_CHECK(condition)                               \
  do {                                                             \
    if (!(condition))                                              \
      ::recsys::fuzz::CheckFailed(#condition, __FILE__, __LINE__); \
  } while (false)

namespace recsys::fuzz {

[[noreturn]] void CheckFailed(const char* condition, const char* file,
                              int line);

// A directory private to this process under $TMPDIR (default /dev/shm, or
// /tmp without it),
// created on first use and removed when the process exits normally.
const std::string& ScratchDir();

// Replaces the contents of `path` with `data`. Aborts on an I/O error: the
// harness cannot go on, and it is not a finding in the code under test.
void WriteFileOrDie(const std::string& path, absl::string_view data);

// Reads a whole file; aborts when it cannot be read.
std::string ReadFileOrDie(const std::string& path);

// A small consistent model: 3 users, 4 items in 2 categories, dim 2, with
// purchase history, complements and segments.tsv. PublishModel accepts it.
model::ModelData TinyModel();

// Publishes TinyModel() under `root` with an exact ("Flat") index and returns
// the version directory. Aborts on failure.
std::string PublishTinyModel(const std::string& root);

}  // namespace recsys::fuzz

#endif  // RECSYS_FUZZ_FUZZ_UTIL_H_
