// BatchNorm, the reference kernels. Derivation: docs/derivations.md#batchnorm
// Fast kernels: src/functional/batch_norm.cpp. x is viewed as (N, C, S); the M = N·S elements of
// channel c are x[(n·C + c)·S + s].
#include <cmath>

#include "regrad/functional/reference.h"

namespace rg::reference {

void batch_norm_forward(double* out, double* mean, double* rstd, double* running_mean, double* running_var,
                        const double* inp, const double* weight, const double* bias, int64_t N, int64_t C, int64_t S,
                        bool training, double momentum, double eps) {
  const double M = static_cast<double>(N * S);
  for (int64_t c = 0; c < C; ++c) {
    if (training) {
      double sum = 0, sum_sq = 0;
      for (int64_t n = 0; n < N; ++n)
        for (int64_t s = 0; s < S; ++s) sum += inp[(n * C + c) * S + s];
      const double mu = sum / M;
      for (int64_t n = 0; n < N; ++n)
        for (int64_t s = 0; s < S; ++s) {
          const double d = inp[(n * C + c) * S + s] - mu;
          sum_sq += d * d;
        }
      const double var = sum_sq / M;  // biased: this batch is normalised by its own spread
      mean[c] = mu;
      rstd[c] = 1.0 / std::sqrt(var + eps);
      if (running_mean) {  // estimates of the population's statistics: unbiased variance, M/(M − 1)
        running_mean[c] = (1 - momentum) * running_mean[c] + momentum * mu;
        running_var[c] = (1 - momentum) * running_var[c] + momentum * var * M / (M - 1);
      }
    } else {
      mean[c] = running_mean[c];
      rstd[c] = 1.0 / std::sqrt(running_var[c] + eps);
    }
    const double g = weight ? weight[c] : 1.0, b = bias ? bias[c] : 0.0;
    for (int64_t n = 0; n < N; ++n)
      for (int64_t s = 0; s < S; ++s) {
        const int64_t i = (n * C + c) * S + s;
        out[i] = g * (inp[i] - mean[c]) * rstd[c] + b;  // y = γ·x̂ + β
      }
  }
}

void batch_norm_backward(double* dinp, double* dweight, double* dbias, const double* dout, const double* inp,
                         const double* weight, const double* mean, const double* rstd, bool training, int64_t N,
                         int64_t C, int64_t S) {
  const double M = static_cast<double>(N * S);
  for (int64_t c = 0; c < C; ++c) {
    double sum_dy = 0, sum_dy_xhat = 0;  // dβ = Σ dy, dγ = Σ dy·x̂
    for (int64_t n = 0; n < N; ++n)
      for (int64_t s = 0; s < S; ++s) {
        const int64_t i = (n * C + c) * S + s;
        sum_dy += dout[i];
        sum_dy_xhat += dout[i] * (inp[i] - mean[c]) * rstd[c];
      }
    if (dweight) dweight[c] = sum_dy_xhat;
    if (dbias) dbias[c] = sum_dy;
    const double g = weight ? weight[c] : 1.0;
    for (int64_t n = 0; n < N; ++n)
      for (int64_t s = 0; s < S; ++s) {
        const int64_t i = (n * C + c) * S + s;
        const double xhat = (inp[i] - mean[c]) * rstd[c];
        // training: dx = (γ·rstd/M)·(M·dy − Σ dy − x̂·Σ dy·x̂); eval: μ and rstd are constants
        dinp[i] = training ? g * rstd[c] / M * (M * dout[i] - sum_dy - xhat * sum_dy_xhat) : g * rstd[c] * dout[i];
      }
  }
}

}  // namespace rg::reference
