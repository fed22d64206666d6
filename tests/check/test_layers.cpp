// The library's folders are layers, each using only those below it:
//   tensor → autograd → ops → functional → nn → optim, data → train → check, cli
// This test reads every source and header and fails on an #include that points up (or sideways
// between optim and data), naming the file and the header.
#include <filesystem>
#include <fstream>
#include <map>
#include <regex>

#include "../test_util.h"

TEST_CASE("no source file includes a header from a layer above its own") {
  namespace fs = std::filesystem;
  const std::map<std::string, int> rank{{"tensor", 0}, {"autograd", 1}, {"ops", 2},   {"functional", 3}, {"nn", 4},
                                        {"optim", 5},  {"data", 5},     {"train", 6}, {"check", 7},      {"cli", 8}};
  const std::regex include(R"re(#include\s+"(?:regrad/|\.\./)([a-z]+)/)re");
  int files = 0, includes = 0;
  for (const char* root : {"src", "include/regrad"}) {
    for (const auto& f : fs::recursive_directory_iterator(fs::path(REGRAD_SOURCE_DIR) / root)) {
      if (f.path().extension() != ".cpp" && f.path().extension() != ".h") continue;
      const std::string layer = fs::relative(f.path(), fs::path(REGRAD_SOURCE_DIR) / root).begin()->string();
      if (!rank.count(layer)) continue;  // top-level files: regrad.h includes everything
      ++files;
      std::ifstream in(f.path());
      const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
      for (std::sregex_iterator it(text.begin(), text.end(), include), end; it != end; ++it) {
        const std::string target = (*it)[1];
        if (!rank.count(target)) continue;
        ++includes;
        const bool allowed = target == layer || rank.at(target) < rank.at(layer);
        CHECK_MESSAGE(allowed, f.path().string(), " (layer ", layer, ") includes a header of layer ", target);
      }
    }
  }
  CHECK(files > 100);
  CHECK(includes > 150);
}
