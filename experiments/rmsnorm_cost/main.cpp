// rmsnorm_cost — "RMSNorm: ~15–30 % cheaper than LayerNorm; empirically no worse at convergence".
// Part 1 times regrad's fused LayerNorm and RMSNorm (float32, weight for both, bias for LayerNorm)
// at Transformer shapes, rows = batch·sequence ∈ {2,048, 8,192} × width ∈ {256, 512, 1,024, 4,096},
// at 1 and 2 threads, the two norms alternating step by step so that both see the same phases of
// the machine's shared memory bandwidth; PyTorch's F.layer_norm against the composed RMSNorm of
// torch 1.13 users likewise, in the same run, where Debian's python3-torch is installed
// (torch_norms.py beside this file). Part 2 trains the character Transformer with LayerNorm and
// with RMSNorm to convergence on the word list, several seeds: validation NLL and step time.
#include <omp.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <sstream>

#include "common/experiment.h"
#include "common/timing.h"

using namespace rg;

namespace {

struct Pair {
  double ln = 0, rms = 0;  // median ms
};
struct Timing {
  Pair fwd, fwdbwd;
};

// Median ms of f(false) and f(true), run alternately `reps` times after five warm-up rounds.
Pair alternating_ms(const std::function<void(bool rms)>& f, int reps) {
  const auto [ln, rms] = rx::timing::median_ms([&] { f(false); }, [&] { f(true); }, reps, /*warmup=*/5);
  return {ln, rms};
}

// More repetitions for small shapes: `reps` at 2,048×256, proportionally fewer above, at least 15.
int reps_for(int64_t n, int64_t d, int reps) {
  return static_cast<int>(std::max<int64_t>(15, reps * 2048 * 256 / (n * d)));
}

Timing time_regrad(int64_t n, int64_t d, int reps) {
  Generator gen(0);
  Tensor x = randn({n, d}, gen);
  const Tensor dy = randn({n, d}, gen);
  Tensor w = ones({d}).requires_grad_(), b = zeros({d}).requires_grad_();
  auto norm = [&](bool rms) { return rms ? rms_norm(x, {d}, w, 1e-6) : layer_norm(x, {d}, w, b); };
  Timing t;
  t.fwd = alternating_ms(
      [&](bool rms) {
        NoGradGuard g;
        Tensor y = norm(rms);
      },
      reps);
  x.requires_grad_();
  t.fwdbwd = alternating_ms(
      [&](bool rms) {
        Tensor y = norm(rms);
        y.backward(dy);
        x.zero_grad(), w.zero_grad(), b.zero_grad();
      },
      reps);
  return t;
}

// PyTorch's timings per "ROWSxWIDTH" at `threads` threads; empty when torch is not installed.
std::map<std::string, Timing> time_torch(const std::vector<std::pair<int64_t, int64_t>>& shapes, int threads,
                                         int reps) {
  std::map<std::string, Timing> out;
  std::string args = "--reps " + std::to_string(reps);
  for (const auto& [n, d] : shapes) args += " " + std::to_string(n) + "x" + std::to_string(d);
  for (const std::string& line :
       rx::timing::run_torch_script("experiments/rmsnorm_cost/torch_norms.py", threads, args)) {
    long long n, d;
    Timing x;
    if (std::sscanf(line.c_str(), "%lld,%lld,%lf,%lf,%lf,%lf", &n, &d, &x.fwd.ln, &x.fwd.rms, &x.fwdbwd.ln,
                    &x.fwdbwd.rms) == 6)
      out[std::to_string(n) + "x" + std::to_string(d)] = x;
  }
  return out;
}

std::string pct(double saving) {
  char b[32];
  std::snprintf(b, sizeof b, "%+.0f %%", -100 * saving);  // the change in time: −25 % is 25 % cheaper
  return b;
}

}  // namespace

int main(int argc, char** argv) {
  rx::Experiment e("rmsnorm_cost", "RMSNorm against LayerNorm: kernel time at Transformer shapes, and convergence",
                   argc, argv);
  const bool quick = e.quick();
  const std::vector<int64_t> rows = quick ? std::vector<int64_t>{2048} : std::vector<int64_t>{2048, 8192};
  const std::vector<int64_t> widths =
      quick ? std::vector<int64_t>{256, 1024} : std::vector<int64_t>{256, 512, 1024, 4096};
  const std::vector<int> thread_counts = quick ? std::vector<int>{1} : std::vector<int>{1, 2};
  const int reps = quick ? 41 : 201;
  std::vector<std::pair<int64_t, int64_t>> shapes;
  for (int64_t n : rows)
    for (int64_t d : widths) shapes.push_back({n, d});

  // Part 1: kernel time.
  rx::Results res({"part", "impl", "rows", "width", "threads"}, {"layernorm_ms", "rmsnorm_ms", "saving"});
  const double timing_load = rx::load_average();
  for (int threads : thread_counts) {
    omp_set_num_threads(threads);
    // Quick mode (CI) leaves PyTorch out: its start-up alone takes seconds.
    const auto torch = quick ? std::map<std::string, Timing>{} : time_torch(shapes, threads, 101);
    for (const auto& [n, d] : shapes) {
      const Timing t = time_regrad(n, d, reps_for(n, d, reps));
      std::vector<std::pair<std::string, Timing>> impls{{"regrad", t}};
      if (auto it = torch.find(std::to_string(n) + "x" + std::to_string(d)); it != torch.end())
        impls.push_back({"torch", it->second});
      for (const auto& [impl, x] : impls)
        for (const auto& [part, p] : {std::pair{"fwd", x.fwd}, std::pair{"fwd+bwd", x.fwdbwd}})
          res.add({part, impl, std::to_string(n), std::to_string(d), std::to_string(threads)}, 0,
                  {p.ln, p.rms, 1 - p.rms / p.ln});
      e.log("%d thread(s) %lldx%lld: fwd+bwd LayerNorm %.3f ms, RMSNorm %.3f ms (%s)", threads,
            static_cast<long long>(n), static_cast<long long>(d), t.fwdbwd.ln, t.fwdbwd.rms,
            pct(1 - t.fwdbwd.rms / t.fwdbwd.ln).c_str());
    }
  }
  report::write_file(e.path(".csv"), res.csv());

  // Part 2: the character Transformer with each norm, to convergence.
  rx::Results train({"norm"}, {"val_nll", "test_nll", "best_epoch", "ms_per_step"});
  const int64_t epochs = quick ? 1 : 8;
  data::SplitOptions so;
  so.dataset = "words";
  so.objective = "all";  // every position's next character (ModelOptions::objective below too)
  so.val_size = quick ? 1000 : 10000;
  so.train_subset = quick ? 4000 : 60000;
  for (uint64_t seed : e.seeds()) {
    so.seed = seed;
    data::Splits d = data::load_splits(so);
    if (quick) d.x_test = slice(d.x_test, 0, 0, 2000), d.y_test = slice(d.y_test, 0, 0, 2000);
    for (const std::string norm : {"ln", "rms"}) {
      train::ModelOptions m;
      m.model = "transformer-char";
      m.norm = norm;
      m.objective = so.objective;
      m.seed = seed;
      auto model = train::make_model(m, d.x_train, d.classes);
      train::FitOptions o = rx::quiet_fit(seed);
      o.epochs = epochs;
      o.batch_size = 128;
      o.optimizer = "adamw";
      o.lr = 3e-3;
      o.weight_decay = 0.01;
      o.warmup = 100;
      const train::FitResult r = train::fit(*model, d, o);
      double train_s = 0;  // the epochs' training time, without the evaluations
      for (const train::EpochRecord& h : r.history) train_s += h.seconds;
      const double ms = 1000 * train_s / static_cast<double>(std::max<int64_t>(1, r.steps));
      train.add({norm}, seed, {r.best_val_nll, r.test.nll, static_cast<double>(r.best_epoch), ms});
      e.log("seed %llu %s: best val NLL %.4f (epoch %lld), test %.4f, %.1f ms/step",
            static_cast<unsigned long long>(seed), norm.c_str(), r.best_val_nll, static_cast<long long>(r.best_epoch),
            r.test.nll, ms);
    }
  }
  report::write_file(e.path("_training.csv"), train.csv());

  // Tables.
  auto ms_of = [&](const std::string& part, const std::string& impl, int64_t n, int64_t d, int threads,
                   const std::string& m) {
    const auto v = res.values({{"part", part},
                               {"impl", impl},
                               {"rows", std::to_string(n)},
                               {"width", std::to_string(d)},
                               {"threads", std::to_string(threads)}},
                              m);
    return v.empty() ? NAN : v[0];
  };
  auto saving_of = [&](const std::string& part, const std::string& impl, int64_t n, int64_t d, int threads) {
    return ms_of(part, impl, n, d, threads, "saving");
  };
  const bool have_torch = !res.values({{"impl", "torch"}}, "saving").empty();
  std::string body =
      "**Kernel time.** Median milliseconds of one call, float32, rows × width, the two norms "
      "alternating step by step (LayerNorm with weight and bias, RMSNorm with weight, ε = 1e-6); "
      "the change is RMSNorm's time relative to LayerNorm's (−25 % = 25 % cheaper). ";
  body += have_torch ? rx::timing::torch_version() +
                           " in the same run: `F.layer_norm` against the composed RMSNorm "
                           "`x * rsqrt(mean(x²) + ε) * w` (torch 1.13 has no RMSNorm).\n\n"
                     : std::string("PyTorch is not installed here: regrad only.\n\n");
  body +=
      "| rows × width | threads | LayerNorm fwd | RMSNorm fwd | change | LayerNorm fwd+bwd | RMSNorm fwd+bwd | change "
      "|";
  body += have_torch ? " torch fwd+bwd change |\n|---|---|---|---|---|---|---|---|---|\n"
                     : "\n|---|---|---|---|---|---|---|---|\n";
  char cell[128];
  for (int threads : thread_counts)
    for (const auto& [n, d] : shapes) {
      std::snprintf(
          cell, sizeof cell, "| %lld × %lld | %d | %.3f | %.3f | %s | %.3f | %.3f | %s |", static_cast<long long>(n),
          static_cast<long long>(d), threads, ms_of("fwd", "regrad", n, d, threads, "layernorm_ms"),
          ms_of("fwd", "regrad", n, d, threads, "rmsnorm_ms"), pct(saving_of("fwd", "regrad", n, d, threads)).c_str(),
          ms_of("fwd+bwd", "regrad", n, d, threads, "layernorm_ms"),
          ms_of("fwd+bwd", "regrad", n, d, threads, "rmsnorm_ms"),
          pct(saving_of("fwd+bwd", "regrad", n, d, threads)).c_str());
      body += cell;
      body += have_torch ? " " + pct(saving_of("fwd+bwd", "torch", n, d, threads)) + " |\n" : "\n";
    }

  // Plot: fwd+bwd change per shape, per thread count (and torch's).
  report::Plot p{"RMSNorm's fwd+bwd time relative to LayerNorm's",
                 "shape (rows x width), in table order",
                 "change in time (%)",
                 false,
                 false,
                 {},
                 {"set yzeroaxis", "set xzeroaxis"}};
  for (int threads : thread_counts)
    for (const std::string impl : {"regrad", "torch"}) {
      if (impl == "torch" && !have_torch) continue;
      report::Series s{impl + ", " + std::to_string(threads) + " thread" + (threads > 1 ? "s" : ""), {}, {}, {}};
      for (std::size_t k = 0; k < shapes.size(); ++k) {
        s.x.push_back(static_cast<double>(k + 1));
        s.y.push_back(-100 * saving_of("fwd+bwd", impl, shapes[k].first, shapes[k].second, threads));
      }
      p.series.push_back(s);
    }
  std::string xt = "set xtics (";
  for (std::size_t k = 0; k < shapes.size(); ++k)
    xt += (k ? ", '" : "'") + std::to_string(shapes[k].first) + "x" + std::to_string(shapes[k].second) + "' " +
          std::to_string(k + 1);
  p.gnuplot.push_back(xt + ") rotate by 30 right");
  p.gnuplot.push_back("set arrow from graph 0, first -15 to graph 1, first -15 nohead dt 2 lc rgb 'gray'");
  p.gnuplot.push_back("set arrow from graph 0, first -30 to graph 1, first -30 nohead dt 2 lc rgb 'gray'");
  report::Plot q{"Character Transformer: best validation NLL", "seed", "validation NLL", false, false, {}, {}};
  for (const std::string norm : {"ln", "rms"}) {
    report::Series s{norm == "ln" ? "LayerNorm" : "RMSNorm", {}, {}, {}};
    const auto v = train.values({{"norm", norm}}, "val_nll");
    for (std::size_t i = 0; i < v.size(); ++i) s.x.push_back(static_cast<double>(i)), s.y.push_back(v[i]);
    q.series.push_back(s);
  }
  report::plot_png(e.path(".png"), {p, q});
  body +=
      "\n![RMSNorm's change in fwd+bwd time per shape (dashed: the lecture's −15 % and −30 %); validation NLL per seed]"
      "(rmsnorm_cost.png)\n\n";

  const auto ln_nll = train.values({{"norm", "ln"}}, "val_nll"), rms_nll = train.values({{"norm", "rms"}}, "val_nll");
  const auto ln_ms = train.values({{"norm", "ln"}}, "ms_per_step"),
             rms_ms = train.values({{"norm", "rms"}}, "ms_per_step");
  body +=
      "**Convergence.** The character Transformer (2 pre-norm blocks, embed 64, 4 heads, context 8) on " +
      std::to_string(so.train_subset) + " training contexts of the word list, " + std::to_string(so.val_size) +
      " validation contexts, trained on every position's next character (objective `all`, the leading padding ignored; "
      "the NLL is per predicted character over those positions), AdamW lr 3e-3 (100 warmup steps, cosine), weight "
      "decay 0.01, batch 128, " +
      std::to_string(epochs) + " epochs; the best epoch's validation NLL (nats per character). Mean ± std over " +
      std::to_string(e.seeds().size()) + " seeds (split, initialisation, order).\n\n";
  body += train.summary_markdown({"val_nll", "test_nll", "best_epoch", "ms_per_step"}, 4);
  char load[160];
  std::snprintf(load, sizeof load, "%.1f when the timing started", timing_load);
  body +=
      "\nThe timing rows are not seeded (seed 0 is the input data's); they vary from run to run with the "
      "machine's load (the 1-minute load average was " +
      std::string(load) +
      "; a load above the "
      "thread count means the timed threads shared their cores).\n";

  // Verdicts.
  int cheaper15 = 0, cheaper = 0, cases = 0;
  double lo = 1, hi = -1;
  for (int threads : thread_counts)
    for (const auto& [n, d] : shapes) {
      const double s = saving_of("fwd+bwd", "regrad", n, d, threads);
      cases++, cheaper += s > 0, cheaper15 += s >= 0.15, lo = std::min(lo, s), hi = std::max(hi, s);
    }
  char measured[256];
  std::snprintf(measured, sizeof measured,
                "regrad fwd+bwd: RMSNorm cheaper at %d of %d shape × thread cases, by 15 %% or more at %d; "
                "the change ranges from %s to %s",
                cheaper, cases, cheaper15, pct(hi).c_str(), pct(lo).c_str());
  std::vector<rx::Claim> claims;
  claims.push_back({"RMSNorm is ~15–30 % cheaper than LayerNorm", measured,
                    cheaper15 == cases ? "reproduced"
                    : cheaper == cases ? "partly reproduced (cheaper everywhere, not by 15 % everywhere)"
                    : cheaper > 0      ? "partly reproduced (cheaper at some shapes only)"
                                       : "not reproduced"});
  std::vector<double> diff;
  for (std::size_t i = 0; i < std::min(ln_nll.size(), rms_nll.size()); ++i) diff.push_back(rms_nll[i] - ln_nll[i]);
  const double dm = rx::mean(diff), ds = rx::stddev(diff);
  claims.push_back({"RMSNorm is empirically no worse than LayerNorm at convergence",
                    "character Transformer, best validation NLL: RMSNorm " + rx::mean_std(rms_nll) +
                        " against LayerNorm " + rx::mean_std(ln_nll) + " (paired difference " + rx::mean_std(diff) +
                        "); " + rx::mean_std(rms_ms, 1) + " against " + rx::mean_std(ln_ms, 1) +
                        " ms per training step",
                    diff.size() < 2           ? "not measured here (one seed)"
                    : dm <= 0 || dm <= 2 * ds ? "reproduced"
                                              : "not reproduced (RMSNorm worse by more than 2 std)"});
  rx::write_page(e, "RMSNorm against LayerNorm: cost and convergence",
                 "RMSNorm: drop the mean subtraction and the bias … ~15–30 % cheaper than LayerNorm; empirically no "
                 "worse at convergence (LLaMA, T5).",
                 body, claims);
  e.log("done: %s", e.path(".md").c_str());
  return 0;
}
