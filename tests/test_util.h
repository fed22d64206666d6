// Shared helpers for the tests.
#pragma once
#include <doctest/doctest.h>

#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <string>
#include <vector>

#include "regrad/regrad.h"

namespace rg::test {

// Checks every element of t against `expected` within `tol` (absolute).
// An expected NaN asks for a NaN, an expected ±inf for the same infinity.
inline void check_values(const Tensor& t, const std::vector<double>& expected, double tol = 1e-6) {
  const std::vector<double> v = t.tolist();
  REQUIRE(v.size() == expected.size());
  for (std::size_t i = 0; i < v.size(); ++i)
    CHECK_MESSAGE(
        (std::isnan(expected[i]) ? std::isnan(v[i]) : v[i] == expected[i] || std::abs(v[i] - expected[i]) <= tol),
        "element ", i, ": ", v[i], " vs expected ", expected[i]);
}

// Runs f and returns the message of the std::invalid_argument it throws ("" if none).
template <typename F>
std::string invalid_argument_message(F&& f) {
  try {
    f();
  } catch (const std::invalid_argument& e) {
    return e.what();
  }
  return "";
}

inline bool contains(const std::string& s, const std::string& part) { return s.find(part) != std::string::npos; }

// The worse of a running worst error and a new one, where a NaN error wins and then stays:
// std::max(worst, NaN) keeps worst, so a result that is NaN everywhere would pass unseen.
inline double worst_of(double worst, double err) { return std::isnan(err) || err > worst ? err : worst; }

// A path under this test process's own temporary directory (/tmp/regrad_tests_<pid>/name, parents
// created), so that test runs side by side on one machine never share a file.
inline std::string tmp_path(const std::string& name) {
  const std::filesystem::path p =
      std::filesystem::temp_directory_path() / ("regrad_tests_" + std::to_string(::getpid())) / name;
  std::filesystem::create_directories(p.parent_path());
  return p.string();
}

}  // namespace rg::test
