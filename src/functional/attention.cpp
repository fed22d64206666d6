// Causal self-attention on packed q, k, v with a hand-derived backward
// (docs/derivations.md#attention). Every (batch, head) pair is independent: its matrix products
// address the head's columns inside qkv (row stride 3C), dy and y (row stride C) and run on one
// thread; pairs are shared out across threads, so the result is the same bits at any thread count.
//
// Each head's products are computed one of two ways, chosen by the head's size alone:
//  - GEMM calls, as the formulas read (large heads);
//  - loops over rows (small heads, T ≤ 32 and D ≤ 16): in the experiments a head is 8×16
//    (context 8, 64 channels, 4 heads), and a cblas_sgemm call costs more than its 1,024
//    multiply-adds; the loops also skip the masked half of A (docs/performance.md, *Attention*).
#include "regrad/functional/attention.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <memory>
#include <vector>

#include "../ops/kernels.h"
#include "../ops/vmath.h"
#include "regrad/autograd/autograd.h"

namespace rg {
namespace {

using detail::gemm;

struct Dims {
  int64_t B, T, C, H, D;
  int64_t ld() const { return 3 * C; }  // qkv's row stride
  bool small() const { return T <= 32 && D <= 16; }
};

// Calls f(b, h, buffer) for every (batch, head) pair, with a buffer of T·(T + D) values per thread.
template <typename T, typename F>
void for_each_head(const Dims& d, F f) {
  detail::parallel_for(d.B * d.H, detail::grain_for(4 * d.T * (d.T + d.D)), [&](int64_t p0, int64_t p1) {
    detail::OneBlasThread one;  // on the serial path (few pairs), large heads' GEMMs stay on one thread too
    std::unique_ptr<T[]> buffer(new T[d.T * (d.T + d.D)]);
    for (int64_t p = p0; p < p1; ++p) f(p / d.H, p % d.H, buffer.get());
  });
}

// Row t of A from row t of S = q·kᵀ, in place: A_ts = softmax over s ≤ t of c·S_ts, 0 for s > t.
template <typename T>
void softmax_row(T* r, int64_t t, int64_t n, T c) {
  for (int64_t s = 0; s <= t; ++s) r[s] *= c;
  const T m = *std::max_element(r, r + t + 1);
  double z = 0;
  for (int64_t s = 0; s <= t; ++s) z += r[s] = detail::vexp(r[s] - m);
  const T inv = static_cast<T>(1.0 / z);
  for (int64_t s = 0; s <= t; ++s) r[s] *= inv;
  std::fill(r + t + 1, r + n, T(0));
}

// Row t of dS from row t of dA, in place: dS_ts = c·A_ts·(dA_ts − Σ_{s' ≤ t} dA_ts'·A_ts'), which is
// 0 where A is (s > t).
template <typename T>
void softmax_backward_row(T* r, const T* a, int64_t t, int64_t n, T c) {
  T dot = 0;
  for (int64_t s = 0; s <= t; ++s) dot += r[s] * a[s];
  for (int64_t s = 0; s < n; ++s) r[s] = c * a[s] * (r[s] - dot);
}

// xt (cols×rows) = the transpose of x (rows×cols, row stride ld).
template <typename T>
void transpose(const T* x, int64_t ld, int64_t rows, int64_t cols, T* xt) {
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t c = 0; c < cols; ++c) xt[c * rows + r] = x[r * ld + c];
}

// R rows of a matrix product at once, each a combination of rows of x: for r < R,
//   out_r[0, n) = Σ_{lo_r ≤ i < hi_r} w_r[i·w_stride] · x[i·ld + (0, n)],  w_r = w + r·w_row, out_r = out + r·out_row.
// Each output starts at 0 and adds its terms in order i = lo_r, lo_r + 1, …; an empty range gives 0. A vector of
// outputs per row (8 floats or 4 doubles: one AVX2 register, GCC's vector type) stays in a register
// until its sums are done. One row alone is a chain of dependent additions, each waiting for the one
// before; R rows give R independent chains in flight, so their latencies overlap. The products and
// sums are rounded one by one, never fused into one FMA, as in the loop each row had to itself before
// (GCC fused some of these and not others: fp-contract=off for this function; Clang fuses only
// within one statement, so the product is a statement of its own).
#if defined(__GNUC__) && !defined(__clang__)
#define RG_NO_FMA [[gnu::optimize("fp-contract=off")]]
#else
#define RG_NO_FMA
#endif

template <typename T>
struct Vector;  // one AVX2 register of T
template <>
struct Vector<float> {
  using type = float __attribute__((vector_size(32)));
};
template <>
struct Vector<double> {
  using type = double __attribute__((vector_size(32)));
};

template <int64_t R, typename T>
RG_NO_FMA void combine_rows(const T* w, int64_t w_row, int64_t w_stride, const int64_t* lo, const int64_t* hi,
                            const T* x, int64_t ld, int64_t n, T* out, int64_t out_row) {
  using V = typename Vector<T>::type;
  constexpr int64_t kWidth = sizeof(V) / sizeof(T);
  const int64_t i0 = *std::min_element(lo, lo + R), i1 = *std::max_element(hi, hi + R);
  int64_t j = 0;
  for (; j + kWidth <= n; j += kWidth) {
    V acc[R] = {};
    for (int64_t i = i0; i < i1; ++i) {
      V xi;
      std::memcpy(&xi, x + i * ld + j, sizeof(V));
      for (int64_t r = 0; r < R; ++r)
        if (lo[r] <= i && i < hi[r]) {
          const V product = w[r * w_row + i * w_stride] * xi;
          acc[r] += product;
        }
    }
    for (int64_t r = 0; r < R; ++r) std::memcpy(out + r * out_row + j, &acc[r], sizeof(V));
  }
  for (; j < n; ++j)  // the last n mod kWidth outputs
    for (int64_t r = 0; r < R; ++r) {
      T acc = 0;
      for (int64_t i = lo[r]; i < hi[r]; ++i) {
        const T product = w[r * w_row + i * w_stride] * x[i * ld + j];
        acc += product;
      }
      out[r * out_row + j] = acc;
    }
}

// Rows t < rows of a product, kRows at a time (the last rows mod kRows one at a time): row t sums
// its terms i ∈ [lo(t), hi(t)), out_t = Σ_i w_t[i·w_stride]·x_i. Every row is written in full.
constexpr int64_t kRows = 8;

template <typename T, typename Lo, typename Hi>
void product_rows(int64_t rows, Lo lo, Hi hi, const T* w, int64_t w_row, int64_t w_stride, const T* x, int64_t ld,
                  int64_t n, T* out, int64_t out_row) {
  int64_t t = 0, l[kRows], h[kRows];
  for (; t + kRows <= rows; t += kRows) {
    for (int64_t r = 0; r < kRows; ++r) l[r] = lo(t + r), h[r] = hi(t + r);
    combine_rows<kRows>(w + t * w_row, w_row, w_stride, l, h, x, ld, n, out + t * out_row, out_row);
  }
  for (; t < rows; ++t) {
    l[0] = lo(t), h[0] = hi(t);
    combine_rows<1>(w + t * w_row, w_row, w_stride, l, h, x, ld, n, out + t * out_row, out_row);
  }
}

// Where row t's terms start and end for product_rows: at 0 or at t; just past t, or at a fixed n.
constexpr auto at_zero = [](int64_t) { return int64_t(0); };
constexpr auto at_row = [](int64_t t) { return t; };
constexpr auto past_row = [](int64_t t) { return t + 1; };
constexpr auto at(int64_t n) {
  return [n](int64_t) { return n; };
}

// One head: q, k, v and y (or dq, dk, dv and dy) are T×D with row strides 3C (qkv) and C (y, dy);
// a is A (T×T), buffer has T·(T + D) values.
template <typename T>
struct Head {
  const Dims& d;
  T c;  // 1/√D
  const T* q;
  T* a;
  const T *k = q + d.C, *v = q + 2 * d.C;  // the head's k and v, C and 2C columns past q

  void forward(T* y, T* buffer) const {
    const int64_t ld = d.ld();
    if (!d.small()) {
      gemm(false, true, d.T, d.T, d.D, q, ld, k, ld, T(0), a, d.T);  // S = q·kᵀ
      for (int64_t t = 0; t < d.T; ++t) softmax_row(a + t * d.T, t, d.T, c);
      gemm(false, false, d.T, d.D, d.T, a, d.T, v, ld, T(0), y, d.C);  // y = A·v
      return;
    }
    T* kt = buffer;
    transpose(k, ld, d.T, d.D, kt);
    product_rows(d.T, at_zero, at(d.D), q, ld, 1, kt, d.T, d.T, a, d.T);  // S_t = Σ_j q_tj·(kᵀ)_j
    for (int64_t t = 0; t < d.T; ++t) softmax_row(a + t * d.T, t, d.T, c);
    product_rows(d.T, at_zero, past_row, a, d.T, 1, v, ld, d.D, y, d.C);  // y_t = Σ_{s ≤ t} A_ts·v_s
  }

  void backward(const T* g, T* dq, T* dk, T* dv, T* buffer) const {
    const int64_t ld = d.ld();
    T* ds = buffer;  // dA, then dS
    if (!d.small()) {
      gemm(true, false, d.T, d.D, d.T, a, d.T, g, d.C, T(0), dv, ld);  // dv = Aᵀ·dy
      gemm(false, true, d.T, d.T, d.D, g, d.C, v, ld, T(0), ds, d.T);  // dA = dy·vᵀ
      for (int64_t t = 0; t < d.T; ++t) softmax_backward_row(ds + t * d.T, a + t * d.T, t, d.T, c);
      gemm(false, false, d.T, d.D, d.T, ds, d.T, k, ld, T(0), dq, ld);  // dq = dS·k
      gemm(true, false, d.T, d.D, d.T, ds, d.T, q, ld, T(0), dk, ld);   // dk = dSᵀ·q
      return;
    }
    T* vt = buffer + d.T * d.T;
    transpose(v, ld, d.T, d.D, vt);
    product_rows(d.T, at_zero, at(d.D), g, d.C, 1, vt, d.T, d.T, ds, d.T);  // dA_t = Σ_j dy_tj·(vᵀ)_j
    for (int64_t t = 0; t < d.T; ++t) softmax_backward_row(ds + t * d.T, a + t * d.T, t, d.T, c);
    // dS and A are 0 above the diagonal (s > t in row t): the sums run over the other half only.
    product_rows(d.T, at_zero, past_row, ds, d.T, 1, k, ld, d.D, dq, ld);  // dq_t = Σ_{s ≤ t} dS_ts·k_s
    product_rows(d.T, at_row, at(d.T), ds, 1, d.T, q, ld, d.D, dk, ld);    // dk_t = Σ_{s ≥ t} dS_st·q_s
    product_rows(d.T, at_row, at(d.T), a, 1, d.T, g, d.C, d.D, dv, ld);    // dv_t = Σ_{s ≥ t} A_st·dy_s
  }
};

}  // namespace

Tensor causal_attention(const Tensor& qkv, int64_t num_heads) {
  if (qkv.dim() != 3 || num_heads <= 0 || qkv.size(2) % (3 * num_heads) != 0)
    throw std::invalid_argument("causal_attention: expected qkv (B, T, 3C) with C divisible by num_heads " +
                                std::to_string(num_heads) + ", got " + to_string(qkv.shape()));
  const Dims d{qkv.size(0), qkv.size(1), qkv.size(2) / 3, num_heads, qkv.size(2) / 3 / num_heads};
  Tensor y = Tensor::empty({d.B, d.T, d.C}, qkv.dtype());
  auto att = std::make_shared<Tensor>(Tensor::empty({d.B, d.H, d.T, d.T}, qkv.dtype()));  // A per head
  // Head h of (batch entry b): q, k and v start at these offsets in qkv, y at y_offset in y.
  const auto qkv_offset = [d](int64_t b, int64_t h) { return b * d.T * d.ld() + h * d.D; };
  const auto y_offset = [d](int64_t b, int64_t h) { return b * d.T * d.C + h * d.D; };
  dispatch_float(qkv.dtype(), "causal_attention", [&](auto tag) {
    using T = typename decltype(tag)::type;
    const T c = static_cast<T>(1.0 / std::sqrt(static_cast<double>(d.D)));
    for_each_head<T>(d, [&](int64_t b, int64_t h, T* buffer) {
      const T* q = qkv.data<T>() + qkv_offset(b, h);
      const Head<T> head{d, c, q, att->data<T>() + (b * d.H + h) * d.T * d.T};
      head.forward(y.data<T>() + y_offset(b, h), buffer);
    });
  });
  if (!needs_grad(qkv)) return y;
  return record("causal_attention", y, {qkv}, [qkv = qkv.detach(), att, d, qkv_offset, y_offset](const Tensor& dy) {
    Tensor dqkv = Tensor::empty(qkv.shape(), qkv.dtype());  // every element is written by one head
    dispatch_float(dy.dtype(), "causal_attention", [&](auto tag) {
      using T = typename decltype(tag)::type;
      const T c = static_cast<T>(1.0 / std::sqrt(static_cast<double>(d.D)));
      for_each_head<T>(d, [&](int64_t b, int64_t h, T* buffer) {
        const T* q = qkv.data<T>() + qkv_offset(b, h);
        const Head<T> head{d, c, q, att->data<T>() + (b * d.H + h) * d.T * d.T};
        T* dq = dqkv.data<T>() + qkv_offset(b, h);
        head.backward(dy.data<T>() + y_offset(b, h), dq, dq + d.C, dq + 2 * d.C, buffer);
      });
    });
    return Grads{dqkv};
  });
}

}  // namespace rg
