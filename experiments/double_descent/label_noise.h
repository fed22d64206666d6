// Label noise for model-wise double descent (Nakkiran et al. 2019, "Deep Double Descent"): a
// fixed fraction of the training labels replaced by a uniformly drawn *wrong* class.
#pragma once
#include <cmath>
#include <cstdint>
#include <numeric>
#include <stdexcept>
#include <string>
#include <vector>

#include "regrad/data/shuffle.h"
#include "regrad/tensor/tensor.h"

namespace dd {

// A copy of the int64 `labels` (N) in which exactly round(fraction·N) examples, chosen by a
// seeded shuffle, carry another class, drawn uniformly from the other classes − 1. The same seed
// gives the same noisy labels.
inline rg::Tensor with_label_noise(const rg::Tensor& labels, int64_t classes, double fraction, uint64_t seed) {
  if (labels.dtype() != rg::DType::Int64 || labels.dim() != 1)
    throw std::invalid_argument("with_label_noise: labels must be int64 (N), got " + rg::to_string(labels.dtype()) +
                                " " + rg::to_string(labels.shape()));
  if (!(fraction >= 0 && fraction <= 1) || classes < 2)
    throw std::invalid_argument("with_label_noise: need fraction in [0, 1] and at least 2 classes");
  const int64_t n = labels.size(0), flips = std::llround(fraction * static_cast<double>(n));
  rg::Tensor out = labels.clone();
  int64_t* y = out.data<int64_t>();
  std::vector<int64_t> order(static_cast<std::size_t>(n));
  std::iota(order.begin(), order.end(), 0);
  rg::Generator gen(seed);
  rg::data::shuffle(order, gen);
  const uint64_t first = gen.advance(static_cast<uint64_t>(flips));
  for (int64_t i = 0; i < flips; ++i) {
    const int64_t k = order[static_cast<std::size_t>(i)];
    if (y[k] < 0 || y[k] >= classes)
      throw std::invalid_argument("with_label_noise: label " + std::to_string(y[k]) + " outside [0, " +
                                  std::to_string(classes) + ")");
    // A shift of 1 … classes−1 (uniform) moves the label to one of the other classes.
    const auto shift =
        1 + static_cast<int64_t>(rg::Generator::uniform_at(gen.seed(), first + i) * static_cast<double>(classes - 1));
    y[k] = (y[k] + shift) % classes;
  }
  return out;
}

}  // namespace dd
