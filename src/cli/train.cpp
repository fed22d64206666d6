// regrad train: flag parsing, then one call of the library's training loop (rg::train::fit).
#include <omp.h>

#include <cstdio>

#include "commands.h"
#include "regrad/regrad.h"

namespace regrad_cli {

using namespace rg;

CLI::App* add_train_command(CLI::App& app, TrainOptions& o) {
  auto* cmd = app.add_subcommand("train",
                                 "Train a model; prints progress, per-epoch validation and a final "
                                 "'test_acc= test_nll= test_ece=' line");
  data::SplitOptions& d = o.data;
  train::ModelOptions& m = o.model;
  train::FitOptions& f = o.fit;
  f.epochs = 5;
  cmd->add_option("--model", m.model,
                  "mlp (784-512-512-10), cnn (2 conv blocks), resnet-small or transformer-char "
                  "(default: transformer-char for --dataset words, else mlp)")
      ->check(CLI::IsMember({"mlp", "cnn", "resnet-small", "transformer-char"}));
  cmd->add_option(
         "--dataset", d.dataset,
         "fashion-mnist, mnist (data/mnist), cifar10 (binary batches), image-folder (root/class/*.png) or words "
         "(character level)")
      ->check(CLI::IsMember({"fashion-mnist", "mnist", "cifar10", "image-folder", "words"}))
      ->capture_default_str();
  cmd->add_option("--block-size", d.block_size, "words: context length")
      ->check(CLI::Range(1, 64))
      ->capture_default_str();
  cmd->add_option("--embed", m.embed, "transformer-char: embedding width")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  cmd->add_option("--heads", m.heads, "transformer-char: attention heads")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  cmd->add_option("--layers", m.layers, "transformer-char: blocks")->check(CLI::PositiveNumber)->capture_default_str();
  cmd->add_option("--placement", m.placement, "transformer-char: norm placement, pre or post")
      ->check(CLI::IsMember({"pre", "post"}))
      ->capture_default_str();
  cmd->add_option("--objective", d.objective,
                  "transformer-char: all (every position predicts its next character; leading padding ignored) or "
                  "last (only the last position, the older objective)")
      ->check(CLI::IsMember({"all", "last"}))
      ->capture_default_str();
  cmd->add_option("--train-subset", d.train_subset, "train on the first N training examples only (0: all)")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
  cmd->add_option("--data-dir", d.data_dir,
                  std::string("dataset directory or word list (default ") + data::kFashionMnistDir + " or " +
                      data::kDefaultWordsPath + "; required for cifar10 and image-folder)");
  cmd->add_option("--image-size", d.image_size, "image-folder: images resized to this size")->capture_default_str();
  cmd->add_option("--test-fraction", d.test_fraction, "image-folder: share held out as the test set")
      ->check(CLI::Range(0.05, 0.5))
      ->capture_default_str();
  cmd->add_option("--epochs", f.epochs, "epochs")->check(CLI::PositiveNumber)->capture_default_str();
  cmd->add_option("--batch-size", f.batch_size, "mini-batch size")->check(CLI::PositiveNumber)->capture_default_str();
  cmd->add_option("--lr", f.lr, "peak learning rate")->check(CLI::PositiveNumber)->capture_default_str();
  cmd->add_option("--optimizer", f.optimizer, "sgd (momentum, coupled L2) or adamw (decoupled decay)")
      ->check(CLI::IsMember({"sgd", "adamw"}))
      ->capture_default_str();
  cmd->add_option("--momentum", f.momentum, "SGD momentum")->capture_default_str();
  cmd->add_option("--weight-decay", f.weight_decay, "L2 (sgd) or decoupled (adamw) weight decay")
      ->capture_default_str();
  cmd->add_option("--l1", f.l1, "L1 penalty, applied as a proximal soft-threshold step")->capture_default_str();
  cmd->add_option("--schedule", f.schedule, "cosine (with --warmup steps) or const")
      ->check(CLI::IsMember({"cosine", "const"}))
      ->capture_default_str();
  cmd->add_option("--warmup", f.warmup, "linear warmup steps")->check(CLI::NonNegativeNumber)->capture_default_str();
  cmd->add_option("--dropout", m.dropout, "image models: drop probability p of the Dropout layers (0 removes them)")
      ->check(CLI::Range(0.0, 1.0))
      ->capture_default_str();
  cmd->add_option("--norm", m.norm,
                  "bn, gn, ln, rms or none for the image models (default bn); ln or rms for "
                  "transformer-char (default ln)")
      ->check(CLI::IsMember({"bn", "gn", "ln", "rms", "none"}));
  cmd->add_option("--label-smoothing", f.label_smoothing, "label smoothing epsilon")
      ->check(CLI::Range(0.0, 1.0))
      ->capture_default_str();
  cmd->add_option("--augment", o.augment,
                  "per-batch augmentation, a comma-separated list of: " + data::AugmentSpec::help());
  cmd->add_option("--random-erasing", o.random_erasing, "random erasing probability")->check(CLI::Range(0.0, 1.0));
  cmd->add_option("--mixup", f.mixup, "Mixup alpha (0: off); targets become soft")->check(CLI::NonNegativeNumber);
  cmd->add_option("--cutmix", f.cutmix, "CutMix alpha (0: off; with --mixup, each batch picks one at random)")
      ->check(CLI::NonNegativeNumber);
  cmd->add_option("--max-grad-norm", f.max_grad_norm, "clip the gradient norm (0: off)")->capture_default_str();
  cmd->add_option("--val-size", d.val_size, "examples held out for validation (words: the first N validation contexts)")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
  cmd->add_option("--patience", f.patience, "early stopping: epochs without a better val loss (0: off)")
      ->capture_default_str();
  cmd->add_option("--seed", f.seed, "seed for the split, initialisation, shuffling and dropout")->capture_default_str();
  cmd->add_option("--threads", o.threads, "OpenMP threads (0: OMP_NUM_THREADS or all cores)")->capture_default_str();
  cmd->add_option("--log", o.log, "per-epoch CSV log (default runs/train_<model>.csv)");
  cmd->add_option("--checkpoint", f.checkpoint, "write the best model here (atomically)");
  cmd->add_option("--save-state", f.save_state, "after every epoch, write the full training state here (atomically)");
  cmd->add_option("--resume", f.resume, "continue from a --save-state file: the same numbers as an uninterrupted run")
      ->check(CLI::ExistingFile);
  return cmd;
}

int run_train(TrainOptions o) {
  if (o.threads > 0) omp_set_num_threads(static_cast<int>(o.threads));
  o.fit.augment = data::AugmentSpec::parse(o.augment, o.random_erasing);
  o.data.seed = o.model.seed = o.fit.seed;
  o.model.objective = o.data.objective;
  const data::Splits d = data::load_splits(o.data);
  const std::shared_ptr<nn::Module> model = train::make_model(o.model, d.x_train, d.classes);
  const std::string name = !o.model.model.empty() ? o.model.model : d.images ? "mlp" : "transformer-char";
  o.fit.log_csv = o.log.empty() ? "runs/train_" + name + ".csv" : o.log;
  int64_t count = 0;
  for (const Tensor& p : model->parameters()) count += p.numel();
  std::printf(
      "regrad train: %s (%lld parameters) on %s, %s, lr %g, weight decay %g, l1 %g, label smoothing %g, "
      "augment '%s', erasing %g, mixup %g, cutmix %g, seed %llu, %d threads, OpenBLAS kernels %s\n",
      name.c_str(), static_cast<long long>(count), o.data.dataset.c_str(), o.fit.optimizer.c_str(), o.fit.lr,
      o.fit.weight_decay, o.fit.l1, o.fit.label_smoothing, o.augment.c_str(), o.random_erasing, o.fit.mixup,
      o.fit.cutmix, static_cast<unsigned long long>(o.fit.seed), omp_get_max_threads(), blas_kernels().c_str());
  std::printf("data: %lld train, %lld val, %lld test %s from %s%s\n", static_cast<long long>(d.x_train.size(0)),
              static_cast<long long>(d.x_val.size(0)), static_cast<long long>(d.x_test.size(0)),
              d.images ? "images" : "contexts", d.source.c_str(),
              d.images                    ? ""
              : o.data.objective == "all" ? " (objective all: every position's next character)"
                                          : " (objective last: the last position's next character)");

  const train::FitResult r = train::fit(*model, d, o.fit);
  if (r.diverged) {
    std::fprintf(stderr, "error: %s; stopping (try a smaller --lr or --max-grad-norm)\n", r.stop_reason.c_str());
    return 1;
  }
  std::printf("best epoch %lld (val nll %.4f); wall %.1f s; log %s\n", static_cast<long long>(r.best_epoch),
              r.best_val_nll, r.seconds, o.fit.log_csv.c_str());
  std::printf("test_acc=%.4f test_nll=%.4f test_ece=%.4f\n", r.test.accuracy, r.test.nll, r.test.ece);
  return 0;
}

}  // namespace regrad_cli
