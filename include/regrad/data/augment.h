// Data augmentation on image batches (N, C, H, W), each op seeded through a Generator, and
// Mixup / CutMix producing soft targets for cross_entropy.
#pragma once
#include <string>
#include <vector>

#include "regrad/tensor/random.h"
#include "regrad/tensor/tensor.h"

namespace rg::data {

// Each image flipped left-right with probability p.
Tensor random_hflip(const Tensor& images, Generator& gen, double p = 0.5);
// Each image flipped upside down with probability p.
Tensor random_vflip(const Tensor& images, Generator& gen, double p = 0.5);
// Zero-pad by `padding` on every side, then crop a random H×W window (the classic CIFAR crop).
Tensor random_crop(const Tensor& images, int64_t padding, Generator& gen);
// With probability p, one random rectangle per image (area in [0.02, 0.33] of the image, aspect
// ratio in [0.3, 3.3], as torchvision's RandomErasing) set to `value`.
Tensor random_erasing(const Tensor& images, Generator& gen, double p = 0.5, double value = 0.0);

// Rotation by `degrees` counter-clockwise about the image centre (bilinear, zero fill), as
// torchvision; random_rotation draws each image's angle uniformly in [−max_degrees, max_degrees].
Tensor rotate(const Tensor& images, double degrees);
Tensor random_rotation(const Tensor& images, double max_degrees, Generator& gen);
// Brightness and contrast factors uniform in [1 − b, 1 + b] and [1 − c, 1 + c] per image:
// x ← clamp(((x − mean)·contrast + mean)·brightness, 0, 1).
Tensor color_jitter(const Tensor& images, double brightness, double contrast, Generator& gen);
// RandAugment (Cubuk et al. 2020): per image, num_ops ops drawn uniformly from
// {identity, rotate, shear-x, shear-y, translate-x, translate-y, brightness, contrast, solarize,
// posterize, autocontrast}, each at `magnitude` on torchvision's 0–30 scale (rotate ±30°·m/30,
// shear ±0.3·m/30, translate ±0.45·size·m/30, brightness/contrast 1 ± 0.9·m/30, solarize threshold
// 1 − m/30, posterize to 8 − ⌊4m/30⌋ bits), with a random sign where it has one.
Tensor rand_augment(const Tensor& images, int num_ops, double magnitude, Generator& gen);

// A pipeline of the per-image augmentations, as `regrad train --augment` and `regrad augment` take it.
struct AugmentSpec {
  bool flip = false, vflip = false, crop = false, rotate = false, jitter = false, randaugment = false;
  int64_t crop_padding = 4;
  double erasing = 0.0;  // random-erasing probability
  // The names parse() accepts, each with what it does (the help texts are made from this table).
  struct Choice {
    const char* name;
    bool AugmentSpec::*flag;
    const char* help;
  };
  static const std::vector<Choice>& choices();
  static std::string help();  // "flip (…), vflip (…), …"
  // A comma-separated list of choices() names; "" is none. Unknown names throw, listing the choices.
  static AugmentSpec parse(const std::string& list, double erasing = 0.0);
  bool any() const { return flip || vflip || crop || rotate || jitter || randaugment || erasing > 0; }
  // In a fixed order: randaugment, rotate, jitter, flip, vflip, crop, erasing, on raw pixels in [0, 1].
  Tensor apply(const Tensor& images, Generator& gen) const;
  // The same on images normalised per channel, x = (raw − mean) / std with mean and std (1, C, 1, 1)
  // as data::Splits carries them (fit calls this): the ops before erasing see raw pixels
  // (un-normalised, augmented, normalised again), so colour ops act on [0, 1] and the zero fill of
  // crop and rotation is black; erasing then acts on the normalised result, so its value 0 is the
  // channel mean, as torchvision's RandomErasing placed after Normalize. The same random draws as
  // apply(images, gen). Undefined mean and std: apply(images, gen).
  Tensor apply(const Tensor& images, Generator& gen, const Tensor& mean, const Tensor& std) const;
};

// Text augmentation on character contexts, int64 (N, T) token indices (the word list's contexts).
// mask_context: each token replaced by `pad` (the padding character '.', index 0) with
// probability p. shuffle_context: with probability p, a context's T tokens (padding included)
// are put in a uniformly random order. Both take N·T uniforms from `gen`, whatever p.
Tensor mask_context(const Tensor& tokens, double p, Generator& gen, int64_t pad = 0);
Tensor shuffle_context(const Tensor& tokens, double p, Generator& gen);

// A draw from Beta(alpha, alpha) (through two Gamma draws, Marsaglia–Tsang).
double sample_beta(double alpha, Generator& gen);

struct Mixed {
  Tensor images;   // mixed inputs
  Tensor targets;  // soft targets (N, K), rows summing to 1
  double lambda;   // weight of the original sample (for CutMix: the kept area)
};
// Mixup (Zhang et al. 2018): λ ~ Beta(α, α), a random permutation π, x = λ·x + (1 − λ)·x[π],
// targets λ·onehot(y) + (1 − λ)·onehot(y[π]).
Mixed mixup(const Tensor& images, const Tensor& labels, int64_t num_classes, double alpha, Generator& gen);
// CutMix (Yun et al. 2019): a box of area (1 − λ)·H·W from x[π] pasted into x; λ is then set to
// the exact kept area, and the targets mix with that λ.
Mixed cutmix(const Tensor& images, const Tensor& labels, int64_t num_classes, double alpha, Generator& gen);

}  // namespace rg::data
