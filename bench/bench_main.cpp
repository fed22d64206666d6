// regrad_bench [core] [layers] [train] [--threads 1,2] [--no-torch]: what `make bench` runs.
#include <cstdio>
#include <cstring>
#include <sstream>
#include <string>
#include <vector>

#include "bench_util.h"
#include "regrad/tensor/tensor.h"

void bench_core();
void bench_layers(const std::vector<int>& thread_counts, bool with_torch);
void bench_train(const std::vector<int>& thread_counts, bool with_torch);

int main(int argc, char** argv) {
  rg::keep_freed_memory();
  bool core = false, layers = false, training = false, torch = true;
  std::vector<int> threads{1, 2};
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "core") core = true;
    else if (a == "layers") layers = true;
    else if (a == "train") training = true;
    else if (a == "--no-torch") torch = false;
    else if (a == "--threads" && i + 1 < argc) {
      threads.clear();
      std::stringstream ss(argv[++i]);
      for (std::string t; std::getline(ss, t, ',');) threads.push_back(std::stoi(t));
    } else {
      std::fprintf(stderr,
                   "usage: regrad_bench [core] [layers] [train] [--threads 1,2] [--no-torch]\n"
                   "  core    matmul against cblas_sgemm, an elementwise chain against the STREAM triad\n"
                   "  layers  fused layers: bandwidth and PyTorch ratios at each thread count\n"
                   "  train   training steps of the reference MLP and CNN against PyTorch and their GEMMs\n"
                   "  (no section named: all three)\n"
                   "environment: REGRAD_BENCH_PYTHON, the interpreter whose torch is the baseline\n"
                   "  (default /usr/bin/python3, Debian's python3-torch)\n");
      return a == "--help" || a == "-h" ? 0 : 2;
    }
  }
  if (!core && !layers && !training) core = layers = training = true;
  if (torch && (layers || training)) {
    const std::string v = bench::torch_version();
    std::printf("PyTorch baseline: %s\n", v.empty() ? "none (no torch for this interpreter; REGRAD_BENCH_PYTHON picks another)"
                                                     : v.c_str());
  }
  if (core) bench_core();
  if (layers) bench_layers(threads, torch);
  if (training) bench_train(threads, torch);
  return 0;
}
