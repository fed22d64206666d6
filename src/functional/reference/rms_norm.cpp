// RMSNorm, the reference kernels. Derivation: docs/derivations.md#rmsnorm
// Fast kernels: src/functional/row_norm.h (with center = false). LayerNorm without the mean:
// each row of D elements is divided by its root mean square; γ (D) is shared, there is no β.
#include <cmath>

#include "regrad/functional/reference.h"

namespace rg::reference {

void rms_norm_forward(double* out, double* rstd, const double* inp, const double* weight, int64_t rows, int64_t D,
                      double eps) {
  for (int64_t r = 0; r < rows; ++r) {
    const double* x = inp + r * D;
    double sum_sq = 0;
    for (int64_t d = 0; d < D; ++d) sum_sq += x[d] * x[d];
    const double rs = 1.0 / std::sqrt(sum_sq / static_cast<double>(D) + eps);
    for (int64_t d = 0; d < D; ++d) out[r * D + d] = x[d] * rs * (weight ? weight[d] : 1.0);
    rstd[r] = rs;
  }
}

void rms_norm_backward(double* dinp, double* dweight, const double* dout, const double* inp, const double* weight,
                       const double* rstd, int64_t rows, int64_t D) {
  for (int64_t d = 0; d < D && dweight; ++d) dweight[d] = 0;
  for (int64_t r = 0; r < rows; ++r) {
    const double *x = inp + r * D, *dy = dout + r * D;
    // Pass 1: b = mean(γ·dy·x̂), and this row's terms of dγ = Σ dy·x̂.
    double b = 0;
    for (int64_t d = 0; d < D; ++d) {
      const double xhat = x[d] * rstd[r];
      b += (weight ? weight[d] : 1.0) * dy[d] * xhat;
      if (dweight) dweight[d] += dy[d] * xhat;
    }
    b /= static_cast<double>(D);
    // Pass 2: dx = rstd·(γ·dy − x̂·mean(γ·dy·x̂)); no mean(γ·dy) term, as no mean was subtracted.
    for (int64_t d = 0; d < D; ++d)
      dinp[r * D + d] = rstd[r] * ((weight ? weight[d] : 1.0) * dy[d] - x[d] * rstd[r] * b);
  }
}

}  // namespace rg::reference
