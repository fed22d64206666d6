// softmax and log_softmax along any dim. Each row (the elements along dim, `inner` apart) is
// shifted by its maximum first, so exp never overflows: softmax(x) = softmax(x − max x).
#include "regrad/ops/softmax.h"

#include <cmath>

#include "kernels.h"
#include "regrad/autograd/autograd.h"

namespace rg {

// Calls f(row_pointer_offset, stride, n) for every row along dim, in parallel.
template <typename F>
static void for_each_row(const detail::DimView& v, F f) {
  detail::parallel_for(v.outer * v.inner, detail::grain_for(4 * v.n), [&](int64_t b, int64_t e) {
    for (int64_t j = b; j < e; ++j) f((j / v.inner) * v.n * v.inner + j % v.inner);
  });
}

template <typename T>
static Tensor softmax_kernel(const Tensor& x, const detail::DimView& v, bool log) {
  Tensor y = Tensor::empty(x.shape(), x.dtype());
  const T* px = x.data<T>();
  T* py = y.data<T>();
  const int64_t s = v.inner;
  for_each_row(v, [&](int64_t base) {
    const T* r = px + base;
    T* o = py + base;
    T m = r[0];
    for (int64_t k = 1; k < v.n; ++k) m = std::max(m, r[k * s]);
    double z = 0;  // Σ exp(x − m) ≥ 1, so log z is finite
    for (int64_t k = 0; k < v.n; ++k) z += std::exp(static_cast<double>(r[k * s] - m));
    if (log) {
      const T lz = static_cast<T>(std::log(z));
      for (int64_t k = 0; k < v.n; ++k) o[k * s] = r[k * s] - m - lz;
    } else {
      const T inv = static_cast<T>(1.0 / z);
      for (int64_t k = 0; k < v.n; ++k) o[k * s] = std::exp(r[k * s] - m) * inv;
    }
  });
  return y;
}

// Backward, per row with y the forward output:
//   softmax:      dx_k = y_k·(g_k − Σ_j g_j·y_j)       (Jacobian diag(y) − y·yᵀ)
//   log_softmax:  dx_k = g_k − exp(y_k)·Σ_j g_j       (Jacobian I − 1·softmaxᵀ)
template <typename T>
static Tensor softmax_backward_kernel(const Tensor& g, const Tensor& y, const detail::DimView& v, bool log) {
  Tensor gx = Tensor::empty(g.shape(), g.dtype());
  const T *pg = g.data<T>(), *py = y.data<T>();
  T* px = gx.data<T>();
  const int64_t s = v.inner;
  for_each_row(v, [&](int64_t base) {
    const T *gr = pg + base, *yr = py + base;
    T* o = px + base;
    double acc = 0;
    for (int64_t k = 0; k < v.n; ++k) acc += log ? gr[k * s] : gr[k * s] * yr[k * s];
    const T a = static_cast<T>(acc);
    for (int64_t k = 0; k < v.n; ++k)
      o[k * s] = log ? gr[k * s] - std::exp(yr[k * s]) * a : yr[k * s] * (gr[k * s] - a);
  });
  return gx;
}

static Tensor softmax_impl(const Tensor& x, int64_t dim_in, bool log) {
  const char* name = log ? "log_softmax" : "softmax";
  const int64_t dim = wrap_dim(dim_in, x.dim(), name);
  const detail::DimView v = detail::dim_view(x.shape(), x.dim() == 0 ? 0 : dim);
  Tensor y = dispatch_float(x.dtype(), name,
                            [&](auto tag) { return softmax_kernel<typename decltype(tag)::type>(x, v, log); });
  if (!needs_grad(x)) return y;
  return record(name, y, {x}, [y = y.detach(), v, log, name](const Tensor& g) {
    return Grads{dispatch_float(g.dtype(), name, [&](auto tag) {
      return softmax_backward_kernel<typename decltype(tag)::type>(g, y, v, log);
    })};
  });
}

Tensor softmax(const Tensor& x, int64_t dim) { return softmax_impl(x, dim, false); }
Tensor log_softmax(const Tensor& x, int64_t dim) { return softmax_impl(x, dim, true); }

}  // namespace rg
