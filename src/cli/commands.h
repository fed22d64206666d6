// Internal: the subcommands of the regrad command line, each registering its own options.
#pragma once
#include <CLI/CLI.hpp>
#include <cstdint>
#include <string>

namespace regrad_cli {

struct TrainOptions {
  std::string model = "mlp", dataset = "fashion-mnist", data_dir, optimizer = "sgd", norm = "bn", schedule = "cosine";
  std::string log, checkpoint, save_state, resume;
  int64_t epochs = 5, batch_size = 128, val_size = 5000, warmup = 0, patience = 0, threads = 0, image_size = 32;
  double test_fraction = 0.2;
  int64_t block_size = 8, embed = 64, heads = 4, layers = 2, train_subset = 0;
  std::string placement = "pre";
  double lr = 0.05, momentum = 0.9, weight_decay = 5e-4, l1 = 0, dropout = 0.1, label_smoothing = 0, max_grad_norm = 0;
  std::string augment;  // comma-separated: flip, crop
  double mixup = 0, cutmix = 0, random_erasing = 0;
  uint64_t seed = 0;
};

CLI::App* add_train_command(CLI::App& app, TrainOptions& o);
int run_train(const TrainOptions& o);

struct AugmentOptions {
  std::string dataset = "fashion-mnist", data_dir, augment = "flip,crop", out = "experiments/results/augment.png";
  int64_t n = 8, size = 32;
  double erasing = 0, mixup = 0, cutmix = 0;
  uint64_t seed = 0;
};
CLI::App* add_augment_command(CLI::App& app, AugmentOptions& o);
int run_augment(const AugmentOptions& o);

}  // namespace regrad_cli
