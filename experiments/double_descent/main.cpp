// double_descent — "test error spikes at the interpolation threshold (params ≈ data), then drops
// again".
// (a) Random ReLU features with minimum-norm least squares (Belkin et al. 2019): n Fashion-MNIST
//     training images, one-hot targets, φ(x) = ReLU(W·x/√784) with W ~ N(0, 1) of p rows, and the
//     coefficients β = Φ⁺Y from LAPACK (rg::lstsq). Below p = n, β is the least-squares fit; above
//     it, the interpolant of least norm. Features are nested (the first p rows of one W per seed).
// (b) Model-wise double descent (Nakkiran et al. 2019, scaled down): a 784-h-10 ReLU MLP of width
//     h on a small subset with 20 % of its labels wrong, trained with Adam (no weight decay,
//     constant lr) for a fixed number of epochs, test error against h.
#include <algorithm>
#include <cmath>

#include "common/experiment.h"
#include "double_descent/label_noise.h"

using namespace rg;

namespace {

std::string num(double v) { return report::fmt_g(v, 6); }

// Σ_k (ŷ_k − y_k)² averaged over the rows, and the share of rows whose argmax is not the label.
struct Fit {
  double mse = 0, err = 0;
};
Fit score(const Tensor& pred, const Tensor& labels, int64_t classes) {
  const double* p = pred.data<double>();
  const int64_t* y = labels.data<int64_t>();
  const int64_t n = labels.size(0);
  Fit f;
  for (int64_t i = 0; i < n; ++i) {
    int64_t best = 0;
    for (int64_t k = 0; k < classes; ++k) {
      const double t = k == y[i] ? 1.0 : 0.0, d = p[i * classes + k] - t;
      f.mse += d * d;
      if (p[i * classes + k] > p[i * classes + best]) best = k;
    }
    f.err += best != y[i];
  }
  f.mse /= static_cast<double>(n);
  f.err /= static_cast<double>(n);
  return f;
}

// Random-feature sizes from n/20 to 20·n: a geometric grid, denser within a factor 1.5 of n.
std::vector<int64_t> feature_grid(int64_t n) {
  const double ratios[] = {0.05, 0.07, 0.1, 0.15, 0.2, 0.3,  0.4, 0.5, 0.6, 0.7, 0.8, 0.85, 0.9,  0.95, 1.0,
                           1.05, 1.1,  1.2, 1.3,  1.5, 1.75, 2.0, 2.5, 3.0, 4.0, 5.0, 7.0,  10.0, 14.0, 20.0};
  std::vector<int64_t> p;
  for (double r : ratios) p.push_back(std::max<int64_t>(1, std::llround(r * static_cast<double>(n))));
  return p;
}

// The images as rows (N, C·H·W), float32.
Tensor rows(const Tensor& x) { return x.reshape({x.size(0), x.numel() / x.size(0)}); }

}  // namespace

int main(int argc, char** argv) {
  rx::Experiment e("double_descent", "Double descent: random ReLU features (min-norm least squares) and MLP width",
                   argc, argv, 5);
  const bool quick = e.quick();
  // (a)
  const int64_t n_rff = quick ? 200 : 1000, n_test_rff = quick ? 2000 : 10000;
  // (b)
  const int64_t n_mlp = quick ? 200 : 1000, n_test_mlp = quick ? 1000 : 10000, epochs = quick ? 30 : 250;
  const double noise = 0.2;
  const std::vector<int64_t> widths =
      quick ? std::vector<int64_t>{1, 4, 16, 64}
            : std::vector<int64_t>{1, 2, 3, 4, 6, 8, 10, 12, 16, 20, 24, 32, 48, 64, 128, 256};
  // Quick mode: at most 2 seeds; the MLP part: at most 3 (its budget).
  std::vector<uint64_t> seeds = e.seeds();
  if (quick && seeds.size() > 2) seeds.resize(2);
  const std::vector<uint64_t> mlp_seeds(seeds.begin(), seeds.begin() + std::min<std::size_t>(seeds.size(), 3));
  const int64_t classes = 10;
  rx::Results res({"part", "size"}, {"params", "train_loss", "test_loss", "train_err", "test_err"});

  // ---- (a) random ReLU features, minimum-norm least squares ----
  const std::vector<int64_t> grid = feature_grid(n_rff);
  const int64_t p_max = grid.back();
  for (uint64_t seed : seeds) {
    const data::Splits d = rx::image_splits("fashion-mnist", n_rff, 0, seed, n_test_rff);
    const Tensor x = rows(d.x_train), y = one_hot(d.y_train, classes, DType::Float64);
    const int64_t dim = x.size(1);
    Generator gen(1000 + seed);
    const Tensor w = randn({p_max, dim}, gen).mul_(1.0 / std::sqrt(static_cast<double>(dim)));
    const Tensor phi = relu(linear(x, w));  // (n, p_max), float32
    std::vector<Tensor> beta;
    std::vector<Fit> train;
    for (int64_t p : grid) {
      const Tensor a = slice(phi, 1, 0, p).to(DType::Float64);
      const LstsqResult r = lstsq(a, y);
      train.push_back(score(matmul(a, r.solution), d.y_train, classes));
      beta.push_back(r.solution);
      if (p == n_rff || p == p_max)
        e.log("rff seed %llu: p = %lld, rank %lld, σ_min/σ_max %.2e, train mse %.3g",
              static_cast<unsigned long long>(seed), static_cast<long long>(p), static_cast<long long>(r.rank),
              r.singular_values.tolist().back() / r.singular_values.tolist().front(), train.back().mse);
    }
    // Test predictions in chunks of rows, so that the test features never exist all at once.
    std::vector<Fit> test(grid.size());
    const int64_t n_test = d.x_test.size(0), chunk = 1000;
    for (int64_t r0 = 0; r0 < n_test; r0 += chunk) {
      const int64_t r1 = std::min(n_test, r0 + chunk);
      const Tensor phi_t = relu(linear(rows(slice(d.x_test, 0, r0, r1)), w));
      const Tensor labels = slice(d.y_test, 0, r0, r1);
      for (std::size_t i = 0; i < grid.size(); ++i) {
        const Fit f = score(matmul(slice(phi_t, 1, 0, grid[i]).to(DType::Float64), beta[i]), labels, classes);
        test[i].mse += f.mse * static_cast<double>(r1 - r0) / static_cast<double>(n_test);
        test[i].err += f.err * static_cast<double>(r1 - r0) / static_cast<double>(n_test);
      }
    }
    for (std::size_t i = 0; i < grid.size(); ++i)
      res.add({"rff", std::to_string(grid[i])}, seed,
              {static_cast<double>(grid[i] * classes), train[i].mse, test[i].mse, train[i].err, test[i].err});
    e.log("rff seed %llu done", static_cast<unsigned long long>(seed));
  }

  // ---- (b) one-hidden-layer MLP across widths, 20 % label noise ----
  for (uint64_t seed : mlp_seeds) {
    data::Splits d = rx::image_splits("fashion-mnist", n_mlp, 0, seed, n_test_mlp);
    d.y_train = dd::with_label_noise(d.y_train, classes, noise, 500 + seed);
    const int64_t dim = rows(slice(d.x_train, 0, 0, 1)).size(1);
    for (int64_t h : widths) {
      Generator gen(2000 + seed);
      auto net = std::make_shared<nn::Sequential>();
      net->add(std::make_shared<nn::Flatten>());
      net->add(std::make_shared<nn::Linear>(dim, h, true, gen));
      net->add(std::make_shared<nn::ReLU>());
      net->add(std::make_shared<nn::Linear>(h, classes, true, gen));
      train::FitOptions o = rx::quiet_fit(seed);
      o.optimizer = "adamw";
      o.weight_decay = 0.0;
      o.lr = 1e-3;
      o.schedule = "const";
      o.batch_size = 100;
      o.epochs = epochs;
      o.keep_best = false;
      const train::FitResult r = train::fit(*net, d, o);
      const train::Metrics tr = train::evaluate(*net, data::DataLoader(d.x_train, d.y_train, 1000, false));
      const double params = static_cast<double>((dim + 1) * h + (h + 1) * classes);
      res.add({"mlp", std::to_string(h)}, seed, {params, tr.nll, r.test.nll, 1 - tr.accuracy, 1 - r.test.accuracy});
      e.log("mlp seed %llu width %lld: train err %.3f, test err %.3f (%.1f s)", static_cast<unsigned long long>(seed),
            static_cast<long long>(h), 1 - tr.accuracy, 1 - r.test.accuracy, r.seconds);
    }
  }
  report::write_file(e.path(".csv"), res.csv());

  // ---- curves (mean ± std over seeds) ----
  auto curve = [&](const std::string& part, const std::string& metric, const std::string& title) {
    report::Series s{title, {}, {}, {}};
    for (const std::string& size : res.levels("size")) {
      const std::vector<double> v = res.values({{"part", part}, {"size", size}}, metric);
      if (v.empty()) continue;
      s.x.push_back(std::stod(size));
      s.y.push_back(rx::mean(v));
      s.err.push_back(rx::stddev(v));
    }
    return s;
  };
  const std::string threshold = "set arrow from " + std::to_string(n_rff) + ", graph 0 to " + std::to_string(n_rff) +
                                ", graph 1 nohead dt 2 lw 2 lc rgb 'red'";
  const std::string label = "set label 'p = n' at " + std::to_string(n_rff) + ", graph 0.95 offset 0.5, 0 tc rgb 'red'";
  const report::Series rff_test_mse = curve("rff", "test_loss", "test"),
                       rff_train_mse = curve("rff", "train_loss", "train");
  const report::Series rff_test_err = curve("rff", "test_err", "test"),
                       rff_train_err = curve("rff", "train_err", "train");
  const report::Series mlp_test_err = curve("mlp", "test_err", "test (clean labels)"),
                       mlp_train_err = curve("mlp", "train_err", "train (20 % wrong labels)");
  const report::Series mlp_test_nll = curve("mlp", "test_loss", "test NLL");
  // The MLP's threshold: params = n·K (as many parameters as scalar targets).
  const double h_star = static_cast<double>(n_mlp * classes - classes) / static_cast<double>(785 + classes);
  const std::string mlp_line =
      "set arrow from " + num(h_star) + ", graph 0 to " + num(h_star) + ", graph 1 nohead dt 2 lw 2 lc rgb 'red'";
  report::plot_png(e.path(".png"),
                   {{"(a) random ReLU features, n = " + std::to_string(n_rff) + ": squared error",
                     "features p (log)",
                     "mean squared error (log; train MSE ≈ 0 from p = n falls below the axis)",
                     true,
                     true,
                     {rff_test_mse, rff_train_mse},
                     {threshold, label, "set yrange [1e-3:*]"}},
                    {"(a) random ReLU features: classification error",
                     "features p (log)",
                     "error",
                     true,
                     false,
                     {rff_test_err, rff_train_err},
                     {threshold, label, "set yrange [0:*]"}},
                    {"(b) 784-h-10 MLP, n = " + std::to_string(n_mlp) + ", 20 % label noise",
                     "hidden width h (log)",
                     "error",
                     true,
                     false,
                     {mlp_test_err, mlp_train_err},
                     {mlp_line, "set yrange [0:*]"}},
                    {"(b) MLP: test NLL", "hidden width h (log)", "NLL (log)", true, true, {mlp_test_nll}, {mlp_line}}},
                   2);

  // ---- tables and verdicts ----
  auto at = [&](const std::string& part, int64_t size, const std::string& metric) {
    return res.values({{"part", part}, {"size", std::to_string(size)}}, metric);
  };
  // (a): the peak near p = n against both ends.
  int64_t peak_p = grid.front();
  double peak_mse = -1;
  for (int64_t p : grid)
    if (p >= 0.8 * n_rff && p <= 1.25 * n_rff && rx::mean(at("rff", p, "test_loss")) > peak_mse)
      peak_mse = rx::mean(at("rff", p, "test_loss")), peak_p = p;
  int64_t best_under = grid.front();
  for (int64_t p : grid)
    if (p <= n_rff / 2 && rx::mean(at("rff", p, "test_err")) < rx::mean(at("rff", best_under, "test_err")))
      best_under = p;
  const auto e_peak = at("rff", peak_p, "test_err"), e_under = at("rff", best_under, "test_err"),
             e_over = at("rff", p_max, "test_err");
  const auto m_under = at("rff", best_under, "test_loss"), m_over = at("rff", p_max, "test_loss"),
             m_peak = at("rff", peak_p, "test_loss");
  // Differences larger than two standard deviations of the paired (same-seed) difference.
  // With 5 or more seeds, a positive difference in every seed also counts (one-sided sign test,
  // p ≤ 1/32): the squared error at p = n is heavy-tailed across seeds (it scales with 1/σ_min²).
  auto clearly_above = [](const std::vector<double>& a, const std::vector<double>& b) {
    const std::vector<double> d = rx::paired_diff(a, b);
    const bool every = d.size() >= 5 && std::all_of(d.begin(), d.end(), [](double x) { return x > 0; });
    return every || rx::significant_gain(d);
  };
  const bool rff_spike = clearly_above(e_peak, e_under) && clearly_above(e_peak, e_over) &&
                         clearly_above(m_peak, m_under) && clearly_above(m_peak, m_over);
  const bool rff_second_better = clearly_above(e_under, e_over);

  // (b): the worst width against smaller and larger ones.
  std::size_t worst = 0;
  std::vector<double> mlp_err_means;
  for (int64_t h : widths) mlp_err_means.push_back(rx::mean(at("mlp", h, "test_err")));
  for (std::size_t i = 0; i < widths.size(); ++i)
    if (mlp_err_means[i] > mlp_err_means[worst]) worst = i;
  std::size_t best_before = 0;
  for (std::size_t i = 0; i < worst; ++i)
    if (mlp_err_means[i] < mlp_err_means[best_before]) best_before = i;
  const auto w_worst = at("mlp", widths[worst], "test_err"), w_before = at("mlp", widths[best_before], "test_err"),
             w_last = at("mlp", widths.back(), "test_err");
  const bool mlp_interior =
      worst > 0 && worst + 1 < widths.size() && clearly_above(w_worst, w_before) && clearly_above(w_worst, w_last);
  int64_t fits_from = -1;  // the smallest width whose mean training error is under 1 %
  for (int64_t h : widths)
    if (fits_from < 0 && rx::mean(at("mlp", h, "train_err")) < 0.01) fits_from = h;
  // Test NLL: its minimum on the under-parameterized side (train error ≥ 1 %), then its maximum
  // at that width or wider.
  std::size_t nll_under = 0, nll_peak = 0;
  for (std::size_t i = 0; i < widths.size() && (fits_from < 0 || widths[i] < fits_from); ++i)
    if (rx::mean(at("mlp", widths[i], "test_loss")) < rx::mean(at("mlp", widths[nll_under], "test_loss")))
      nll_under = i;
  nll_peak = nll_under;
  for (std::size_t i = nll_under; i < widths.size(); ++i)
    if (rx::mean(at("mlp", widths[i], "test_loss")) > rx::mean(at("mlp", widths[nll_peak], "test_loss"))) nll_peak = i;
  const auto n_under = at("mlp", widths[nll_under], "test_loss"), n_peak = at("mlp", widths[nll_peak], "test_loss"),
             n_last = at("mlp", widths.back(), "test_loss");
  const bool nll_spike = nll_peak > nll_under && nll_peak + 1 < widths.size() && clearly_above(n_peak, n_under) &&
                         clearly_above(n_peak, n_last);
  const bool mlp_monotone_drop = !mlp_interior && clearly_above(at("mlp", widths.front(), "test_err"), w_last);

  std::string body;
  body += "## (a) Random ReLU features, minimum-norm least squares\n\n";
  body += "n = " + std::to_string(n_rff) +
          " Fashion-MNIST training images (a seeded subset per seed), one-hot targets, "
          "features φ(x) = ReLU(W·x/√784) with W ~ N(0, 1) (p rows, nested: the first p rows of one draw per seed), "
          "coefficients β = Φ⁺Y by LAPACK's dgelsd (`rg::lstsq`, SVD, rcond = eps·max(n, p)): the least-squares fit "
          "for p < n, the interpolant of least norm for p ≥ n. " +
          std::to_string(grid.size()) + " sizes from " + std::to_string(grid.front()) + " to " + std::to_string(p_max) +
          " (denser near p = n), " + std::to_string(seeds.size()) + " seeds; test set: " + std::to_string(n_test_rff) +
          " images. Squared error is Σ_k (ŷ_k − y_k)² per image, averaged.\n\n";
  body += "![double descent](double_descent.png)\n\n";
  {
    rx::Results sub({"features p", "p / n"}, {"train MSE", "test MSE", "train error", "test error"});
    for (int64_t p : grid)
      for (std::size_t s = 0; s < seeds.size(); ++s) {
        auto v = [&](const char* m) { return at("rff", p, m)[s]; };
        sub.add({std::to_string(p), report::fmt(static_cast<double>(p) / static_cast<double>(n_rff), 2)}, seeds[s],
                {v("train_loss"), v("test_loss"), v("train_err"), v("test_err")});
      }
    body +=
        sub.summary_markdown({"train MSE", "test MSE", "train error", "test error"}, 4, {"train error", "test error"});
  }
  body += "\n## (b) Model-wise double descent: one-hidden-layer MLP, 20 % label noise\n\n";
  body += "n = " + std::to_string(n_mlp) +
          " training images with exactly 20 % of the labels replaced by another class "
          "(seeded), a 784-h-10 ReLU MLP (PyTorch's default initialisation), Adam (lr 1e-3, no weight decay, constant "
          "lr, batch 100) for " +
          std::to_string(epochs) + " epochs, no augmentation, no early stopping; " + std::to_string(mlp_seeds.size()) +
          " seeds; test set: " + std::to_string(n_test_mlp) +
          " images with their true labels. The dashed line marks params = n·K = " + std::to_string(n_mlp * classes) +
          " (h ≈ " + report::fmt(h_star, 1) + "). Losses here are cross-entropy (NLL).\n\n";
  {
    rx::Results sub({"width h", "params"}, {"train error", "test error", "train NLL", "test NLL"});
    for (int64_t h : widths)
      for (std::size_t s = 0; s < mlp_seeds.size(); ++s) {
        auto v = [&](const char* m) { return at("mlp", h, m)[s]; };
        sub.add({std::to_string(h), num(v("params"))}, mlp_seeds[s],
                {v("train_err"), v("test_err"), v("train_loss"), v("test_loss")});
      }
    body +=
        sub.summary_markdown({"train error", "test error", "train NLL", "test NLL"}, 4, {"train error", "test error"});
  }
  body += "\nThe training error reaches < 1 % from width " +
          (fits_from > 0 ? std::to_string(fits_from)
                         : std::string("— (never, within ") + std::to_string(epochs) + " epochs)") +
          ". Budget: this scaled-down version (" + std::to_string(n_mlp) + " images, " + std::to_string(epochs) +
          " epochs, widths up to " + std::to_string(widths.back()) +
          ") stands in for Nakkiran et al.'s ResNets on CIFAR-10 trained for 4,000 epochs.\n";
  body +=
      "\nMean ± std over seeds; verdicts compare paired (same-seed) differences against twice their standard "
      "deviation or, with 5 or more seeds, require the difference to have the same sign in every seed (the squared "
      "error at p = n is heavy-tailed across seeds: it grows as 1/σ_min² of the feature matrix).\n";

  std::vector<rx::Claim> claims;
  claims.push_back({"random features + min-norm least squares: test error spikes at p ≈ n, then drops again",
                    "test MSE " + rx::mean_std(m_under, 3) + " at p = " + std::to_string(best_under) + ", " +
                        rx::mean_std(m_peak, 3) + " (every seed ≥ " +
                        report::fmt(*std::min_element(m_peak.begin(), m_peak.end()), 0) +
                        ") at p = " + std::to_string(peak_p) + ", " + rx::mean_std(m_over, 3) +
                        " at p = " + std::to_string(p_max) + "; test error " + rx::mean_std(e_under, 1, 100) + " %, " +
                        rx::mean_std(e_peak, 1, 100) + " %, " + rx::mean_std(e_over, 1, 100) + " %",
                    rff_spike ? "reproduced" : "not reproduced"});
  claims.push_back({"far past the threshold the interpolating model beats the best under-parameterized one",
                    "test error " + rx::mean_std(e_over, 2, 100) + " % at p = " + std::to_string(p_max) + " against " +
                        rx::mean_std(e_under, 2, 100) + " % at p = " + std::to_string(best_under),
                    rff_second_better ? "reproduced" : "not reproduced"});
  claims.push_back(
      {"model-wise: MLP test error peaks near the interpolation threshold (20 % label noise), then falls with width",
       "worst test error " + rx::mean_std(w_worst, 1, 100) + " % at width " + std::to_string(widths[worst]) +
           " (train error < 1 % from width " + (fits_from > 0 ? std::to_string(fits_from) : std::string("—")) +
           "), against " + rx::mean_std(w_before, 1, 100) + " % at width " + std::to_string(widths[best_before]) +
           " and " + rx::mean_std(w_last, 1, 100) + " % at width " + std::to_string(widths.back()),
       mlp_interior
           ? "reproduced"
           : (mlp_monotone_drop ? "not reproduced (test error falls with width, no peak)" : "not reproduced")});
  claims.push_back({"model-wise, in test NLL: a peak near the interpolation threshold, then a fall with width",
                    "test NLL " + rx::mean_std(n_under, 3) + " at width " + std::to_string(widths[nll_under]) + ", " +
                        rx::mean_std(n_peak, 3) + " at width " + std::to_string(widths[nll_peak]) + ", " +
                        rx::mean_std(n_last, 3) + " at width " + std::to_string(widths.back()),
                    nll_spike ? "reproduced" : "not reproduced"});
  rx::write_page(e, "Double descent",
                 "Test error spikes at the interpolation threshold (params ≈ data), then drops again.", body, claims);
  e.log("done: %s", e.path(".md").c_str());
  return 0;
}
