// Internal kernel templates: elementwise maps (flat, and broadcasting), the (outer, n, inner) view
// of a dimension, argument checks and the GEMM wrapper. Everything here works on contiguous buffers.
#pragma once
#include <cblas.h>

#include <algorithm>
#include <cstring>
#include <string>

#include "../tensor/parallel.h"
#include "regrad/tensor/tensor.h"

namespace rg::detail {

inline void check_same_dtype(const Tensor& a, const Tensor& b, const char* op) {
  if (a.dtype() != b.dtype())
    throw std::invalid_argument(std::string(op) + ": dtype mismatch, " + to_string(a.dtype()) + " " +
                                to_string(a.shape()) + " vs " + to_string(b.dtype()) + " " + to_string(b.shape()));
}

// While alive outside a parallel region, GEMMs run on the calling thread: OpenBLAS sizes its
// threads by omp_get_max_threads(), and its threaded GEMM does not give the bits of its
// single-threaded one. Kernels whose threads share out whole GEMMs use it on their serial path,
// so their results do not depend on the thread count. Inside a parallel region it does nothing.
class OneBlasThread {
 public:
  OneBlasThread() : saved_(omp_get_max_threads()), set_(!omp_in_parallel() && saved_ > 1) {
    if (set_) omp_set_num_threads(1);
  }
  ~OneBlasThread() {
    if (set_) omp_set_num_threads(saved_);
  }
  OneBlasThread(const OneBlasThread&) = delete;
  OneBlasThread& operator=(const OneBlasThread&) = delete;

 private:
  int saved_;
  bool set_;
};

inline void blas_gemm(bool ta, bool tb, int64_t M, int64_t N, int64_t K, const float* A, int64_t lda, const float* B,
                      int64_t ldb, float beta, float* C, int64_t ldc) {
  cblas_sgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans, M, N, K, 1.0f, A, lda, B,
              ldb, beta, C, ldc);
}
inline void blas_gemm(bool ta, bool tb, int64_t M, int64_t N, int64_t K, const double* A, int64_t lda, const double* B,
                      int64_t ldb, double beta, double* C, int64_t ldc) {
  cblas_dgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans, M, N, K, 1.0, A, lda, B,
              ldb, beta, C, ldc);
}

// C = op(A)·op(B) + beta·C by OpenBLAS on the calling thread. For beta = 0 OpenBLAS first clears C
// with its own loop (sgemm_beta: 5 % of the CNN's and the Transformer's steps by `perf` on a Zen 3
// machine) and then adds the product into it; memset clears faster, and the product added to a
// cleared C with beta = 1 is the same arithmetic, so the same bits (docs/performance.md, *Clearing
// C before a GEMM*).
template <typename T>
void blas_gemm_cleared(bool ta, bool tb, int64_t M, int64_t N, int64_t K, const T* A, int64_t lda, const T* B,
                       int64_t ldb, T beta, T* C, int64_t ldc) {
  if (M == 0 || N == 0) return;  // nothing to write (OpenBLAS would reject the leading dims)
  if (beta == T(0)) {
    if (ldc == N) std::memset(C, 0, sizeof(T) * static_cast<std::size_t>(M * N));
    else
      for (int64_t r = 0; r < M; ++r) std::memset(C + r * ldc, 0, sizeof(T) * static_cast<std::size_t>(N));
    beta = T(1);
  }
  if (K == 0) {  // an empty sum: C = beta·C
    if (beta != T(1))
      for (int64_t r = 0; r < M; ++r)
        for (int64_t j = 0; j < N; ++j) C[r * ldc + j] *= beta;
    return;
  }
  blas_gemm(ta, tb, M, N, K, A, lda, B, ldb, beta, C, ldc);
}

// Multiply-adds below which a GEMM runs on one thread (a parallel region costs microseconds).
constexpr int64_t kGemmSplitWork = int64_t{1} << 20;

// C = op(A)·op(B) + beta·C, row-major: C is M×N with row stride ldc, op(A) is M×K, op(B) is K×N,
// op(X) = Xᵀ when its flag is set; lda and ldb are the row strides of A and B as stored.
// Outside a parallel region a large GEMM is cut into blocks of C's rows (or, when C is wider than
// tall, of its columns), one per thread, each computed by OpenBLAS on its thread alone: the threads
// meet once per GEMM instead of inside OpenBLAS's blocking (docs/performance.md). The result still
// depends on the thread count: OpenBLAS gives other bits for a block of rows than for the same rows
// inside the whole product.
template <typename T>
void gemm(bool ta, bool tb, int64_t M, int64_t N, int64_t K, const T* A, int64_t lda, const T* B, int64_t ldb, T beta,
          T* C, int64_t ldc) {
  const bool by_rows = M >= N;
  const int64_t len = by_rows ? M : N;
  const int threads = omp_in_parallel() ? 1 : omp_get_max_threads();
  const int parts =
      static_cast<int>(std::min<int64_t>({threads, len / 8, std::max<int64_t>(1, M * N * K / kGemmSplitWork)}));
  if (parts <= 1) {
    OneBlasThread one;
    blas_gemm_cleared(ta, tb, M, N, K, A, lda, B, ldb, beta, C, ldc);
    return;
  }
#pragma omp parallel num_threads(parts)
  {
    const int64_t t = omp_get_thread_num(), lo = len * t / parts, n = len * (t + 1) / parts - lo;
    if (by_rows)  // rows lo … lo+n of op(A) and of C
      blas_gemm_cleared(ta, tb, n, N, K, A + (ta ? lo : lo * lda), lda, B, ldb, beta, C + lo * ldc, ldc);
    else  // columns lo … lo+n of op(B) and of C
      blas_gemm_cleared(ta, tb, M, n, K, A, lda, B + (tb ? lo * ldb : lo), ldb, beta, C + lo, ldc);
  }
}

// The same for dense operands: C (M×N) = op(A)·op(B), every matrix stored without padding.
template <typename T>
void gemm(bool ta, bool tb, int64_t M, int64_t N, int64_t K, const T* A, const T* B, T* C) {
  gemm(ta, tb, M, N, K, A, ta ? M : K, B, tb ? K : N, T(0), C, N);
}

// out[i] = f(x[i])
template <typename T, typename F>
Tensor map(const Tensor& x, F f) {
  Tensor out = Tensor::empty(x.shape(), x.dtype());
  const T* px = x.data<T>();
  T* po = out.data<T>();
  parallel_for(x.numel(), kGrain, [&](int64_t b, int64_t e) {
#pragma omp simd
    for (int64_t i = b; i < e; ++i) po[i] = f(px[i]);
  });
  return out;
}

// out[i] = f(a[i], b[i]) for equal shapes.
template <typename T, typename F>
Tensor zip(const Tensor& a, const Tensor& b, F f) {
  Tensor out = Tensor::empty(a.shape(), a.dtype());
  const T *pa = a.data<T>(), *pb = b.data<T>();
  T* po = out.data<T>();
  parallel_for(a.numel(), kGrain, [&](int64_t s, int64_t e) {
#pragma omp simd
    for (int64_t i = s; i < e; ++i) po[i] = f(pa[i], pb[i]);
  });
  return out;
}

// Strides of `s` aligned to an `ndim`-d broadcast result: 0 along broadcast (size-1 or missing) dims.
inline std::vector<int64_t> broadcast_strides(const Shape& s, const Shape& out) {
  std::vector<int64_t> st(out.size(), 0);
  const auto cs = contiguous_strides(s);
  const std::size_t lead = out.size() - s.size();
  for (std::size_t i = 0; i < s.size(); ++i) st[lead + i] = s[i] == 1 ? 0 : cs[i];
  return st;
}

// Offset into a broadcast operand of the first element of output row `row` (rows run over all
// dims but the last).
inline int64_t row_offset(int64_t row, const Shape& out, const std::vector<int64_t>& strides) {
  int64_t off = 0;
  for (int64_t d = static_cast<int64_t>(out.size()) - 2; d >= 0; --d) {
    off += (row % out[d]) * strides[d];
    row /= out[d];
  }
  return off;
}

// out = f(a, b) with broadcasting. Fast paths for equal shapes and a one-element operand.
template <typename T, typename F>
Tensor broadcast_zip(const Tensor& a, const Tensor& b, const Shape& out_shape, F f) {
  if (a.shape() == out_shape && b.shape() == out_shape) return zip<T>(a, b, f);
  Tensor out = Tensor::empty(out_shape, a.dtype());
  const T *pa = a.data<T>(), *pb = b.data<T>();
  T* po = out.data<T>();
  const int64_t n = out.numel();
  if (b.numel() == 1 && a.shape() == out_shape) {
    const T vb = pb[0];
    parallel_for(n, kGrain, [&](int64_t s, int64_t e) {
#pragma omp simd
      for (int64_t i = s; i < e; ++i) po[i] = f(pa[i], vb);
    });
    return out;
  }
  if (a.numel() == 1 && b.shape() == out_shape) {
    const T va = pa[0];
    parallel_for(n, kGrain, [&](int64_t s, int64_t e) {
#pragma omp simd
      for (int64_t i = s; i < e; ++i) po[i] = f(va, pb[i]);
    });
    return out;
  }
  if (n == 0) return out;
  const auto sa = broadcast_strides(a.shape(), out_shape), sb = broadcast_strides(b.shape(), out_shape);
  const int64_t inner = out_shape.back(), rows = n / inner;
  const int64_t ia = sa.back(), ib = sb.back();
  parallel_for(rows, grain_for(inner), [&](int64_t s, int64_t e) {
    for (int64_t r = s; r < e; ++r) {
      const T* ra = pa + row_offset(r, out_shape, sa);
      const T* rb = pb + row_offset(r, out_shape, sb);
      T* ro = po + r * inner;
      // Along the last dim an operand's stride is 1, or 0 where it is broadcast: a loop for each
      // case, so that a row with a row and a row with one value run as vector loops.
      if (ia == 1 && ib == 1) {
#pragma omp simd
        for (int64_t i = 0; i < inner; ++i) ro[i] = f(ra[i], rb[i]);
      } else if (ia == 1) {
        const T vb = rb[0];
#pragma omp simd
        for (int64_t i = 0; i < inner; ++i) ro[i] = f(ra[i], vb);
      } else if (ib == 1) {
        const T va = ra[0];
#pragma omp simd
        for (int64_t i = 0; i < inner; ++i) ro[i] = f(va, rb[i]);
      } else {
        std::fill(ro, ro + inner, f(ra[0], rb[0]));
      }
    }
  });
  return out;
}

// A dimension seen as (outer, n, inner): element (o, k, i) sits at (o·n + k)·inner + i.
struct DimView {
  int64_t outer = 1, n = 1, inner = 1;
};
inline DimView dim_view(const Shape& s, int64_t dim) {
  DimView v;
  for (int64_t d = 0; d < static_cast<int64_t>(s.size()); ++d) {
    if (d < dim) v.outer *= s[d];
    else if (d == dim) v.n = s[d];
    else v.inner *= s[d];
  }
  return v;
}

}  // namespace rg::detail
