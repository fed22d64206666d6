// dropout — inverted dropout from the real kernel, and where dropout belongs.
//  1. The lecture's worked example, h = [2.0, 1.5, 0.5, 3.0], keep 0.5, mask [1, 0, 1, 0] → [4, 0, 1, 0]:
//     the first seed whose real mask is [1, 0, 1, 0], and the same mask through dropout_with_mask.
//  2. E[dropout(h)] = h: the mean of 200,000 real masks, printed and plotted as it converges.
//  3. "Where dropout lives": p ∈ {0, 0.1, 0.3, 0.5} for the MLP (no norm), the CNN with BatchNorm and
//     the character Transformer (residual + embedding dropout), on small training sets where
//     overfitting is possible: train and test accuracy, the gap, the best p.
//  4. The classic bug: the trained models evaluated in train mode (model.train(), no eval()).
#include <cmath>

#include "common/experiment.h"

using namespace rg;

namespace {

const std::vector<double> kH = {2.0, 1.5, 0.5, 3.0};

// Accuracy with the model left in train mode during evaluation: dropout keeps dropping (and
// BatchNorm uses the statistics of each evaluation batch) — the bug of forgetting model.eval().
double accuracy_in_train_mode(nn::Module& model, const Tensor& x, const Tensor& y, uint64_t mask_seed) {
  const bool was_training = model.is_training();
  model.train();
  manual_seed(mask_seed);  // Dropout draws from the default generator
  NoGradGuard no_grad;
  const data::DataLoader loader(x, y, 1000, false);
  int64_t correct = 0;
  for (int64_t b = 0; b < loader.size(); ++b) {
    const data::Batch batch = loader.batch(b);
    correct += train::count_correct(model(batch.x), batch.y);
  }
  model.train(was_training);
  return static_cast<double>(correct) / static_cast<double>(x.size(0));
}

std::string vec(const std::vector<double>& v, int precision = 2) {
  std::string s = "[";
  for (std::size_t i = 0; i < v.size(); ++i) s += (i ? ", " : "") + report::fmt(v[i], precision);
  return s + "]";
}

struct ModelSpec {
  std::string name;  // mlp, cnn-bn, transformer
  int64_t n_train, epochs, batch;
};

}  // namespace

int main(int argc, char** argv) {
  rx::Experiment e("dropout", "Inverted dropout: the kernel's expectation, where dropout helps, the eval() bug", argc,
                   argv);
  const bool q = e.quick();
  std::vector<uint64_t> seeds = e.seeds();
  if (q) seeds.resize(1);
  std::string body;

  // ---- 1. the worked example from the real kernel ----
  const Tensor h = tensor(kH, {4}, DType::Float64);
  uint64_t found = 0;
  std::vector<double> y_seed;
  for (uint64_t s = 0; s < 1000; ++s) {
    Generator g(s);
    const std::vector<double> y = dropout(h, 0.5, true, g).tolist();
    if (y[0] != 0 && y[1] == 0 && y[2] != 0 && y[3] == 0) {
      found = s, y_seed = y;
      break;
    }
  }
  if (y_seed.empty()) throw std::runtime_error("no seed below 1000 gives the mask [1, 0, 1, 0]");
  const std::vector<double> y_mask = dropout_with_mask(h, tensor({1, 0, 1, 0}, {4}, DType::Float64), 0.5).tolist();
  e.log("worked example: seed %llu gives mask [1,0,1,0] -> %s; dropout_with_mask -> %s",
        static_cast<unsigned long long>(found), vec(y_seed).c_str(), vec(y_mask).c_str());
  const bool example_ok = y_seed == std::vector<double>{4, 0, 1, 0} && y_mask == y_seed;
  body +=
      "## 1. The worked example, from the real kernel\n\n"
      "`h = [2.0, 1.5, 0.5, 3.0]`, keep-probability 0.5 (PyTorch's and regrad's `p` = drop probability = 0.5). "
      "`rg::dropout(h, 0.5, true, Generator(" +
      std::to_string(found) +
      "))` is the first seed whose mask is "
      "`[1, 0, 1, 0]`; it returns `" +
      vec(y_seed) +
      "`. The same mask given explicitly, "
      "`rg::dropout_with_mask(h, [1, 0, 1, 0], 0.5)`, returns `" +
      vec(y_mask) + "`: the kept units are scaled by 1/keep = 2, so that nothing changes at test time.\n\n";

  // ---- 2. Monte Carlo: the mean over many masks converges to h ----
  const int64_t n_masks = 200000;
  std::vector<double> sum(4, 0.0);
  std::vector<int64_t> marks;
  for (int64_t m = 10; m <= n_masks; m *= 10) {
    marks.push_back(m);
    if (3 * m <= n_masks) marks.push_back(3 * m);
  }
  if (marks.back() != n_masks) marks.push_back(n_masks);
  report::Table mc{
      {"masks n", "mean of dropout(h)", "largest error, max_i abs(mean_i − h_i)", "one std of the mean, max_i h_i/√n"},
      {}};
  std::string mc_csv = "masks,mean0,mean1,mean2,mean3,max_abs_err\n";
  report::Series mc_err{"max_i |mean_i - h_i|", {}, {}, {}}, mc_ref{"max_i h_i / sqrt(n) (one std)", {}, {}, {}};
  std::vector<report::Series> mc_mean(4);
  for (int i = 0; i < 4; ++i) mc_mean[i].title = "h_" + std::to_string(i) + " = " + report::fmt(kH[i], 1);
  {
    Generator g(12345);  // one stream: every call draws fresh counters
    std::size_t next = 0;
    for (int64_t m = 1; m <= n_masks; ++m) {
      const std::vector<double> y = dropout(h, 0.5, true, g).tolist();
      for (int i = 0; i < 4; ++i) sum[i] += y[i];
      if (next < marks.size() && m == marks[next]) {
        ++next;
        std::vector<double> mean(4);
        double err = 0;
        for (int i = 0; i < 4; ++i) {
          mean[i] = sum[i] / static_cast<double>(m);
          err = std::max(err, std::abs(mean[i] - kH[i]));
          mc_mean[i].x.push_back(static_cast<double>(m));
          mc_mean[i].y.push_back(mean[i]);
        }
        // Each output is 0 or 2·h_i with probability ½: its std is h_i, the mean's h_i/√n.
        const double ref = 3.0 / std::sqrt(static_cast<double>(m));
        mc.add({std::to_string(m), vec(mean, 4), report::fmt(err, 4), report::fmt(ref, 4)});
        mc_csv += std::to_string(m) + "," + report::fmt(mean[0], 6) + "," + report::fmt(mean[1], 6) + "," +
                  report::fmt(mean[2], 6) + "," + report::fmt(mean[3], 6) + "," + report::fmt(err, 6) + "\n";
        mc_err.x.push_back(static_cast<double>(m));
        mc_err.y.push_back(err);
        mc_ref.x.push_back(static_cast<double>(m));
        mc_ref.y.push_back(ref);
        e.log("Monte Carlo n=%lld: mean %s, max error %.4f", static_cast<long long>(m), vec(mean, 4).c_str(), err);
      }
    }
  }
  report::write_file(e.path("_monte_carlo.csv"), mc_csv);
  const double final_err = mc_err.y.back(), final_ref = mc_ref.y.back();
  body += "## 2. The expectation: the mean over " + std::to_string(n_masks) +
          " real masks\n\n"
          "Each call draws a fresh mask from one generator (seed 12345). Each output is 0 or 2·h_i with "
          "probability ½, so its standard deviation is h_i and the mean's is h_i/√n.\n\n" +
          mc.markdown() + "\nThe same numbers: [`dropout_monte_carlo.csv`](dropout_monte_carlo.csv).\n\n";

  // ---- 3. where dropout lives ----
  const std::vector<double> ps = {0.0, 0.1, 0.3, 0.5};
  const std::vector<ModelSpec> models = {
      {"mlp", q ? 500 : 2000, q ? 4 : 20, 100},
      {"cnn-bn", q ? 300 : 1000, q ? 2 : 6, 100},
      {"transformer", q ? 2000 : 3000, q ? 2 : 6, 100},
  };
  const int64_t n_val = q ? 500 : 1000, n_test_img = q ? 1000 : 5000, n_test_words = q ? 2000 : 5000;
  rx::Results res({"model", "p"},
                  {"train_acc", "test_acc", "gap", "train_nll", "test_nll", "nll_gap", "test_acc_no_eval"});
  for (uint64_t seed : seeds) {
    const data::Splits img = rx::image_splits("fashion-mnist", models[0].n_train, n_val, seed, n_test_img);
    data::SplitOptions wo;
    wo.dataset = "words";
    wo.val_size = n_val;
    wo.train_subset = models[2].n_train;
    wo.seed = seed;
    wo.objective = "last";  // the objective of the committed results (the library's default is now "all")
    data::Splits words = data::load_splits(wo);
    words.x_test = slice(words.x_test, 0, 0, n_test_words);
    words.y_test = slice(words.y_test, 0, 0, n_test_words);
    for (const ModelSpec& ms : models) {
      data::Splits d = ms.name == "transformer" ? words : img;
      if (d.x_train.size(0) > ms.n_train) {
        d.x_train = slice(d.x_train, 0, 0, ms.n_train);
        d.y_train = slice(d.y_train, 0, 0, ms.n_train);
      }
      for (double p : ps) {
        train::ModelOptions m;
        m.seed = seed;
        train::FitOptions o = rx::quiet_fit(seed);
        o.epochs = ms.epochs;
        o.batch_size = ms.batch;
        o.weight_decay = 0.0;  // dropout alone
        o.keep_best = false;   // the last epoch: the train/test gap of the trained model
        if (ms.name == "transformer") {
          m.model = "transformer-char";
          m.norm = "ln";
          m.transformer_dropout = p;
          m.objective = "last";
          o.optimizer = "adamw";
          o.lr = 3e-3;
        } else {
          m.model = ms.name == "mlp" ? "mlp" : "cnn";
          m.norm = ms.name == "mlp" ? "none" : "bn";
          m.dropout = p;
          o.lr = 0.05;
          o.momentum = 0.9;
        }
        auto model = train::make_model(m, d.x_train, d.classes);
        const train::FitResult r = train::fit(*model, d, o);
        const train::Metrics tr = train::evaluate(*model, data::DataLoader(d.x_train, d.y_train, 1000, false));
        const double no_eval = accuracy_in_train_mode(*model, d.x_test, d.y_test, seed + 1000);
        res.add({ms.name, report::fmt(p, 1)}, seed,
                {tr.accuracy, r.test.accuracy, tr.accuracy - r.test.accuracy, tr.nll, r.test.nll, r.test.nll - tr.nll,
                 no_eval});
        e.log("seed %llu %s p=%.1f: train acc %.4f, test acc %.4f (train mode %.4f), test nll %.4f, %.1f s",
              static_cast<unsigned long long>(seed), ms.name.c_str(), p, tr.accuracy, r.test.accuracy, no_eval,
              r.test.nll, r.seconds);
      }
    }
  }
  report::write_file(e.path(".csv"), res.csv());

  // Best p per model: highest mean test accuracy for the image models, lowest mean test NLL for
  // the Transformer (next-character accuracy is coarse; the loss is what language models report).
  struct Best {
    double p, lecture_p;
    std::string verdict, measured;
  };
  auto best_of = [&](const std::string& model, bool by_nll, double lecture_p) {
    const std::string metric = by_nll ? "test_nll" : "test_acc";
    double best_p = 0, best_v = by_nll ? INFINITY : -INFINITY;
    for (double p : ps) {
      const double v = rx::mean(res.values({{"model", model}, {"p", report::fmt(p, 1)}}, metric));
      if (by_nll ? v < best_v : v > best_v) best_v = v, best_p = p;
    }
    const std::vector<double> bv = res.values({{"model", model}, {"p", report::fmt(best_p, 1)}}, metric),
                              lv = res.values({{"model", model}, {"p", report::fmt(lecture_p, 1)}}, metric);
    // "Within noise": the lecture's p is within 2 (pooled) standard deviations of the best p.
    const double diff = std::abs(rx::mean(bv) - rx::mean(lv));
    const double noise = 2 * std::sqrt(0.5 * (rx::stddev(bv) * rx::stddev(bv) + rx::stddev(lv) * rx::stddev(lv)));
    const double scale = by_nll ? 1.0 : 100.0;
    const std::string unit = by_nll ? "" : " %";
    std::string measured = "best p = " + report::fmt(best_p, 1) + " (" + metric + " " +
                           rx::mean_std(bv, by_nll ? 4 : 2, scale) + unit + "); p = " + report::fmt(lecture_p, 1) +
                           ": " + rx::mean_std(lv, by_nll ? 4 : 2, scale) + unit;
    std::string verdict;
    if (best_p == lecture_p) verdict = "reproduced";
    else if (seeds.size() >= 2 && diff <= noise) verdict = "partly reproduced";
    else verdict = "not reproduced";
    if (verdict == "partly reproduced") measured += " (within 2 std of the best)";
    return Best{best_p, lecture_p, verdict, measured};
  };
  const Best b_mlp = best_of("mlp", false, 0.5), b_cnn = best_of("cnn-bn", false, 0.0),
             b_tf = best_of("transformer", true, 0.1);

  body +=
      "## 3. Where dropout lives, measured\n\n"
      "Fashion-MNIST training subsets small enough to overfit (validation " +
      std::to_string(n_val) + " images, test: the first " + std::to_string(n_test_img) +
      " test images), no weight decay, no augmentation, the last "
      "epoch's model (no checkpoint selection):\n\n"
      "- **MLP**: 784-512-512-10, ReLU, Dropout(p) after each hidden layer, no normalization; " +
      std::to_string(models[0].n_train) + " training images, " + std::to_string(models[0].epochs) +
      " epochs, SGD (momentum 0.9, lr 0.05, cosine), batch 100.\n"
      "- **CNN + BatchNorm**: [conv3×3 → BatchNorm2d → ReLU → max-pool] × 2 (32, 64 channels) → Linear 128 → "
      "ReLU → Dropout(p) → Linear; " +
      std::to_string(models[1].n_train) + " training images, " + std::to_string(models[1].epochs) +
      " epochs, SGD as the MLP.\n"
      "- **Character Transformer**: 2 pre-LayerNorm blocks, width 64, 4 heads, context 8, on the word list "
      "(/usr/share/dict/words, split by words 80/10/10); the original Transformer's dropout on the embedding "
      "sum and on each residual branch's output (Vaswani et al. 2017; no attention-weight dropout); trained on "
      "the last position's next-character prediction only (objective `last`, pinned in the code; the library's "
      "default is now every position); " +
      std::to_string(models[2].n_train) + " training contexts, " + std::to_string(models[2].epochs) +
      " epochs, AdamW (lr 3e-3, no weight decay, cosine), batch 100; test on the first " +
      std::to_string(n_test_words) +
      " test contexts.\n\n"
      "Train metrics are of the final model in eval mode on its whole training subset; gap = train − test "
      "accuracy; NLL gap = test − train NLL. Mean ± std over " +
      std::to_string(seeds.size()) +
      " seed(s) (subset, initialisation, order, masks).\n\n"
      "| model | p | train acc (%) | test acc (%) | gap (points) | train NLL | test NLL | NLL gap |\n"
      "|---|---|---|---|---|---|---|---|\n";
  for (const ModelSpec& ms : models)
    for (double p : ps) {
      const std::map<std::string, std::string> w{{"model", ms.name}, {"p", report::fmt(p, 1)}};
      body += "| " + ms.name + " | " + report::fmt(p, 1) + " | " + rx::mean_std(res.values(w, "train_acc"), 2, 100) +
              " | " + rx::mean_std(res.values(w, "test_acc"), 2, 100) + " | " +
              rx::mean_std(res.values(w, "gap"), 2, 100) + " | " + rx::mean_std(res.values(w, "train_nll"), 3) + " | " +
              rx::mean_std(res.values(w, "test_nll"), 3) + " | " + rx::mean_std(res.values(w, "nll_gap"), 3) + " |\n";
    }
  body +=
      "\nThe lecture's table beside the measurement (best p: highest mean test accuracy; for the Transformer "
      "lowest mean test NLL):\n\n| model | lecture | best p here | verdict |\n|---|---|---|---|\n"
      "| MLP | 0.5 | " +
      report::fmt(b_mlp.p, 1) + " | " + b_mlp.verdict +
      " |\n"
      "| CNN with BatchNorm | usually absent (0) | " +
      report::fmt(b_cnn.p, 1) + " | " + b_cnn.verdict +
      " |\n"
      "| Transformer | 0.1 | " +
      report::fmt(b_tf.p, 1) + " | " + b_tf.verdict + " |\n\n";

  // ---- 4. the classic bug ----
  body +=
      "## 4. The classic bug: evaluating without `eval()`\n\n"
      "The same trained models evaluated on the test set with the model left in train mode (dropout keeps "
      "dropping; in the CNN BatchNorm also normalises with each 1,000-image evaluation batch's statistics):\n\n"
      "| model | p | test acc, eval() (%) | test acc, train mode (%) | loss (points) |\n|---|---|---|---|---|\n";
  std::vector<double> bug_drop;
  for (const ModelSpec& ms : models)
    for (double p : ps) {
      const std::map<std::string, std::string> w{{"model", ms.name}, {"p", report::fmt(p, 1)}};
      const std::vector<double> on = res.values(w, "test_acc"), off = res.values(w, "test_acc_no_eval");
      std::vector<double> d;
      for (std::size_t i = 0; i < on.size(); ++i) d.push_back(on[i] - off[i]);
      if (ms.name == "mlp" && p == 0.5) bug_drop = d;
      body += "| " + ms.name + " | " + report::fmt(p, 1) + " | " + rx::mean_std(on, 2, 100) + " | " +
              rx::mean_std(off, 2, 100) + " | " + rx::mean_std(d, 2, 100) + " |\n";
    }
  const std::map<std::string, std::string> mlp5{{"model", "mlp"}, {"p", "0.5"}};

  // ---- the plot ----
  report::Plot p_mean{"Monte Carlo mean of dropout(h), keep 0.5", "masks n", "running mean", true, false, mc_mean, {}};
  for (double v : kH)
    p_mean.gnuplot.push_back("set arrow from graph 0, first " + report::fmt(v, 2) + " to graph 1, first " +
                             report::fmt(v, 2) + " nohead dt 2 lc rgb 'gray'");
  report::Plot p_err{
      "Monte Carlo error against 1/sqrt(n)", "masks n", "max abs error", true, true, {mc_err, mc_ref}, {}};
  auto acc_panel = [&](const std::string& metric, const std::string& title, const std::string& ylabel, double scale,
                       const std::vector<std::string>& names) {
    report::Plot pl{title, "dropout p", ylabel, false, false, {}, {}};
    for (const std::string& name : names) {
      report::Series s{name, {}, {}, {}};
      for (double p : ps) {
        std::vector<double> v = res.values({{"model", name}, {"p", report::fmt(p, 1)}}, metric);
        for (double& x : v) x *= scale;
        s.x.push_back(p);
        s.y.push_back(rx::mean(v));
        s.err.push_back(rx::stddev(v));
      }
      pl.series.push_back(s);
    }
    return pl;
  };
  const report::Plot p_acc =
      acc_panel("test_acc", "Test accuracy against p", "test accuracy (%)", 100, {"mlp", "cnn-bn"});
  const report::Plot p_gap =
      acc_panel("gap", "Train - test accuracy gap", "gap (points)", 100, {"mlp", "cnn-bn", "transformer"});
  const report::Plot p_tf =
      acc_panel("test_nll", "Character Transformer: test NLL", "test NLL (nats)", 1, {"transformer"});
  report::plot_png(e.path(".png"), {p_mean, p_err, p_acc, p_gap, p_tf}, 3);
  body += "\n![Monte Carlo convergence; test accuracy, gap and Transformer NLL against p](dropout.png)\n";

  std::vector<rx::Claim> claims;
  claims.push_back({"inverted dropout, h = [2.0, 1.5, 0.5, 3.0], keep 0.5, mask [1, 0, 1, 0] → [4, 0, 1, 0]",
                    "the real kernel (seed " + std::to_string(found) + ") gives " + vec(y_seed) +
                        ", dropout_with_mask " + vec(y_mask),
                    example_ok ? "reproduced" : "not reproduced"});
  claims.push_back({"E[dropout(h)] = h (inverted dropout needs no test-time scaling)",
                    "the mean of " + std::to_string(n_masks) + " real masks is within " + report::fmt(final_err, 4) +
                        " of h (one std of the mean: " + report::fmt(final_ref, 4) + ")",
                    final_err < 3 * final_ref ? "reproduced" : "not reproduced"});
  claims.push_back({"MLP: dropout p = 0.5", b_mlp.measured, b_mlp.verdict});
  claims.push_back({"CNN with BatchNorm: dropout usually absent", b_cnn.measured, b_cnn.verdict});
  claims.push_back({"Transformer: dropout p = 0.1", b_tf.measured, b_tf.verdict});
  {
    const bool hurts = rx::significant_gain(bug_drop);
    claims.push_back({"forgetting eval() leaves dropout on at test time and costs accuracy",
                      "MLP p = 0.5: test accuracy " + rx::mean_std(res.values(mlp5, "test_acc"), 2, 100) +
                          " % with eval(), " + rx::mean_std(res.values(mlp5, "test_acc_no_eval"), 2, 100) +
                          " % in train mode",
                      hurts ? "reproduced" : "not reproduced"});
  }
  rx::write_page(e, "Dropout: the inverted-dropout kernel, where dropout helps, and the eval() bug",
                 "Inverted dropout: at train time keep each unit with probability q and divide by q, so nothing "
                 "changes at test time. Where dropout lives: MLP 0.5; CNN with BatchNorm usually absent; "
                 "Transformer 0.1. Classic bug: forgetting model.eval().",
                 body, claims);
  e.log("done: %s", e.path(".md").c_str());
  return 0;
}
