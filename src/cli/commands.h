// Internal: the subcommands of the regrad command line, each registering its own options.
#pragma once
#include <CLI/CLI.hpp>
#include <cstdint>
#include <string>

#include "regrad/data/splits.h"
#include "regrad/train/fit.h"
#include "regrad/train/models.h"

namespace regrad_cli {

struct TrainOptions {
  rg::data::SplitOptions data;
  rg::train::ModelOptions model;
  rg::train::FitOptions fit;
  std::string augment;  // comma-separated names of AugmentSpec::choices()
  double random_erasing = 0;
  int64_t threads = 0;
  std::string log;  // per-epoch CSV; default runs/train_<model>.csv
};

CLI::App* add_train_command(CLI::App& app, TrainOptions& o);
int run_train(TrainOptions o);

struct AugmentOptions {
  std::string dataset = "fashion-mnist", data_dir, augment = "flip,crop", out = "runs/augment.png";
  int64_t n = 8, size = 32;
  double erasing = 0, mixup = 0, cutmix = 0;
  uint64_t seed = 0;
};
CLI::App* add_augment_command(CLI::App& app, AugmentOptions& o);
int run_augment(const AugmentOptions& o);

}  // namespace regrad_cli
