// Fused cross-entropy with label smoothing and hard or soft targets.
// Derivation: docs/derivations.md#cross-entropy-with-label-smoothing. Per row i, with the
// smoothed target q = (1 − ε)·t + ε/K (t one-hot or given probabilities) and lse = logsumexp(z):
//   loss_i = lse·Σq − Σ q·z           (= −Σ q·log softmax(z); Σq = 1 for proper targets)
//   dz_i   = g_i·(softmax(z)·Σq − q)
#include "regrad/functional/cross_entropy.h"

#include <cmath>
#include <vector>

#include "../parallel.h"
#include "../vmath.h"
#include "regrad/autograd/autograd.h"
#include "regrad/tensor/factory.h"

namespace rg {
namespace {

// The smoothed target for row i, class k: hard targets are given as a class index per row.
template <typename T>
struct Target {
  const int64_t* index;  // hard targets, or null
  const T* probs;        // soft targets (N, K), or null
  double eps;
  int64_t K;
  double q(int64_t i, int64_t k) const {
    const double t = index ? (index[i] == k ? 1.0 : 0.0) : static_cast<double>(probs[i * K + k]);
    return (1.0 - eps) * t + eps / static_cast<double>(K);
  }
  double sum(int64_t i) const {  // Σ_k q_k
    if (index) return 1.0;
    double s = 0;
    for (int64_t k = 0; k < K; ++k) s += probs[i * K + k];
    return (1.0 - eps) * s + eps;
  }
};

// Forward: per row, loss_i and the cached lse_i. Σ q·z is split so hard targets need no inner branch:
// Σ q·z = (1 − ε)·z_t + (ε/K)·Σz.
template <typename T>
void cross_entropy_forward(double* loss, double* lse, const T* z, const Target<T>& tg, int64_t N, int64_t K) {
  detail::parallel_for(N, detail::grain_for(4 * K), [&](int64_t r0, int64_t r1) {
    for (int64_t i = r0; i < r1; ++i) {
      const T* zi = z + i * K;
      T m = zi[0];
      // std::max's comparison (a NaN in zi is skipped either way), written so that the loop
      // vectorises (docs/performance.md).
#pragma omp simd reduction(max : m)
      for (int64_t k = 1; k < K; ++k) m = m < zi[k] ? zi[k] : m;
      T se = 0, sz = 0;  // vector lanes keep partial sums: float accuracy is ample for K ≤ 10⁵
#pragma omp simd reduction(+ : se, sz)
      for (int64_t k = 0; k < K; ++k) {
        se += detail::vexp(zi[k] - m);
        sz += zi[k];
      }
      lse[i] = m + std::log(static_cast<double>(se));
      double qz;
      if (tg.index) {
        qz = (1.0 - tg.eps) * zi[tg.index[i]] + tg.eps / static_cast<double>(K) * sz;
      } else {
        qz = 0;
        for (int64_t k = 0; k < K; ++k) qz += tg.q(i, k) * zi[k];
      }
      loss[i] = lse[i] * tg.sum(i) - qz;
    }
  });
}

// Backward: dz = g_i·(exp(z − lse)·Σq − q), one pass.
template <typename T>
void cross_entropy_backward(T* dz, const T* z, const double* lse, const double* g, const Target<T>& tg, int64_t N,
                            int64_t K) {
  detail::parallel_for(N, detail::grain_for(4 * K), [&](int64_t r0, int64_t r1) {
    for (int64_t i = r0; i < r1; ++i) {
      const T* zi = z + i * K;
      T* di = dz + i * K;
      const T gi = static_cast<T>(g[i]), l = static_cast<T>(lse[i]), sq = static_cast<T>(tg.sum(i));
      const T off = static_cast<T>(tg.eps / static_cast<double>(K));
      if (tg.index) {
#pragma omp simd
        for (int64_t k = 0; k < K; ++k) di[k] = gi * (detail::vexp(zi[k] - l) - off);
        di[tg.index[i]] -= gi * static_cast<T>(1.0 - tg.eps);
      } else {
        for (int64_t k = 0; k < K; ++k) di[k] = gi * (detail::vexp(zi[k] - l) * sq - static_cast<T>(tg.q(i, k)));
      }
    }
  });
}

}  // namespace

Tensor cross_entropy(const Tensor& input, const Tensor& target, Reduction reduction, double label_smoothing) {
  if (input.dim() != 2)
    throw std::invalid_argument("cross_entropy: expected logits of shape (N, K), got " + to_string(input.shape()));
  const int64_t N = input.shape()[0], K = input.shape()[1];
  if (!(label_smoothing >= 0.0 && label_smoothing <= 1.0))
    throw std::invalid_argument("cross_entropy: label_smoothing must be in [0, 1], got " + std::to_string(label_smoothing));
  const bool hard = target.dtype() == DType::Int64;
  if (hard ? target.shape() != Shape{N} : target.shape() != input.shape())
    throw std::invalid_argument("cross_entropy: logits " + to_string(input.shape()) + " and target " +
                                to_string(target.shape()) + (hard ? " (class indices must have shape (N))" :
                                                                    " (probabilities must have the logits' shape)"));
  if (!hard && target.dtype() != input.dtype())
    throw std::invalid_argument("cross_entropy: soft target is " + to_string(target.dtype()) + " but logits are " +
                                to_string(input.dtype()));
  if (hard)
    for (int64_t i = 0; i < N; ++i) {
      const int64_t t = target.data<int64_t>()[i];
      if (t < 0 || t >= K)
        throw std::invalid_argument("cross_entropy: target " + std::to_string(t) + " at position " + std::to_string(i) +
                                    " is out of range for " + std::to_string(K) + " classes");
    }

  std::vector<double> loss(N), lse(N);
  dispatch_float(input.dtype(), "cross_entropy", [&](auto tag) {
    using T = typename decltype(tag)::type;
    const Target<T> tg{hard ? target.data<int64_t>() : nullptr, hard ? nullptr : target.data<T>(), label_smoothing, K};
    cross_entropy_forward(loss.data(), lse.data(), input.data<T>(), tg, N, K);
  });
  Tensor y;
  if (reduction == Reduction::None) {
    y = tensor(loss, {N}, input.dtype());
  } else {
    double total = 0;  // in row order: deterministic
    for (double l : loss) total += l;
    y = scalar_tensor(reduction == Reduction::Mean ? total / static_cast<double>(N) : total, input.dtype());
  }
  return record("cross_entropy", y, {input},
                [z = input.detach(), target, lse = std::move(lse), reduction, label_smoothing, N, K,
                 hard](const Tensor& g) {
                  // Per-row upstream gradient: g_i (none), g (sum), g/N (mean).
                  std::vector<double> gi(N);
                  const std::vector<double> gv = g.tolist();
                  for (int64_t i = 0; i < N; ++i)
                    gi[i] = reduction == Reduction::None ? gv[i]
                            : reduction == Reduction::Sum ? gv[0]
                                                          : gv[0] / static_cast<double>(N);
                  Tensor dz = Tensor::empty(z.shape(), z.dtype());
                  dispatch_float(z.dtype(), "cross_entropy", [&](auto tag) {
                    using T = typename decltype(tag)::type;
                    const Target<T> tg{hard ? target.data<int64_t>() : nullptr, hard ? nullptr : target.data<T>(),
                                       label_smoothing, K};
                    cross_entropy_backward(dz.data<T>(), z.data<T>(), lse.data(), gi.data(), tg, N, K);
                  });
                  return Grads{dz};
                });
}

}  // namespace rg
