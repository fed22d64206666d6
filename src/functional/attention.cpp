// Causal self-attention on packed q, k, v with a hand-derived backward
// (docs/derivations.md#attention). Every (batch, head) pair is independent: its GEMMs address
// the head's columns inside qkv (row stride 3C), dy and y (row stride C) and run on one thread;
// pairs are shared out across threads, so the result is the same bits at any thread count.
#include "regrad/functional/attention.h"

#include <cmath>
#include <memory>
#include <vector>

#include "../ops/kernels.h"
#include "regrad/autograd/autograd.h"

namespace rg {
namespace {

using detail::gemm;

struct Dims {
  int64_t B, T, C, H, D;
};

// Calls f(b, h, scratch) for every (batch, head) pair, with a T×T scratch buffer per thread.
template <typename T, typename F>
void for_each_head(const Dims& d, F f) {
  detail::parallel_for(d.B * d.H, detail::grain_for(4 * d.T * (d.T + d.D)), [&](int64_t p0, int64_t p1) {
    detail::OneBlasThread one;  // on the serial path (few pairs), large heads' GEMMs stay on one thread too
    std::unique_ptr<T[]> scratch(new T[d.T * d.T]);
    for (int64_t p = p0; p < p1; ++p) f(p / d.H, p % d.H, scratch.get());
  });
}

}  // namespace

Tensor causal_attention(const Tensor& qkv, int64_t num_heads) {
  if (qkv.dim() != 3 || num_heads <= 0 || qkv.size(2) % (3 * num_heads) != 0)
    throw std::invalid_argument("causal_attention: expected qkv (B, T, 3C) with C divisible by num_heads " +
                                std::to_string(num_heads) + ", got " + to_string(qkv.shape()));
  const Dims d{qkv.size(0), qkv.size(1), qkv.size(2) / 3, num_heads, qkv.size(2) / 3 / num_heads};
  Tensor y = Tensor::empty({d.B, d.T, d.C}, qkv.dtype());
  auto att = std::make_shared<Tensor>(Tensor::empty({d.B, d.H, d.T, d.T}, qkv.dtype()));  // A per head
  dispatch_float(qkv.dtype(), "causal_attention", [&](auto tag) {
    using T = typename decltype(tag)::type;
    const T scale = static_cast<T>(1.0 / std::sqrt(static_cast<double>(d.D)));
    const int64_t ld = 3 * d.C;
    for_each_head<T>(d, [&](int64_t b, int64_t h, T*) {
      const T* q = qkv.data<T>() + b * d.T * ld + h * d.D;  // head h of q; k and v are C and 2C further
      T* a = att->data<T>() + (b * d.H + h) * d.T * d.T;
      gemm(false, true, d.T, d.T, d.D, q, ld, q + d.C, ld, T(0), a, d.T);  // S = q·kᵀ
      for (int64_t t = 0; t < d.T; ++t) {  // A_t = softmax(S_t·scale) over s ≤ t, 0 for s > t
        T* r = a + t * d.T;
        T m = r[0] * scale;
        for (int64_t s = 1; s <= t; ++s) m = std::max(m, r[s] * scale);
        double z = 0;
        for (int64_t s = 0; s <= t; ++s) z += std::exp(static_cast<double>(r[s] * scale - m));
        const T inv = static_cast<T>(1.0 / z);
        for (int64_t s = 0; s <= t; ++s) r[s] = std::exp(r[s] * scale - m) * inv;
        for (int64_t s = t + 1; s < d.T; ++s) r[s] = T(0);
      }
      gemm(false, false, d.T, d.D, d.T, a, d.T, q + 2 * d.C, ld, T(0), y.data<T>() + b * d.T * d.C + h * d.D, d.C);
    });
  });
  return record("causal_attention", y, {qkv}, [qkv = qkv.detach(), att, d](const Tensor& dy) {
    Tensor dqkv = Tensor::empty(qkv.shape(), qkv.dtype());  // every element is written by one head
    dispatch_float(dy.dtype(), "causal_attention", [&](auto tag) {
      using T = typename decltype(tag)::type;
      const T scale = static_cast<T>(1.0 / std::sqrt(static_cast<double>(d.D)));
      const int64_t ld = 3 * d.C;
      for_each_head<T>(d, [&](int64_t b, int64_t h, T* ds) {
        const T* q = qkv.data<T>() + b * d.T * ld + h * d.D;
        const T* a = att->data<T>() + (b * d.H + h) * d.T * d.T;
        const T* g = dy.data<T>() + b * d.T * d.C + h * d.D;
        T* dq = dqkv.data<T>() + b * d.T * ld + h * d.D;
        gemm(true, false, d.T, d.D, d.T, a, d.T, g, d.C, T(0), dq + 2 * d.C, ld);  // dv = Aᵀ·dy
        gemm(false, true, d.T, d.T, d.D, g, d.C, q + 2 * d.C, ld, T(0), ds, d.T);  // dA = dy·vᵀ
        for (int64_t t = 0; t < d.T; ++t) {  // dS = scale·A ⊙ (dA − Σ_s dA⊙A); 0 where A is
          T* r = ds + t * d.T;
          const T* at = a + t * d.T;
          T dot = 0;
          for (int64_t s = 0; s <= t; ++s) dot += r[s] * at[s];
          for (int64_t s = 0; s < d.T; ++s) r[s] = scale * at[s] * (r[s] - dot);
        }
        gemm(false, false, d.T, d.D, d.T, ds, d.T, q + d.C, ld, T(0), dq, ld);  // dq = dS·k
        gemm(true, false, d.T, d.D, d.T, ds, d.T, q, ld, T(0), dq + d.C, ld);   // dk = dSᵀ·q
      });
    });
    return Grads{dqkv};
  });
}

}  // namespace rg
