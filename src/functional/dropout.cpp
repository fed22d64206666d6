// Inverted dropout with a one-bit-per-element mask. Derivation: docs/derivations.md#dropout.
#include "regrad/functional/dropout.h"

#include <cmath>
#include <vector>

#include "../tensor/parallel.h"
#include "regrad/autograd/autograd.h"
#include "regrad/tensor/factory.h"

namespace rg {
namespace {

// SplitMix64's finaliser: a bijective 64-bit mix; on consecutive counters it gives a counter-based
// generator that passes BigCrush, at two multiplies per 64 random bits.
inline uint64_t mix64(uint64_t z) {
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

// Keep-bits for elements [32·word, 32·word + 32): bit k is set when the uniform u_k ≥ p, where
// u_2j and u_2j+1 are the two 32-bit halves of mix64(key + (first + 16·word + j)·φ), and
// threshold = p·2³² (2³² when p = 1: nothing kept). Both loops vectorise: 16 hashes, then 32
// compares OR-ed into the word.
inline uint32_t keep_bits(uint64_t key, uint64_t first, uint64_t word, uint64_t threshold) {
  uint64_t u[32];
#pragma omp simd
  for (uint64_t j = 0; j < 16; ++j) {
    const uint64_t h = mix64(key + (first + 16 * word + j) * 0x9E3779B97F4A7C15ull);
    u[2 * j] = h & 0xFFFFFFFFull;
    u[2 * j + 1] = h >> 32;
  }
  uint32_t bits = 0;
#pragma omp simd reduction(| : bits)
  for (uint32_t k = 0; k < 32; ++k) bits |= static_cast<uint32_t>(u[k] >= threshold) << k;
  return bits;
}

// out = in·scale where the mask bit is set, else 0: a multiply by 0 or scale per element, as
// PyTorch's input·mask/(1 − p), which vectorises (32-bit words, so the per-lane shifts work on
// 32-bit lanes for float).
template <typename T>
void apply_mask(T* out, const T* in, const uint32_t* mask, int64_t n, T scale) {
  const int64_t words = (n + 31) / 32;
  detail::parallel_for(words, detail::grain_for(32), [&](int64_t w0, int64_t w1) {
    for (int64_t w = w0; w < w1; ++w) {
      const uint32_t bits = mask[w];
      const int64_t base = w * 32, len = std::min<int64_t>(32, n - base);
      T* o = out + base;
      const T* x = in + base;
#pragma omp simd
      for (int64_t k = 0; k < len; ++k) o[k] = x[k] * (scale * static_cast<T>((bits >> k) & 1u));
    }
  });
}

// Shared by both entry points: y = x·mask·scale, backward dx = dy·mask·scale.
Tensor masked_scale(const Tensor& input, std::shared_ptr<std::vector<uint32_t>> mask, double scale) {
  Tensor y = Tensor::empty(input.shape(), input.dtype());
  dispatch_float(input.dtype(), "dropout", [&](auto tag) {
    using T = typename decltype(tag)::type;
    apply_mask(y.data<T>(), input.data<T>(), mask->data(), input.numel(), static_cast<T>(scale));
  });
  if (!needs_grad(input)) return y;
  return record("dropout", y, {input}, [mask, scale](const Tensor& dy) {
    Tensor dx = Tensor::empty(dy.shape(), dy.dtype());  // ∂y/∂x = mask/(1 − p)
    dispatch_float(dy.dtype(), "dropout", [&](auto tag) {
      using T = typename decltype(tag)::type;
      apply_mask(dx.data<T>(), dy.data<T>(), mask->data(), dy.numel(), static_cast<T>(scale));
    });
    return Grads{dx};
  });
}

void check_p(double p) {
  if (!(p >= 0.0 && p <= 1.0))
    throw std::invalid_argument("dropout: p (the drop probability) must be in [0, 1], got " + std::to_string(p));
}

// 1/(1 − p), and 0 for p = 1 (every element dropped: the output is exactly 0, not 0·∞).
double keep_scale(double p) { return p < 1.0 ? 1.0 / (1.0 - p) : 0.0; }

}  // namespace

Tensor dropout(const Tensor& input, double p, bool training, Generator& gen) {
  check_p(p);
  if (!training || p == 0.0) return input;  // identity: E[y] = x needs no rescaling at test time
  const int64_t n = input.numel(), words = (n + 31) / 32;
  const uint64_t first = gen.advance(static_cast<uint64_t>(words) * 16), key = mix64(gen.seed());
  const uint64_t threshold = static_cast<uint64_t>(std::ldexp(p, 32));
  auto mask = std::make_shared<std::vector<uint32_t>>(words);
  detail::parallel_for(words, detail::grain_for(4 * 32), [&](int64_t w0, int64_t w1) {
    for (int64_t w = w0; w < w1; ++w) (*mask)[w] = keep_bits(key, first, w, threshold);
  });
  return masked_scale(input, mask, keep_scale(p));
}

Tensor dropout_with_mask(const Tensor& input, const Tensor& mask, double p) {
  check_p(p);
  if (mask.shape() != input.shape())
    throw std::invalid_argument("dropout: mask shape " + to_string(mask.shape()) + " differs from input shape " +
                                to_string(input.shape()));
  const std::vector<double> m = mask.tolist();
  auto bits = std::make_shared<std::vector<uint32_t>>((m.size() + 31) / 32, 0);
  for (std::size_t i = 0; i < m.size(); ++i) {
    if (m[i] != 0.0 && m[i] != 1.0)
      throw std::invalid_argument("dropout: mask must hold only 0 and 1, found " + std::to_string(m[i]) +
                                  " at position " + std::to_string(i));
    if (m[i] == 1.0) (*bits)[i / 32] |= uint32_t{1} << (i % 32);
  }
  return masked_scale(input, bits, keep_scale(p));
}

}  // namespace rg
