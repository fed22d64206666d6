// make bench, layers part: each fused layer, forward and forward+backward, float32, at 1 and 2
// threads. Reported: median time; effective bandwidth over the minimal bytes (forward reads x and
// writes y; backward reads x and dy and writes dx; parameters and per-row/per-channel statistics
// counted too); its ratio to a triad measured in the same run (DRAM triad for the large shapes,
// cache-resident triad for the small ones); and, when Debian's python3-torch is installed, the
// ratio to PyTorch at the same thread count (bench/bench_torch.py, run from here).
#include <cmath>
#include <cstdio>
#include <map>
#include <sstream>
#include <string>

#include "bench_table.h"
#include "bench_util.h"
#include "regrad/regrad.h"

using namespace rg;
using bench::median_ms;

namespace {

constexpr int kRounds = 3;

struct Case {
  std::string op, shape;  // the key shared with bench_torch.py
  bool large;             // compare with DRAM bandwidth (else with the cache-resident triad)
  double fwd_bytes, bwd_bytes;
  std::function<Tensor(const Tensor&)> fn;
  Shape x_shape;
};

std::string shape_key(const Shape& s) {
  std::string out;
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (i) out += 'x';
    out += std::to_string(s[i]);
  }
  return out;
}

// Minimal bytes for a normalization of `n` elements with `params` parameters (weight and bias
// counted separately by the caller) and `stats` saved statistics (mean and rstd, or rstd only).
Case norm_case(const std::string& op, const Shape& x, bool large, int64_t params, int64_t stats,
               std::function<Tensor(const Tensor&)> fn) {
  const double n = static_cast<double>(numel(x));
  const double fwd = 4 * (2 * n + params + stats);      // x, y, params, saved stats
  const double bwd = 4 * (3 * n + 2 * params + stats);  // x, dy, dx, params + their grads, stats
  return {op, shape_key(x), large, fwd, bwd, std::move(fn), x};
}

std::vector<Case> make_cases() {
  std::vector<Case> cases;
  const Tensor none;
  for (const auto& [N, D, large] : {std::tuple{4096L, 1024L, true}, std::tuple{256L, 4096L, false}}) {
    const Shape s{N, D};
    auto w = std::make_shared<Tensor>(ones({D}).requires_grad_()),
         b = std::make_shared<Tensor>(zeros({D}).requires_grad_());
    auto rm = std::make_shared<Tensor>(zeros({D})), rv = std::make_shared<Tensor>(ones({D}));
    cases.push_back(norm_case("batch_norm", s, large, 2 * D, 2 * D + 2 * D /*running stats r+w*/,
                              [=](const Tensor& x) { return batch_norm(x, *rm, *rv, *w, *b, true); }));
    cases.push_back(
        norm_case("layer_norm", s, large, 2 * D, 2 * N, [=](const Tensor& x) { return layer_norm(x, {D}, *w, *b); }));
    cases.push_back(norm_case("rms_norm", s, large, D, N, [=](const Tensor& x) { return rms_norm(x, {D}, *w, 1e-6); }));
    // GroupNorm, 8 groups of 8 channels: (4096, 64, 16) beside the large shapes, and the issue's
    // (64, 64, 256), 4 MiB, beside the cache-resident ones.
    const int64_t C = 64, GN = large ? N : 64, S = large ? D / C : 256;
    auto gw = std::make_shared<Tensor>(ones({C}).requires_grad_()),
         gb = std::make_shared<Tensor>(zeros({C}).requires_grad_());
    cases.push_back(norm_case("group_norm", {GN, C, S}, large, 2 * C, 2 * GN * 8,
                              [=](const Tensor& x) { return group_norm(x, 8, *gw, *gb); }));
    const double n = static_cast<double>(N * D);
    auto gen = std::make_shared<Generator>(0);
    // Dropout: forward reads x, writes y and a 1-bit mask; backward reads dy and the mask, writes dx.
    cases.push_back({"dropout", shape_key(s), large, 4 * 2 * n + n / 8, 4 * 2 * n + n / 8,
                     [=](const Tensor& x) { return dropout(x, 0.1, true, *gen); }, s});
    // Cross-entropy (label smoothing 0.1): forward reads the logits and targets; backward reads the
    // logits and writes their gradient (the upstream gradient is a scalar).
    const int64_t K = large ? 1000 : 4096;
    auto t = std::make_shared<Tensor>(randint(0, K, {N}, *gen));
    const double z = static_cast<double>(N * K);
    cases.push_back({"cross_entropy",
                     shape_key({N, K}),
                     large,
                     4 * z + 8.0 * N,
                     4 * 2 * z + 8.0 * N,
                     [=](const Tensor& x) { return cross_entropy(x, *t, Reduction::Mean, 0.1); },
                     {N, K}});
  }
  return cases;
}

// PyTorch's medians (ms) per "op shape" → {fwd, fwd+bwd}, from bench/bench_torch.py.
std::map<std::string, std::pair<double, double>> torch_times(int threads) {
  std::map<std::string, std::pair<double, double>> out;
  for (const std::string& line : bench::run_torch_script("bench_torch.py", threads)) {
    char op[64], shape[64];
    double f, fb;
    if (std::sscanf(line.c_str(), "%63[^,],%63[^,],%lf,%lf", op, shape, &f, &fb) == 4)
      out[std::string(op) + " " + shape] = {f, fb};
  }
  return out;
}

}  // namespace

void bench_layers(bench::Table& table, const std::vector<int>& thread_counts, bool with_torch) {
  const auto cases = make_cases();
  std::printf(
      "\n== fused layers, float32 (minimal-bytes bandwidth; DRAM triad for large shapes, L3 triad for small)\n");
  std::printf(
      "| op | shape | thr | fwd ms | fwd GB/s | fwd+bwd ms | fwd+bwd GB/s | of triad | torch fwd+bwd ms | vs torch "
      "|\n");
  std::printf("|---|---|---|---|---|---|---|---|---|---|\n");
  for (int threads : thread_counts) {
    omp_set_num_threads(threads);
    const auto torch = with_torch ? torch_times(threads) : std::map<std::string, std::pair<double, double>>{};
    // This machine shares memory bandwidth with neighbours, in phases of seconds: each case is
    // timed in kRounds rounds spread over the run, and the smallest round median is reported.
    // The triads are measured in every round too, and the best is the reference: best against best.
    std::vector<double> fwd(cases.size(), 1e30), fb(cases.size(), 1e30);
    double dram = 0, cache = 0;
    for (int round = 0; round < kRounds; ++round) {
      dram = std::max(dram, bench::triad_gbs(bench::kDramTriad));
      cache = std::max(cache, bench::triad_gbs(bench::kCacheTriad, 201));
      for (std::size_t k = 0; k < cases.size(); ++k) {
        const Case& c = cases[k];
        Generator gen(1);
        Tensor x = randn(c.x_shape, gen);
        const Tensor dy = c.op == "cross_entropy" ? scalar_tensor(1.0) : randn(c.x_shape, gen);
        const int reps = c.large ? 15 : 41;
        fwd[k] = std::min(fwd[k], median_ms(
                                      [&] {
                                        NoGradGuard g;
                                        Tensor y = c.fn(x);
                                      },
                                      reps));
        x.requires_grad_();
        fb[k] = std::min(fb[k], median_ms(
                                    [&] {
                                      Tensor y = c.fn(x);
                                      y.backward(dy);
                                      x.zero_grad();
                                    },
                                    reps));
      }
    }
    for (std::size_t k = 0; k < cases.size(); ++k) {
      const Case& c = cases[k];
      const double gbs_f = c.fwd_bytes / fwd[k] / 1e6, gbs_fb = (c.fwd_bytes + c.bwd_bytes) / fb[k] / 1e6;
      const auto t = torch.find(c.op + " " + c.shape);
      char torch_col[64] = "n/a", ratio_col[64] = "n/a";
      if (t != torch.end()) {
        std::snprintf(torch_col, sizeof torch_col, "%.2f", t->second.second);
        std::snprintf(ratio_col, sizeof ratio_col, "%.2fx", t->second.second / fb[k]);
      }
      std::printf("| %s | %s | %d | %.3f | %.1f | %.3f | %.1f | %.0f%% | %s | %s |\n", c.op.c_str(), c.shape.c_str(),
                  threads, fwd[k], gbs_f, fb[k], gbs_fb, 100 * gbs_fb / (c.large ? dram : cache), torch_col, ratio_col);
      // Against the triad: its time for the same bytes, so the ratio is the fraction of its bandwidth.
      const double triad = c.large ? dram : cache;
      const std::string triad_name = c.large ? "DRAM triad" : "L3 triad";
      table.add("layers", c.op + " fwd", c.shape, threads, fwd[k], triad_name, c.fwd_bytes / triad / 1e6,
                bench::Ratio::BaselineOverRegrad, "GB/s", c.fwd_bytes / 1e9);
      table.add("layers", c.op + " fwd+bwd", c.shape, threads, fb[k], triad_name,
                (c.fwd_bytes + c.bwd_bytes) / triad / 1e6, bench::Ratio::BaselineOverRegrad, "GB/s",
                (c.fwd_bytes + c.bwd_bytes) / 1e9);
      if (with_torch)
        table.add("layers", c.op + " fwd+bwd", c.shape, threads, fb[k], "torch",
                  t != torch.end() ? t->second.second : NAN, bench::Ratio::BaselineOverRegrad);
    }
    std::printf("| triad | DRAM %.1f GB/s, L3 %.1f GB/s | %d | | | | | | | |\n", dram, cache, threads);
    const double dram_bytes = 12.0 * bench::kDramTriad, cache_bytes = 12.0 * bench::kCacheTriad;
    table.add("layers", "memory triad a = b + s·c (the baseline)", "3x128MiB", threads, dram_bytes / dram / 1e6, "",
              NAN, bench::Ratio::None, "GB/s", dram_bytes / 1e9);
    table.add("layers", "memory triad a = b + s·c (the baseline)", "3x1MiB", threads, cache_bytes / cache / 1e6, "",
              NAN, bench::Ratio::None, "GB/s", cache_bytes / 1e9);
    // The lecture's claim, RMSNorm is cheaper than LayerNorm, timed with the two alternating
    // step by step, so that both see the same phases of the machine's shared bandwidth.
    std::printf("\n");
    for (const auto& [N, D] : {std::pair{4096L, 1024L}, std::pair{256L, 4096L}}) {
      Generator gen(1);
      Tensor x = randn({N, D}, gen).requires_grad_();
      const Tensor dy = randn({N, D}, gen);
      const Tensor w = ones({D}).requires_grad_(), b = zeros({D}).requires_grad_();
      const auto step = [&](bool rms) {
        return [&, rms] {
          Tensor y = rms ? rms_norm(x, {D}, w, 1e-6) : layer_norm(x, {D}, w, b);
          y.backward(dy);
          x.zero_grad();
        };
      };
      const auto [ln, rms] = median_ms(step(false), step(true), N * D > (1 << 21) ? 61 : 201);
      const double saving = 100 * (1 - rms / ln);
      std::printf(
          "RMSNorm vs LayerNorm at %ldx%ld, %d thread(s), fwd+bwd, alternating: %.3f vs %.3f ms: "
          "RMSNorm %.0f%% %s (the lecture: 15-30%% cheaper)\n",
          N, D, threads, rms, ln, std::abs(saving), saving >= 0 ? "cheaper" : "more expensive");
      table.add("layers", "rms_norm fwd+bwd, alternating with layer_norm", shape_key({N, D}), threads, rms,
                "layer_norm fwd+bwd", ln, bench::Ratio::RegradOverBaseline);
    }
    std::printf("\n");
  }
}

void print_layers_verdict(const bench::Table& table, const std::vector<int>& thread_counts) {
  for (int threads : thread_counts)
    for (const char* shape : {"4096x1024", "256x4096"})
      if (const bench::Row* r = table.find("layers", "rms_norm fwd+bwd, alternating with layer_norm", shape, threads,
                                           "layer_norm fwd+bwd")) {
        const bench::Summary q = bench::summarize(r->ratio);
        const double saving = 100 * (1 - q.median);
        std::printf(
            "RMSNorm vs LayerNorm at %s, %d thread(s), fwd+bwd: RMSNorm %.0f%% %s, median of %d run(s) "
            "(the lecture: 15-30%% cheaper)\n",
            shape, threads, std::abs(saving), saving >= 0 ? "cheaper" : "more expensive", q.n);
      }
}
