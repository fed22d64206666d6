// norm_vs_batch_size — "batch size < 32 → BN hurts; prefer GroupNorm or LayerNorm".
// The small CNN with BatchNorm2d, GroupNorm (8 groups), LayerNorm over (C, H, W) and no norm,
// trained at batch sizes 2 … 128 on the same Fashion-MNIST subset for the same number of samples
// seen, with the learning rate scaled linearly with the batch size (Goyal et al. 2017):
// lr = 0.05·B/128, so that steps × lr, the distance SGD can travel, is the same for every B.
// Per run: test accuracy and NLL, and the training time per step (which feeds the speed issue).
#include <cmath>
#include <fstream>
#include <thread>

#include "common/experiment.h"

using namespace rg;

namespace {

const std::vector<std::string> kNorms = {"bn", "gn", "ln", "none"};
const std::map<std::string, std::string> kNormNames = {
    {"bn", "BatchNorm2d"}, {"gn", "GroupNorm (8 groups)"}, {"ln", "LayerNorm (C, H, W)"}, {"none", "no norm"}};

struct Fit {
  double a = 0, b = 0;  // ms/step ≈ a + b·B: a fixed cost per step, b per image
};
Fit least_squares(const std::vector<double>& x, const std::vector<double>& y) {
  const double mx = rx::mean(x), my = rx::mean(y);
  double sxy = 0, sxx = 0;
  for (std::size_t i = 0; i < x.size(); ++i) sxy += (x[i] - mx) * (y[i] - my), sxx += (x[i] - mx) * (x[i] - mx);
  Fit f;
  f.b = sxy / sxx;
  f.a = my - f.b * mx;
  return f;
}

}  // namespace

int main(int argc, char** argv) {
  std::string only;
  rx::Experiment e("norm_vs_batch_size", "BatchNorm, GroupNorm, LayerNorm and no norm against the batch size", argc,
                   argv, 3, [&](CLI::App& app) {
                     app.add_option("--only", only,
                                    "run one configuration NORM:B once (seed 0) and write nothing, e.g. to profile it");
                   });
  const int64_t n_train = e.quick() ? 500 : 1600, epochs = 2, n_test = e.quick() ? 500 : 2000;
  std::vector<int64_t> batch_sizes =
      e.quick() ? std::vector<int64_t>{4, 32} : std::vector<int64_t>{2, 4, 8, 16, 32, 128};
  std::vector<std::string> norms = kNorms;
  std::vector<uint64_t> seeds = e.quick() ? std::vector<uint64_t>{0} : e.seeds();
  if (!only.empty()) {
    const auto colon = only.find(':');
    if (colon == std::string::npos) throw std::invalid_argument("--only expects NORM:B, got '" + only + "'");
    norms = {only.substr(0, colon)};
    batch_sizes = {std::stoll(only.substr(colon + 1))};
    seeds = {0};
  }
  auto lr_for = [](int64_t B) { return 0.05 * static_cast<double>(B) / 128.0; };

  std::map<uint64_t, data::Splits> splits;
  for (uint64_t seed : seeds) splits[seed] = rx::image_splits("fashion-mnist", n_train, 0, seed, n_test);

  rx::Results res({"norm", "batch_size"}, {"test_acc", "test_nll", "ms_per_step", "diverged"});
  // Norms innermost: on a shared machine the load drifts during the run, and interleaving keeps
  // the step times of the four norms comparable.
  for (uint64_t seed : seeds)
    for (int64_t B : batch_sizes)
      for (const std::string& norm : norms) {
        const data::Splits& d = splits.at(seed);
        auto model = rx::image_model(d, "cnn", norm, seed);
        train::FitOptions o = rx::quiet_fit(seed);
        o.epochs = epochs;
        o.batch_size = B;
        o.lr = lr_for(B);
        o.momentum = 0.9;
        o.weight_decay = 5e-4;
        o.schedule = "cosine";
        o.keep_best = false;
        const train::FitResult r = train::fit(*model, d, o);
        double train_s = 0;
        for (const auto& h : r.history) train_s += h.seconds;
        const double ms = r.steps > 0 ? 1000.0 * train_s / static_cast<double>(r.steps) : 0.0;
        res.add({norm, std::to_string(B)}, seed,
                {r.diverged ? 0.0 : r.test.accuracy, r.diverged ? 0.0 : r.test.nll, ms, r.diverged ? 1.0 : 0.0});
        e.log("%-4s B=%3lld seed %llu: test acc %.4f  %lld steps, %.2f ms/step (%.1f s)%s", norm.c_str(),
              static_cast<long long>(B), static_cast<unsigned long long>(seed), r.test.accuracy,
              static_cast<long long>(r.steps), ms, train_s, r.diverged ? "  DIVERGED" : "");
      }
  if (!only.empty()) return 0;
  report::write_file(e.path(".csv"), res.csv());

  auto acc = [&](const std::string& norm, int64_t B) {
    return res.values({{"norm", norm}, {"batch_size", std::to_string(B)}}, "test_acc");
  };
  auto ms = [&](const std::string& norm, int64_t B) {
    return rx::mean(res.values({{"norm", norm}, {"batch_size", std::to_string(B)}}, "ms_per_step"));
  };

  // The plot: test accuracy against batch size, one line per norm; and ms per image.
  report::Plot pa{"Small CNN on " + std::to_string(n_train) + " Fashion-MNIST images, lr = 0.05·B/128",
                  "batch size",
                  "test accuracy (%)",
                  true,
                  false,
                  {},
                  {}};
  report::Plot pt{"Training time per image", "batch size", "ms per image", true, true, {}, {}};
  for (const std::string& norm : norms) {
    report::Series s{kNormNames.at(norm), {}, {}, {}}, t{kNormNames.at(norm), {}, {}, {}};
    for (int64_t B : batch_sizes) {
      s.x.push_back(static_cast<double>(B));
      s.y.push_back(100 * rx::mean(acc(norm, B)));
      s.err.push_back(100 * rx::stddev(acc(norm, B)));
      t.x.push_back(static_cast<double>(B));
      t.y.push_back(ms(norm, B) / static_cast<double>(B));
    }
    pa.series.push_back(s);
    pt.series.push_back(t);
  }
  report::plot_png(e.path(".png"), {pa, pt});

  const int64_t samples = (n_train / batch_sizes.back()) * batch_sizes.back() * epochs;
  std::string body =
      "The CNN of `make_model(\"cnn\")` ([Conv3×3 → norm → ReLU → MaxPool2] × 2 with 32 and 64 channels → Linear 128 → "
      "ReLU → Linear 10; no dropout) with each norm, trained with `fit` on the same " +
      std::to_string(n_train) + " Fashion-MNIST images per seed for " + std::to_string(epochs) +
      " epochs at every batch size (about " + std::to_string(samples) +
      " samples seen; batches are full, so the last partial batch of an epoch is dropped). SGD, momentum 0.9, weight "
      "decay 5e-4, cosine schedule without warmup, **learning rate scaled linearly with the batch size: lr = "
      "0.05·B/128** (0.00078 at B = 2, 0.05 at B = 128), which keeps steps × lr constant. Test: the first " +
      std::to_string(n_test) +
      " test images, evaluated in eval mode (BatchNorm with its running statistics). Sizes chosen to fit the "
      "experiment's budget of about 8 minutes on 2 cores; the accuracies are therefore those of a short run (2 "
      "epochs), not of a converged model.\n\n";
  body += "![test accuracy and time per image against batch size](norm_vs_batch_size.png)\n\n";
  body += "### Test accuracy (%), mean ± std over " + std::to_string(seeds.size()) + " seeds\n\n| norm |";
  for (int64_t B : batch_sizes) body += " B = " + std::to_string(B) + " |";
  body += "\n|---|";
  for (std::size_t i = 0; i < batch_sizes.size(); ++i) body += "---|";
  body += "\n";
  for (const std::string& norm : norms) {
    body += "| " + kNormNames.at(norm) + " |";
    for (int64_t B : batch_sizes) body += " " + rx::mean_std(acc(norm, B), 2, 100) + " |";
    body += "\n";
  }
  double diverged = 0;
  for (const std::string& norm : norms)
    for (int64_t B : batch_sizes)
      for (double v : res.values({{"norm", norm}, {"batch_size", std::to_string(B)}}, "diverged")) diverged += v;
  body += "\nRuns that diverged: " + std::to_string(static_cast<int>(diverged)) +
          " (a diverged run counts as accuracy 0 in the table).\n\n";

  // Step time: mean ms per step, and the split into a fixed cost per step and a cost per image.
  std::string load = "unknown";
  {
    std::ifstream in("/proc/loadavg");
    double l1 = 0, l5 = 0, l15 = 0;
    if (in >> l1 >> l5 >> l15) load = report::fmt(l1, 1) + " / " + report::fmt(l5, 1) + " / " + report::fmt(l15, 1);
  }
  body += "### Training time per step (ms, mean over seeds; " + std::to_string(e.args().threads) +
          " thread(s))\n\nMeasured on a machine shared with other jobs: the load average (1 / 5 / 15 min) at the "
          "end of this run was " +
          load + " on " + std::to_string(std::thread::hardware_concurrency()) +
          " cores, so absolute times are inflated by the sharing; compare them within the table.\n\n| norm |";
  for (int64_t B : batch_sizes) body += " B = " + std::to_string(B) + " |";
  body += " fixed ms/step | ms/image |\n|---|";
  for (std::size_t i = 0; i < batch_sizes.size() + 2; ++i) body += "---|";
  body += "\n";
  std::string slowest_norm;
  int64_t slowest_B = 0;
  double slowest_s = 0;
  std::map<std::string, Fit> fits;
  for (const std::string& norm : norms) {
    body += "| " + kNormNames.at(norm) + " |";
    std::vector<double> xs, ys;
    for (int64_t B : batch_sizes) {
      body += " " + report::fmt(ms(norm, B), 2) + " |";
      xs.push_back(static_cast<double>(B));
      ys.push_back(ms(norm, B));
      const double run_s = ms(norm, B) * static_cast<double>(samples / B) / 1000.0;
      if (run_s > slowest_s) slowest_s = run_s, slowest_norm = norm, slowest_B = B;
    }
    fits[norm] = least_squares(xs, ys);
    body += " " + report::fmt(fits[norm].a, 2) + " | " + report::fmt(fits[norm].b, 3) + " |\n";
  }
  const Fit& f = fits[slowest_norm];
  const double fixed_share = f.a / (f.a + f.b * static_cast<double>(slowest_B));
  body +=
      "\nThe last two columns fit ms/step ≈ fixed + per-image·B by least squares over the batch sizes. The "
      "slowest configuration is " +
      kNormNames.at(slowest_norm) + " at B = " + std::to_string(slowest_B) + " (" + report::fmt(slowest_s, 1) +
      " s of training per run): by that fit, " + report::fmt(100 * fixed_share, 0) +
      " % of its step time is the fixed per-step cost (graph construction, allocation, the optimizer update of "
      "every parameter, the loader), not the images; the norm itself adds " +
      report::fmt(ms(slowest_norm, slowest_B) - ms("none", slowest_B), 2) +
      " ms per step over no norm at B = " + std::to_string(slowest_B) + ".\n";

  // Verdicts. BN against the better of GN and LN at each B < 32 (paired over seeds).
  auto diff = [&](const std::string& a, const std::string& b, int64_t B) {
    return rx::paired_diff(acc(a, B), acc(b, B));
  };
  int small = 0, hurts = 0;
  std::string hurts_at, detail;
  for (int64_t B : batch_sizes) {
    if (B >= 32) continue;
    ++small;
    const std::string other = rx::mean(acc("gn", B)) >= rx::mean(acc("ln", B)) ? "gn" : "ln";
    const auto d = diff(other, "bn", B);
    const bool sig = rx::significant_gain(d);
    hurts += sig;
    if (sig) hurts_at += (hurts_at.empty() ? "" : ", ") + std::to_string(B);
    detail += (detail.empty() ? "" : "; ") + std::string("B = ") + std::to_string(B) + ": " +
              (other == "gn" ? "GN" : "LN") + " − BN = " + rx::mean_std(d, 2, 100) + " points";
  }
  // The crossover: above the largest B where GroupNorm beats BatchNorm by more than 2 std (paired
  // over seeds); none when GroupNorm never does.
  int64_t last_gn_win = 0, crossover = 0;
  std::string all_b;
  for (std::size_t i = 0; i < batch_sizes.size(); ++i) {
    const auto d = diff("gn", "bn", batch_sizes[i]);
    if (rx::significant_gain(d))
      last_gn_win = batch_sizes[i], crossover = i + 1 < batch_sizes.size() ? batch_sizes[i + 1] : 0;
    all_b += (all_b.empty() ? "" : ", ") + std::to_string(batch_sizes[i]) + ": " + rx::mean_std(d, 2, 100);
  }
  const std::string cross_text =
      last_gn_win == 0
          ? "no crossover: GroupNorm never beats BatchNorm by more than 2 std (GN − BN in points by B: " + all_b + ")"
      : crossover == 0
          ? "GroupNorm beats BatchNorm even at B = " + std::to_string(last_gn_win) + " (GN − BN by B: " + all_b + ")"
          : "GroupNorm beats BatchNorm by more than 2 std up to B = " + std::to_string(last_gn_win) +
                ", not from B = " + std::to_string(crossover) + " (GN − BN by B: " + all_b + ")";
  body += "\nBN against GN/LN below B = 32 (paired by seed): " + detail + ". " + cross_text + ".\n";
  std::vector<rx::Claim> claims;
  claims.push_back({"batch size < 32 → BatchNorm hurts; GroupNorm or LayerNorm do better there",
                    "the better of GN/LN beats BN by more than 2 std at " + std::to_string(hurts) + " of " +
                        std::to_string(small) + " batch sizes below 32" +
                        (hurts_at.empty() ? "" : " (B = " + hurts_at + ")") + "; " + detail,
                    hurts == small && small > 0 ? "reproduced"
                    : hurts > 0                 ? "partly reproduced"
                                                : "not reproduced"});
  claims.push_back({"the BN/GN crossover lies near batch size 32",
                    cross_text + "; BN at B = " + std::to_string(batch_sizes.back()) + ": " +
                        rx::mean_std(acc("bn", batch_sizes.back()), 2, 100) +
                        " %, GN: " + rx::mean_std(acc("gn", batch_sizes.back()), 2, 100) + " %",
                    crossover == 16 || crossover == 32 ? "reproduced"
                    : last_gn_win > 0                  ? "partly reproduced (the crossover lies elsewhere)"
                                                       : "not reproduced"});
  rx::write_page(e, "Normalization against batch size", "Batch size < 32 → BN hurts; prefer GroupNorm or LayerNorm.",
                 body, claims);
  e.log("done: %s", e.path(".md").c_str());
  return 0;
}
