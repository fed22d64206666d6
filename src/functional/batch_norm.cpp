// BatchNorm: statistics per channel over the batch (and spatial) dims.
// Derivation: docs/derivations.md#batchnorm. The input is viewed as (N, C, S), S = L or H·W.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <numeric>
#include <vector>

#include "../tensor/parallel.h"
#include "common.h"
#include "regrad/autograd/autograd.h"
#include "regrad/functional/normalization.h"

namespace rg {
namespace {

// ---- kernels on raw buffers ----

// Per-channel sums of two quantities, f(c, i, a, b) adding element i's terms into a and b, over the
// M = N·S elements of each channel; results in double. Every element is read once, as a stream:
//  S = 1: rows are contiguous, so fixed blocks of 64 rows each sum into their own row of partials
//         (in T, in parallel), and the blocks are added in order in double;
//  S > 1: each channel's N pieces of S contiguous elements are summed by one thread into 16
//         running sums (lanes, so the loop vectorises), added in lane order at the end.
// Either way the order of additions is fixed by the shapes: not by the thread count, nor by the
// vector width the compiler picks.
template <typename T, typename F>
void channel_sums(int64_t N, int64_t C, int64_t S, double* sum_a, double* sum_b, F f) {
  if (S == 1) {
    constexpr int64_t kRows = 64;
    const int64_t blocks = (N + kRows - 1) / kRows;
    std::vector<T> pa(blocks * C, T(0)), pb(blocks * C, T(0));
    detail::parallel_for(blocks, detail::grain_for(kRows * C), [&](int64_t k0, int64_t k1) {
      for (int64_t k = k0; k < k1; ++k) {
        T *a = pa.data() + k * C, *b = pb.data() + k * C;
        for (int64_t n = k * kRows; n < std::min(N, (k + 1) * kRows); ++n)
#pragma omp simd
          for (int64_t c = 0; c < C; ++c) f(c, n * C + c, a[c], b[c]);
      }
    });
    detail::parallel_for(C, detail::grain_for(blocks), [&](int64_t c0, int64_t c1) {
      for (int64_t c = c0; c < c1; ++c) sum_a[c] = sum_b[c] = 0.0;
      for (int64_t k = 0; k < blocks; ++k)
#pragma omp simd
        for (int64_t c = c0; c < c1; ++c) {
          sum_a[c] += pa[k * C + c];
          sum_b[c] += pb[k * C + c];
        }
    });
    return;
  }
  detail::parallel_for(C, detail::grain_for(N * S), [&](int64_t c0, int64_t c1) {
    constexpr int64_t kLanes = 16;  // running sums per channel: piece element s goes to lane s mod 16
    for (int64_t c = c0; c < c1; ++c) {
      double a[kLanes] = {}, b[kLanes] = {};
      for (int64_t n = 0; n < N; ++n) {
        const int64_t base = (n * C + c) * S;
        int64_t s = 0;
        for (; s + kLanes <= S; s += kLanes)
#pragma omp simd
          for (int64_t j = 0; j < kLanes; ++j) f(c, base + s + j, a[j], b[j]);
        for (int64_t j = 0; s < S; ++s, ++j) f(c, base + s, a[j], b[j]);
      }
      sum_a[c] = sum_b[c] = 0.0;
      for (int64_t j = 0; j < kLanes; ++j) sum_a[c] += a[j], sum_b[c] += b[j];
    }
  });
}

// f(c, i) for every element, parallel over samples: the streaming elementwise passes.
template <typename F>
void for_each_by_sample(int64_t N, int64_t C, int64_t S, F f) {
  detail::parallel_for(N, detail::grain_for(C * S), [&](int64_t n0, int64_t n1) {
    for (int64_t n = n0; n < n1; ++n) {
      if (S == 1) {
#pragma omp simd
        for (int64_t c = 0; c < C; ++c) f(c, n * C + c);
      } else {
        for (int64_t c = 0; c < C; ++c)
#pragma omp simd
          for (int64_t s = 0; s < S; ++s) f(c, (n * C + c) * S + s);
      }
    }
  });
}

// Per-channel coefficient arrays that a streaming pass over rows of C elements reads while it
// stores to `out`. A load whose address has the low 12 bits of a store still in flight waits for
// that store (4K aliasing). Row n's stores start at out + n·R (R = C·sizeof(T) bytes), so modulo
// 4 KiB they start at the multiples of g = gcd(R, 4096); an array starting at one of those offsets
// collides on every row that starts there (with C = 1024 floats, every row: BatchNorm1d's fwd+bwd at
// 4096×1024 took 6.7 instead of 5.5 ms, docs/performance.md). So the arrays start halfway between
// two of them, g/2 bytes past out's offset modulo g.
template <typename T>
class ChannelArrays {
 public:
  ChannelArrays(int64_t count, int64_t C, const T* out) : C_(C), buf_(count * C + 2 * 4096 / sizeof(T)) {
    const auto at = [](const void* p) { return reinterpret_cast<std::uintptr_t>(p) % 4096; };
    const std::uintptr_t g = std::gcd<std::uintptr_t>(C * sizeof(T), 4096);
    const std::uintptr_t half = g / 2 / sizeof(T) * sizeof(T);                     // bytes
    const std::uintptr_t skip = (at(out) + half + 4096 - at(buf_.data())) % 4096;  // a multiple of sizeof(T)
    base_ = buf_.data() + skip / sizeof(T);
  }
  T* operator[](int64_t k) { return base_ + k * C_; }

 private:
  int64_t C_;
  std::vector<T> buf_;
  T* base_;
};

// Per-channel mean and biased variance over M = N·S elements, from sums shifted by the channel's
// first value K: var = (Σd² − (Σd)²/M)/M with d = x − K, accurate even when |mean| ≫ std.
template <typename T>
void batch_norm_stats(const T* x, int64_t N, int64_t C, int64_t S, double* mean, double* var) {
  std::vector<double> shift(C), s1(C), s2(C);
  for (int64_t c = 0; c < C; ++c) shift[c] = x[c * S];
  std::vector<T> tshift(shift.begin(), shift.end());
  channel_sums<T>(N, C, S, s1.data(), s2.data(), [&](int64_t c, int64_t i, auto& a, auto& b) {
    const T d = x[i] - tshift[c];
    a += d;
    b += d * d;
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
  ChannelArrays<T> arrays(3, C, y);
  T *mu = arrays[0], *scale = arrays[1], *shift = arrays[2];
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
  std::vector<double> sum_dy(C), sum_dy_xhat(C);
  ChannelArrays<T> arrays(5, C, dx ? dx : dy);
  T *mu = arrays[0], *rs = arrays[1], *k1 = arrays[2], *k2 = arrays[3], *k3 = arrays[4];
  for (int64_t c = 0; c < C; ++c) mu[c] = static_cast<T>(mean[c]), rs[c] = static_cast<T>(rstd[c]);
  channel_sums<T>(N, C, S, sum_dy.data(), sum_dy_xhat.data(), [&](int64_t c, int64_t i, auto& a, auto& b) {
    a += dy[i];
    b += dy[i] * ((x[i] - mu[c]) * rs[c]);
  });
  for (int64_t c = 0; c < C; ++c) {
    if (dweight) dweight[c] = static_cast<T>(sum_dy_xhat[c]);
    if (dbias) dbias[c] = static_cast<T>(sum_dy[c]);
  }
  if (!dx) return;
  const double M = static_cast<double>(N * S);
  for (int64_t c = 0; c < C; ++c) {
    const double g = (weight ? weight[c] : 1.0) * rstd[c];  // γ·rstd
    k1[c] = static_cast<T>(g);
    k2[c] = static_cast<T>(training ? -g * rstd[c] * sum_dy_xhat[c] / M : 0.0);  // −γ·rstd²·Σ(dy·x̂)/M
    k3[c] = static_cast<T>(training ? -g * sum_dy[c] / M : 0.0);                 // −γ·rstd·Σdy/M
  }
  for_each_by_sample(N, C, S, [&](int64_t c, int64_t i) { dx[i] = k1[c] * dy[i] + k2[c] * (x[i] - mu[c]) + k3[c]; });
}

}  // namespace

// ---- the Tensor / autograd layer ----

Tensor batch_norm(const Tensor& input, Tensor running_mean, Tensor running_var, const Tensor& weight,
                  const Tensor& bias, bool training, double momentum, double eps) {
  const char* op = "batch_norm";
  if (input.dim() < 2)
    throw std::invalid_argument("batch_norm: expected input of shape (N, C), (N, C, L) or (N, C, H, W), got " +
                                to_string(input.shape()));
  const int64_t N = input.shape()[0], C = input.shape()[1];
  const int64_t S = N * C == 0 ? 0 : input.numel() / (N * C);
  for (auto [t, name] :
       {std::pair{&weight, "weight"}, {&bias, "bias"}, {&running_mean, "running_mean"}, {&running_var, "running_var"}})
    detail::check_param(*t, name, {C}, input, op);
  detail::check_eps(eps, op);
  if (!std::isfinite(momentum)) throw std::invalid_argument("batch_norm: momentum must be finite");
  if (running_mean.defined() != running_var.defined())
    throw std::invalid_argument("batch_norm: give both running_mean and running_var, or neither");
  if (training && N * S == 1)  // an empty batch is allowed: an empty result, statistics untouched
    throw std::invalid_argument("batch_norm: expected more than 1 value per channel when training, got input size " +
                                to_string(input.shape()));
  if (!training && !running_mean.defined())
    throw std::invalid_argument("batch_norm: eval mode (training=false) needs running_mean and running_var");

  std::vector<double> mean(C), rstd(C);
  Tensor y = Tensor::empty(input.shape(), input.dtype());
  dispatch_float(input.dtype(), op, [&](auto tag) {
    using T = typename decltype(tag)::type;
    if (training && N * S == 0) {
      // An empty batch: nothing to normalise, and the running statistics stay as they are (PyTorch).
    } else if (training) {
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

  if (!needs_grad(input, weight, bias)) return y;
  return record("batch_norm", y, {input, weight, bias},
                [x = input.detach(), w = weight.defined() ? weight.detach() : Tensor(),
                 need = detail::NeedGrads(input, weight, bias), mean, rstd, training, N, C, S](const Tensor& dy) {
                  Tensor dx, dw, db;  // not a structured binding: clang 14 cannot capture one in a lambda
                  std::tie(dx, dw, db) = need.allocate(x.shape(), {C}, x.dtype());
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
