// GroupNorm: statistics per (sample, group) over the group's C/G channels and spatial dims,
// affine per channel. Derivation: docs/derivations.md#groupnorm. The input is viewed as
// (N, C, S); the M = (C/G)·S elements of group g of sample n are contiguous.
#include <cmath>
#include <vector>

#include "../parallel.h"
#include "common.h"
#include "regrad/autograd/autograd.h"
#include "regrad/functional/normalization.h"

namespace rg {
namespace {

// Forward, per (n, g): μ, rstd over M elements; y = γ_c·(x − μ)·rstd + β_c. Caches μ, rstd.
template <typename T>
void group_norm_forward(T* y, double* mean, double* rstd, const T* x, const T* weight, const T* bias, int64_t N,
                        int64_t C, int64_t S, int64_t G, double eps) {
  const int64_t Cg = C / G, M = Cg * S;
  detail::parallel_for(N * G, detail::grain_for(M), [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; ++r) {  // r = n·G + g
      const T* xr = x + r * M;
      T m = 0, v = 0;  // per-lane partial sums in T
#pragma omp simd reduction(+ : m)
      for (int64_t i = 0; i < M; ++i) m += xr[i];
      m /= static_cast<T>(M);
#pragma omp simd reduction(+ : v)
      for (int64_t i = 0; i < M; ++i) v += (xr[i] - m) * (xr[i] - m);
      const double rs = 1.0 / std::sqrt(static_cast<double>(v) / static_cast<double>(M) + eps);
      mean[r] = m;
      rstd[r] = rs;
      const T mu = m;
      for (int64_t j = 0; j < Cg; ++j) {
        const int64_t c = (r % G) * Cg + j;
        const T scale = static_cast<T>(rs * (weight ? weight[c] : 1.0)), shift = bias ? bias[c] : T(0);
        const T* xs = xr + j * S;
        T* ys = y + r * M + j * S;
#pragma omp simd
        for (int64_t s = 0; s < S; ++s) ys[s] = (xs[s] - mu) * scale + shift;
      }
    }
  });
}

// Backward, per (n, g), LayerNorm's formula over the group with γ_c inside:
//   a = mean(γ·dy), c = mean(γ·dy·x̂);  dx = rstd·(γ_c·dy − a − x̂·c)
// and per channel dγ_c = Σ_{n,s} dy·x̂, dβ_c = Σ_{n,s} dy, from per-sample partials added in order.
template <typename T>
void group_norm_backward(T* dx, T* dweight, T* dbias, const T* dy, const T* x, const double* mean, const double* rstd,
                         const T* weight, int64_t N, int64_t C, int64_t S, int64_t G) {
  const int64_t Cg = C / G, M = Cg * S;
  std::vector<double> part_w(N * C, 0.0), part_b(N * C, 0.0);  // [n][c]
  detail::parallel_for(N * G, detail::grain_for(M), [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; ++r) {
      const int64_t n = r / G, c0 = (r % G) * Cg;
      const T *xr = x + r * M, *gr = dy + r * M;
      const T m = static_cast<T>(mean[r]), rs = static_cast<T>(rstd[r]);
      double a = 0, c = 0;
      for (int64_t j = 0; j < Cg; ++j) {
        const T w = weight ? weight[c0 + j] : T(1);
        double sdy = 0, sdyx = 0;
#pragma omp simd reduction(+ : sdy, sdyx)
        for (int64_t s = j * S; s < (j + 1) * S; ++s) {
          sdy += gr[s];
          sdyx += gr[s] * ((xr[s] - m) * rs);
        }
        part_b[n * C + c0 + j] = sdy;
        part_w[n * C + c0 + j] = sdyx;
        a += w * sdy;
        c += w * sdyx;
      }
      if (!dx) continue;
      const T ta = static_cast<T>(a / static_cast<double>(M)), tc = static_cast<T>(c / static_cast<double>(M));
      for (int64_t j = 0; j < Cg; ++j) {
        const T w = weight ? weight[c0 + j] : T(1);
        T* o = dx + r * M;
#pragma omp simd
        for (int64_t s = j * S; s < (j + 1) * S; ++s) o[s] = rs * (w * gr[s] - ta - (xr[s] - m) * rs * tc);
      }
    }
  });
  // Per-channel totals: the per-sample partials added in sample order, vectorised along C.
  std::vector<double> sw(C, 0.0), sb(C, 0.0);
  for (int64_t n = 0; n < N; ++n)
#pragma omp simd
    for (int64_t ch = 0; ch < C; ++ch) {
      sw[ch] += part_w[n * C + ch];
      sb[ch] += part_b[n * C + ch];
    }
  for (int64_t ch = 0; ch < C; ++ch) {
    if (dweight) dweight[ch] = static_cast<T>(sw[ch]);
    if (dbias) dbias[ch] = static_cast<T>(sb[ch]);
  }
}

}  // namespace

Tensor group_norm(const Tensor& input, int64_t num_groups, const Tensor& weight, const Tensor& bias, double eps) {
  const char* op = "group_norm";
  if (input.dim() < 2)
    throw std::invalid_argument("group_norm: expected input of shape (N, C, *), got " + to_string(input.shape()));
  const int64_t N = input.shape()[0], C = input.shape()[1];
  if (num_groups <= 0 || C % num_groups != 0)
    throw std::invalid_argument("group_norm: num_groups " + std::to_string(num_groups) +
                                " must be positive and divide the number of channels " + std::to_string(C));
  detail::check_param(weight, "weight", {C}, input, op);
  detail::check_param(bias, "bias", {C}, input, op);
  detail::check_eps(eps, op);
  const int64_t S = N * C == 0 ? 0 : input.numel() / (N * C), G = num_groups;
  std::vector<double> mean(N * G), rstd(N * G);
  Tensor y = Tensor::empty(input.shape(), input.dtype());
  dispatch_float(input.dtype(), op, [&](auto tag) {
    using T = typename decltype(tag)::type;
    group_norm_forward(y.data<T>(), mean.data(), rstd.data(), input.data<T>(), detail::ptr_or_null<T>(weight),
                       detail::ptr_or_null<T>(bias), N, C, S, G, eps);
  });
  return record(op, y, {input, weight, bias},
                [x = input.detach(), w = weight.defined() ? weight.detach() : Tensor(), has_bias = bias.defined(),
                 need_dx = input.requires_grad(), mean = std::move(mean), rstd = std::move(rstd), N, C, S,
                 G](const Tensor& dy) {
                  Tensor dx = detail::empty_if(need_dx, x.shape(), x.dtype());
                  Tensor dw = detail::empty_if(w.defined(), {C}, x.dtype());
                  Tensor db = detail::empty_if(has_bias, {C}, x.dtype());
                  dispatch_float(x.dtype(), "group_norm", [&](auto tag) {
                    using T = typename decltype(tag)::type;
                    group_norm_backward(detail::ptr_or_null<T>(dx), detail::ptr_or_null<T>(dw),
                                        detail::ptr_or_null<T>(db), dy.data<T>(), x.data<T>(), mean.data(), rstd.data(),
                                        detail::ptr_or_null<T>(w), N, C, S, G);
                  });
                  return Grads{dx, dw, db};
                });
}

}  // namespace rg
