// The test runner: doctest's, then the removal of this run's temporary folder (test_util.h's tmp_path).
#define DOCTEST_CONFIG_IMPLEMENT
#include <doctest/doctest.h>
#include <unistd.h>

#include <filesystem>
#include <string>

int main(int argc, char** argv) {
  const int rc = doctest::Context(argc, argv).run();
  std::error_code ignored;
  std::filesystem::remove_all(std::filesystem::temp_directory_path() / ("regrad_tests_" + std::to_string(::getpid())),
                              ignored);
  return rc;
}
