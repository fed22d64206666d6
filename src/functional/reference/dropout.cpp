// Dropout, the reference kernels. Derivation: docs/derivations.md#dropout
// Fast kernels: src/functional/dropout.cpp. p is the drop probability (PyTorch's); the lecture
// writes the keep probability 1 − p. Inverted dropout: y = x·m/(1 − p), so E[y] = x.
#include <cmath>

#include "regrad/functional/reference.h"

namespace rg::reference {
namespace {

// SplitMix64's finaliser, the fast kernel's hash (the tests hold both masks to the same bits).
uint64_t mix64(uint64_t z) {
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

double keep_scale(double p) { return p < 1.0 ? 1.0 / (1.0 - p) : 0.0; }  // p = 1: y = 0, not 0·∞

}  // namespace

// Element i gets the 32-bit uniform u_i: half i mod 2 (low, then high) of the hash of counter
// first + ⌊i/2⌋, that is mix64(mix64(seed) + counter·φ) with φ = 2⁶⁴/golden ratio. A pure
// function of (seed, position), so any thread count draws the same mask. Kept iff u_i ≥ p·2³²,
// which happens with probability 1 − p (threshold rounded down, as in the fast kernel).
void dropout_mask(uint8_t* mask, int64_t n, double p, uint64_t seed, uint64_t first) {
  const uint64_t key = mix64(seed), threshold = static_cast<uint64_t>(std::ldexp(p, 32));
  for (int64_t i = 0; i < n; ++i) {
    const uint64_t h = mix64(key + (first + static_cast<uint64_t>(i) / 2) * 0x9E3779B97F4A7C15ull);
    const uint64_t u = i % 2 == 0 ? h & 0xFFFFFFFFull : h >> 32;
    mask[i] = u >= threshold;
  }
}

void dropout_forward(double* out, const double* inp, const uint8_t* mask, int64_t n, double p) {
  for (int64_t i = 0; i < n; ++i) out[i] = inp[i] * (mask[i] * keep_scale(p));
}

// y_i depends on x_i alone, with the constant factor m_i/(1 − p): dx = dy·m/(1 − p).
void dropout_backward(double* dinp, const double* dout, const uint8_t* mask, int64_t n, double p) {
  for (int64_t i = 0; i < n; ++i) dinp[i] = dout[i] * (mask[i] * keep_scale(p));
}

}  // namespace rg::reference
