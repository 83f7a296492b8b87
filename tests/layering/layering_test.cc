// The layering check: a folder includes only from its own folder and from
// folders of earlier layers. The layers are read from the ```layers block of
// docs/architecture.md (one layer per line, folders separated by spaces), so
// the documented order and the enforced one cannot drift apart.
//
// Also checked:
//   - tests/<folder>/ obeys <folder>'s layer, except that it may also use
//     the other folders of that layer, tests/testing/, and the test helpers
//     of its own or earlier layers;
//   - hiredis is included only under redis/ (and by the test helper that
//     starts redis-server), FAISS only under model/ (and by the FAISS floor
//     benchmark in bench/);
//   - no folder of the tree is missing from the layers.
#include <filesystem>
#include <fstream>
#include <map>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "gtest/gtest.h"

namespace recsys {
namespace {

namespace fs = std::filesystem;

const fs::path kRoot = RECSYS_SOURCE_DIR;

std::string ReadFile(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

// Folder -> layer index, from docs/architecture.md.
std::map<std::string, int> ReadLayers() {
  std::istringstream doc(ReadFile(kRoot / "docs" / "architecture.md"));
  std::map<std::string, int> layers;
  bool inside = false;
  int index = 0;
  for (std::string line; std::getline(doc, line);) {
    if (!inside) {
      inside = line == "```layers";
      continue;
    }
    if (line.rfind("```", 0) == 0) break;
    std::istringstream words(line);
    bool any = false;
    for (std::string folder; words >> folder;) {
      layers[folder] = index;
      any = true;
    }
    if (any) ++index;
  }
  return layers;
}

// Where a project include points: "model/ranker.h" -> "model"; generated
// protobuf headers ("recsys/v1/...") belong to proto; "tests/x/..." ->
// "tests/x". Empty for system and third-party headers.
std::string TargetFolder(const std::string& include) {
  if (include.rfind("recsys/", 0) == 0) return "proto";
  const size_t slash = include.find('/');
  if (slash == std::string::npos) return "";
  const std::string first = include.substr(0, slash);
  if (first == "tests") {
    const size_t second = include.find('/', slash + 1);
    if (second == std::string::npos) return "";
    return include.substr(0, second);
  }
  if (fs::is_directory(kRoot / first) && fs::exists(kRoot / include)) return first;
  return "";
}

struct Source {
  fs::path path;        // relative to the root
  std::string folder;   // "model", or "tests/model"
};

std::vector<Source> ProjectSources() {
  std::vector<Source> sources;
  for (auto it = fs::recursive_directory_iterator(kRoot); it != fs::recursive_directory_iterator();
       ++it) {
    const fs::path rel = fs::relative(it->path(), kRoot);
    const std::string first = rel.begin()->string();
    if (it->is_directory() && (first.rfind(".", 0) == 0 || first.rfind("build", 0) == 0 ||
                               first == "node_modules")) {
      it.disable_recursion_pending();
      continue;
    }
    if (!it->is_regular_file()) continue;
    const std::string ext = rel.extension().string();
    if (ext != ".h" && ext != ".cc") continue;
    auto part = rel.begin();
    std::string folder = part->string();
    if (folder == "tests" && std::next(part) != rel.end()) {
      folder += "/" + std::next(part)->string();
    }
    sources.push_back({rel, folder});
  }
  return sources;
}

std::vector<std::string> Includes(const fs::path& path) {
  static const std::regex kInclude(R"re(^\s*#\s*include\s*[<"]([^>"]+)[>"])re");
  std::vector<std::string> out;
  std::istringstream in(ReadFile(kRoot / path));
  for (std::string line; std::getline(in, line);) {
    std::smatch m;
    if (std::regex_search(line, m, kInclude)) out.push_back(m[1]);
  }
  return out;
}

TEST(LayeringTest, TheDocumentNamesTheLayers) {
  const auto layers = ReadLayers();
  ASSERT_FALSE(layers.empty()) << "docs/architecture.md has no ```layers block";
  EXPECT_LT(layers.at("common"), layers.at("model"));
  for (const auto& entry : fs::directory_iterator(kRoot)) {
    if (!entry.is_directory()) continue;
    const std::string name = entry.path().filename().string();
    if (!fs::exists(entry.path() / "CMakeLists.txt") || name == "tests") continue;
    EXPECT_TRUE(layers.contains(name))
        << "folder " << name << "/ is not in the layers of docs/architecture.md";
  }
}

TEST(LayeringTest, FoldersIncludeOnlyFromEarlierLayers) {
  const auto layers = ReadLayers();
  ASSERT_FALSE(layers.empty());
  auto layer_of = [&](const std::string& folder) -> int {
    const std::string base = folder.rfind("tests/", 0) == 0 ? folder.substr(6) : folder;
    auto it = layers.find(base);
    return it == layers.end() ? -1 : it->second;
  };
  int checked = 0;
  for (const Source& source : ProjectSources()) {
    const bool is_test = source.folder.rfind("tests/", 0) == 0;
    const int own = layer_of(source.folder);
    // tests/testing and tests/golden are shared helpers and the top.
    if (source.folder == "tests/testing" || source.folder == "tests/golden" ||
        source.folder == "tests/layering") {
      continue;
    }
    if (own < 0) {
      ADD_FAILURE() << source.path << ": folder " << source.folder << " has no layer";
      continue;
    }
    for (const std::string& include : Includes(source.path)) {
      const std::string target = TargetFolder(include);
      if (target.empty() || target == source.folder) continue;
      ++checked;
      if (target == "tests/testing") {
        EXPECT_TRUE(is_test) << source.path << " includes test helper " << include;
        continue;
      }
      const bool target_is_test = target.rfind("tests/", 0) == 0;
      if (target_is_test && !is_test) {
        ADD_FAILURE() << source.path << " includes test code " << include;
        continue;
      }
      const int theirs = layer_of(target);
      const std::string base = is_test ? source.folder.substr(6) : source.folder;
      const std::string target_base = target_is_test ? target.substr(6) : target;
      if (target_base == base) continue;
      // A test may also use folders of its own layer: the top layer's tests
      // compose its peers (the server test compares with the evaluator).
      EXPECT_TRUE(theirs >= 0 && (theirs < own || (is_test && theirs == own)))
          << source.path << " (layer of " << base << ") includes " << include << " (layer of "
          << target_base << "): a folder includes only from earlier layers "
          << "(docs/architecture.md)";
    }
  }
  EXPECT_GT(checked, 100) << "the check found too few project includes to be working";
}

TEST(LayeringTest, ThirdPartyLibrariesStayBehindTheirWrappers) {
  const std::map<std::string, std::set<std::string>> allowed = {
      {"hiredis/", {"redis", "tests/testing"}},
      {"faiss/", {"model", "bench"}},
  };
  for (const Source& source : ProjectSources()) {
    for (const std::string& include : Includes(source.path)) {
      for (const auto& [prefix, folders] : allowed) {
        if (include.rfind(prefix, 0) != 0) continue;
        EXPECT_TRUE(folders.contains(source.folder))
            << source.path << " includes " << include << "; only "
            << (*folders.begin()) << "/ may";
      }
    }
  }
}

}  // namespace
}  // namespace recsys
