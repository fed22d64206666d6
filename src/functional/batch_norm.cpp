// BatchNorm: statistics per channel over the batch (and spatial) dims.
// Derivation: docs/derivations.md#batchnorm. The input is viewed as (N, C, S), S = L or H·W.
#include <cmath>
#include <vector>

#include "../parallel.h"
#include "common.h"
#include "regrad/autograd/autograd.h"
#include "regrad/functional/normalization.h"

namespace rg {
namespace {

// ---- kernels on raw buffers ----

// f(c, i) for every element i of every channel c. Each thread owns a contiguous range of channels
// and walks them sample by sample (for S = 1 the inner loop runs along a contiguous row piece), so
// a channel's sum always accumulates in the same order, whatever the thread count.
template <typename F>
void for_each_by_channel(int64_t N, int64_t C, int64_t S, F f) {
  detail::parallel_for(C, std::max<int64_t>(1, detail::kGrain / std::max<int64_t>(N * S, 1)), [&](int64_t c0, int64_t c1) {
    for (int64_t n = 0; n < N; ++n) {
      if (S == 1) {
#pragma omp simd
        for (int64_t c = c0; c < c1; ++c) f(c, n * C + c);
      } else {
        for (int64_t c = c0; c < c1; ++c)
          for (int64_t s = 0, base = (n * C + c) * S; s < S; ++s) f(c, base + s);
      }
    }
  });
}

// f(c, i) for every element, parallel over samples: for elementwise passes with no reduction.
template <typename F>
void for_each_by_sample(int64_t N, int64_t C, int64_t S, F f) {
  detail::parallel_for(N, std::max<int64_t>(1, detail::kGrain / std::max<int64_t>(C * S, 1)), [&](int64_t n0, int64_t n1) {
    for (int64_t n = n0; n < n1; ++n) {
      if (S == 1) {
#pragma omp simd
        for (int64_t c = 0; c < C; ++c) f(c, n * C + c);
      } else {
        for (int64_t c = 0; c < C; ++c)
          for (int64_t s = 0, base = (n * C + c) * S; s < S; ++s) f(c, base + s);
      }
    }
  });
}

// Per-channel mean and biased variance over M = N·S elements, from sums shifted by the channel's
// first value K: var = (Σd² − (Σd)²/M)/M with d = x − K, accurate even when |mean| ≫ std.
template <typename T>
void batch_norm_stats(const T* x, int64_t N, int64_t C, int64_t S, double* mean, double* var) {
  std::vector<double> shift(C), s1(C, 0.0), s2(C, 0.0);
  for (int64_t c = 0; c < C; ++c) shift[c] = x[c * S];
  for_each_by_channel(N, C, S, [&](int64_t c, int64_t i) {
    const double d = x[i] - shift[c];
    s1[c] += d;
    s2[c] += d * d;
  });
  const double M = static_cast<double>(N * S);
  for (int64_t c = 0; c < C; ++c) {
    mean[c] = shift[c] + s1[c] / M;
    var[c] = std::max(0.0, (s2[c] - s1[c] * s1[c] / M) / M);
  }
}

// y = γ·(x − μ)·rstd + β, computed as y = (x − μ_c)·scale_c + β_c. (Folding μ into the shift,
// x·scale + (β − μ·scale), would cancel catastrophically in float when |μ| ≫ std.)
template <typename T>
void batch_norm_forward(T* y, const T* x, const double* mean, const double* rstd, const T* weight, const T* bias,
                        int64_t N, int64_t C, int64_t S) {
  std::vector<T> mu(C), scale(C), shift(C);
  for (int64_t c = 0; c < C; ++c) {
    mu[c] = static_cast<T>(mean[c]);
    scale[c] = static_cast<T>(rstd[c] * (weight ? weight[c] : 1.0));
    shift[c] = bias ? bias[c] : T(0);
  }
  for_each_by_sample(N, C, S, [&](int64_t c, int64_t i) { y[i] = (x[i] - mu[c]) * scale[c] + shift[c]; });
}

// Backward. Pass 1, per channel: dβ = Σdy, dγ = Σdy·x̂. Pass 2:
//   training: dx = (γ·rstd/M)·(M·dy − Σdy − x̂·Σdy·x̂)
//   eval:     dx = γ·rstd·dy            (running statistics are constants)
// written as dx = k1·dy + k2·(x − μ) + k3 with per-channel k's, so pass 2 is a few multiply-adds.
template <typename T>
void batch_norm_backward(T* dx, T* dweight, T* dbias, const T* dy, const T* x, const double* mean, const double* rstd,
                         const T* weight, bool training, int64_t N, int64_t C, int64_t S) {
  std::vector<double> sum_dy(C, 0.0), sum_dy_xhat(C, 0.0);
  for_each_by_channel(N, C, S, [&](int64_t c, int64_t i) {
    sum_dy[c] += dy[i];
    sum_dy_xhat[c] += dy[i] * ((x[i] - mean[c]) * rstd[c]);
  });
  for (int64_t c = 0; c < C; ++c) {
    if (dweight) dweight[c] = static_cast<T>(sum_dy_xhat[c]);
    if (dbias) dbias[c] = static_cast<T>(sum_dy[c]);
  }
  if (!dx) return;
  const double M = static_cast<double>(N * S);
  std::vector<T> mu(C), k1(C), k2(C), k3(C);
  for (int64_t c = 0; c < C; ++c) {
    const double g = (weight ? weight[c] : 1.0) * rstd[c];  // γ·rstd
    mu[c] = static_cast<T>(mean[c]);
    k1[c] = static_cast<T>(g);
    k2[c] = static_cast<T>(training ? -g * rstd[c] * sum_dy_xhat[c] / M : 0.0);  // −γ·rstd²·Σ(dy·x̂)/M
    k3[c] = static_cast<T>(training ? -g * sum_dy[c] / M : 0.0);                 // −γ·rstd·Σdy/M
  }
  for_each_by_sample(N, C, S, [&](int64_t c, int64_t i) { dx[i] = k1[c] * dy[i] + k2[c] * (x[i] - mu[c]) + k3[c]; });
}

}  // namespace

// ---- the Tensor / autograd layer ----

Tensor batch_norm(const Tensor& input, Tensor running_mean, Tensor running_var, const Tensor& weight, const Tensor& bias,
                  bool training, double momentum, double eps) {
  const char* op = "batch_norm";
  if (input.dim() < 2)
    throw std::invalid_argument("batch_norm: expected input of shape (N, C), (N, C, L) or (N, C, H, W), got " +
                                to_string(input.shape()));
  const int64_t N = input.shape()[0], C = input.shape()[1];
  const int64_t S = N * C == 0 ? 0 : input.numel() / (N * C);
  for (auto [t, name] : {std::pair{&weight, "weight"}, {&bias, "bias"}, {&running_mean, "running_mean"},
                         {&running_var, "running_var"}})
    detail::check_param(*t, name, {C}, input, op);
  detail::check_eps(eps, op);
  if (!std::isfinite(momentum)) throw std::invalid_argument("batch_norm: momentum must be finite");
  if (running_mean.defined() != running_var.defined())
    throw std::invalid_argument("batch_norm: give both running_mean and running_var, or neither");
  if (training && N * S <= 1)
    throw std::invalid_argument("batch_norm: expected more than 1 value per channel when training, got input size " +
                                to_string(input.shape()));
  if (!training && !running_mean.defined())
    throw std::invalid_argument("batch_norm: eval mode (training=false) needs running_mean and running_var");

  std::vector<double> mean(C), rstd(C);
  Tensor y = Tensor::empty(input.shape(), input.dtype());
  dispatch_float(input.dtype(), op, [&](auto tag) {
    using T = typename decltype(tag)::type;
    if (training) {
      std::vector<double> var(C);
      batch_norm_stats(input.data<T>(), N, C, S, mean.data(), var.data());
      for (int64_t c = 0; c < C; ++c) rstd[c] = 1.0 / std::sqrt(var[c] + eps);
      if (running_mean.defined()) {  // buffers: updated in place, outside autograd
        T* rm = running_mean.data<T>();
        T* rv = running_var.data<T>();
        const double M = static_cast<double>(N * S);
        for (int64_t c = 0; c < C; ++c) {
          rm[c] = static_cast<T>((1 - momentum) * rm[c] + momentum * mean[c]);
          rv[c] = static_cast<T>((1 - momentum) * rv[c] + momentum * var[c] * M / (M - 1));  // unbiased
        }
      }
    } else {
      for (int64_t c = 0; c < C; ++c) {
        mean[c] = running_mean.data<T>()[c];
        rstd[c] = 1.0 / std::sqrt(static_cast<double>(running_var.data<T>()[c]) + eps);
      }
    }
    batch_norm_forward(y.data<T>(), input.data<T>(), mean.data(), rstd.data(), detail::ptr_or_null<T>(weight),
                       detail::ptr_or_null<T>(bias), N, C, S);
  });

  return record("batch_norm", y, {input, weight, bias},
                [x = input.detach(), w = weight.defined() ? weight.detach() : Tensor(), has_bias = bias.defined(),
                 need_dx = input.requires_grad(), mean, rstd, training, N, C, S](const Tensor& dy) {
                  Tensor dx = detail::empty_if(need_dx, x.shape(), x.dtype());
                  Tensor dw = detail::empty_if(w.defined(), {C}, x.dtype());
                  Tensor db = detail::empty_if(has_bias, {C}, x.dtype());
                  dispatch_float(x.dtype(), "batch_norm", [&](auto tag) {
                    using T = typename decltype(tag)::type;
                    batch_norm_backward(detail::ptr_or_null<T>(dx), detail::ptr_or_null<T>(dw),
                                        detail::ptr_or_null<T>(db), dy.data<T>(), x.data<T>(), mean.data(), rstd.data(),
                                        detail::ptr_or_null<T>(w), training, N, C, S);
                  });
                  return Grads{dx, dw, db};
                });
}

}  // namespace rg
