// Internal: transcendental functions that vectorise. libm's float exp, tanh and erf are scalar
// calls, so a loop over them runs one element at a time; these are plain arithmetic and selects
// (no branch, no library call), so GCC turns an `omp simd` loop that calls them into AVX code.
// The double overloads are libm's (the gradient checks run in double and want every bit).
//
// Float guarantees, against double libm, tested by tests/functional/test_vmath.cpp (ulp: a unit
// in the last place of the float binade that holds the exact value). Measured maxima over every
// float with 2^−30 ≤ |x| < 2^7 in brackets; docs/performance.md has the table, bench/vmath_fit.py
// derives the polynomials.
//   vexp       ≤ 2 ulp on [−87, 88]; clamped outside, so eˣ stays a normal float.
//   vexp_full  ≤ 2 ulp [1.023] over the whole float range (below the normal floats, ulp is the smallest
//              denormal: [0.75]); +inf for x > 88.72283, 0 for x < −103.98, 1 for ±0, NaN for NaN.
//   vtanh      ≤ 2 ulp [1.33]; ±1 for ±inf, x for tiny x, −0 for −0, NaN for NaN.
//   vsigmoid   ≤ 3 ulp [2.48] where σ(x) is a normal float; 0 below (x < ln FLT_MIN ≈ −87.34:
//              flushed, not denormal); 0 for −inf, 1 for +inf, NaN for NaN.
//   verf       ≤ 1.5 ulp [1.09]; ±1 for ±inf, 2x/√π for tiny x, NaN for NaN.
//   vgelu      x·Φ(x), the exact (erf) form: ≤ 4 ulp [3.34] for x ≥ −1.27; further left Φ(x) is
//              ½·erfc(−x/√2), without the cancellation of 1 + erf, and the error is ≤ (x²/2 + 5)
//              ulp [x²/2 + 4.09] (e^{−x²/2} turns the rounding of x²/2 into a relative error of
//              up to x²/2 ulp); −0 for x < −13.2, where x·Φ(x) is below the normal floats; +inf for
//              +inf, NaN for −inf (−inf·0, as PyTorch) and NaN.
//   vgelu_grad Φ(x) + x·φ(x): absolute error ≤ 2e−7 [1.47e−7] (the value lies in [−0.17, 1.13]);
//              1 for +inf, 0 for −inf (PyTorch: NaN at both), NaN for NaN.
#pragma once
#include <bit>
#include <cmath>
#include <cstdint>
#include <limits>

namespace rg::detail {

// The reduction both exps share: eˣ = eʳ·2ⁿ with n = round(x / ln 2) and r = x − n·ln 2 (ln 2
// split in two for exactness), eʳ by a polynomial on |r| ≤ ln 2 / 2.
struct ExpReduced {
  float er, n;
};
inline ExpReduced exp_reduce(float x) {
  const float n = std::floor(x * 1.44269504088896341f + 0.5f);
  const float r = (x - n * 0.693359375f) + n * 2.12194440e-4f;
  float p = 1.9875691500e-4f;
  p = p * r + 1.3981999507e-3f;
  p = p * r + 8.3334519073e-3f;
  p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f;
  p = p * r + 5.0000001201e-1f;
  return {p * r * r + r + 1.0f, n};
}

inline float vexp(float x) {
  // Saturate to [e^−87.3, e^88]: results stay normal floats, 2ⁿ stays representable (std::fmin
  // would be a library call and block vectorisation).
  x = x < -87.3f ? -87.3f : x > 88.0f ? 88.0f : x;
  const ExpReduced e = exp_reduce(x);
  return e.er * std::bit_cast<float>((static_cast<int32_t>(e.n) + 127) << 23);
}

inline double vexp(double x) { return std::exp(x); }

// eˣ over the whole float range, for the exp op (vexp's clamp keeps results normal for the
// functions built on it; the op must not clamp): +inf above x = 0x1.62e42ep6 ≈ 88.72283 (the last
// float whose eˣ rounds to a finite float), denormals down to e^−103.97, 0 below, NaN for NaN.
// exp_reduce as vexp, and 2ⁿ applied as 2^⌊n/2⌋ · 2^(n−⌊n/2⌋): both factors
// are normal floats for n ∈ [−150, 128], the first product is exact, the second rounds once
// (into the denormals where the result is one).
inline float vexp_full(float x) {
  const float xc = x > -104.0f ? (x < 89.0f ? x : 89.0f) : -104.0f;  // NaN lands on −104; replaced below
  const ExpReduced e = exp_reduce(xc);
  const int32_t k = static_cast<int32_t>(e.n), k1 = k >> 1, k2 = k - k1;
  const float y = e.er * std::bit_cast<float>((k1 + 127) << 23) * std::bit_cast<float>((k2 + 127) << 23);
  const float finite = y < 0x1.fffffep127f ? y : 0x1.fffffep127f;  // no rounding error may overflow
  return x != x ? x : x > 0x1.62e42ep6f ? std::numeric_limits<float>::infinity() : finite;
}

inline double vexp_full(double x) { return std::exp(x); }

// Each function below computes all its pieces and picks one with a select, written so that a NaN
// argument falls into a piece that returns it (a NaN fails every comparison); the arguments given
// to vexp are NaN-free (its float-to-int conversion must not see a NaN).

// tanh, split as in Cephes' tanhf (S. L. Moshier, Cephes Math Library, 1992): for |x| < 0.625,
// x + x·z·P(z) with z = x² (P: our fit, bench/vmath_fit.py); above, 1 − 2/(e^{2|x|} + 1), the
// argument capped at 10 (tanh(10) rounds to 1); either on |x|, then the sign of x.
inline float vtanh(float x) {
  const float z = x * x;
  float p = -6.084279623e-03f;
  p = p * z + 2.098691091e-02f;
  p = p * z - 5.384816229e-02f;
  p = p * z + 1.333274394e-01f;
  p = p * z - 3.333332837e-01f;
  const float ax = std::fabs(x);
  const float small = ax + ax * z * p;
  const float e = vexp(2.0f * (ax < 10.0f ? ax : 10.0f));
  const float big = 1.0f - 2.0f / (e + 1.0f);
  return std::copysign(ax >= 0.625f ? big : small, x);  // tanh(−0) = −0
}

inline double vtanh(double x) { return std::tanh(x); }

// σ(x) = 1/(1 + e^−x): e^−x rounds with ≤ 2 ulp and the sum and quotient add one rounding each.
// Below ln FLT_MIN the result would be denormal: 0 instead.
inline float vsigmoid(float x) {
  const float s = 1.0f / (1.0f + vexp(x > -88.0f ? -x : 88.0f));
  return x != x ? x : x < -87.33654f ? 0.0f : s;  // the first float with σ(x) ≥ FLT_MIN
}

inline double vsigmoid(double x) {  // never exponentiates a positive number
  return x >= 0 ? 1 / (1 + std::exp(-x)) : std::exp(x) / (1 + std::exp(x));
}

// erfc(u) for u ≥ 0.9, given u and uu = u² (u clamped to [0.9, 9.5]; erfc(9.5) ≈ 7e−41):
// e^{−u²}·t·S(t − t₀), t = 1/u, the form of Cephes' erfcf (exp(−x²)/x times a polynomial in 1/x)
// with one polynomial of our fit. The caller forms u² from its own argument with one rounding:
// e^{−u²} turns an error δ in u² into a relative error δ, so this is the tail's accuracy limit.
inline float erfc_tail(float u, float uu) {
  const float uc = u > 0.9f ? (u < 9.5f ? u : 9.5f) : 0.9f;
  const float uuc = uu > 0.81f ? (uu < 90.25f ? uu : 90.25f) : 0.81f;
  const float t = 1.0f / uc, s = t - 6.081871390e-01f;
  float p = -6.745988969e-03f;
  p = p * s - 3.660030663e-02f;
  p = p * s + 6.662870198e-02f;
  p = p * s - 3.736150637e-02f;
  p = p * s - 8.764775470e-03f;
  p = p * s + 5.128290132e-02f;
  p = p * s - 8.213123679e-02f;
  p = p * s + 7.745119929e-02f;
  p = p * s - 5.068566184e-03f;
  p = p * s - 1.714789420e-01f;
  p = p * s + 4.924089313e-01f;
  return vexp(-uuc) * t * p;
}

// erf(x) = x + x·R(x²) for |x| < 0.9 (our fit: the sum rounds once, so ≤ 1 ulp), 1 − erfc(|x|)
// with the sign of x above.
inline float erf_small(float x) {
  const float z = x * x;
  float p = 8.392268501e-05f;
  p = p * z - 8.144158055e-04f;
  p = p * z + 5.200721789e-03f;
  p = p * z - 2.685902268e-02f;
  p = p * z + 1.128368154e-01f;
  p = p * z - 3.761263192e-01f;
  p = p * z + 1.283791661e-01f;
  return x + x * p;
}

inline float verf(float x) {
  const float ax = std::fabs(x);
  const float big = 1.0f - erfc_tail(ax, x * x);
  return ax >= 0.9f ? (x < 0.0f ? -big : big) : erf_small(x);
}

inline double verf(double x) { return std::erf(x); }

// Φ(x) = ½·erfc(u), u = −x/√2. For u ≥ 0.9 (x ≤ −1.27) erfc(u) comes from erfc_tail directly, not
// as 1 − erf(−u), which would cancel; 0 for u² > 87.3 (x < −13.2, e^{−u²} below vexp's range).
inline float normal_cdf(float x) {
  const float u = x * -0.707106781f, uu = 0.5f * (x * x);
  const float au = std::fabs(u);
  const float c = 0.5f * erfc_tail(au, uu);
  const float left = uu > 87.3f ? 0.0f : c;
  return au >= 0.9f ? (u > 0.0f ? left : 1.0f - c) : 0.5f - 0.5f * erf_small(u);
}

// GELU x·Φ(x), PyTorch's default (exact) form, and its derivative Φ(x) + x·φ(x), also from a
// Φ(x) already computed (the gelu op keeps the forward's for the backward pass).
inline float vgelu(float x) { return x * normal_cdf(x); }

inline float vgelu_grad_from_cdf(float x, float cdf) {
  const float xx = x * x;  // φ(x)·x is below 1e−36 for x² ≥ 174.6, and inf·0 would be NaN
  const float pdf = vexp(xx < 174.6f ? -0.5f * xx : -87.3f) * 0.398942280f;  // 1/√(2π)
  return cdf + (xx < 174.6f ? x * pdf : 0.0f);
}

inline float vgelu_grad(float x) { return vgelu_grad_from_cdf(x, normal_cdf(x)); }

inline double normal_cdf(double x) { return 0.5 * (1 + std::erf(x * M_SQRT1_2)); }

inline double vgelu(double x) { return x * normal_cdf(x); }

inline double vgelu_grad_from_cdf(double x, double cdf) {
  return cdf + x * (std::exp(-0.5 * x * x) * 0.3989422804014327);  // Φ + x·φ
}

inline double vgelu_grad(double x) { return vgelu_grad_from_cdf(x, normal_cdf(x)); }

}  // namespace rg::detail
