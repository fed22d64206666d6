// Internal: an exp that vectorises. For float, Cephes' expf (Cody–Waite range reduction
// x = n·ln2 + r, a degree-6 polynomial for eʳ on |r| ≤ ln2/2, then 2ⁿ through the exponent bits):
// within 2 ulp of std::exp, and GCC turns the loops that call it into AVX code, which libm's scalar
// expf is not. For double, std::exp (the gradient checks want every bit).
#pragma once
#include <bit>
#include <cmath>
#include <cstdint>

namespace rg::detail {

inline float vexp(float x) {
  // Saturate to [e^−87.3, e^88]: results stay normal floats, 2ⁿ stays representable (std::fmin
  // would be a library call and block vectorisation).
  x = x < -87.3f ? -87.3f : x > 88.0f ? 88.0f : x;
  const float n = std::floor(x * 1.44269504088896341f + 0.5f);
  const float r = (x - n * 0.693359375f) + n * 2.12194440e-4f;  // ln 2 split in two for exactness
  float p = 1.9875691500e-4f;
  p = p * r + 1.3981999507e-3f;
  p = p * r + 8.3334519073e-3f;
  p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f;
  p = p * r + 5.0000001201e-1f;
  const float er = p * r * r + r + 1.0f;
  return er * std::bit_cast<float>((static_cast<int32_t>(n) + 127) << 23);
}

inline double vexp(double x) { return std::exp(x); }

}  // namespace rg::detail
