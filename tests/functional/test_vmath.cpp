// The vectorisable transcendentals used by the float kernels (src/ops/vmath.h) against double libm.
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <limits>

#include "../../src/ops/vmath.h"
#include "../test_util.h"

namespace {

using rg::detail::verf;
using rg::detail::vexp_full;
using rg::detail::vgelu;
using rg::detail::vgelu_grad;
using rg::detail::vsigmoid;
using rg::detail::vtanh;

constexpr float kInf = std::numeric_limits<float>::infinity();
constexpr float kNaN = std::numeric_limits<float>::quiet_NaN();
constexpr double kFltMin = std::numeric_limits<float>::min();

// Error of `got` in units of the last place of the binade of the exact value `ref` (a double),
// never finer than the smallest denormal.
double ulps(float got, double ref) {
  int e = 0;
  std::frexp(ref, &e);  // |ref| in [2^(e−1), 2^e): float's spacing there is 2^(e−24)
  const double ulp = std::max(std::ldexp(1.0, e - 24), std::ldexp(1.0, -149));
  return std::abs(static_cast<double>(got) - ref) / ulp;
}

// Calls f on every 509th float bit pattern of both signs (about 8.4 million finite floats, some
// 16,000 in each binade) and on [−20, 20] in steps of 1/4096 (densely where the formulas change).
// With REGRAD_VMATH_EXHAUSTIVE set, on every float with 2^−30 ≤ |x| < 2^7 instead (1.2 billion;
// about a minute): below, each function is its leading Taylor term, above, saturated.
template <typename F>
void sweep(F f) {
  if (std::getenv("REGRAD_VMATH_EXHAUSTIVE")) {
    for (uint32_t b = std::bit_cast<uint32_t>(0x1p-30f); b < std::bit_cast<uint32_t>(0x1p7f); ++b) {
      f(std::bit_cast<float>(b));
      f(-std::bit_cast<float>(b));
    }
    return;
  }
  for (uint32_t b = 0; b < 0x7f800000u; b += 509) {
    const float x = std::bit_cast<float>(b);
    f(x);
    f(-x);
  }
  for (int i = -20 * 4096; i <= 20 * 4096; ++i) f(static_cast<float>(i) / 4096.0f);
}

double gelu_ref(double x) {
  return x >= 0 ? 0.5 * x * (1 + std::erf(x * M_SQRT1_2)) : 0.5 * x * std::erfc(-x * M_SQRT1_2);
}

}  // namespace

TEST_CASE("vexp(float) is within 2 ulp of std::exp over its normal range [-87, 88], and clamps outside it") {
  double worst = 0;  // in units of the result's ulp
  for (float x = -87.0f; x <= 87.99f; x += 0.000977f * 7) {
    const double ref = std::exp(static_cast<double>(x));
    const double ulp = std::nextafter(static_cast<float>(ref), INFINITY) - static_cast<float>(ref);
    worst = rg::test::worst_of(worst, std::abs(rg::detail::vexp(x) - ref) / ulp);
  }
  CHECK(worst <= 2.0);
  CHECK(rg::detail::vexp(0.0f) == 1.0f);
  CHECK(rg::detail::vexp(-1000.0f) < 1e-37f);  // clamped, not NaN or a denormal trap
  CHECK(std::isfinite(rg::detail::vexp(1000.0f)));
  CHECK(rg::detail::vexp(1.5) == std::exp(1.5));  // double is libm's
}

TEST_CASE("vexp_full(float) is within 2 ulp of exp over the whole float range, overflow and denormals included") {
  constexpr double kFltMax = std::numeric_limits<float>::max();
  double worst = 0;  // ulps() measures below the normal floats in units of the smallest denormal
  float at = 0;
  int64_t wrong_inf = 0;  // +inf exactly where eˣ rounds past FLT_MAX (above FLT_MAX + half an ulp)
  const auto check = [&](float x) {
    const double ref = std::exp(static_cast<double>(x));
    const float got = vexp_full(x);
    if (ref >= kFltMax * (1 + 0x1p-25)) {
      wrong_inf += got != kInf;
      return;
    }
    wrong_inf += std::isinf(got);
    const double e = ulps(got, ref);
    if (!(e <= worst)) worst = e, at = x;  // a NaN counts as worst
  };
  sweep(check);
  // Every float where the result overflows or leaves the normal floats.
  for (float x = 88.0f; x <= 89.0f; x = std::nextafter(x, kInf)) check(x);
  for (float x = -104.5f; x <= -86.0f; x = std::nextafter(x, kInf)) check(x);
  MESSAGE("vexp_full: worst ", worst, " ulp at x = ", at);
  CHECK(worst <= 2.0);
  CHECK(wrong_inf == 0);
  CHECK(vexp_full(0x1.62e42ep6f) < kInf);  // the last float whose eˣ is finite
  CHECK(vexp_full(std::nextafter(0x1.62e42ep6f, kInf)) == kInf);
  CHECK(vexp_full(kInf) == kInf);
  CHECK(vexp_full(-kInf) == 0.0f);
  CHECK(vexp_full(-104.0f) == 0.0f);  // e^−104 < 2^−150: rounds to 0
  CHECK(vexp_full(-103.0f) > 0.0f);   // a denormal, not flushed
  CHECK(vexp_full(-103.0f) < std::numeric_limits<float>::min());
  CHECK(vexp_full(0.0f) == 1.0f);
  CHECK(vexp_full(-0.0f) == 1.0f);
  CHECK(std::isnan(vexp_full(kNaN)));
  CHECK(vexp_full(1.5) == std::exp(1.5));  // double is libm's
}

TEST_CASE("vtanh(float) is within 2 ulp of tanh over the float range") {
  double worst = 0;
  float at = 0;
  sweep([&](float x) {
    const double e = ulps(vtanh(x), std::tanh(static_cast<double>(x)));
    if (!(e <= worst)) worst = e, at = x;  // a NaN counts as worst
  });
  MESSAGE("vtanh: worst ", worst, " ulp at x = ", at);
  CHECK(worst <= 2.0);
  CHECK(vtanh(kInf) == 1.0f);
  CHECK(vtanh(-kInf) == -1.0f);
  CHECK(vtanh(30.0f) == 1.0f);
  CHECK(std::isnan(vtanh(kNaN)));
  CHECK(vtanh(1e-30f) == 1e-30f);
  CHECK(std::signbit(vtanh(-0.0f)));
  CHECK(vtanh(0.5) == std::tanh(0.5));  // double is libm's
}

TEST_CASE("vsigmoid(float) is within 3 ulp of the logistic function where it is a normal float") {
  double worst = 0;
  float at = 0;
  int64_t not_flushed = 0;  // results below the normal floats must be 0, not denormal
  sweep([&](float x) {
    const double ref = 1 / (1 + std::exp(-static_cast<double>(x)));
    const float got = vsigmoid(x);
    if (ref < kFltMin) {
      not_flushed += got != 0.0f;
      return;
    }
    const double e = ulps(got, ref);
    if (!(e <= worst)) worst = e, at = x;  // a NaN counts as worst
  });
  MESSAGE("vsigmoid: worst ", worst, " ulp at x = ", at);
  CHECK(worst <= 3.0);
  CHECK(not_flushed == 0);
  CHECK(vsigmoid(kInf) == 1.0f);
  CHECK(vsigmoid(-kInf) == 0.0f);
  CHECK(vsigmoid(0.0f) == 0.5f);
  CHECK(std::isnan(vsigmoid(kNaN)));
  CHECK(vsigmoid(-2.0) == std::exp(-2.0) / (1 + std::exp(-2.0)));  // double is libm's
}

TEST_CASE("verf(float) is within 1.5 ulp of erf over the float range") {
  double worst = 0;
  float at = 0;
  sweep([&](float x) {
    const double e = ulps(verf(x), std::erf(static_cast<double>(x)));
    if (!(e <= worst)) worst = e, at = x;  // a NaN counts as worst
  });
  MESSAGE("verf: worst ", worst, " ulp at x = ", at);
  CHECK(worst <= 1.5);
  CHECK(verf(kInf) == 1.0f);
  CHECK(verf(-kInf) == -1.0f);
  CHECK(std::isnan(verf(kNaN)));
  CHECK(ulps(verf(1e-30f), static_cast<double>(1e-30f) * M_2_SQRTPI) <= 1.0);  // 2x/√π, relatively exact
  CHECK(verf(0.5) == std::erf(0.5));                                           // double is libm's
}

TEST_CASE("vgelu(float): ≤ 4 ulp for x ≥ −1.27, ≤ (x²/2 + 5) ulp further left") {
  double worst_core = 0, worst_tail = 0, worst_tail_excess = 0;  // excess: tail error in ulp less x²/2
  float at_core = 0, at_tail = 0;
  int64_t too_big = 0;  // where x·Φ(x) is below the normal floats, so must the result be
  sweep([&](float x) {
    const double ref = gelu_ref(x);
    const float got = vgelu(x);
    if (std::abs(ref) < kFltMin) {
      too_big += !(std::abs(got) < kFltMin);
      return;
    }
    const double e = ulps(got, ref);
    if (x >= -1.27f) {
      if (!(e <= worst_core)) worst_core = e, at_core = x;
    } else {
      if (!(e <= worst_tail)) worst_tail = e, at_tail = x;
      worst_tail_excess = rg::test::worst_of(worst_tail_excess, e - 0.5 * x * x);
    }
  });
  MESSAGE("vgelu: worst ", worst_core, " ulp at x = ", at_core, " (x ≥ −1.27); tail ", worst_tail,
          " ulp at x = ", at_tail, ", at most x²/2 + ", worst_tail_excess);
  CHECK(worst_core <= 4.0);
  CHECK(worst_tail_excess <= 5.0);
  CHECK(too_big == 0);
  CHECK(vgelu(kInf) == kInf);
  CHECK(std::isnan(vgelu(-kInf)));  // −inf·Φ(−inf) = −inf·0, as in PyTorch
  CHECK(vgelu(-20.0f) == 0.0f);
  CHECK(std::isnan(vgelu(kNaN)));
  CHECK(vgelu(1.5) == 0.5 * 1.5 * (1 + std::erf(1.5 * M_SQRT1_2)));  // double is libm's
}

TEST_CASE("vgelu_grad(float) is within 2e-7 of Φ(x) + x·φ(x)") {
  double worst = 0;
  float at = 0;
  sweep([&](float x) {
    const double xd = x;
    const double ref = 0.5 * std::erfc(-xd * M_SQRT1_2) + xd * std::exp(-0.5 * xd * xd) / std::sqrt(2 * M_PI);
    const double e = std::abs(vgelu_grad(x) - ref);
    if (!(e <= worst)) worst = e, at = x;  // a NaN counts as worst
  });
  MESSAGE("vgelu_grad: worst absolute error ", worst, " at x = ", at);
  CHECK(worst <= 2e-7);
  CHECK(vgelu_grad(kInf) == 1.0f);
  CHECK(vgelu_grad(-kInf) == 0.0f);
  CHECK(std::isnan(vgelu_grad(kNaN)));
  CHECK(vgelu_grad(0.0f) == 0.5f);
}

TEST_CASE("the gelu op in float: y = vgelu(x) and, from the Φ(x) it keeps, dx = dy·vgelu_grad(x)") {
  // The op computes Φ(x) once in the forward pass and reuses it in the backward pass: the same
  // operations as vgelu and vgelu_grad, so the same bits.
  rg::Generator gen(3);
  const rg::Tensor x = (rg::randn({4097}, gen) * 4.0).requires_grad_(), dy = rg::randn({4097}, gen);
  const rg::Tensor y = rg::gelu(x);
  y.backward(dy);
  const float *px = x.data<float>(), *py = y.data<float>(), *pg = dy.data<float>(), *pd = x.grad().data<float>();
  int64_t y_off = 0, dx_off = 0;
  for (int64_t i = 0; i < x.numel(); ++i) {
    y_off += py[i] != vgelu(px[i]);
    dx_off += pd[i] != pg[i] * vgelu_grad(px[i]);
  }
  CHECK(y_off == 0);
  CHECK(dx_off == 0);
}
