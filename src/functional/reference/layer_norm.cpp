// LayerNorm, the reference kernels. Derivation: docs/derivations.md#layernorm
// Fast kernels: src/functional/row_norm.h. Each of the `rows` rows of D elements is normalised
// with its own mean and variance; γ and β (D each) are shared by all rows.
#include <cmath>

#include "regrad/functional/reference.h"

namespace rg::reference {

void layer_norm_forward(double* out, double* mean, double* rstd, const double* inp, const double* weight,
                        const double* bias, int64_t rows, int64_t D, double eps) {
  for (int64_t r = 0; r < rows; ++r) {
    const double* x = inp + r * D;
    double sum = 0, sum_sq = 0;
    for (int64_t d = 0; d < D; ++d) sum += x[d];
    const double mu = sum / static_cast<double>(D);
    for (int64_t d = 0; d < D; ++d) sum_sq += (x[d] - mu) * (x[d] - mu);
    const double rs = 1.0 / std::sqrt(sum_sq / static_cast<double>(D) + eps);
    for (int64_t d = 0; d < D; ++d)
      out[r * D + d] = (x[d] - mu) * rs * (weight ? weight[d] : 1.0) + (bias ? bias[d] : 0.0);
    mean[r] = mu;
    rstd[r] = rs;
  }
}

void layer_norm_backward(double* dinp, double* dweight, double* dbias, const double* dout, const double* inp,
                         const double* weight, const double* mean, const double* rstd, int64_t rows, int64_t D) {
  for (int64_t d = 0; d < D; ++d) {
    if (dweight) dweight[d] = 0;
    if (dbias) dbias[d] = 0;
  }
  for (int64_t r = 0; r < rows; ++r) {
    const double *x = inp + r * D, *dy = dout + r * D;
    // Pass 1: a = mean(γ·dy), b = mean(γ·dy·x̂), and this row's terms of dγ = Σ dy·x̂, dβ = Σ dy.
    double a = 0, b = 0;
    for (int64_t d = 0; d < D; ++d) {
      const double xhat = (x[d] - mean[r]) * rstd[r], wdy = (weight ? weight[d] : 1.0) * dy[d];
      a += wdy;
      b += wdy * xhat;
      if (dweight) dweight[d] += dy[d] * xhat;
      if (dbias) dbias[d] += dy[d];
    }
    a /= static_cast<double>(D);
    b /= static_cast<double>(D);
    // Pass 2: dx = rstd·(γ·dy − mean(γ·dy) − x̂·mean(γ·dy·x̂)).
    for (int64_t d = 0; d < D; ++d) {
      const double xhat = (x[d] - mean[r]) * rstd[r], wdy = (weight ? weight[d] : 1.0) * dy[d];
      dinp[r * D + d] = rstd[r] * (wdy - a - xhat * b);
    }
  }
}

}  // namespace rg::reference
