// regularization_stack — the lecture's notebook 6a: "sweep weight decay, RandAugment, label
// smoothing". The CNN of make_model("cnn") (BatchNorm, no dropout) trained with fit and AdamW on a
// Fashion-MNIST subset (CIFAR-10 when --data-dir points at its binary batches), over the full grid
// weight decay {0, 5e-4, 5e-3, 5e-2} × RandAugment {off, on} × label smoothing {0, 0.1}, ≥ 3 seeds:
// test accuracy, NLL and ECE per run; the grid as a table and a heat map, the best combination, and
// what each knob adds on its own against the all-off baseline (paired by seed).
#include <algorithm>
#include <cstdio>
#include <filesystem>

#include "common/experiment.h"

using namespace rg;

namespace {

const std::vector<std::string> kDecays = {"0", "5e-4", "5e-3", "5e-2"};
const std::vector<std::string> kRandAugment = {"off", "on"};
const std::vector<std::string> kSmoothing = {"0", "0.1"};

struct Config {
  std::string wd, ra, ls;
  std::map<std::string, std::string> where() const {
    return {{"weight_decay", wd}, {"randaugment", ra}, {"label_smoothing", ls}};
  }
  std::string label() const { return "wd " + wd + ", RandAugment " + ra + ", smoothing " + ls; }
};

std::string points(const std::vector<double>& d) { return rx::mean_std(d, 2, 100) + " points"; }

// The heat map: mean test accuracy (%) per weight decay (rows) and (RandAugment, smoothing) column,
// gnuplot's `matrix with image` with the value written in each cell.
void heat_map(const rx::Experiment& e, const rx::Results& res, const std::string& title) {
  if (std::system("command -v gnuplot >/dev/null 2>&1") != 0) {
    std::fprintf(stderr, "(no PNG: gnuplot is not installed; apt-get install gnuplot-nox)\n");
    return;
  }
  const std::string dat = e.path("_heat.dat"), script = e.path("_heat.gp");
  std::string m;
  for (const std::string& wd : kDecays) {
    for (const std::string& ra : kRandAugment)
      for (const std::string& ls : kSmoothing)
        m += report::fmt(100 * rx::mean(res.values({{"weight_decay", wd}, {"randaugment", ra}, {"label_smoothing", ls}},
                                                   "test_acc")),
                         2) +
             " ";
    m += "\n";
  }
  report::write_file(dat, m);
  std::string gp = "set terminal pngcairo size 760,520 font ',11'\nset output '" + e.path(".png") + "'\n";
  gp += "set title '" + title + "'\nunset key\nset view map\nset palette rgbformulae 33,13,10\n";
  gp += "set xtics ('RA off, LS 0' 0, 'RA off, LS 0.1' 1, 'RA on, LS 0' 2, 'RA on, LS 0.1' 3)\n";
  gp += "set ytics (";
  for (std::size_t i = 0; i < kDecays.size(); ++i) gp += (i ? ", '" : "'") + kDecays[i] + "' " + std::to_string(i);
  gp += ")\nset xlabel 'RandAugment (RA), label smoothing (LS)'\nset ylabel 'AdamW weight decay'\n";
  gp += "set cblabel 'test accuracy (%)'\nset xrange [-0.5:3.5]\nset yrange [-0.5:3.5]\n";
  gp += "plot '" + dat + "' matrix with image, '' matrix using 1:2:(sprintf('%.2f', $3)) with labels font ',12'\n";
  report::write_file(script, gp);
  if (std::system(("gnuplot '" + script + "' 2>&1").c_str()) != 0)
    std::fprintf(stderr, "(gnuplot failed to write %s)\n", e.path(".png").c_str());
  std::filesystem::remove(dat);
  std::filesystem::remove(script);
}

}  // namespace

int main(int argc, char** argv) {
  std::string data_dir;
  rx::Experiment e("regularization_stack",
                   "Weight decay × RandAugment × label smoothing on the CNN (the lecture's notebook 6a)", argc, argv, 3,
                   [&](CLI::App& app) {
                     app.add_option("--data-dir", data_dir,
                                    "CIFAR-10's binary batches (data_batch_1.bin …); default: Fashion-MNIST");
                   });
  const bool q = e.quick();
  const std::string dataset = data_dir.empty() ? "fashion-mnist" : "cifar10";
  // Sizes: a fit on 3,000 images × 15 epochs took 33 s on one core of the shared machine (measured,
  // RandAugment on or off alike), about 0.73 ms per training image; 2,000 × 15 (≈ 22 s a fit) puts
  // the 16 configurations × 3 seeds at about 18 minutes, inside the 25-minute budget.
  const int64_t n_train = q ? 300 : 2000, epochs = q ? 1 : 15, n_test = q ? 500 : 5000, batch = 64;
  const double lr = 2e-3;

  rx::Results res({"weight_decay", "randaugment", "label_smoothing"}, {"test_acc", "test_nll", "test_ece"});
  std::vector<Config> configs;
  for (const std::string& wd : kDecays)
    for (const std::string& ra : kRandAugment)
      for (const std::string& ls : kSmoothing) configs.push_back({wd, ra, ls});

  const std::vector<uint64_t> seeds = q ? std::vector<uint64_t>{0} : e.seeds();
  for (uint64_t seed : seeds) {
    data::SplitOptions so;
    so.dataset = dataset;
    so.data_dir = data_dir;
    so.val_size = 0;
    so.train_subset = n_train;
    so.seed = seed;
    data::Splits d = data::load_splits(so);  // a seeded subset: the split shuffles by seed
    d.x_test = slice(d.x_test, 0, 0, n_test);
    d.y_test = slice(d.y_test, 0, 0, n_test);
    for (const Config& c : configs) {
      auto model = rx::image_model(d, "cnn", "bn", seed);
      train::FitOptions o = rx::quiet_fit(seed);
      o.epochs = epochs;
      o.batch_size = batch;
      o.optimizer = "adamw";
      o.lr = lr;
      o.weight_decay = std::stod(c.wd);
      o.label_smoothing = std::stod(c.ls);
      o.augment = data::AugmentSpec::parse(c.ra == "on" ? "randaugment" : "");
      o.keep_best = false;  // no validation split: the last epoch's model
      const train::FitResult r = train::fit(*model, d, o);
      res.add({c.wd, c.ra, c.ls}, seed, {r.test.accuracy, r.test.nll, r.test.ece});
      e.log("seed %llu %-42s test acc %.4f nll %.4f ece %.4f (%.1f s)", static_cast<unsigned long long>(seed),
            c.label().c_str(), r.test.accuracy, r.test.nll, r.test.ece, r.seconds);
    }
  }
  report::write_file(e.path(".csv"), res.csv());
  const std::string data_name = dataset == "cifar10" ? "CIFAR-10" : "Fashion-MNIST";
  heat_map(e, res, "CNN on " + std::to_string(n_train) + " " + data_name + " images: mean test accuracy (%)");

  // The baseline, each knob alone, the best combination and the full stack (paired by seed).
  const Config base{"0", "off", "0"};
  auto acc = [&](const Config& c) { return res.values(c.where(), "test_acc"); };
  const std::vector<double> a0 = acc(base);
  Config best = base;
  for (const Config& c : configs)
    if (rx::mean(acc(c)) > rx::mean(acc(best))) best = c;
  std::string best_wd_alone = kDecays[1];
  for (const std::string& wd : kDecays)
    if (wd != "0" && rx::mean(acc({wd, "off", "0"})) > rx::mean(acc({best_wd_alone, "off", "0"}))) best_wd_alone = wd;
  const Config wd_alone{best_wd_alone, "off", "0"}, ra_alone{"0", "on", "0"}, ls_alone{"0", "off", "0.1"};
  const Config stack{best_wd_alone, "on", "0.1"};

  std::string body =
      "The CNN of `make_model(\"cnn\")` (conv 32 → conv 64, each with BatchNorm, ReLU and 2×2 max "
      "pooling, then 128 hidden units; no dropout, so that the three knobs are the only regularizers) "
      "trained with `fit` for " +
      std::to_string(epochs) + " epochs (AdamW, lr " + report::fmt_g(lr) + " with a cosine schedule, batch " +
      std::to_string(batch) + ") on " + std::to_string(n_train) + " " + data_name +
      " training images (a seeded subset, sized so that the 16 configurations × " + std::to_string(seeds.size()) +
      " seeds fit the experiment's 25-minute budget on one core), tested "
      "on the first " +
      std::to_string(n_test) +
      " test images; the model after the last epoch. "
      "Weight decay is AdamW's decoupled decay (every parameter, as `optim::AdamW` over "
      "`model.parameters()`); RandAugment is `AugmentSpec` `randaugment` (2 ops at magnitude 9, on raw "
      "pixels: fit un-normalises, augments and normalises again); label smoothing is "
      "`cross_entropy(…, label_smoothing)`. Mean ± std over " +
      std::to_string(seeds.size()) + " seeds (subset, initialisation, order, augmentation draws).\n\n";
  body += "![mean test accuracy over the grid](regularization_stack.png)\n\n";
  body += res.summary_markdown({"test_acc", "test_nll", "test_ece"}, 4, {"test_acc"});
  body += "\n**Best combination** (highest mean test accuracy): " + best.label() + ": " +
          rx::mean_std(acc(best), 2, 100) + " % against " + rx::mean_std(a0, 2, 100) +
          " % for the all-off baseline (paired gain " + points(rx::paired_diff(acc(best), a0)) + ").\n\n";
  body += "**Each knob on its own** against the all-off baseline (paired by seed: same subset and initialisation):\n\n";
  body +=
      "| knob | test accuracy (%) | accuracy gain vs baseline (points) | significant (> 2 std) | test NLL change "
      "| test ECE change |\n|---|---|---|---|---|---|\n";
  auto knob_row = [&](const std::string& name, const Config& c) {
    const std::vector<double> d = rx::paired_diff(acc(c), a0);
    body +=
        "| " + name + " | " + rx::mean_std(acc(c), 2, 100) + " | " + rx::mean_std(d, 2, 100) + " | " +
        (rx::significant_gain(d)   ? "gain"
         : rx::significant_loss(d) ? "loss"
                                   : "no") +
        " | " + rx::mean_std(rx::paired_diff(res.values(c.where(), "test_nll"), res.values(base.where(), "test_nll"))) +
        " | " + rx::mean_std(rx::paired_diff(res.values(c.where(), "test_ece"), res.values(base.where(), "test_ece"))) +
        " |\n";
  };
  for (const std::string& wd : kDecays)
    if (wd != "0") knob_row("weight decay " + wd, {wd, "off", "0"});
  knob_row("RandAugment", ra_alone);
  knob_row("label smoothing 0.1", ls_alone);
  knob_row("all three (weight decay " + best_wd_alone + ")", stack);
  {
    // AdamW shrinks every weight by (1 − lr_t·λ) per step: over the cosine schedule the product is
    // about exp(−λ·Σ lr_t) with Σ lr_t = lr·steps/2.
    const double steps = static_cast<double>(epochs * (n_train / batch));
    body += "\nAdamW's decoupled decay multiplies every weight by (1 − lr_t·λ) per step; over these " +
            report::fmt(steps, 0) + " steps of the cosine schedule (Σ lr_t ≈ " + report::fmt_g(lr * steps / 2) +
            ") the decay alone shrinks a weight by a factor of about " +
            report::fmt(std::exp(-5e-2 * lr * steps / 2), 3) + " for λ = 5e-2 and " +
            report::fmt(std::exp(-5e-4 * lr * steps / 2), 5) + " for λ = 5e-4.\n";
  }
  body += "\nThe weight decay that the verdicts use is the best of the three on its own (" + best_wd_alone +
          "), picked on the same test numbers, which favours it slightly.\n";

  // Verdicts from the numbers.
  std::vector<rx::Claim> claims;
  auto alone_claim = [&](const std::string& what, const Config& c) {
    const std::vector<double> d = rx::paired_diff(acc(c), a0);
    claims.push_back({what + " helps on its own",
                      "test accuracy " + rx::mean_std(acc(c), 2, 100) + " % against " + rx::mean_std(a0, 2, 100) +
                          " % with none (paired gain " + points(d) + ", " + data_name + ", " + std::to_string(n_train) +
                          " images)",
                      rx::significant_gain(d)   ? "reproduced"
                      : rx::significant_loss(d) ? "not reproduced (it hurts here)"
                                                : "not reproduced (no difference beyond 2 std)"});
  };
  alone_claim("AdamW weight decay (" + best_wd_alone + ", the best alone)", wd_alone);
  alone_claim("RandAugment (2, 9)", ra_alone);
  alone_claim("label smoothing 0.1", ls_alone);
  {
    // They stack: all three beat the best single knob by more than 2 std.
    Config best_single = wd_alone;
    for (const Config& c : {ra_alone, ls_alone})
      if (rx::mean(acc(c)) > rx::mean(acc(best_single))) best_single = c;
    const std::vector<double> over_single = rx::paired_diff(acc(stack), acc(best_single)),
                              over_base = rx::paired_diff(acc(stack), a0);
    claims.push_back({"the regularizers stack: all three together beat each one alone",
                      "all three (weight decay " + best_wd_alone + ", RandAugment, smoothing 0.1) " +
                          rx::mean_std(acc(stack), 2, 100) + " %: " + points(over_base) + " over none, " +
                          points(over_single) + " over the best single knob (" + best_single.label() + ")",
                      rx::significant_gain(over_single) ? "reproduced"
                      : rx::significant_gain(over_base)
                          ? "partly reproduced (better than none, not than the best single knob)"
                          : "not reproduced"});
  }
  if (dataset != "cifar10")
    claims.push_back({"the sweep on CIFAR-10 (notebook 6a's dataset)",
                      "CIFAR-10 is not on this machine; run with --data-dir pointing at its binary batches",
                      "not measured here"});
  rx::write_page(e, "The regularization stack: weight decay × RandAugment × label smoothing",
                 "Notebook 6a: sweep weight decay, RandAugment, label smoothing on CIFAR-10.", body, claims);
  e.log("done: %s", e.path(".md").c_str());
  return 0;
}
