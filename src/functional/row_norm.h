// Internal: the kernels behind LayerNorm, RMSNorm and GroupNorm. Each normalizes rows of D
// contiguous elements with their own statistics:
//   LayerNorm  rows = the leading elements, D = numel(normalized_shape), affine per element;
//   RMSNorm    the same without centering (μ = 0) and without bias;
//   GroupNorm  rows = (sample, group) pairs, D = (C/G)·S, one parameter per run of F = S
//              elements; row r uses the parameters of group r mod G (period G).
// Element d of row r uses parameter (r mod G)·D/F + d/F: F = 1 is one parameter per element
// (LayerNorm; GroupNorm with short S passes its parameters repeated S times, so the loops run
// over whole rows), F > 1 runs an inner loop per parameter (GroupNorm with long S).
// Derivations: docs/derivations.md#layernorm, #rmsnorm, #groupnorm.
#pragma once
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <vector>

#include "../tensor/parallel.h"
#include "regrad/tensor/tensor.h"

namespace rg::detail {

// Forward, per row r: μ = mean(x) (0 without centering), rstd = 1/√(mean((x − μ)²) + ε),
// y = γ·(x − μ)·rstd + β with γ, β the row's parameters (null: 1 and 0). Caches μ and rstd per
// row. Reads the row three times with centering (Σx, Σ(x − μ)², then y), twice without; only the
// first read comes from memory.
template <typename T>
void row_norm_forward(T* y, double* mean, double* rstd, const T* x, const T* weight, const T* bias, int64_t rows,
                      int64_t D, int64_t G, int64_t F, double eps, bool center) {
  parallel_for(rows, grain_for(D), [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; ++r) {
      // Pointers in locals, not captures, so that the simd loops vectorise (docs/performance.md).
      const T* xr = x + r * D;
      const T* w = weight ? weight + (r % G) * (D / F) : nullptr;
      const T* b = bias ? bias + (r % G) * (D / F) : nullptr;
      T* yr = y + r * D;
      T m = 0, v = 0;  // per-lane partial sums in T: float accuracy is ample for one row
      if (center) {
#pragma omp simd reduction(+ : m)
        for (int64_t d = 0; d < D; ++d) m += xr[d];
        m /= static_cast<T>(D);
      }
#pragma omp simd reduction(+ : v)
      for (int64_t d = 0; d < D; ++d) v += (xr[d] - m) * (xr[d] - m);
      const double rs = 1.0 / std::sqrt(static_cast<double>(v) / static_cast<double>(D) + eps);
      mean[r] = m;
      rstd[r] = rs;
      const T trs = static_cast<T>(rs);
      if (F > 1) {  // y = (x − μ)·(γ_j·rstd) + β_j over each run j
        for (int64_t j = 0; j < D / F; ++j) {
          const T scale = trs * (w ? w[j] : T(1)), shift = b ? b[j] : T(0);
          const T* xs = xr + j * F;
          T* ys = yr + j * F;
#pragma omp simd
          for (int64_t i = 0; i < F; ++i) ys[i] = (xs[i] - m) * scale + shift;
        }
      } else if (w && b) {
#pragma omp simd
        for (int64_t d = 0; d < D; ++d) yr[d] = (xr[d] - m) * trs * w[d] + b[d];
      } else if (w) {
#pragma omp simd
        for (int64_t d = 0; d < D; ++d) yr[d] = (xr[d] - m) * trs * w[d];
      } else if (b) {
#pragma omp simd
        for (int64_t d = 0; d < D; ++d) yr[d] = (xr[d] - m) * trs + b[d];
      } else {
#pragma omp simd
        for (int64_t d = 0; d < D; ++d) yr[d] = (xr[d] - m) * trs;
      }
    }
  });
}

// Backward, per row, in two passes (llm.c's form):
//   pass 1: a = mean(γ·dy), c = mean(γ·dy·x̂)        (without centering a = 0, and not summed)
//           and this row's shares of the parameter gradients, dγ += dy·x̂, dβ += dy
//   pass 2: dx = rstd·(γ·dy − a − x̂·c)
// The shares go in pass 1, which streams x and dy from memory, so that their loads and stores
// hide behind that traffic (measured: docs/performance.md). With F > 1, pass 1 sums dy and dy·x̂
// per run, which gives a, c and the run's shares at once.
// dweight/dbias (length G·D/F, double, null when not wanted) sum dγ, dβ over the rows that share
// parameters. Rows are taken in blocks of whole periods, fixed by the sizes alone; each block
// keeps its partial sums in T and the blocks are added in order in double, so the result does not
// depend on the thread count. dx may be null (only parameter gradients wanted). Centering is a
// template argument, so that RMSNorm's loops carry no sum a that they would throw away.
template <bool center, typename T>
void row_norm_backward(T* dx, double* dweight, double* dbias, const T* dy, const T* x, const double* mean,
                       const double* rstd, const T* weight, int64_t rows, int64_t D, int64_t G, int64_t F) {
  const int64_t R = D / F, P = G * R, periods = rows / G;  // R parameters per row, P per period
  // At most 32 periods per block, and 16 blocks or more (work for 16 threads) when there are
  // enough periods: more blocks would only add partial sums to add up.
  const int64_t per_block = std::clamp<int64_t>((periods + 15) / 16, 1, 32);
  const int64_t blocks = (periods + per_block - 1) / per_block;
  const bool want_params = dweight || dbias;
  std::vector<T> part_w(want_params ? blocks * P : 0, T(0)), part_b(want_params && center ? blocks * P : 0, T(0));
  const std::vector<T> ones(weight ? 0 : P, T(1));
  T* const pw_all = part_w.data();
  T* const pb_all = part_b.data();
  const T* const w_all = weight ? weight : ones.data();
  parallel_for(blocks, grain_for(per_block * G * D), [&](int64_t k0, int64_t k1) {
    for (int64_t k = k0; k < k1; ++k) {
      for (int64_t r = k * per_block * G; r < std::min(rows, (k + 1) * per_block * G); ++r) {
        // Pointers in locals, not captures (see row_norm_forward).
        const int64_t off = (r % G) * R;
        const T *xr = x + r * D, *gr = dy + r * D, *w = w_all + off;
        T* pw = want_params ? pw_all + k * P + off : nullptr;
        T* pb = want_params && center ? pb_all + k * P + off : nullptr;
        const T m = static_cast<T>(mean[r]), rs = static_cast<T>(rstd[r]);
        T a = 0, c = 0;  // partial sums per vector lane
        if (F > 1) {
          for (int64_t j = 0; j < R; ++j) {
            const T *xs = xr + j * F, *gs = gr + j * F;
            T sdy = 0, sdyx = 0;
#pragma omp simd reduction(+ : sdy, sdyx)
            for (int64_t i = 0; i < F; ++i) {
              sdy += gs[i];
              sdyx += gs[i] * ((xs[i] - m) * rs);
            }
            if constexpr (center) a += w[j] * sdy;
            c += w[j] * sdyx;
            if (pw) pw[j] += sdyx;
            if (pb) pb[j] += sdy;
          }
        } else if (pb) {  // dγ and dβ; two loops, no branch inside (docs/performance.md)
#pragma omp simd reduction(+ : a, c)
          for (int64_t d = 0; d < D; ++d) {
            const T xhat = (xr[d] - m) * rs, wdy = w[d] * gr[d];
            a += wdy;
            c += wdy * xhat;
            pw[d] += gr[d] * xhat;
            pb[d] += gr[d];
          }
        } else if (pw) {
#pragma omp simd reduction(+ : a, c)
          for (int64_t d = 0; d < D; ++d) {
            const T xhat = (xr[d] - m) * rs, wdy = w[d] * gr[d];
            if constexpr (center) a += wdy;
            c += wdy * xhat;
            pw[d] += gr[d] * xhat;
          }
        } else {
#pragma omp simd reduction(+ : a, c)
          for (int64_t d = 0; d < D; ++d) {
            const T wdy = w[d] * gr[d];
            if constexpr (center) a += wdy;
            c += wdy * ((xr[d] - m) * rs);
          }
        }
        if (!dx) continue;
        const T ta = center ? a / static_cast<T>(D) : T(0);
        const T tc = c / static_cast<T>(D);
        T* o = dx + r * D;
        if (F == 1) {
#pragma omp simd
          for (int64_t d = 0; d < D; ++d) o[d] = rs * (w[d] * gr[d] - ta - (xr[d] - m) * rs * tc);
        } else {
          for (int64_t j = 0; j < R; ++j) {
            const T *xs = xr + j * F, *gs = gr + j * F, wj = w[j];
            T* os = o + j * F;
#pragma omp simd
            for (int64_t i = 0; i < F; ++i) os[i] = rs * (wj * gs[i] - ta - (xs[i] - m) * rs * tc);
          }
        }
      }
    }
  });
  if (!want_params) return;
  // Add the blocks' partial sums in block order, vectorised along the slice, in parallel over
  // pieces of it.
  parallel_for(P, grain_for(blocks), [&](int64_t d0, int64_t d1) {
    std::vector<double> sw(d1 - d0, 0.0), sb(d1 - d0, 0.0);
    for (int64_t k = 0; k < blocks; ++k) {
      const T* pw = pw_all + k * P;
#pragma omp simd
      for (int64_t d = d0; d < d1; ++d) sw[d - d0] += pw[d];
      if constexpr (!center) continue;
      const T* pb = pb_all + k * P;
#pragma omp simd
      for (int64_t d = d0; d < d1; ++d) sb[d - d0] += pb[d];
    }
    for (int64_t d = d0; d < d1; ++d) {
      if (dweight) dweight[d] = sw[d - d0];
      if (dbias) dbias[d] = sb[d - d0];
    }
  });
}

// The autograd op behind layer_norm and rms_norm (row_norm.cpp): argument checks, the forward
// kernel, and a backward closure that calls row_norm_backward. `center` = false gives RMSNorm.
Tensor row_norm(const char* op, const Tensor& input, const Shape& normalized_shape, const Tensor& weight,
                const Tensor& bias, double eps, bool center);

}  // namespace rg::detail
