// Train / validation / test splits of the datasets regrad trains on, chosen by name: the one place
// where a dataset is selected, held out and normalised (`regrad train` and the experiments use it).
#pragma once
#include <cstdint>
#include <string>

#include "regrad/tensor/tensor.h"

namespace rg::data {

struct Splits {
  Tensor x_train, y_train, x_val, y_val, x_test, y_test;
  int64_t classes = 10;
  bool images = true;  // false: int64 character contexts
  std::string source;  // the file or directory read
  // Images: the per-channel normalisation the splits carry, x = (raw − mean) / std, both float32
  // (1, C, 1, 1); raw pixels are in [0, 1]. fit hands them to AugmentSpec::apply so that the
  // augmentations see raw pixels. Undefined for words.
  Tensor mean, std;
};

struct SplitOptions {
  // fashion-mnist, mnist (the 10,000 digits in data/mnist, read from the repository root), cifar10 (binary batches),
  // image-folder (root/class/*.png) or words (character level).
  std::string dataset = "fashion-mnist";
  std::string data_dir;      // empty: the dataset's default location
  int64_t val_size = 5000;   // images held out of the training set for validation (seeded)
  int64_t train_subset = 0;  // keep only the first N training examples (0: all)
  int64_t block_size = 8;    // words: context length
  // words: the training objective the targets are built for. "all": per-position targets
  // (N, block_size) from position_targets (every position learns; leading padding ignored, −100);
  // "last": the next character only (N), the last position's prediction. It must match the
  // model's (ModelOptions::objective).
  std::string objective = "all";
  int64_t image_size = 32;     // image-folder: images resized to this size
  double test_fraction = 0.2;  // image-folder: the share held out as the test set
  uint64_t seed = 0;
};

// Images: every split normalised per channel with the mean and std of the whole training file,
// then `val_size` training images held out by a seeded shuffle (seed + 17). Words: split 80/10/10
// by words with split_words(seed + 29); the validation split is the first `val_size` contexts of
// the validation words (at most all of them); targets per `objective`. Throws
// std::invalid_argument for an unknown dataset or a bad size, std::runtime_error for bad files.
Splits load_splits(const SplitOptions& o);

}  // namespace rg::data
