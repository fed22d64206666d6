// The vectorisable exp used by the float kernels (src/vmath.h) against libm.
#include <cmath>

#include "../../src/vmath.h"
#include "../test_util.h"

TEST_CASE("vexp(float) is within 2 ulp of std::exp over the whole float range") {
  double worst = 0;  // in units of the result's ulp
  for (float x = -87.0f; x <= 87.99f; x += 0.000977f * 7) {
    const double ref = std::exp(static_cast<double>(x));
    const double ulp = std::nextafter(static_cast<float>(ref), INFINITY) - static_cast<float>(ref);
    worst = std::max(worst, std::abs(rg::detail::vexp(x) - ref) / ulp);
  }
  CHECK(worst <= 2.0);
  CHECK(rg::detail::vexp(0.0f) == 1.0f);
  CHECK(rg::detail::vexp(-1000.0f) < 1e-37f);  // clamped, not NaN or a denormal trap
  CHECK(std::isfinite(rg::detail::vexp(1000.0f)));
  CHECK(rg::detail::vexp(1.5) == std::exp(1.5));  // double is libm's
}
