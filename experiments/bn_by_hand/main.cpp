// bn_by_hand — notebook 6b, "BatchNorm1d by hand", in C++. Read it top to bottom; the exercises
// themselves are in bn_by_hand.cpp. Run: make bn-by-hand  (or build/bn_by_hand --help)
#include <CLI/CLI.hpp>
#include <chrono>
#include <cstdio>
#include <filesystem>

#include "bn_by_hand.h"

using namespace rg;
using namespace bnh;

struct Options {
  std::string words = data::kDefaultWordsPath, out = "runs/bn_by_hand", name = "bn_by_hand", reference,
              export_reference;
  std::string dtype = "float32";
  int64_t hidden = kDefaultHidden, steps = 30000, lr_decay_step = -1, log_every = 1000, samples = 20;
  double lr = 0.1, label_smoothing = 0.1;
  uint64_t seed = 42;
};

// The command that reproduces a run: every option that changes the numbers, with its value.
static std::string command_line(const Options& o) {
  return "build/bn_by_hand --words " + o.words + " --hidden " + std::to_string(o.hidden) + " --steps " +
         std::to_string(o.steps) + " --lr " + report::fmt_g(o.lr) + " --lr-decay-step " +
         std::to_string(o.lr_decay_step) + " --seed " + std::to_string(o.seed) + " --dtype " + o.dtype +
         " --log-every " + std::to_string(o.log_every) + " --out " + o.out + " --name " + o.name;
}

// makemore part 4 ("becoming a backprop ninja"), exercise 4: names.txt, embedding 10, hidden 200,
// block 3, batch 32, 200,000 steps, lr 0.1 then 0.01 from step 100,000, 80/10/10 split, BatchNorm
// calibrated over the training split at the end. The notebook shows two runs of the same code:
// its output cell, and the "I achieved" comment under it.
struct MakemoreRun {
  const char* what;
  double train, val;
};
constexpr MakemoreRun kMakemore[] = {
    {"makemore part 4, output cell", 2.070523500442505, 2.109893560409546},
    {"makemore part 4, \"I achieved\" comment", 2.0718822479248047, 2.1162495613098145}};

static bool is_makemore_setting(const Options& o) {
  return std::filesystem::path(o.words).filename() == "names.txt" && o.hidden == 200 && o.steps == 200000 &&
         o.lr == 0.1 && o.lr_decay_step == 100000;
}

// The comparison section of the results: makemore's numbers, ours, and why they cannot be equal.
static std::string makemore_section(double train, double val) {
  report::Table t{{"run", "train loss", "val loss"}, {}};
  for (const MakemoreRun& r : kMakemore) t.add({r.what, report::fmt(r.train), report::fmt(r.val)});
  t.add({"this run, calibrated statistics", report::fmt(train), report::fmt(val)});
  const double dtrain = train - kMakemore[0].train, dval = val - kMakemore[0].val;
  const bool close = std::abs(dtrain) <= 0.02 && std::abs(dval) <= 0.02;
  return "## Against makemore part 4 (exercise 4, the same setting)\n\n" + t.markdown() +
         "\nThis run minus makemore's output cell: train " + report::fmt(dtrain) + ", val " + report::fmt(dval) +
         " nats (" + (close ? "within" : "outside") + " ±0.02).\n\n" +
         "Equality is not expected: the words are shuffled into train/val/test by another generator (makemore: "
         "Python's `random.seed(42)`), so the validation words differ; the initialisation and the mini-batches come "
         "from regrad's Philox generator, not PyTorch's; and the training BatchNorm divides the batch variance by n "
         "(as nn.BatchNorm1d), where makemore divides by n − 1. The evaluation is makemore's: BatchNorm statistics "
         "calibrated over the training split (unbiased variance). makemore's own two runs of the same code differ by " +
         report::fmt(kMakemore[1].train - kMakemore[0].train) + " (train) and " +
         report::fmt(kMakemore[1].val - kMakemore[0].val) + " (val).\n\n";
}

static void print_table(const std::vector<CmpResult>& rows, report::Table& md) {
  for (const CmpResult& r : rows) {
    std::printf("%s\n", r.line().c_str());
    md.add({r.name, r.exact ? "True" : "False", r.approximate ? "True" : "False", report::fmt_g(r.maxdiff)});
  }
}

int main(int argc, char** argv) {
  rg::keep_freed_memory();
  Options o;
  CLI::App app{
      "Notebook 6b in C++: a makemore MLP with BatchNorm1d, every backward written by hand and compared "
      "with autograd and PyTorch, then trained with the manual backward only."};
  app.add_option("--words", o.words,
                 "word list, lower-case a-z words one per line (Debian's wamerican; "
                 "data/names.txt is makemore's)")
      ->capture_default_str();
  app.add_option("--hidden", o.hidden, "hidden units (makemore's exercise 4: 200)")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  app.add_option("--steps", o.steps, "training steps (exercise 4)")->capture_default_str()->check(CLI::PositiveNumber);
  app.add_option("--lr", o.lr, "SGD learning rate, divided by 10 from --lr-decay-step")->capture_default_str();
  app.add_option("--lr-decay-step", o.lr_decay_step, "first step with lr/10 (default: 3/4 of --steps)")
      ->check(CLI::NonNegativeNumber);
  app.add_option("--seed", o.seed, "seed for the split, the initialisation and the batches")->capture_default_str();
  app.add_option("--dtype", o.dtype, "float32 or float64")
      ->capture_default_str()
      ->check(CLI::IsMember({"float32", "float64"}));
  app.add_option("--log-every", o.log_every, "print the loss and write a row of the CSV every N steps")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  app.add_option("--label-smoothing", o.label_smoothing, "epsilon of exercise 3's smoothed version")
      ->capture_default_str();
  app.add_option("--samples", o.samples, "words to sample at the end")->capture_default_str();
  app.add_option("--out", o.out, "directory for the results (make bn-by-hand-results writes experiments/results)")
      ->capture_default_str();
  app.add_option("--name", o.name, "file name of the results: NAME.md, NAME.csv, NAME.png")->capture_default_str();
  app.add_option("--reference", o.reference,
                 "PyTorch reference directory (default: experiments/bn_by_hand/reference/<dtype>)");
  app.add_option("--export-reference", o.export_reference, "write the reference inputs for PyTorch here and exit");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : 2;
  }
  if (o.lr_decay_step < 0) o.lr_decay_step = o.steps * 3 / 4;
  const DType dt = o.dtype == "float64" ? DType::Float64 : DType::Float32;
  // Exercises 2, 3 and the PyTorch check compare different formulas of the same quantity: the
  // tolerance is the dtype's (float32 rounding of O(1) values; float64's).
  const double atol = dt == DType::Float32 ? 1e-5 : 1e-12;
  if (o.reference.empty()) o.reference = "experiments/bn_by_hand/reference/" + o.dtype;
  const auto t0 = std::chrono::steady_clock::now();
  report::Table cmp_md{{"tensor", "exact", "approximate", "maxdiff"}, {}};

  try {
    // ---- 1. Data: the word list as (3-character context → next character) pairs ----
    const Data data = load_data(o.words, o.seed);
    std::printf("== data: %s, split 80/10/10 by words (seed %llu): %lld / %lld / %lld examples\n", o.words.c_str(),
                static_cast<unsigned long long>(o.seed), static_cast<long long>(data.train.X.size(0)),
                static_cast<long long>(data.val.X.size(0)), static_cast<long long>(data.test.X.size(0)));

    // ---- 2. Model: C (27×10) → concat → W1, b1 (30→H) → BatchNorm1d → tanh → W2, b2 (H→27) ----
    Params p = init_params(o.seed, dt, o.hidden);
    int64_t count = 0;
    for (auto& [name, t] : p.named()) count += t->numel();
    std::printf("== model: hidden %lld, %lld parameters, %s\n", static_cast<long long>(o.hidden),
                static_cast<long long>(count), o.dtype.c_str());

    // One batch of 32, forward with every intermediate kept, and autograd's backward.
    Generator batch_gen(o.seed + 1);
    const Tensor ix = randint(0, data.train.X.size(0), {32}, batch_gen);
    const Tensor Xb = index_select(data.train.X, 0, ix), Yb = index_select(data.train.Y, 0, ix);
    if (!o.export_reference.empty()) {
      export_reference_inputs(o.export_reference, p, Xb, Yb);
      std::printf("wrote the reference inputs to %s\n", o.export_reference.c_str());
      return 0;
    }
    const Forward f = forward(p, Xb, Yb, true);
    f.loss.backward();
    std::printf("   first batch loss %.4f (log 27 = %.4f)\n\n", f.loss.item(), std::log(27.0));

    // ---- 3. Exercise 1: backprop through every atom by hand ----
    std::printf("== exercise 1: every gradient by hand vs autograd\n");
    const NamedGrads grads = manual_backward(f, p, Xb, Yb);
    std::vector<CmpResult> ex1;
    for (const auto& [name, g] : grads) {
      Tensor autograd_grad;
      for (auto& [pn, t] : p.named())
        if (pn == name) autograd_grad = t->grad();
      for (const auto& [fn, t] : f.named())
        if (fn == name) autograd_grad = t.grad();
      ex1.push_back(cmp(name, g, autograd_grad));
    }
    print_table(ex1, cmp_md);

    // ---- 4. Exercise 2: BatchNorm's backward in one expression ----
    std::printf("\n== exercise 2: dhprebn = γ·rstd/n·(n·dy − Σdy − x̂·Σ(dy·x̂)) in one expression\n");
    const Tensor dhpreact = lookup(grads, "hpreact");
    const Tensor dhprebn = batchnorm_backward_fused(dhpreact, p.bngain, f.bnvar_inv, f.bnraw);
    std::vector<CmpResult> ex2{cmp("hprebn (fused)", dhprebn, f.hprebn.grad(), 0, atol)};
    Tensor xl = f.hprebn.detach().clone().requires_grad_();
    Tensor w = p.bngain.detach().reshape({o.hidden}).clone().requires_grad_();
    Tensor b = p.bnbias.detach().reshape({o.hidden}).clone().requires_grad_();
    const Tensor y = batch_norm(xl, {}, {}, w, b, true, 0.1, kEps);
    y.backward(dhpreact);
    ex2.push_back(cmp("batch_norm: y", y, f.hpreact.detach(), 0, atol));
    ex2.push_back(cmp("batch_norm: dx", xl.grad(), f.hprebn.grad(), 0, atol));
    ex2.push_back(cmp("batch_norm: dw", w.grad(), p.bngain.grad().reshape({o.hidden}), 0, atol));
    ex2.push_back(cmp("batch_norm: db", b.grad(), p.bnbias.grad().reshape({o.hidden}), 0, atol));
    print_table(ex2, cmp_md);

    // ---- 5. Exercise 3: cross-entropy's backward in one expression ----
    std::printf("\n== exercise 3: dlogits = (softmax − onehot)/n, and label-smoothed (eps %.2f)\n", o.label_smoothing);
    std::vector<CmpResult> ex3{
        cmp("logits (fused)", cross_entropy_backward_fused(f.logits, Yb), f.logits.grad(), 0, atol)};
    Tensor zl = f.logits.detach().clone().requires_grad_();
    cross_entropy(zl, Yb, Reduction::Mean, o.label_smoothing).backward();
    ex3.push_back(
        cmp("logits (smooth)", cross_entropy_backward_fused(f.logits, Yb, o.label_smoothing), zl.grad(), 0, atol));
    print_table(ex3, cmp_md);

    // ---- 6. The check against PyTorch's nn.BatchNorm1d ----
    std::printf("\n== PyTorch: nn.BatchNorm1d on this batch (reference in %s)\n", o.reference.c_str());
    std::vector<CmpResult> torch_rows;
    if (std::filesystem::exists(o.reference + "/expected/y.npy")) {
      torch_rows = check_against_pytorch(o.reference, atol);
      print_table(torch_rows, cmp_md);
    } else {
      std::printf("(no reference files: see tests/reference/make_bn_by_hand_reference.py)\n");
    }

    // ---- 7. Exercise 4: train with the manual backward only ----
    std::printf("\n== exercise 4: %lld SGD steps with the manual backward only (lr %.3g, then %.3g from step %lld)\n",
                static_cast<long long>(o.steps), o.lr, o.lr / 10, static_cast<long long>(o.lr_decay_step));
    Params model = init_params(o.seed, dt, o.hidden);
    Running running = initial_running(model);
    const auto t_train = std::chrono::steady_clock::now();
    const TrainLog log = bnh::train(model, running, data.train, o.steps, o.lr, o.lr_decay_step, o.seed + 2,
                                    /*manual=*/true, o.log_every, 32, &data.val, /*print=*/true);
    const double train_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t_train).count();
    std::printf("  %.1f s, %.0f steps/s (val evaluations included)\n", train_s, static_cast<double>(o.steps) / train_s);

    const double tr = split_loss(model, running, data.train), va = split_loss(model, running, data.val);
    const Running calibrated = calibrate(model, data.train);
    const double tr_c = split_loss(model, calibrated, data.train), va_c = split_loss(model, calibrated, data.val);
    const double dmean = max(abs(calibrated.mean - running.mean)).item();
    const double dvar = max(abs(calibrated.var - running.var)).item();
    const double var_scale = max(calibrated.var).item();
    std::printf("\n  eval-mode BatchNorm, running statistics:   train %.4f  val %.4f\n", tr, va);
    std::printf("  eval-mode BatchNorm, calibrated statistics: train %.4f  val %.4f\n", tr_c, va_c);
    std::printf("  running vs calibrated: max |Δmean| %.4f, max |Δvar| %.4f (largest var %.3f)\n", dmean, dvar,
                var_scale);

    // ---- 8. Samples from the trained model ----
    std::printf("\n== %lld words sampled from the model\n", static_cast<long long>(o.samples));
    Generator sample_gen(o.seed + 3);
    std::vector<std::string> words;
    for (int64_t k = 0; k < o.samples; ++k) words.push_back(sample_word(model, running, sample_gen));
    for (const auto& w_ : words) std::printf("  %s\n", w_.c_str());

    // ---- 9. Results: Markdown, CSV and a plot ----
    report::Table curve{{"step", "train_batch_loss_mean", "val_loss_running_stats"}, {}};
    for (std::size_t k = 0; k < log.step.size(); ++k)
      curve.add({std::to_string(log.step[k]), report::fmt(log.loss[k]), report::fmt(log.val_loss[k])});
    const std::string base = o.out + "/" + o.name;
    report::write_file(base + ".csv", curve.csv());
    report::Table losses{{"statistics", "train loss", "val loss"}, {}};
    losses.add({"running (momentum 0.1)", report::fmt(tr), report::fmt(va)});
    losses.add({"calibrated (whole train split)", report::fmt(tr_c), report::fmt(va_c)});
    const std::string words_file = std::filesystem::path(o.words).filename().string();
    std::string md = "# BatchNorm1d by hand (notebook 6b)\n\n`" + command_line(o) + "`\n\n" + "Data: `" + o.words +
                     "`, split 80/10/10 by words: " + std::to_string(data.train.X.size(0)) + " / " +
                     std::to_string(data.val.X.size(0)) + " / " + std::to_string(data.test.X.size(0)) +
                     " examples. Model: hidden " + std::to_string(o.hidden) + ", " + std::to_string(count) +
                     " parameters.\n\n" + "## Gradients: by hand vs autograd vs PyTorch\n\n" + cmp_md.markdown() +
                     "\n## Training with the manual backward (" + std::to_string(o.steps) + " steps, lr " +
                     report::fmt_g(o.lr) + " then " + report::fmt_g(o.lr / 10) + " from step " +
                     std::to_string(o.lr_decay_step) + ", " + report::fmt(train_s, 1) + " s)\n\n" + losses.markdown() +
                     "\nmax |Δmean| " + report::fmt(dmean) + ", max |Δvar| " + report::fmt(dvar) +
                     " between running and calibrated statistics.\n\n" + "![loss](" + o.name + ".png)\n\n";
    if (is_makemore_setting(o)) md += makemore_section(tr_c, va_c);
    md += "## Samples\n\n";
    for (const auto& w_ : words) md += "- " + w_ + "\n";
    report::write_file(base + ".md", md);
    report::plot_png(
        base + ".csv", base + ".png",
        "makemore MLP + BatchNorm1d on " + words_file + ", hidden " + std::to_string(o.hidden) + ", manual backward",
        "step", "cross-entropy (nats)", 1, {2, 3});
    std::printf("\nwrote %s.md, .csv, .png  (total %.1f s)\n", base.c_str(),
                std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());

    bool ok = true;
    for (const auto* rows : {&ex1, &ex2, &ex3, &torch_rows})
      for (const CmpResult& r : *rows) ok = ok && r.approximate;
    if (!ok) std::printf("SOME COMPARISONS FAILED\n");
    return ok ? 0 : 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "bn_by_hand: %s\n", e.what());
    return 2;
  }
}
