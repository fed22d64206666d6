// LayerNorm and RMSNorm: statistics per row of the D trailing elements.
// Derivations: docs/derivations.md#layernorm and #rmsnorm. One kernel serves both: `center`
// subtracts the row mean (LayerNorm); without it μ = 0 and there is no bias (RMSNorm).
#include <cmath>
#include <limits>
#include <vector>

#include "../parallel.h"
#include "common.h"
#include "regrad/autograd/autograd.h"
#include "regrad/functional/normalization.h"

namespace rg {
namespace {

// Rows of a block share one partial sum for dweight/dbias; blocks are added in order afterwards,
// so the parameter gradients do not depend on the thread count.
constexpr int64_t kRowsPerBlock = 32;

// Forward, per row r of x (rows × D):
//   μ = mean(x) (0 for RMSNorm), rstd = 1/√(mean((x − μ)²) + ε), y = γ·(x − μ)·rstd + β.
// Caches μ and rstd per row. Reads the row twice, but the second read hits the cache.
template <typename T>
void row_norm_forward(T* y, double* mean, double* rstd, const T* x, const T* weight, const T* bias, int64_t rows,
                      int64_t D, double eps, bool center) {
  const std::vector<T> ones(weight ? 0 : D, T(1)), zeros(bias ? 0 : D, T(0));
  const T* w = weight ? weight : ones.data();
  const T* b = bias ? bias : zeros.data();
  detail::parallel_for(rows, detail::grain_for(D), [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; ++r) {
      const T* xr = x + r * D;
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
      T* yr = y + r * D;
#pragma omp simd
      for (int64_t d = 0; d < D; ++d) yr[d] = (xr[d] - m) * trs * w[d] + b[d];
    }
  });
}

// Backward, per row, in two passes (llm.c's form):
//   pass 1: a = mean(γ·dy), c = mean(γ·dy·x̂)        (RMSNorm: a = 0)
//   pass 2: dx = rstd·(γ·dy − a − x̂·c);  dγ += dy·x̂;  dβ += dy
template <typename T>
void row_norm_backward(T* dx, T* dweight, T* dbias, const T* dy, const T* x, const double* mean, const double* rstd,
                       const T* weight, int64_t rows, int64_t D, bool center) {
  const std::vector<T> ones(weight ? 0 : D, T(1));
  const T* w = weight ? weight : ones.data();
  const int64_t blocks = (rows + kRowsPerBlock - 1) / kRowsPerBlock;
  // Partial sums per block in T (32 rows each), added across blocks in double.
  std::vector<T> part_w(blocks * D, T(0)), part_b(center ? blocks * D : 0, T(0));
  detail::parallel_for(blocks, detail::grain_for(kRowsPerBlock * D), [&](int64_t k0, int64_t k1) {
    std::vector<T> scratch_dx(dx ? 0 : D);
    for (int64_t k = k0; k < k1; ++k) {
      T* pw = part_w.data() + k * D;
      T* pb = center ? part_b.data() + k * D : nullptr;
      for (int64_t r = k * kRowsPerBlock; r < std::min(rows, (k + 1) * kRowsPerBlock); ++r) {
        // wl is a local copy of w: read through the closure, `w[d]` becomes a gather in an omp simd loop.
        const T *xr = x + r * D, *gr = dy + r * D, *wl = w;
        const T m = static_cast<T>(mean[r]), rs = static_cast<T>(rstd[r]);
        T a = 0, c = 0;  // partial sums per vector lane
#pragma omp simd reduction(+ : a, c)
        for (int64_t d = 0; d < D; ++d) {
          const T wdy = wl[d] * gr[d];
          a += wdy;
          c += wdy * ((xr[d] - m) * rs);
        }
        const T ta = center ? a / static_cast<T>(D) : T(0);
        const T tc = c / static_cast<T>(D);
        // dx and this row's share of dγ (and dβ) in one sweep; the shares are summed even when no
        // parameter gradient is wanted, except dβ's for RMSNorm, which has no bias.
        T* o = dx ? dx + r * D : scratch_dx.data();
        if (center) {
#pragma omp simd
          for (int64_t d = 0; d < D; ++d) {
            const T xhat = (xr[d] - m) * rs;
            o[d] = rs * (wl[d] * gr[d] - ta - xhat * tc);
            pw[d] += gr[d] * xhat;
            pb[d] += gr[d];
          }
        } else {
#pragma omp simd
          for (int64_t d = 0; d < D; ++d) {
            const T xhat = xr[d] * rs;
            o[d] = rs * (wl[d] * gr[d] - xhat * tc);
            pw[d] += gr[d] * xhat;
          }
        }
      }
    }
  });
  // Add the blocks' partial sums in block order (deterministic), vectorised along D, in parallel
  // over slices of D.
  detail::parallel_for(D, detail::grain_for(blocks), [&](int64_t d0, int64_t d1) {
    std::vector<double> sw(d1 - d0, 0.0), sb(d1 - d0, 0.0);
    for (int64_t k = 0; k < blocks; ++k) {
      const T* pw = part_w.data() + k * D;
#pragma omp simd
      for (int64_t d = d0; d < d1; ++d) sw[d - d0] += pw[d];
      if (!center) continue;
      const T* pb = part_b.data() + k * D;
#pragma omp simd
      for (int64_t d = d0; d < d1; ++d) sb[d - d0] += pb[d];
    }
    for (int64_t d = d0; d < d1; ++d) {
      if (dweight) dweight[d] = static_cast<T>(sw[d - d0]);
      if (dbias) dbias[d] = static_cast<T>(sb[d - d0]);
    }
  });
}

Tensor row_norm(const char* op, const Tensor& input, const Shape& normalized_shape, const Tensor& weight,
                const Tensor& bias, double eps, bool center) {
  const int64_t D = detail::trailing_size(input, normalized_shape, op);
  detail::check_param(weight, "weight", normalized_shape, input, op);
  detail::check_param(bias, "bias", normalized_shape, input, op);
  detail::check_eps(eps, op);
  const int64_t rows = D == 0 ? 0 : input.numel() / D;
  std::vector<double> mean(rows), rstd(rows);
  Tensor y = Tensor::empty(input.shape(), input.dtype());
  dispatch_float(input.dtype(), op, [&](auto tag) {
    using T = typename decltype(tag)::type;
    row_norm_forward(y.data<T>(), mean.data(), rstd.data(), input.data<T>(), detail::ptr_or_null<T>(weight),
                     detail::ptr_or_null<T>(bias), rows, D, eps, center);
  });
  return record(op, y, {input, weight, bias},
                [x = input.detach(), w = weight.defined() ? weight.detach() : Tensor(), has_bias = bias.defined(),
                 need_dx = input.requires_grad(), mean = std::move(mean), rstd = std::move(rstd), rows, D, center,
                 pshape = normalized_shape](const Tensor& dy) {
                  Tensor dx = detail::empty_if(need_dx, x.shape(), x.dtype());
                  Tensor dw = detail::empty_if(w.defined(), pshape, x.dtype());
                  Tensor db = detail::empty_if(has_bias, pshape, x.dtype());
                  dispatch_float(x.dtype(), "layer_norm", [&](auto tag) {
                    using T = typename decltype(tag)::type;
                    row_norm_backward(detail::ptr_or_null<T>(dx), detail::ptr_or_null<T>(dw),
                                      detail::ptr_or_null<T>(db), dy.data<T>(), x.data<T>(), mean.data(), rstd.data(),
                                      detail::ptr_or_null<T>(w), rows, D, center);
                  });
                  return Grads{dx, dw, db};
                });
}

}  // namespace

Tensor layer_norm(const Tensor& input, const Shape& normalized_shape, const Tensor& weight, const Tensor& bias,
                  double eps) {
  return row_norm("layer_norm", input, normalized_shape, weight, bias, eps, /*center=*/true);
}

Tensor rms_norm(const Tensor& input, const Shape& normalized_shape, const Tensor& weight, std::optional<double> eps) {
  const double e = eps ? *eps
                       : input.dtype() == DType::Float32 ? std::numeric_limits<float>::epsilon()
                                                         : std::numeric_limits<double>::epsilon();
  return row_norm("rms_norm", input, normalized_shape, weight, Tensor(), e, /*center=*/false);
}

}  // namespace rg
