// GroupNorm, the reference kernels. Derivation: docs/derivations.md#groupnorm
// Fast kernels: src/functional/group_norm.cpp. x is viewed as (N, C, S); the G groups of C/G
// channels of one sample are consecutive, so group g of sample n is the contiguous run of
// M = (C/G)·S elements starting at (n·G + g)·M. Its element j belongs to channel g·C/G + j/S,
// whose γ and β it uses: LayerNorm over the group, with one affine parameter per channel.
#include <cmath>

#include "regrad/functional/reference.h"

namespace rg::reference {

void group_norm_forward(double* out, double* mean, double* rstd, const double* inp, const double* weight,
                        const double* bias, int64_t N, int64_t C, int64_t S, int64_t G, double eps) {
  const int64_t M = C / G * S;
  for (int64_t r = 0; r < N * G; ++r) {  // r = n·G + g
    const double* x = inp + r * M;
    double sum = 0, sum_sq = 0;
    for (int64_t j = 0; j < M; ++j) sum += x[j];
    const double mu = sum / static_cast<double>(M);
    for (int64_t j = 0; j < M; ++j) sum_sq += (x[j] - mu) * (x[j] - mu);
    const double rs = 1.0 / std::sqrt(sum_sq / static_cast<double>(M) + eps);
    for (int64_t j = 0; j < M; ++j) {
      const int64_t c = r % G * (C / G) + j / S;
      out[r * M + j] = (x[j] - mu) * rs * (weight ? weight[c] : 1.0) + (bias ? bias[c] : 0.0);
    }
    mean[r] = mu;
    rstd[r] = rs;
  }
}

void group_norm_backward(double* dinp, double* dweight, double* dbias, const double* dout, const double* inp,
                         const double* weight, const double* mean, const double* rstd, int64_t N, int64_t C, int64_t S,
                         int64_t G) {
  const int64_t M = C / G * S;
  for (int64_t c = 0; c < C; ++c) {
    if (dweight) dweight[c] = 0;
    if (dbias) dbias[c] = 0;
  }
  for (int64_t r = 0; r < N * G; ++r) {
    const double *x = inp + r * M, *dy = dout + r * M;
    // Pass 1: a = mean(γ·dy), b = mean(γ·dy·x̂) over the group; dγ_c, dβ_c sum over n and space.
    double a = 0, b = 0;
    for (int64_t j = 0; j < M; ++j) {
      const int64_t c = r % G * (C / G) + j / S;
      const double xhat = (x[j] - mean[r]) * rstd[r], wdy = (weight ? weight[c] : 1.0) * dy[j];
      a += wdy;
      b += wdy * xhat;
      if (dweight) dweight[c] += dy[j] * xhat;
      if (dbias) dbias[c] += dy[j];
    }
    a /= static_cast<double>(M);
    b /= static_cast<double>(M);
    // Pass 2: dx = rstd·(γ_c·dy − mean(γ·dy) − x̂·mean(γ·dy·x̂)).
    for (int64_t j = 0; j < M; ++j) {
      const int64_t c = r % G * (C / G) + j / S;
      const double xhat = (x[j] - mean[r]) * rstd[r];
      dinp[r * M + j] = rstd[r] * ((weight ? weight[c] : 1.0) * dy[j] - a - xhat * b);
    }
  }
}

}  // namespace rg::reference
