// Timing helpers for make bench: medians of repeated runs (common/timing.h, shared with the
// experiments), PyTorch scripts in bench/, and STREAM-like triads for bandwidth.
#pragma once
#include <omp.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "common/timing.h"

namespace bench {

using rx::timing::median_ms;
using rx::timing::ms_since;
using rx::timing::torch_python;
using rx::timing::torch_version;

// STREAM triad a = b + s·c over n floats per array (12 bytes moved per element), in GB/s.
inline double triad_gbs(int64_t n, int reps = 11) {
  std::vector<float> a(n), b(n, 1.0f), c(n, 2.0f);
  const double ms = median_ms(
      [&] {
#pragma omp parallel for schedule(static)
        for (int64_t i = 0; i < n; ++i) a[i] = b[i] + 3.0f * c[i];
      },
      reps);
  return 12.0 * static_cast<double>(n) / ms / 1e6;
}

// bench/<script> run with PyTorch at `threads` threads (rx::timing::run_torch_script).
inline std::vector<std::string> run_torch_script(const std::string& script, int threads, const std::string& args = "") {
  return rx::timing::run_torch_script(REGRAD_BENCH_DIR "/" + script, threads, args);
}

constexpr int64_t kDramTriad = 32 << 20;    // 3 × 128 MiB: far beyond the last-level cache
constexpr int64_t kCacheTriad = 256 << 10;  // 3 × 1 MiB: resident in L3 (and partly L2)

}  // namespace bench
