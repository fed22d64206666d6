// regrad augment: a PNG grid of originals (top row) and their augmented versions (bottom row).
#include <cstdio>

#include "commands.h"
#include "regrad/regrad.h"

namespace regrad_cli {

using namespace rg;

CLI::App* add_augment_command(CLI::App& app, AugmentOptions& o) {
  auto* cmd = app.add_subcommand("augment", "Write a PNG grid: originals on top, augmented below");
  cmd->add_option("--dataset", o.dataset, "fashion-mnist, cifar10 or image-folder")
      ->check(CLI::IsMember({"fashion-mnist", "cifar10", "image-folder"}))
      ->capture_default_str();
  cmd->add_option("--data-dir", o.data_dir, "dataset directory (required for cifar10 and image-folder)");
  cmd->add_option("--size", o.size, "image-folder: images are resized to size×size")->capture_default_str();
  cmd->add_option("--n", o.n, "images in the grid's row")->check(CLI::Range(1, 64))->capture_default_str();
  cmd->add_option("--augment", o.augment, "a comma-separated list of: " + data::AugmentSpec::help() + " (empty: none)")
      ->capture_default_str();
  cmd->add_option("--erasing", o.erasing, "random erasing probability")->check(CLI::Range(0.0, 1.0));
  cmd->add_option("--mixup", o.mixup, "Mixup alpha (0: off)")->check(CLI::NonNegativeNumber);
  cmd->add_option("--cutmix", o.cutmix, "CutMix alpha (0: off; wins over --mixup)")->check(CLI::NonNegativeNumber);
  cmd->add_option("--seed", o.seed, "seed")->capture_default_str();
  cmd->add_option("--out", o.out, "PNG path")->capture_default_str();
  return cmd;
}

int run_augment(const AugmentOptions& o) {
  const data::AugmentSpec spec = data::AugmentSpec::parse(o.augment, o.erasing);
  data::ImageDataset ds;
  if (o.dataset == "fashion-mnist") {
    ds = data::load_fashion_mnist(o.data_dir.empty() ? data::kFashionMnistDir : o.data_dir, false);
  } else if (o.data_dir.empty()) {
    throw std::invalid_argument("--data-dir is required for " + o.dataset);
  } else if (o.dataset == "cifar10") {
    ds = data::load_cifar10(o.data_dir, false);
  } else {
    ds = data::load_image_folder(o.data_dir, o.size).data;
  }
  Generator gen(o.seed);
  const Tensor idx = randint(0, ds.images.size(0), {o.n}, gen);
  const Tensor originals = index_select(ds.images, 0, idx), labels = index_select(ds.labels, 0, idx);
  Tensor augmented = spec.apply(originals, gen);
  double lambda = 1.0;
  if (o.cutmix > 0 || o.mixup > 0) {
    const data::Mixed m = o.cutmix > 0 ? data::cutmix(augmented, labels, 10, o.cutmix, gen)
                                       : data::mixup(augmented, labels, 10, o.mixup, gen);
    augmented = m.images;
    lambda = m.lambda;
  }
  const int64_t scale = std::max<int64_t>(1, 96 / originals.size(2));  // small images drawn larger
  data::write_png_grid(o.out, cat({originals, augmented}, 0), o.n, scale);
  std::printf("wrote %s: %lld originals (top) and augmented (bottom)", o.out.c_str(), static_cast<long long>(o.n));
  if (o.cutmix > 0 || o.mixup > 0) std::printf(", %s lambda %.3f", o.cutmix > 0 ? "CutMix" : "Mixup", lambda);
  std::printf("\n");
  return 0;
}

}  // namespace regrad_cli
