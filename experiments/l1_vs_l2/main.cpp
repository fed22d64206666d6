// l1_vs_l2 — the lecture's table "L1: sparse, many exact zeros; L2: everything small", and its two
// regrouping claims, measured from the real optimizer code:
//   1. one SGD step on one weight (w = 2, g = 1.5, η = 0.1, λ = 0.01): 1.85 without L2, 1.848 with;
//   2. "L2 is weight decay": plain SGD with coupled L2 (λ·p added to the gradient) and SGD with
//      decoupled decay (p ← p·(1 − η_t·λ), then the step) follow the same trajectory; Adam with L2
//      and AdamW do not (the L2 term is rescaled by Adam's 1/√v̂, the decoupled decay is not).
// The sweep: a 784-512-512-10 ReLU MLP (no norm, no dropout) on a Fashion-MNIST subset, SGD with
// momentum, L1 by the proximal step (FitOptions::l1) or L2 (FitOptions::weight_decay), 5 strengths
// each; test accuracy, the share of exactly-zero weights, ‖w‖₂ and ‖w‖₁ over the weight matrices.
#include <algorithm>
#include <cmath>
#include <cstdlib>

#include "common/experiment.h"

using namespace rg;

namespace {

struct Weights {
  double zero_frac = 0, l2 = 0, l1 = 0;
  int64_t count = 0;
};

// Over the weight matrices (biases excluded): share of exact zeros, ‖w‖₂, ‖w‖₁.
Weights weight_stats(nn::Module& net) {
  Weights s;
  double count = 0, sq = 0;
  for (const Tensor& p : net.parameters()) {
    if (p.dim() < 2) continue;
    for (double v : p.tolist()) {
      s.zero_frac += v == 0.0;
      sq += v * v;
      s.l1 += std::abs(v);
      ++count;
    }
  }
  s.zero_frac /= count;
  s.l2 = std::sqrt(sq);
  s.count = static_cast<int64_t>(count);
  return s;
}

std::vector<double> flat_params(nn::Module& net) {
  std::vector<double> out;
  for (const Tensor& p : net.parameters())
    for (double v : p.tolist()) out.push_back(v);
  return out;
}

// ‖a − b‖₂ and max |a − b|.
std::pair<double, double> distance(const std::vector<double>& a, const std::vector<double>& b) {
  double sq = 0, mx = 0;
  for (std::size_t i = 0; i < a.size(); ++i)
    sq += (a[i] - b[i]) * (a[i] - b[i]), mx = std::max(mx, std::abs(a[i] - b[i]));
  return {std::sqrt(sq), mx};
}

double norm2(const std::vector<double>& a) {
  double sq = 0;
  for (double v : a) sq += v * v;
  return std::sqrt(sq);
}

// Histograms of weight sets as gnuplot boxes (share of weights per bin, log y), two panels per
// row; the exact zeros are counted apart and drawn as a red bar at x = 0.
struct Panel {
  std::vector<double> w;
  std::string name;
};
bool histogram_png(const std::string& png, const std::string& title, const std::vector<Panel>& panels) {
  double lim = 0;
  for (const Panel& p : panels)
    for (double x : p.w) lim = std::max(lim, std::abs(x));
  const int bins = 101;
  const double width = 2 * lim / bins;
  const int rows = static_cast<int>((panels.size() + 1) / 2);
  std::string s = "set terminal pngcairo size 1100," + std::to_string(40 + 440 * rows) +
                  " noenhanced font 'sans,10'\nset output '" + png + "'\n";
  s += "set multiplot layout " + std::to_string(rows) + ",2 title '" + title + "'\n";
  int block = 0;
  for (const Panel& p : panels) {
    std::vector<double> h(bins, 0.0);
    double zeros = 0;
    const double unit = 1.0 / static_cast<double>(p.w.size());
    for (double x : p.w) {
      if (x == 0.0) {
        zeros += unit;
        continue;
      }
      h[static_cast<std::size_t>(std::clamp(static_cast<int>((x + lim) / width), 0, bins - 1))] += unit;
    }
    const std::string d = "$h" + std::to_string(block++);
    s += d + " << EOD\n";
    for (int k = 0; k < bins; ++k)
      s += report::fmt_g(-lim + (k + 0.5) * width, 8) + " " +
           report::fmt_g(std::max(h[static_cast<std::size_t>(k)], 1e-9), 8) + "\n";
    s += "EOD\n";
    s += "reset\nset grid\nset logscale y\nset yrange [1e-6:1]\nset format y '%.0e'\nset xlabel 'first-layer weight'\n"
         "set ylabel 'share of weights per bin (log)'\nset style fill solid 0.6\nset boxwidth " +
         report::fmt_g(width, 6) + "\nset title '" + p.name + ": " + report::fmt(100 * zeros, 1) + " % exactly zero'\n";
    s += "plot " + d +
         " using 1:2 with boxes lc rgb '#3060a0' title 'nonzero weights', '-' using 1:2 with impulses lw 4 "
         "lc rgb 'red' title 'exact zeros'\n0 " +
         report::fmt_g(std::max(zeros, 1e-9), 8) + "\ne\n";
  }
  s += "unset multiplot\n";
  const std::string gp = png + ".gp";
  report::write_file(gp, s);
  const int rc = std::system(("gnuplot '" + gp + "' 2>&1").c_str());
  std::remove(gp.c_str());
  if (rc != 0) std::fprintf(stderr, "(gnuplot failed to write %s)\n", png.c_str());
  return rc == 0;
}

std::string sci(double v) { return report::fmt_g(v, 3); }

}  // namespace

int main(int argc, char** argv) {
  rx::Experiment e("l1_vs_l2", "L1 (proximal step) against L2 (weight decay): sparsity, norms, accuracy", argc, argv);
  const bool quick = e.quick();
  std::vector<uint64_t> seeds = e.seeds();
  if (quick && seeds.size() > 2) seeds.resize(2);
  const int64_t n_train = quick ? 600 : 4000, n_test = quick ? 2000 : 0, epochs = quick ? 2 : 8, batch = 100;
  const double lr = 0.05;
  const std::vector<double> l1s = {1e-4, 3e-4, 1e-3, 3e-3, 1e-2}, l2s = {1e-4, 1e-3, 3e-3, 1e-2, 3e-2};
  rx::Results res({"penalty", "strength"}, {"test_acc", "zero_frac", "l2_norm", "l1_norm"});
  rx::Results sweep = res, regroup = res;

  // ---- the one-weight update, from optim::SGD ----
  auto one_step = [](double wd) {
    Tensor w = tensor({2.0}, DType::Float64).requires_grad_();
    (w * 1.5).sum().backward();  // g = 1.5
    optim::SGD sgd({w}, 0.1, 0.0, wd);
    const double g = w.grad().item();
    sgd.step();
    return std::pair{g, w.item()};
  };
  const auto [g0, w_plain] = one_step(0.0);
  const auto [g1, w_l2] = one_step(0.01);
  e.log("one weight: g = %.17g; w ← %.17g without L2, %.17g with L2 (λ = 0.01)", g0, w_plain, w_l2);

  auto base_options = [&](uint64_t seed) {
    train::FitOptions o = rx::quiet_fit(seed);
    o.epochs = epochs;
    o.batch_size = batch;
    o.lr = lr;
    o.momentum = 0.9;
    o.weight_decay = 0.0;
    o.schedule = "cosine";
    o.keep_best = false;  // no validation split: the last epoch's model
    return o;
  };
  auto make_net = [&](const data::Splits& d, uint64_t seed) { return rx::image_model(d, "mlp", "none", seed); };
  // First-layer weights of seed 0 per configuration, for the histogram.
  std::map<std::string, std::vector<double>> first_layer;
  auto record = [&](rx::Results& table, const std::string& penalty, double strength, uint64_t seed, nn::Module& net,
                    const train::FitResult& r) {
    const Weights s = weight_stats(net);
    const std::vector<std::string> cfg{penalty, sci(strength)};
    res.add(cfg, seed, {r.test.accuracy, s.zero_frac, s.l2, s.l1});
    table.add(cfg, seed, {r.test.accuracy, s.zero_frac, s.l2, s.l1});
    e.log("seed %llu %s %s: acc %.4f, zeros %.4f, |w|2 %.2f, |w|1 %.0f (%.1f s)", static_cast<unsigned long long>(seed),
          penalty.c_str(), sci(strength).c_str(), r.test.accuracy, s.zero_frac, s.l2, s.l1, r.seconds);
  };

  int64_t n_weights = 0;
  for (uint64_t seed : seeds) {
    const data::Splits d = rx::image_splits("fashion-mnist", n_train, 0, seed, n_test);
    std::vector<std::pair<std::string, double>> runs{{"none", 0.0}};
    for (double l : l1s) runs.emplace_back("l1", l);
    for (double l : l2s) runs.emplace_back("l2", l);
    for (const auto& [penalty, strength] : runs) {
      auto net = make_net(d, seed);
      train::FitOptions o = base_options(seed);
      if (penalty == "l1") o.l1 = strength;
      if (penalty == "l2") o.weight_decay = strength;
      const train::FitResult r = train::fit(*net, d, o);
      record(sweep, penalty, strength, seed, *net, r);
      n_weights = weight_stats(*net).count;
      if (seed == 0) first_layer[penalty + " " + sci(strength)] = net->parameters().front().tolist();
    }
  }

  // ---- "L2 is weight decay": coupled against decoupled, for SGD and for Adam (seed 0) ----
  const double lam = 3e-3;
  const data::Splits d0 = rx::image_splits("fashion-mnist", n_train, 0, 0, n_test);
  const int64_t total_steps = (n_train / batch) * epochs;
  struct Pair {
    std::string name, a_name, b_name;
    std::vector<double> wa, wb;
    double acc_a = 0, acc_b = 0;
  };
  std::vector<Pair> pairs;
  auto run = [&](const std::string& penalty, const train::FitOptions& o, std::vector<double>& w, double& acc) {
    auto net = make_net(d0, 0);
    const train::FitResult r = train::fit(*net, d0, o);
    record(regroup, penalty, lam, 0, *net, r);
    w = flat_params(*net);
    acc = r.test.accuracy;
  };
  // Decoupled decay inside after_backward, with the learning rate of the step that follows (the
  // schedule's value at this step).
  auto decoupled = [&](const train::FitOptions& o) {
    return [lr = o.lr, warmup = o.warmup, total_steps, lam](int64_t step, double, nn::Module& net) {
      const double eta = optim::warmup_cosine_lr(step, warmup, total_steps, lr);
      NoGradGuard no_grad;
      for (Tensor p : net.parameters()) p.mul_(1.0 - eta * lam);
    };
  };
  // The rounding-noise floor: the coupled plain-SGD run again, with every weight multiplied by
  // (1 + 1e-7) (about one float32 ulp) after the first backward. Training amplifies tiny
  // differences, so "identical up to rounding" means a distance of this order.
  std::vector<double> w_ulp;
  double acc_ulp = 0;
  {
    train::FitOptions c = base_options(0);
    c.momentum = 0.0;
    c.weight_decay = lam;
    c.after_backward = [](int64_t step, double, nn::Module& net) {
      if (step != 0) return;
      NoGradGuard no_grad;
      for (Tensor p : net.parameters()) p.mul_(1.0 + 1e-7);
    };
    run("sgd_coupled_ulp", c, w_ulp, acc_ulp);
  }
  for (const double momentum : {0.0, 0.9}) {
    Pair pr{"SGD, momentum " + report::fmt(momentum, 1),
            "coupled L2 (SGD weight_decay)",
            "decoupled decay (p ← p·(1 − η_t·λ))",
            {},
            {},
            0,
            0};
    train::FitOptions a = base_options(0);
    a.momentum = momentum;
    a.weight_decay = lam;
    run(momentum == 0 ? "sgd_coupled" : "sgdm_coupled", a, pr.wa, pr.acc_a);
    train::FitOptions b = base_options(0);
    b.momentum = momentum;
    b.after_backward = decoupled(b);
    run(momentum == 0 ? "sgd_decoupled" : "sgdm_decoupled", b, pr.wb, pr.acc_b);
    pairs.push_back(pr);
  }
  {
    Pair pr{"Adam (lr 1e-3)", "Adam + coupled L2 (λ·p added to the gradient)", "AdamW (weight_decay λ)", {}, {}, 0, 0};
    train::FitOptions a = base_options(0);
    a.optimizer = "adamw";
    a.lr = 1e-3;
    a.weight_decay = 0.0;
    a.after_backward = [lam](int64_t, double, nn::Module& net) {
      NoGradGuard no_grad;
      for (Tensor p : net.parameters())
        if (p.grad().defined()) p.grad().add_(p, lam);
    };
    run("adam_l2", a, pr.wa, pr.acc_a);
    train::FitOptions b = a;
    b.after_backward = nullptr;
    b.weight_decay = lam;
    run("adamw", b, pr.wb, pr.acc_b);
    pairs.push_back(pr);
  }
  report::write_file(e.path(".csv"), res.csv());

  // ---- plots ----
  auto curve = [&](const std::string& penalty, const std::string& metric, double scale) {
    report::Series s{penalty == "l1" ? "L1 (proximal)" : "L2 (weight decay)", {}, {}, {}};
    for (double l : penalty == "l1" ? l1s : l2s) {
      std::vector<double> v = sweep.values({{"penalty", penalty}, {"strength", sci(l)}}, metric);
      for (double& x : v) x *= scale;
      s.x.push_back(l);
      s.y.push_back(rx::mean(v));
      s.err.push_back(rx::stddev(v));
    }
    return s;
  };
  const double base_acc = rx::mean(sweep.values({{"penalty", "none"}}, "test_acc"));
  const std::string base_line = "set arrow from graph 0, first " + report::fmt(100 * base_acc, 3) +
                                " to graph 1, first " + report::fmt(100 * base_acc, 3) + " nohead dt 2 lc rgb 'gray'";
  report::plot_png(e.path(".png"),
                   {{"test accuracy (dashed: no penalty)",
                     "strength λ (log)",
                     "accuracy (%)",
                     true,
                     false,
                     {curve("l1", "test_acc", 100), curve("l2", "test_acc", 100)},
                     {base_line}},
                    {"exactly-zero weights",
                     "strength λ (log)",
                     "share of weights (%)",
                     true,
                     false,
                     {curve("l1", "zero_frac", 100), curve("l2", "zero_frac", 100)},
                     {}},
                    {"‖w‖₂ of the weight matrices",
                     "strength λ (log)",
                     "‖w‖₂ (log)",
                     true,
                     true,
                     {curve("l1", "l2_norm", 1), curve("l2", "l2_norm", 1)},
                     {}},
                    {"‖w‖₁ of the weight matrices",
                     "strength λ (log)",
                     "‖w‖₁ (log)",
                     true,
                     true,
                     {curve("l1", "l1_norm", 1), curve("l2", "l1_norm", 1)},
                     {}}},
                   2);

  // The L1/L2 pair at matched accuracy: the sparsest L1 run within 1 point of the unpenalised
  // accuracy (else the most accurate L1 run), and the L2 strength whose accuracy is closest to it.
  auto acc_of = [&](const std::string& p, double l) {
    return rx::mean(sweep.values({{"penalty", p}, {"strength", sci(l)}}, "test_acc"));
  };
  auto zeros_of = [&](const std::string& p, double l) {
    return rx::mean(sweep.values({{"penalty", p}, {"strength", sci(l)}}, "zero_frac"));
  };
  double l1_pick = l1s.front();
  bool l1_within = false;
  for (double l : l1s)
    if (acc_of("l1", l) >= base_acc - 0.01 && (!l1_within || zeros_of("l1", l) > zeros_of("l1", l1_pick)))
      l1_pick = l, l1_within = true;
  if (!l1_within)
    for (double l : l1s)
      if (acc_of("l1", l) > acc_of("l1", l1_pick)) l1_pick = l;
  double l2_pick = l2s.front();
  for (double l : l2s)
    if (std::abs(acc_of("l2", l) - acc_of("l1", l1_pick)) < std::abs(acc_of("l2", l2_pick) - acc_of("l1", l1_pick)))
      l2_pick = l;
  auto closest_l2 = [&](double l1) {
    double best = l2s.front();
    for (double l : l2s)
      if (std::abs(acc_of("l2", l) - acc_of("l1", l1)) < std::abs(acc_of("l2", best) - acc_of("l1", l1))) best = l;
    return best;
  };
  // Pair B: the sparsest L1 run whose closest L2 run is within 0.5 points of accuracy.
  double l1_sparse = l1_pick;
  for (double l : l1s)
    if (std::abs(acc_of("l2", closest_l2(l)) - acc_of("l1", l)) <= 0.005 &&
        zeros_of("l1", l) > zeros_of("l1", l1_sparse))
      l1_sparse = l;
  const double l2_sparse = closest_l2(l1_sparse);
  auto panel = [&](const std::string& p, double l) {
    return Panel{first_layer[p + " " + sci(l)], std::string(p == "l1" ? "L1" : "L2") + " λ = " + sci(l) + " (acc " +
                                                    report::fmt(100 * acc_of(p, l), 1) + " %)"};
  };
  std::vector<Panel> panels{panel("l1", l1_pick), panel("l2", l2_pick)};
  if (l1_sparse != l1_pick) panels.push_back(panel("l1", l1_sparse)), panels.push_back(panel("l2", l2_sparse));
  histogram_png(e.path("_hist.png"), "First-layer weights (784×512) of L1/L2 runs at matched accuracy, seed 0", panels);

  // ---- the page ----
  std::string body;
  body += "A 784-512-512-10 ReLU MLP (no normalization, no dropout) on " + std::to_string(n_train) +
          " Fashion-MNIST training images (a seeded subset per seed), SGD (momentum 0.9, lr " + report::fmt(lr, 2) +
          ", cosine to 0, batch " + std::to_string(batch) + ") for " + std::to_string(epochs) +
          " epochs; test set: " + (n_test > 0 ? std::to_string(n_test) + " images" : std::string("all 10,000 images")) +
          ". L1: after each step, the proximal step p ← sign(p)·max(|p| − η_t·λ, 0) on every parameter "
          "(`FitOptions::l1`); L2: SGD's coupled `weight_decay` (λ·p added to the gradient). Zeros and norms are over "
          "the three weight matrices (" +
          std::to_string(n_weights) + " weights; biases excluded). Mean ± std over " + std::to_string(seeds.size()) +
          " seeds" + (quick ? " (quick mode: at most 2)" : "") + ".\n\n";
  body += "![accuracy, zeros and norms against the strength](l1_vs_l2.png)\n\n";
  body += sweep.summary_markdown({"test_acc", "zero_frac", "l2_norm", "l1_norm"}, 4, {"test_acc", "zero_frac"});
  body += "\n![first-layer weight histograms](l1_vs_l2_hist.png)\n\n";
  body += "The histogram pair: the sparsest L1 run " +
          std::string(l1_within ? "within 1 point of" : "(none is within 1 point of") + " the unpenalised accuracy" +
          (l1_within ? "" : "; the most accurate L1 run instead)") + ", λ₁ = " + sci(l1_pick) +
          ", and the L2 strength with the closest accuracy, λ₂ = " + sci(l2_pick) + " (seed 0)" +
          (l1_sparse != l1_pick ? "; second row: the sparsest L1 run whose closest L2 run is within 0.5 points of "
                                  "accuracy, λ₁ = " +
                                      sci(l1_sparse) + " against λ₂ = " + sci(l2_sparse)
                                : std::string()) +
          ".\n\n";
  body +=
      "Each L1 strength against the L2 strength of the closest accuracy:\n\n| L1 λ | L1 accuracy (%) | L1 zeros (%) "
      "| L2 λ | L2 accuracy (%) | L2 zeros (%) |\n|---|---|---|---|---|---|\n";
  for (double l : l1s)
    body += "| " + sci(l) + " | " + report::fmt(100 * acc_of("l1", l), 2) + " | " +
            report::fmt(100 * zeros_of("l1", l), 2) + " | " + sci(closest_l2(l)) + " | " +
            report::fmt(100 * acc_of("l2", closest_l2(l)), 2) + " | " +
            report::fmt(100 * zeros_of("l2", closest_l2(l)), 2) + " |\n";
  body += "\n";

  body += "## Regrouping: one weight, one step\n\n";
  body += "`optim::SGD` on a one-element float64 tensor w = 2 whose gradient is g = " + report::fmt_g(g0, 6) +
          " (from backward of 1.5·w), lr η = 0.1: w − η·g = **" + report::fmt_g(w_plain, 10) +
          "** without L2; with weight_decay λ = 0.01, w − η·(g + λ·w) = **" + report::fmt_g(w_l2, 10) + "**.\n\n";

  body += "## \"L2 is weight decay\" — coupled against decoupled (seed 0, λ = " + sci(lam) + ")\n\n";
  body +=
      "Same model, data, order and schedule; the decoupled variants multiply every parameter by (1 − η_t·λ) in "
      "`after_backward`, with η_t the schedule's learning rate of the step that follows. Adam + L2 is AdamW with "
      "weight_decay 0 and λ·p added to every gradient in `after_backward`.\n\n";
  body +=
      "| optimizer | A | B | test acc A (%) | test acc B (%) | ‖w_A‖₂ | ‖w_B‖₂ | ‖w_A − w_B‖₂ | largest abs. "
      "difference |\n"
      "|---|---|---|---|---|---|---|---|---|\n";
  std::vector<std::pair<double, double>> dists;
  for (const Pair& p : pairs) {
    const auto [dist, mx] = distance(p.wa, p.wb);
    dists.emplace_back(dist / norm2(p.wa), mx);
    body += "| " + p.name + " | " + p.a_name + " | " + p.b_name + " | " + report::fmt(100 * p.acc_a, 2) + " | " +
            report::fmt(100 * p.acc_b, 2) + " | " + report::fmt(norm2(p.wa), 3) + " | " + report::fmt(norm2(p.wb), 3) +
            " | " + sci(dist) + " | " + sci(mx) + " |\n";
  }
  body +=
      "\nWith momentum, coupled L2 enters the momentum buffer (its decay is amplified by 1/(1 − μ) and delayed), "
      "while the decoupled decay does not: the identity holds for plain SGD only.\n";

  // ---- verdicts ----
  double max_l2_zeros = 0, max_l1_zeros = 0;
  for (double l : l2s) max_l2_zeros = std::max(max_l2_zeros, zeros_of("l2", l));
  for (double l : l1s) max_l1_zeros = std::max(max_l1_zeros, zeros_of("l1", l));
  const double l2n_l1 = rx::mean(sweep.values({{"penalty", "l1"}, {"strength", sci(l1_pick)}}, "l2_norm")),
               l2n_l2 = rx::mean(sweep.values({{"penalty", "l2"}, {"strength", sci(l2_pick)}}, "l2_norm"));
  const double z1 = zeros_of("l1", l1_pick), z2 = zeros_of("l2", l2_pick);
  std::vector<rx::Claim> claims;
  claims.push_back({"L1 drives many weights to exactly zero (sparse); L2 makes weights small but not zero",
                    "L1 λ = " + sci(l1_sparse) + " zeroes " + report::fmt(100 * zeros_of("l1", l1_sparse), 1) +
                        " % at " + report::fmt(100 * acc_of("l1", l1_sparse), 1) + " % accuracy against " +
                        report::fmt(100 * zeros_of("l2", l2_sparse), 2) + " % for L2 λ = " + sci(l2_sparse) + " at " +
                        report::fmt(100 * acc_of("l2", l2_sparse), 1) +
                        " %; within 1 point of the unpenalised accuracy (" + report::fmt(100 * base_acc, 1) + " %, " +
                        report::fmt(100 * acc_of("l1", l1_pick), 1) + " % vs " +
                        report::fmt(100 * acc_of("l2", l2_pick), 1) + " %), L1 λ = " + sci(l1_pick) + " zeroes " +
                        report::fmt(100 * z1, 1) + " % of the weights, L2 λ = " + sci(l2_pick) + " " +
                        report::fmt(100 * z2, 2) + " % (at most " + report::fmt(100 * max_l2_zeros, 2) +
                        " % over all L2 strengths; L1 up to " + report::fmt(100 * max_l1_zeros, 1) + " %)",
                    z1 >= 0.3 && max_l2_zeros < 0.001 ? "reproduced"
                    : max_l1_zeros >= 0.3 && max_l2_zeros < 0.001
                        ? "partly reproduced (heavy sparsity only past 1 point of accuracy loss)"
                        : "not reproduced"});
  claims.push_back({"L2 shrinks the weights' norm",
                    "‖w‖₂ " + rx::mean_std(sweep.values({{"penalty", "none"}}, "l2_norm"), 2) + " without penalty, " +
                        rx::mean_std(sweep.values({{"penalty", "l2"}, {"strength", sci(l2s.back())}}, "l2_norm"), 2) +
                        " at L2 λ = " + sci(l2s.back()) + " (L1 pick: " + report::fmt(l2n_l1, 2) +
                        ", L2 pick: " + report::fmt(l2n_l2, 2) + ")",
                    rx::mean(sweep.values({{"penalty", "l2"}, {"strength", sci(l2s.back())}}, "l2_norm")) <
                            0.8 * rx::mean(sweep.values({{"penalty", "none"}}, "l2_norm"))
                        ? "reproduced"
                        : "not reproduced"});
  claims.push_back(
      {"one SGD step, w = 2, g = 1.5, η = 0.1: 1.85 without L2, 1.848 with λ = 0.01",
       report::fmt_g(w_plain, 10) + " and " + report::fmt_g(w_l2, 10) + " from optim::SGD (float64)",
       std::abs(w_plain - 1.85) < 1e-12 && std::abs(w_l2 - 1.848) < 1e-12 ? "reproduced" : "not reproduced"});
  const double ulp_dist = distance(pairs[0].wa, w_ulp).first / norm2(pairs[0].wa);
  body +=
      "\nRounding-noise floor: the coupled plain-SGD run with every weight multiplied by (1 + 1e-7) (about one "
      "float32 ulp) after its first backward ends at relative distance " +
      sci(ulp_dist) +
      " from the unperturbed "
      "run (test accuracy " +
      report::fmt(100 * acc_ulp, 2) + " %).\n";
  const bool sgd_same =
      dists[0].first <= 3 * ulp_dist &&
      std::abs(pairs[0].acc_a - pairs[0].acc_b)<0.002, adam_differ = dists[2].first> 100 * dists[0].first &&
      dists[2].first > 1e-3;
  claims.push_back({"plain SGD: coupled L2 and decoupled weight decay follow the same trajectory",
                    "after " + std::to_string(total_steps) + " steps ‖w_L2 − w_decay‖/‖w‖ = " + sci(dists[0].first) +
                        " (max |Δw| " + sci(dists[0].second) + "), against " + sci(ulp_dist) +
                        " for a one-ulp perturbation of the same run; test accuracy " +
                        report::fmt(100 * pairs[0].acc_a, 2) + " % vs " + report::fmt(100 * pairs[0].acc_b, 2) +
                        " %; with momentum 0.9 the two differ by " + sci(dists[1].first),
                    sgd_same ? "reproduced" : "not reproduced"});
  claims.push_back({"Adam + L2 and AdamW do not follow the same trajectory",
                    "‖w_Adam+L2 − w_AdamW‖/‖w‖ = " + sci(dists[2].first) + "; test accuracy " +
                        report::fmt(100 * pairs[2].acc_a, 2) + " % vs " + report::fmt(100 * pairs[2].acc_b, 2) + " %",
                    adam_differ ? "reproduced" : "not reproduced"});
  rx::write_page(e, "L1 against L2: sparsity, norms, and L2 as weight decay",
                 "L1: sparse, many weights exactly zero. L2: everything small. For SGD, L2 regularization is weight "
                 "decay; for Adam it is not (AdamW).",
                 body, claims);
  e.log("done: %s", e.path(".md").c_str());
  return 0;
}
