// Timing shared by make bench and the experiments that time kernels (rmsnorm_cost): medians of
// alternating runs, and the PyTorch baseline run as a Python script. Header-only, so the bench
// and the experiments use the same code without linking each other.
#pragma once
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <string>
#include <utility>
#include <vector>

namespace rx::timing {

inline double ms_since(std::chrono::steady_clock::time_point a) {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - a).count();
}

// Median wall times in ms of f and g over `reps` runs each, run alternately (so that drift and
// turbo affect both alike), after `warmup` rounds of both (the first calls at a new size fault
// their buffers' pages in: several times the steady time).
inline std::pair<double, double> median_ms(const std::function<void()>& f, const std::function<void()>& g,
                                           int reps = 21, int warmup = 3) {
  for (int i = 0; i < warmup; ++i) f(), g();
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

inline double median_ms(const std::function<void()>& f, int reps = 21) {
  return median_ms(
             f, [] {}, reps)
      .first;
}

// The interpreter that runs the PyTorch side: REGRAD_BENCH_PYTHON, else Debian's /usr/bin/python3.
inline std::string torch_python() {
  const char* env = std::getenv("REGRAD_BENCH_PYTHON");
  return env && *env ? env : "/usr/bin/python3";
}

// "torch <version> (<interpreter>)", or "" when that interpreter has no torch. Asked once per
// process (importing torch takes seconds).
inline const std::string& torch_version() {
  static const std::string version = [] {
    const std::string cmd = torch_python() + " -c 'import torch; print(torch.__version__)' 2>/dev/null";
    FILE* p = popen(cmd.c_str(), "r");
    if (!p) return std::string();
    char buf[128] = "";
    const bool got = std::fgets(buf, sizeof buf, p) != nullptr;
    const int rc = pclose(p);
    std::string v = got && rc == 0 ? buf : "";
    while (!v.empty() && (v.back() == '\n' || v.back() == '\r')) v.pop_back();
    return v.empty() ? v : "torch " + v + " (" + torch_python() + ")";
  }();
  return version;
}

// The output lines of the Python script at `script_path` (its arguments `args`, then
// --threads N) run with PyTorch at `threads` threads, or none when torch is not installed.
// PyTorch is configured as fairly as regrad: thread counts fixed before import, the same OpenMP
// wait policy (the child inherits OMP_WAIT_POLICY, or its absence, from this process: a torch
// with passive waiting against a regrad that spins took 1.3-1.4x longer per step at 2 threads),
// and glibc told to keep freed memory (as rg::keep_freed_memory() does for regrad), so that large
// tensors are not returned to the OS on every call. Python writes no bytecode cache.
inline std::vector<std::string> run_torch_script(const std::string& script_path, int threads,
                                                 const std::string& args = "") {
  std::vector<std::string> lines;
  if (torch_version().empty()) return lines;
  const std::string t = std::to_string(threads);
  const std::string cmd = "OMP_NUM_THREADS=" + t + " MKL_NUM_THREADS=" + t + " OPENBLAS_NUM_THREADS=" + t +
                          " MALLOC_MMAP_THRESHOLD_=1073741824 MALLOC_TRIM_THRESHOLD_=1073741824"
                          " PYTHONDONTWRITEBYTECODE=1 " +
                          torch_python() + " " + script_path + " --threads " + t + (args.empty() ? "" : " " + args);
  FILE* p = popen(cmd.c_str(), "r");
  if (!p) return lines;
  char buf[512];
  while (std::fgets(buf, sizeof buf, p)) lines.emplace_back(buf);
  pclose(p);
  return lines;
}

}  // namespace rx::timing
