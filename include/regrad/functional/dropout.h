// Inverted dropout. p is the DROP probability (PyTorch's convention); the lecture writes the
// keep-probability q = 1 − p. In training each element is kept with probability 1 − p and scaled
// by 1/(1 − p), so E[y] = x and evaluation is the identity.
#pragma once
#include "regrad/tensor/random.h"
#include "regrad/tensor/tensor.h"

namespace rg {

// The mask is one bit per element, drawn from a counter-based hash of (gen's seed, position):
// the same seed gives the same mask for any thread count. p = 0 is the identity, p = 1 gives 0.
Tensor dropout(const Tensor& input, double p = 0.5, bool training = true, Generator& gen = default_generator());

// The same with a given mask (x's shape, 1 = kept, 0 = dropped): y = x·mask/(1 − p).
Tensor dropout_with_mask(const Tensor& input, const Tensor& mask, double p);

}  // namespace rg
