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

// The softmax works on kLanes rows at a time, one per SIMD lane (causal_softmax).
constexpr int64_t kLanes = 8;

struct Dims {
  int64_t B, T, C, H, D;
  int64_t ld() const { return 3 * C; }  // qkv's row stride
  bool small() const { return T <= 32 && D <= 16; }
  // A head's scratch: T·D values (kᵀ or vᵀ) and T·T (dS) or T·kLanes (the softmax's lanes).
  int64_t buffer_size() const { return T * (D + std::max(T, kLanes)); }
};

// Calls f(b, h, buffer) for every (batch, head) pair, with a buffer of d.buffer_size() values per thread.
// Before each pair, touch(b, h) of the pair after it asks for that pair's rows to be fetched into the cache.
template <typename T, typename F, typename Touch>
void for_each_head(const Dims& d, F f, Touch touch) {
  detail::parallel_for(d.B * d.H, detail::grain_for(4 * d.T * (d.T + d.D)), [&](int64_t p0, int64_t p1) {
    detail::OneBlasThread one;  // on the serial path (few pairs), large heads' GEMMs stay on one thread too
    std::unique_ptr<T[]> buffer(new T[d.buffer_size()]);
    for (int64_t p = p0; p < p1; ++p) {
      if (p + 1 < p1) touch((p + 1) / d.H, (p + 1) % d.H);
      f(p / d.H, p % d.H, buffer.get());
    }
  });
}

// Asks for the cache line holding p to be fetched, to be read (kWrite = 0) or written (1). With
// __builtin_prefetch, GCC 12 kept one prefetch per function here and dropped the others (and, with
// the loops in a helper of their own, the call itself), so on x86-64 the instruction is written out.
template <int kWrite>
inline void prefetch_line(const void* p) {
#if defined(__x86_64__)
  if constexpr (kWrite) asm volatile("prefetchw %0" : : "m"(*static_cast<const char*>(p)));
  else asm volatile("prefetcht0 %0" : : "m"(*static_cast<const char*>(p)));
#else
  __builtin_prefetch(p, kWrite);
#endif
}

// The same for `rows` rows of n values (row stride ld). A head reads and writes a few short rows of
// qkv, y and dy (one 64-byte line each at the experiments' shapes), which in a training step are
// often out of the cache by the time the head runs; for_each_head asks for the next head's lines
// while this one computes (docs/performance.md).
template <int kWrite, typename T>
void prefetch_rows(const T* x, int64_t rows, int64_t ld, int64_t n) {
  constexpr int64_t kLine = 64 / sizeof(T);  // values per cache line
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t j = 0; j < n; j += kLine) prefetch_line<kWrite>(x + r * ld + j);
}

// The same for a head's q, k and v (or dq, dk and dv), q at x.
template <int kWrite, typename T>
void prefetch_qkv(const T* x, const Dims& d) {
  for (int64_t part = 0; part < 3; ++part) prefetch_rows<kWrite>(x + part * d.C, d.T, d.ld(), d.D);
}

// A from S = q·kᵀ for one head, in place (a: n×n): row t of A is the softmax over s ≤ t of c·S_ts,
// and 0 for s > t. Each row is computed as the one-row formula reads, in its order:
//   m = max_{s≤t} c·S_ts,  e_s = exp(c·S_ts − m),  z = Σ_{s≤t} e_s (summed in double, s = 0, 1, …),
//   A_ts = e_s · (1/z, rounded to T).
// A row alone is short (t + 1 ≤ 8 values at the experiments' shapes), and its max and its sum are
// chains of dependent steps. So the rows go kLanes at a time, one per lane: x holds a group's
// values column by column (x[s·kLanes + l] is row t0 + l, column s), and the max and the sum run
// lane-wise, one column after the other. x has room for n·kLanes values.
template <typename T>
void causal_softmax(T* a, int64_t n, T c, T* x) {
  constexpr int64_t L = kLanes;
  for (int64_t t0 = 0; t0 < n; t0 += L) {
    const int64_t rows = std::min(L, n - t0), cols = t0 + rows;  // row t0 + l uses columns s ≤ t0 + l
    for (int64_t s = 0; s < cols; ++s)
      for (int64_t l = 0; l < L; ++l) x[s * L + l] = l < rows ? c * a[(t0 + l) * n + s] : T(0);
    T m[L];
    for (int64_t l = 0; l < L; ++l) m[l] = x[l];  // column 0 is in every row
    for (int64_t s = 1; s < cols; ++s)
#pragma omp simd
      for (int64_t l = 0; l < L; ++l) {
        const T v = x[s * L + l];
        m[l] = s <= t0 + l && v > m[l] ? v : m[l];  // a later value replaces m only if larger
      }
    double z[L] = {};
    for (int64_t s = 0; s < cols; ++s)
#pragma omp simd
      for (int64_t l = 0; l < L; ++l) {
        const bool in_row = s <= t0 + l;
        const T e = detail::vexp((in_row ? x[s * L + l] : m[l]) - m[l]);  // outside the row: e⁰, unused
        x[s * L + l] = e;
        z[l] = in_row ? z[l] + e : z[l];
      }
    for (int64_t l = 0; l < rows; ++l) {
      const int64_t t = t0 + l;
      const T inv = static_cast<T>(1.0 / z[l]);
      for (int64_t s = 0; s < n; ++s) a[t * n + s] = s <= t ? x[s * L + l] * inv : T(0);
    }
  }
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
// a is A (T×T), buffer has d.buffer_size() values.
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
      causal_softmax(a, d.T, c, buffer);
      gemm(false, false, d.T, d.D, d.T, a, d.T, v, ld, T(0), y, d.C);  // y = A·v
      return;
    }
    T* kt = buffer;
    transpose(k, ld, d.T, d.D, kt);
    product_rows(d.T, at_zero, at(d.D), q, ld, 1, kt, d.T, d.T, a, d.T);  // S_t = Σ_j q_tj·(kᵀ)_j
    causal_softmax(a, d.T, c, buffer + d.T * d.D);
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
    const auto forward = [&](int64_t b, int64_t h, T* buffer) {
      const T* q = qkv.data<T>() + qkv_offset(b, h);
      const Head<T> head{d, c, q, att->data<T>() + (b * d.H + h) * d.T * d.T};
      head.forward(y.data<T>() + y_offset(b, h), buffer);
    };
    const auto touch = [&](int64_t b, int64_t h) {
      prefetch_qkv<0>(qkv.data<T>() + qkv_offset(b, h), d);
      prefetch_rows<1>(y.data<T>() + y_offset(b, h), d.T, d.C, d.D);
    };
    for_each_head<T>(d, forward, touch);
  });
  if (!needs_grad(qkv)) return y;
  return record("causal_attention", y, {qkv}, [qkv = qkv.detach(), att, d, qkv_offset, y_offset](const Tensor& dy) {
    Tensor dqkv = Tensor::empty(qkv.shape(), qkv.dtype());  // every element is written by one head
    dispatch_float(dy.dtype(), "causal_attention", [&](auto tag) {
      using T = typename decltype(tag)::type;
      const T c = static_cast<T>(1.0 / std::sqrt(static_cast<double>(d.D)));
      const auto backward = [&](int64_t b, int64_t h, T* buffer) {
        const T* q = qkv.data<T>() + qkv_offset(b, h);
        const Head<T> head{d, c, q, att->data<T>() + (b * d.H + h) * d.T * d.T};
        T* dq = dqkv.data<T>() + qkv_offset(b, h);
        head.backward(dy.data<T>() + y_offset(b, h), dq, dq + d.C, dq + 2 * d.C, buffer);
      };
      const auto touch = [&](int64_t b, int64_t h) {
        prefetch_qkv<0>(qkv.data<T>() + qkv_offset(b, h), d);
        prefetch_qkv<1>(dqkv.data<T>() + qkv_offset(b, h), d);
        prefetch_rows<0>(dy.data<T>() + y_offset(b, h), d.T, d.C, d.D);
      };
      for_each_head<T>(d, backward, touch);
    });
    return Grads{dqkv};
  });
}

}  // namespace rg
