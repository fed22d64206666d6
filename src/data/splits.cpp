#include "regrad/data/splits.h"

#include <stdexcept>

#include "regrad/data/idx.h"
#include "regrad/data/images.h"
#include "regrad/data/loader.h"
#include "regrad/data/words.h"
#include "regrad/ops/elementwise.h"
#include "regrad/ops/reduce.h"
#include "regrad/ops/shape_ops.h"

namespace rg::data {

static Splits word_splits(const SplitOptions& o) {
  Splits s;
  s.source = o.data_dir.empty() ? kDefaultWordsPath : o.data_dir;
  const WordSplits w = split_words(load_words(s.source), o.block_size, o.seed + 29);
  if (o.objective != "all" && o.objective != "last")
    throw std::invalid_argument("unknown objective '" + o.objective + "' (expected all or last)");
  const int64_t n_val = w.val.X.size(0);
  if (o.val_size < 0 || o.val_size > n_val)
    throw std::invalid_argument("val_size must be in [0, " + std::to_string(n_val) + "] for the word list (" +
                                std::to_string(n_val) + " validation contexts)");
  auto targets = [&](const CharDataset& c) { return o.objective == "all" ? position_targets(c.X, c.Y) : c.Y; };
  s.x_train = w.train.X;
  s.y_train = targets(w.train);
  s.x_val = slice(w.val.X, 0, 0, o.val_size);
  s.y_val = slice(targets(w.val), 0, 0, o.val_size);
  s.x_test = w.test.X;
  s.y_test = targets(w.test);
  s.classes = kVocab;
  s.images = false;
  return s;
}

static Splits image_splits(const SplitOptions& o) {
  Splits s;
  ImageDataset train_all, test;
  if (o.dataset != "fashion-mnist" && o.dataset != "mnist" && o.dataset != "cifar10" && o.dataset != "image-folder")
    throw std::invalid_argument("unknown dataset '" + o.dataset +
                                "' (expected fashion-mnist, mnist, cifar10, image-folder or words)");
  if (o.dataset == "fashion-mnist") {
    s.source = o.data_dir.empty() ? kFashionMnistDir : o.data_dir;
    train_all = load_fashion_mnist(s.source, true);
    test = load_fashion_mnist(s.source, false);
  } else if (o.dataset == "mnist") {
    s.source = o.data_dir.empty() ? kMnistDir : o.data_dir;
    train_all = load_mnist_digits(s.source, true);
    test = load_mnist_digits(s.source, false);
  } else if (o.data_dir.empty()) {
    throw std::invalid_argument("a data directory is required for the dataset '" + o.dataset + "'");
  } else if (o.dataset == "cifar10") {
    s.source = o.data_dir;
    train_all = load_cifar10(s.source, true);
    test = load_cifar10(s.source, false);
  } else {  // an image folder, split into train and test by a seeded shuffle
    s.source = o.data_dir;
    const ImageFolder folder = load_image_folder(s.source, o.image_size);
    s.classes = static_cast<int64_t>(folder.classes.size());
    const int64_t n = folder.data.images.size(0);
    const int64_t n_test = std::max<int64_t>(1, static_cast<int64_t>(o.test_fraction * static_cast<double>(n)));
    const Batch all = DataLoader(folder.data.images, folder.data.labels, n, true, false, o.seed + 23).batch(0);
    test = {slice(all.x, 0, 0, n_test), slice(all.y, 0, 0, n_test)};
    train_all = {slice(all.x, 0, n_test, n), slice(all.y, 0, n_test, n)};
  }
  const int64_t n_all = train_all.images.size(0);
  if (o.val_size < 0 || o.val_size >= n_all)
    throw std::invalid_argument("val_size must be in [0, " + std::to_string(n_all) + ")");
  const Batch shuffled = DataLoader(train_all.images, train_all.labels, n_all, true, false, o.seed + 17).batch(0);
  const int64_t n_train = n_all - o.val_size;
  const Tensor mean = rg::mean(train_all.images, {0, 2, 3}, true).detach();
  const Tensor std = rg::sqrt(var(train_all.images, {0, 2, 3}, false, true) + 1e-12).detach();
  auto normalise = [&](const Tensor& x) { return ((x - mean) / std).detach(); };
  s.x_train = normalise(slice(shuffled.x, 0, 0, n_train));
  s.y_train = slice(shuffled.y, 0, 0, n_train);
  s.x_val = normalise(slice(shuffled.x, 0, n_train, n_all));
  s.y_val = slice(shuffled.y, 0, n_train, n_all);
  s.x_test = normalise(test.images);
  s.y_test = test.labels;
  s.mean = mean;
  s.std = std;
  return s;
}

Splits load_splits(const SplitOptions& o) {
  Splits s = o.dataset == "words" ? word_splits(o) : image_splits(o);
  if (o.train_subset < 0) throw std::invalid_argument("train_subset must be >= 0");
  if (o.train_subset > 0 && o.train_subset < s.x_train.size(0)) {  // a quick run on the first examples
    s.x_train = slice(s.x_train, 0, 0, o.train_subset);
    s.y_train = slice(s.y_train, 0, 0, o.train_subset);
  }
  return s;
}

}  // namespace rg::data
