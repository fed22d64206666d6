// Timing helpers for make bench: medians of repeated runs, and STREAM-like triads for bandwidth.
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

namespace bench {

inline double ms_since(std::chrono::steady_clock::time_point a) {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - a).count();
}

// Median wall times in ms of f and g, run alternately (so drift and turbo affect both alike).
inline std::pair<double, double> median_ms(const std::function<void()>& f, const std::function<void()>& g, int reps = 21) {
  for (int i = 0; i < 3; ++i) f(), g();
  std::vector<double> tf, tg;
  for (int i = 0; i < reps; ++i) {
    auto a = std::chrono::steady_clock::now();
    f();
    tf.push_back(ms_since(a));
    a = std::chrono::steady_clock::now();
    g();
    tg.push_back(ms_since(a));
  }
  std::nth_element(tf.begin(), tf.begin() + reps / 2, tf.end());
  std::nth_element(tg.begin(), tg.begin() + reps / 2, tg.end());
  return {tf[reps / 2], tg[reps / 2]};
}

inline double median_ms(const std::function<void()>& f, int reps = 21) { return median_ms(f, [] {}, reps).first; }

// STREAM triad a = b + s·c over n floats per array (12 bytes moved per element), in GB/s.
inline double triad_gbs(int64_t n, int reps = 11) {
  std::vector<float> a(n), b(n, 1.0f), c(n, 2.0f);
  const double ms = median_ms([&] {
#pragma omp parallel for schedule(static)
    for (int64_t i = 0; i < n; ++i) a[i] = b[i] + 3.0f * c[i];
  }, reps);
  return 12.0 * static_cast<double>(n) / ms / 1e6;
}

// The interpreter that runs the PyTorch side: REGRAD_BENCH_PYTHON, else Debian's /usr/bin/python3.
inline std::string torch_python() {
  const char* env = std::getenv("REGRAD_BENCH_PYTHON");
  return env && *env ? env : "/usr/bin/python3";
}

// "torch <version> (<interpreter>)", or "" when that interpreter has no torch.
inline std::string torch_version() {
  const std::string cmd = torch_python() + " -c 'import torch; print(torch.__version__)' 2>/dev/null";
  FILE* p = popen(cmd.c_str(), "r");
  if (!p) return "";
  char buf[128] = "";
  const bool got = std::fgets(buf, sizeof buf, p) != nullptr;
  const int rc = pclose(p);
  std::string v = got && rc == 0 ? buf : "";
  while (!v.empty() && (v.back() == '\n' || v.back() == '\r')) v.pop_back();
  return v.empty() ? "" : "torch " + v + " (" + torch_python() + ")";
}

// The output lines of bench/<script> run with PyTorch at `threads` threads, or none when torch is
// not installed. PyTorch is configured as fairly as regrad: thread counts fixed before import,
// passive OpenMP waiting, and glibc told to keep freed memory (regrad does the same with mallopt)
// so that large tensors are not returned to the OS on every call.
// `args` are passed on to the script. Python writes no bytecode cache into bench/.
inline std::vector<std::string> run_torch_script(const std::string& script, int threads, const std::string& args = "") {
  std::vector<std::string> lines;
  if (torch_version().empty()) return lines;
  const std::string python = torch_python();
  const std::string t = std::to_string(threads);
  const std::string cmd = "OMP_NUM_THREADS=" + t + " MKL_NUM_THREADS=" + t + " OPENBLAS_NUM_THREADS=" + t +
                          " OMP_WAIT_POLICY=passive MALLOC_MMAP_THRESHOLD_=1073741824 MALLOC_TRIM_THRESHOLD_=1073741824"
                          " PYTHONDONTWRITEBYTECODE=1 " + python + " " REGRAD_BENCH_DIR "/" + script + " --threads " + t +
                          (args.empty() ? "" : " " + args);
  FILE* p = popen(cmd.c_str(), "r");
  if (!p) return lines;
  char buf[512];
  while (std::fgets(buf, sizeof buf, p)) lines.emplace_back(buf);
  pclose(p);
  return lines;
}

constexpr int64_t kDramTriad = 32 << 20;  // 3 × 128 MiB: far beyond the last-level cache
constexpr int64_t kCacheTriad = 256 << 10;  // 3 × 1 MiB: resident in L3 (and partly L2)

}  // namespace bench
