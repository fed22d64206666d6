// make bench, engine part: regrad's speed against baselines measured in the same run.
//   matmul: regrad's forward (Tensor + autograd bookkeeping + cblas_sgemm) vs raw cblas_sgemm on
//           the same buffers — the ratio is what the engine adds (target ≤ 1.05);
//   elementwise chain on 4M floats: time and effective GB/s against a STREAM-like triad measured
//           here, on arrays far larger than the last-level cache.
#include <cblas.h>

#include <cmath>
#include <cstdio>
#include <string>

#include "bench_table.h"
#include "bench_util.h"
#include "regrad/regrad.h"

using namespace rg;
using bench::median_ms;

static void bench_matmul(bench::Table& table, int64_t M, int64_t K, int64_t N) {
  Generator gen(0);
  Tensor a = randn({M, K}, gen), b = randn({K, N}, gen), c = Tensor::empty({M, N});
  a.requires_grad_();  // the autograd path records a node, as in training
  const int reps = M * N * K > 1e8 ? 11 : 51;
  const auto [ours, raw] = median_ms([&] { Tensor y = matmul(a, b); },
                                     [&] {
                                       cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, M, N, K, 1.0f,
                                                   a.data<float>(), K, b.data<float>(), N, 0.0f, c.data<float>(), N);
                                     },
                                     reps);
  const double gflop = 2.0 * M * N * K / 1e9;
  char shape_buf[96];
  std::snprintf(shape_buf, sizeof shape_buf, "(%lldx%lld)·(%lldx%lld)", (long long)M, (long long)K, (long long)K,
                (long long)N);
  const std::string shape = shape_buf;
  std::printf("matmul %-24s regrad %8.3f ms  cblas_sgemm %8.3f ms  ratio %.3f  (%.1f GFLOP/s)\n", shape.c_str(), ours,
              raw, ours / raw, gflop / ours * 1e3);
  table.add("engine", "matmul", shape, omp_get_max_threads(), ours, "cblas_sgemm", raw,
            bench::Ratio::RegradOverBaseline, "GFLOP/s", gflop);
}

static void bench_elementwise(bench::Table& table) {
  const int64_t n = 4 << 20;
  Generator gen(0);
  const Tensor x = randn({n}, gen), w = randn({n}, gen);
  const double triad = bench::triad_gbs(bench::kDramTriad);
  const int threads = omp_get_max_threads();
  std::printf("STREAM triad, 3 x 128 MiB float arrays: %.1f GB/s\n", triad);
  const double triad_bytes = 12.0 * bench::kDramTriad;
  table.add("engine", "memory triad a = b + s·c (the baseline)", "3x128MiB", threads, triad_bytes / triad / 1e6, "",
            NAN, bench::Ratio::None, "GB/s", triad_bytes / 1e9);
  // relu(x·w + 0.5): three kernels, each reads its inputs and writes its output (memory-bound).
  const double bytes = 4.0 * n * (3 + 2 + 2);  // mul: 2 reads + 1 write; add: 1 + 1; relu: 1 + 1
  const auto chain = [&](const char* name, Tensor (*f)(const Tensor&)) {
    const double ms = median_ms([&] { Tensor y = f(x * w + 0.5); });
    const std::string label = std::string(name) + "(x*w + 0.5), 4M floats";
    std::printf("elementwise %-29s %7.3f ms  %6.1f GB/s  ratio to triad %.2f\n", label.c_str(), ms, bytes / ms / 1e6,
                bytes / ms / 1e6 / triad);
    // The triad's time for the chain's bytes: the ratio is the fraction of the triad's bandwidth.
    table.add("engine", std::string(name) + "(x*w + 0.5)", "4M floats", threads, ms, "DRAM triad", bytes / triad / 1e6,
              bench::Ratio::BaselineOverRegrad, "GB/s", bytes / 1e9);
  };
  chain("relu", relu);
  // The same chain with a transcendental at the end (src/ops/vmath.h): memory-bound only if it vectorises.
  chain("exp", exp);
  chain("tanh", tanh);
  chain("sigmoid", sigmoid);
  chain("gelu", gelu);
}

void bench_core(bench::Table& table) {
  std::printf("== engine: %d OpenMP threads, %s\n", omp_get_max_threads(), openblas_get_config());
  bench_matmul(table, 128, 784, 512);
  bench_matmul(table, 1024, 1024, 1024);
  bench_elementwise(table);
}
