// Fused cross-entropy with label smoothing, class weights, ignore_index, and hard or soft
// targets. Derivation: docs/derivations.md#cross-entropy-with-label-smoothing. Per position i
// (a row of K logits z), with the smoothed target q = (1 − ε)·t + ε/K (t one-hot or given probabilities), class weights
// w and lse = logsumexp(z):
//   loss_i = lse·Σ w·q − Σ w·q·z        (= −Σ w·q·log softmax(z))
//   dz_i   = c_i·(softmax(z)·Σ w·q − w·q)
//   dt_i   = −c_i·(1 − ε)·w·log softmax(z)   (probability targets)
// where c_i is the upstream gradient of loss_i (g_i, g, or g/denominator for the mean); positions
// whose class index is ignore_index have loss 0 and no gradient.
// Inputs (N, K, d1, …) are transposed to rows of K logits first (and the gradients back), so
// one row kernel serves every layout.
#include "regrad/functional/cross_entropy.h"

#include <cmath>
#include <vector>

#include "../ops/vmath.h"
#include "../tensor/parallel.h"
#include "regrad/autograd/autograd.h"
#include "regrad/tensor/factory.h"

namespace rg {
namespace {

// The targets of P rows of K classes.
template <typename T>
struct Target {
  const int64_t* index;  // hard targets, or null
  const T* probs;        // soft targets (P, K), or null
  const T* weight;       // class weights (K), or null (all 1)
  double eps;            // label smoothing
  int64_t K;
  int64_t ignore_index;
  double W;  // Σ_k w_k

  bool ignored(int64_t i) const { return index && index[i] == ignore_index; }
  double w(int64_t k) const { return weight ? static_cast<double>(weight[k]) : 1.0; }
  double q(int64_t i, int64_t k) const {  // the smoothed target
    const double t = index ? (index[i] == k ? 1.0 : 0.0) : static_cast<double>(probs[i * K + k]);
    return (1.0 - eps) * t + eps / static_cast<double>(K);
  }
  double wq_sum(int64_t i) const {  // Σ_k w_k·q_ik
    if (index) return (1.0 - eps) * w(index[i]) + eps / static_cast<double>(K) * W;
    double s = 0, st = 0;
    for (int64_t k = 0; k < K; ++k) {
      s += w(k) * static_cast<double>(probs[i * K + k]);
      st += w(k);
    }
    return (1.0 - eps) * s + eps / static_cast<double>(K) * st;
  }
};

// Forward: per row, loss_i and the cached lse_i. For hard targets Σ w·q·z splits into
// (1 − ε)·w_t·z_t + (ε/K)·Σ w·z, so the loop over K has no branch.
template <typename T>
void cross_entropy_forward(double* loss, double* lse, const T* z, const Target<T>& tg, int64_t P, int64_t K) {
  detail::parallel_for(P, detail::grain_for(4 * K), [&](int64_t r0, int64_t r1) {
    for (int64_t i = r0; i < r1; ++i) {
      if (tg.ignored(i)) {
        loss[i] = lse[i] = 0;
        continue;
      }
      const T* zi = z + i * K;
      const T* w = tg.weight;
      T m = zi[0];
      // std::max's comparison (a NaN in zi is skipped either way), written so that the loop
      // vectorises (docs/performance.md).
#pragma omp simd reduction(max : m)
      for (int64_t k = 1; k < K; ++k) m = m < zi[k] ? zi[k] : m;
      T se = 0, sz = 0;  // vector lanes keep partial sums: float accuracy is ample for K ≤ 10⁵
      if (w) {
#pragma omp simd reduction(+ : se, sz)
        for (int64_t k = 0; k < K; ++k) {
          se += detail::vexp(zi[k] - m);
          sz += w[k] * zi[k];
        }
      } else {
#pragma omp simd reduction(+ : se, sz)
        for (int64_t k = 0; k < K; ++k) {
          se += detail::vexp(zi[k] - m);
          sz += zi[k];
        }
      }
      lse[i] = m + std::log(static_cast<double>(se));
      double wqz;
      if (tg.index) {
        const int64_t t = tg.index[i];
        // Without smoothing the Σz term is left out, not multiplied by 0: a −inf logit would make
        // it NaN where PyTorch gives the loss (inf when the target's logit is −inf, else finite).
        wqz = (1.0 - tg.eps) * tg.w(t) * zi[t] + (tg.eps > 0 ? tg.eps / static_cast<double>(K) * sz : 0.0);
      } else {
        wqz = 0;
        for (int64_t k = 0; k < K; ++k) wqz += tg.w(k) * tg.q(i, k) * zi[k];
      }
      loss[i] = lse[i] * tg.wq_sum(i) - wqz;
    }
  });
}

// Backward, one pass per row: dz = c_i·(exp(z − lse)·Σ w·q − w·q); for probability targets
// also dt = −c_i·(1 − ε)·w·(z − lse). dt may be null.
template <typename T>
void cross_entropy_backward(T* dz, T* dt, const T* z, const double* lse, const double* c, const Target<T>& tg,
                            int64_t P, int64_t K) {
  detail::parallel_for(P, detail::grain_for(4 * K), [&](int64_t r0, int64_t r1) {
    for (int64_t i = r0; i < r1; ++i) {
      const T* zi = z + i * K;
      T* di = dz + i * K;
      if (tg.ignored(i)) {
        for (int64_t k = 0; k < K; ++k) di[k] = 0;
        continue;
      }
      const T ci = static_cast<T>(c[i]), l = static_cast<T>(lse[i]), swq = static_cast<T>(tg.wq_sum(i));
      const T off = static_cast<T>(tg.eps / static_cast<double>(K));
      const T* w = tg.weight;
      if (tg.index) {
        const int64_t t = tg.index[i];
        if (w) {
#pragma omp simd
          for (int64_t k = 0; k < K; ++k) di[k] = ci * (detail::vexp(zi[k] - l) * swq - off * w[k]);
        } else {  // Σ w·q = 1
#pragma omp simd
          for (int64_t k = 0; k < K; ++k) di[k] = ci * (detail::vexp(zi[k] - l) - off);
        }
        di[t] -= ci * static_cast<T>((1.0 - tg.eps) * tg.w(t));
      } else {
        for (int64_t k = 0; k < K; ++k)
          di[k] = ci * (detail::vexp(zi[k] - l) * swq - static_cast<T>(tg.w(k) * tg.q(i, k)));
        if (dt) {
          T* ti = dt + i * K;
          const T s = static_cast<T>(-(1.0 - tg.eps)) * ci;
          for (int64_t k = 0; k < K; ++k) ti[k] = s * static_cast<T>(tg.w(k)) * (zi[k] - l);
        }
      }
    }
  });
}

// (A, K, S) ↔ (A, S, K): the class dim moved last, so that each position is a contiguous row.
template <typename T>
void classes_last(T* dst, const T* src, int64_t A, int64_t K, int64_t S) {
  detail::parallel_for(A, detail::grain_for(K * S), [&](int64_t a0, int64_t a1) {
    for (int64_t a = a0; a < a1; ++a)
      for (int64_t k = 0; k < K; ++k)
        for (int64_t s = 0; s < S; ++s) dst[(a * S + s) * K + k] = src[(a * K + k) * S + s];
  });
}
template <typename T>
void classes_back(T* dst, const T* src, int64_t A, int64_t K, int64_t S) {
  detail::parallel_for(A, detail::grain_for(K * S), [&](int64_t a0, int64_t a1) {
    for (int64_t a = a0; a < a1; ++a)
      for (int64_t k = 0; k < K; ++k)
        for (int64_t s = 0; s < S; ++s) dst[(a * K + k) * S + s] = src[(a * S + s) * K + k];
  });
}

// The data of t as rows (A·S, K): t itself when S = 1, else a transposed copy.
Tensor as_rows(const Tensor& t, int64_t A, int64_t K, int64_t S) {
  if (S == 1) return t.detach();
  Tensor r = Tensor::empty({A * S, K}, t.dtype());
  dispatch_float(t.dtype(), "cross_entropy", [&](auto tag) {
    using T = typename decltype(tag)::type;
    classes_last(r.data<T>(), t.data<T>(), A, K, S);
  });
  return r;
}
Tensor from_rows(const Tensor& r, const Shape& shape, int64_t A, int64_t K, int64_t S) {
  if (S == 1) return r.reshape(shape);
  Tensor t = Tensor::empty(shape, r.dtype());
  dispatch_float(r.dtype(), "cross_entropy", [&](auto tag) {
    using T = typename decltype(tag)::type;
    classes_back(t.data<T>(), r.data<T>(), A, K, S);
  });
  return t;
}

}  // namespace

Tensor cross_entropy(const Tensor& input, const Tensor& target, Reduction reduction, double label_smoothing) {
  return cross_entropy(input, target, CrossEntropyOptions{.reduction = reduction, .label_smoothing = label_smoothing});
}

Tensor cross_entropy(const Tensor& input, const Tensor& target, const CrossEntropyOptions& o) {
  if (input.dim() < 1 || !is_floating(input.dtype()))
    throw std::invalid_argument("cross_entropy: expected float logits of shape (N, K), (N, K, d1, ...) or (K), got " +
                                to_string(input.dtype()) + " " + to_string(input.shape()));
  const double eps = o.label_smoothing;
  if (!(eps >= 0.0 && eps <= 1.0))
    throw std::invalid_argument("cross_entropy: label_smoothing must be in [0, 1], got " + std::to_string(eps));
  // The logits as (A, K, S): A before the class dim, S after it; positions P = A·S.
  const int64_t cdim = input.dim() == 1 ? 0 : 1;
  const int64_t K = input.shape()[cdim];
  if (K == 0) throw std::invalid_argument("cross_entropy: logits " + to_string(input.shape()) + " have no classes");
  int64_t A = 1, S = 1;
  Shape pos_shape;  // the input's shape without the class dim: the shape of loss per position
  for (int64_t d = 0; d < input.dim(); ++d) {
    if (d == cdim) continue;
    (d < cdim ? A : S) *= input.shape()[d];
    pos_shape.push_back(input.shape()[d]);
  }
  const int64_t P = A * S;
  const bool hard = target.dtype() == DType::Int64;
  if (hard ? target.shape() != pos_shape : target.shape() != input.shape())
    throw std::invalid_argument(
        "cross_entropy: logits " + to_string(input.shape()) + " and target " + to_string(target.shape()) +
        (hard ? " (class indices must have the logits' shape without the class dim, " + to_string(pos_shape) + ")"
              : std::string(" (probabilities must have the logits' shape)")));
  if (!hard && target.dtype() != input.dtype())
    throw std::invalid_argument("cross_entropy: soft target is " + to_string(target.dtype()) + " but logits are " +
                                to_string(input.dtype()));
  if (!hard && o.ignore_index >= 0)
    throw std::invalid_argument("cross_entropy: ignore_index (" + std::to_string(o.ignore_index) +
                                ") is not supported for probability targets");
  if (o.weight.defined()) {
    if (o.weight.shape() != Shape{K} || o.weight.dtype() != input.dtype())
      throw std::invalid_argument("cross_entropy: weight is " + to_string(o.weight.dtype()) + " " +
                                  to_string(o.weight.shape()) + ", expected " + to_string(input.dtype()) + " [" +
                                  std::to_string(K) + "] (one per class)");
    if (o.weight.requires_grad())
      throw std::invalid_argument(
          "cross_entropy: weight must not require grad (it is not differentiated, as in "
          "PyTorch); pass weight.detach()");
  }
  if (hard)
    for (int64_t i = 0; i < P; ++i) {
      const int64_t t = target.data<int64_t>()[i];
      if ((t < 0 || t >= K) && t != o.ignore_index)
        throw std::invalid_argument("cross_entropy: target " + std::to_string(t) + " at position " + std::to_string(i) +
                                    " is out of range for " + std::to_string(K) + " classes (ignore_index " +
                                    std::to_string(o.ignore_index) + ")");
    }

  const Tensor z = as_rows(input, A, K, S), probs = hard ? Tensor() : as_rows(target, A, K, S);
  const Tensor weight = o.weight.defined() ? o.weight.detach() : Tensor();
  auto make_target = [hard, probs, target = target.detach(), weight, eps, K, ii = o.ignore_index](auto tag) {
    using T = typename decltype(tag)::type;
    Target<T> tg{hard ? target.data<int64_t>() : nullptr,
                 hard ? nullptr : probs.data<T>(),
                 weight.defined() ? weight.data<T>() : nullptr,
                 eps,
                 K,
                 ii,
                 static_cast<double>(K)};
    if (tg.weight) {
      tg.W = 0;
      for (int64_t k = 0; k < K; ++k) tg.W += tg.w(k);
    }
    return tg;
  };
  std::vector<double> loss(P), lse(P);
  double denominator = static_cast<double>(P);  // the mean's: positions, or Σ w_t over those kept
  dispatch_float(input.dtype(), "cross_entropy", [&](auto tag) {
    const auto tg = make_target(tag);
    cross_entropy_forward(loss.data(), lse.data(), z.data<typename decltype(tag)::type>(), tg, P, K);
    if (hard) {
      denominator = 0;  // in position order: deterministic
      for (int64_t i = 0; i < P; ++i)
        if (!tg.ignored(i)) denominator += tg.w(tg.index[i]);
    }
  });
  Tensor y;
  if (o.reduction == Reduction::None) {
    y = tensor(loss, {P}, input.dtype()).reshape(pos_shape);  // ({P}: tensor() reads {} as 1-D)
  } else {
    double total = 0;  // in position order: deterministic
    for (double l : loss) total += l;
    y = scalar_tensor(o.reduction == Reduction::Mean ? total / denominator : total, input.dtype());
  }
  const bool need_dt = !hard && target.requires_grad();
  if (!needs_grad(input, hard ? Tensor() : target)) return y;
  return record(
      "cross_entropy", y, {input, hard ? Tensor() : target},
      [z, lse = std::move(lse), make_target, reduction = o.reduction, denominator, need_dt, P, K, A, S,
       in_shape = input.shape()](const Tensor& g) {
        // Per-position upstream gradient c_i: g_i (none), g (sum), g/denominator (mean).
        std::vector<double> c(P);
        const std::vector<double> gv = g.tolist();
        for (int64_t i = 0; i < P; ++i)
          c[i] = reduction == Reduction::None ? gv[i] : reduction == Reduction::Sum ? gv[0] : gv[0] / denominator;
        Tensor dz = Tensor::empty(z.shape(), z.dtype());
        Tensor dt = need_dt ? Tensor::empty(z.shape(), z.dtype()) : Tensor();
        dispatch_float(z.dtype(), "cross_entropy", [&](auto tag) {
          using T = typename decltype(tag)::type;
          cross_entropy_backward(dz.data<T>(), need_dt ? dt.data<T>() : nullptr, z.data<T>(), lse.data(), c.data(),
                                 make_target(tag), P, K);
        });
        return Grads{from_rows(dz, in_shape, A, K, S), need_dt ? from_rows(dt, in_shape, A, K, S) : Tensor()};
      });
}

}  // namespace rg
