// Reductions. Sums accumulate in double and combine partial sums in a fixed order (fixed-size
// chunks, not per-thread ones), so a result is the same whatever the thread count.
#include "regrad/ops/reduce.h"

#include <algorithm>
#include <cmath>

#include "kernels.h"
#include "regrad/autograd/autograd.h"
#include "regrad/ops/elementwise.h"
#include "regrad/ops/shape_ops.h"
#include "regrad/tensor/factory.h"

namespace rg {

using detail::dim_view;
using detail::DimView;

// Sorted, de-duplicated, wrapped dims; empty means all dims. A 0-d tensor accepts dim 0 or −1
// (PyTorch's rule) and has no dim to reduce: the result is empty.
static std::vector<int64_t> normalize_dims(const std::vector<int64_t>& dims, int64_t ndim, const char* op) {
  std::vector<int64_t> out;
  if (dims.empty())
    for (int64_t d = 0; d < ndim; ++d) out.push_back(d);
  for (int64_t d : dims) out.push_back(wrap_dim(d, ndim, op));
  if (ndim == 0) return {};
  std::sort(out.begin(), out.end());
  if (std::adjacent_find(out.begin(), out.end()) != out.end())
    throw std::invalid_argument(std::string(op) + ": a dimension appears twice in " + to_string(Shape(dims)));
  return out;
}

static Shape reduced_shape(const Shape& s, const std::vector<int64_t>& dims, bool keepdim) {
  Shape out;
  for (int64_t d = 0; d < static_cast<int64_t>(s.size()); ++d) {
    const bool reduced = std::binary_search(dims.begin(), dims.end(), d);
    if (!reduced) out.push_back(s[d]);
    else if (keepdim) out.push_back(1);
  }
  return out;
}

// Sum over one dim, keeping it with size 1: out[o, i] = Σ_k x[o, k, i].
template <typename T>
static Tensor sum_dim_kernel(const Tensor& x, int64_t dim) {
  const DimView v = dim_view(x.shape(), dim);
  Shape s = x.shape();
  s[dim] = 1;
  Tensor out = Tensor::empty(s, x.dtype());
  const T* px = x.data<T>();
  T* po = out.data<T>();
  if (v.inner == 1) {  // contiguous rows
    detail::parallel_for(v.outer, detail::grain_for(v.n), [&](int64_t b, int64_t e) {
      for (int64_t o = b; o < e; ++o) {
        const T* row = px + o * v.n;
        double acc = 0;
#pragma omp simd reduction(+ : acc)
        for (int64_t k = 0; k < v.n; ++k) acc += row[k];
        po[o] = static_cast<T>(acc);
      }
    });
    return out;
  }
  // Strided: accumulate whole inner rows (vectorises over i), in blocks of 256 inner elements.
  constexpr int64_t kBlock = 256;
  const int64_t blocks = (v.inner + kBlock - 1) / kBlock;
  detail::parallel_for(v.outer * blocks, detail::grain_for(v.n * std::min(kBlock, v.inner)), [&](int64_t b, int64_t e) {
    double acc[kBlock];
    for (int64_t job = b; job < e; ++job) {
      const int64_t o = job / blocks, i0 = (job % blocks) * kBlock, len = std::min(kBlock, v.inner - i0);
      std::fill(acc, acc + len, 0.0);
      for (int64_t k = 0; k < v.n; ++k) {
        const T* row = px + (o * v.n + k) * v.inner + i0;
#pragma omp simd
        for (int64_t i = 0; i < len; ++i) acc[i] += row[i];
      }
      for (int64_t i = 0; i < len; ++i) po[o * v.inner + i0 + i] = static_cast<T>(acc[i]);
    }
  });
  return out;
}

// Sum of all elements: fixed 64Ki-element chunks summed in parallel, partials added in order.
template <typename T>
static double sum_all_kernel(const T* p, int64_t n) {
  constexpr int64_t kChunk = 1 << 16;
  const int64_t chunks = (n + kChunk - 1) / kChunk;
  std::vector<double> partial(static_cast<std::size_t>(chunks), 0.0);
  detail::parallel_for(chunks, 1, [&](int64_t b, int64_t e) {
    for (int64_t c = b; c < e; ++c) {
      double acc = 0;
      const int64_t lo = c * kChunk, hi = std::min(n, lo + kChunk);
      const T* q = p;  // a local copy: read through the closure, p[i] would become a gather
#pragma omp simd reduction(+ : acc)
      for (int64_t i = lo; i < hi; ++i) acc += q[i];
      partial[c] = acc;
    }
  });
  double total = 0;
  for (double s : partial) total += s;
  return total;
}

Tensor sum(const Tensor& x) {
  Tensor y = dispatch_float(x.dtype(), "sum", [&](auto tag) {
    using T = typename decltype(tag)::type;
    return scalar_tensor(sum_all_kernel(x.data<T>(), x.numel()), x.dtype());
  });
  if (!needs_grad(x)) return y;
  return record("sum", y, {x}, [shape = x.shape()](const Tensor& g) { return Grads{expand(g, shape)}; });
}

Tensor sum(const Tensor& x, const std::vector<int64_t>& dims_in, bool keepdim) {
  const std::vector<int64_t> dims = normalize_dims(dims_in, x.dim(), "sum");
  // Adjacent dims that are both summed (or both kept) are one dim of the contiguous buffer, so
  // they are merged first: one pass each where there would be several (a conv's bias gradient sums
  // (N, C, H, W) over {0, 2, 3}, which is (N, C, H·W) over {0, 2}).
  Shape merged;
  std::vector<int64_t> merged_dims;
  for (int64_t d = 0; d < x.dim(); ++d) {
    const bool reduced = std::binary_search(dims.begin(), dims.end(), d);
    const bool with_previous = d > 0 && reduced == std::binary_search(dims.begin(), dims.end(), d - 1);
    if (with_previous) {
      merged.back() *= x.shape()[d];
    } else {
      merged.push_back(x.shape()[d]);
      if (reduced) merged_dims.push_back(static_cast<int64_t>(merged.size()) - 1);
    }
  }
  Tensor y = x.detach().reshape(merged);
  if (merged.size() == 1 && merged_dims.size() == 1) {  // every element: the chunked, parallel sum
    y = dispatch_float(x.dtype(), "sum", [&](auto tag) {
      using T = typename decltype(tag)::type;
      return scalar_tensor(sum_all_kernel<T>(y.data<T>(), y.numel()), x.dtype());
    });
  } else
    for (auto it = merged_dims.rbegin(); it != merged_dims.rend(); ++it)
      y = dispatch_float(x.dtype(), "sum",
                         [&](auto tag) { return sum_dim_kernel<typename decltype(tag)::type>(y, *it); });
  if (dims.empty()) y = x.detach().clone();  // 0-d input: nothing to reduce
  y = y.reshape(reduced_shape(x.shape(), dims, keepdim));
  // ∂/∂x Σ_k x[.., k, ..] = 1 for every summed element: broadcast g back over the reduced dims.
  if (!needs_grad(x)) return y;
  return record("sum_dim", y, {x}, [shape = x.shape(), keep = reduced_shape(x.shape(), dims, true)](const Tensor& g) {
    return Grads{expand(g.reshape(keep), shape)};
  });
}

static int64_t count_over(const Shape& s, const std::vector<int64_t>& dims) {
  int64_t n = 1;
  for (int64_t d : dims) n *= s[d];
  return n;
}

Tensor mean(const Tensor& x) { return mul(sum(x), 1.0 / static_cast<double>(x.numel())); }

Tensor mean(const Tensor& x, const std::vector<int64_t>& dims, bool keepdim) {
  const int64_t n = count_over(x.shape(), normalize_dims(dims, x.dim(), "mean"));
  return mul(sum(x, dims, keepdim), 1.0 / static_cast<double>(n));
}

Tensor var(const Tensor& x, const std::vector<int64_t>& dims_in, bool unbiased, bool keepdim) {
  const std::vector<int64_t> dims = normalize_dims(dims_in, x.dim(), "var");
  const int64_t n = count_over(x.shape(), dims);
  const double denom = static_cast<double>(n) - (unbiased ? 1.0 : 0.0);
  Tensor y, diff;
  {
    NoGradGuard no_grad;
    diff = x - mean(x, dims, true);  // x − x̄
    y = mul(sum(diff * diff, dims, keepdim), 1.0 / denom);
  }
  // var = Σ(x − x̄)²/d  ⇒  ∂var/∂x_j = 2(x_j − x̄)/d  (the x̄ terms cancel since Σ(x − x̄) = 0).
  if (!needs_grad(x)) return y;
  return record("var", y, {x}, [diff, denom, keep = reduced_shape(x.shape(), dims, true)](const Tensor& g) {
    return Grads{g.reshape(keep) * diff * (2.0 / denom)};
  });
}

Tensor var(const Tensor& x) { return var(x, {}, true, false); }

Tensor max(const Tensor& x) {
  if (x.numel() == 0) throw std::invalid_argument("max: empty tensor");
  int64_t arg = 0;
  Tensor y = dispatch_float(x.dtype(), "max", [&](auto tag) {
    using T = typename decltype(tag)::type;
    const T* p = x.data<T>();
    for (int64_t i = 1; i < x.numel(); ++i)
      if (p[i] > p[arg] || (std::isnan(p[i]) && !std::isnan(p[arg]))) arg = i;
    return scalar_tensor(static_cast<double>(p[arg]), x.dtype());
  });
  if (!needs_grad(x)) return y;
  return record("max", y, {x}, [x = x.detach(), arg](const Tensor& g) {
    // As PyTorch (evenly_distribute_backward): the entries equal to the max share the gradient
    // equally; when the max is NaN, the NaNs do.
    Tensor gx = zeros(x.shape(), g.dtype());
    dispatch_float(g.dtype(), "max", [&](auto tag) {
      using T = typename decltype(tag)::type;
      const T *px = x.data<T>(), m = px[arg];
      auto is_max = [m](T v) { return std::isnan(m) ? std::isnan(v) : v == m; };
      int64_t count = 0;
      for (int64_t i = 0; i < x.numel(); ++i) count += is_max(px[i]);
      const T share = g.data<T>()[0] / static_cast<T>(count);
      for (int64_t i = 0; i < x.numel(); ++i)
        if (is_max(px[i])) gx.data<T>()[i] = share;
    });
    return Grads{gx};
  });
}

MaxResult max(const Tensor& x, int64_t dim_in, bool keepdim) {
  const int64_t dim = wrap_dim(dim_in, x.dim(), "max");
  const DimView v = dim_view(x.shape(), dim);
  if (v.n == 0) throw std::invalid_argument("max: reducing an empty dimension of shape " + to_string(x.shape()));
  Shape keep = x.shape();
  if (!keep.empty()) keep[dim] = 1;
  Tensor idx = Tensor::empty(keep, DType::Int64);
  Tensor y = dispatch_float(x.dtype(), "max", [&](auto tag) {
    using T = typename decltype(tag)::type;
    Tensor out = Tensor::empty(keep, x.dtype());
    const T* px = x.data<T>();
    T* po = out.data<T>();
    int64_t* pi = idx.data<int64_t>();
    detail::parallel_for(v.outer * v.inner, detail::grain_for(v.n), [&](int64_t b, int64_t e) {
      for (int64_t j = b; j < e; ++j) {
        const int64_t o = j / v.inner, i = j % v.inner;
        const T* base = px + o * v.n * v.inner + i;
        // The first maximum; as PyTorch, a NaN is the maximum (the first NaN): while the best is
        // not NaN, an entry that is not ≤ it (greater, or NaN) takes its place.
        int64_t best = 0;
        T bv = base[0];
        for (int64_t k = 1; k < v.n; ++k) {
          const T xk = base[k * v.inner];
          if (bv == bv && !(xk <= bv)) {
            bv = xk;
            best = k;
          }
        }
        po[j] = bv;
        pi[j] = best;
      }
    });
    return out;
  });
  const Shape out_shape = keepdim ? keep : reduced_shape(x.shape(), {dim}, false);
  y = y.reshape(out_shape);
  idx = idx.reshape(out_shape);
  if (needs_grad(x))
    y = record("max_dim", y, {x}, [idx, v, shape = x.shape()](const Tensor& g) {
      Tensor gx = zeros(shape, g.dtype());  // scatter g to the arg-max positions
      dispatch_float(g.dtype(), "max", [&](auto tag) {
        using T = typename decltype(tag)::type;
        const T* pg = g.data<T>();
        const int64_t* pi = idx.data<int64_t>();
        T* px = gx.data<T>();
        for (int64_t j = 0; j < v.outer * v.inner; ++j) {
          const int64_t o = j / v.inner, i = j % v.inner;
          px[(o * v.n + pi[j]) * v.inner + i] = pg[j];
        }
      });
      return Grads{gx};
    });
  return {y, idx};
}

Tensor sum_to(const Tensor& x, const Shape& shape) {
  if (x.shape() == shape) return x;
  const int64_t lead = x.dim() - static_cast<int64_t>(shape.size());
  if (lead < 0 || broadcast_shapes(x.shape(), shape, "sum_to") != x.shape())
    throw std::invalid_argument("sum_to: shape " + to_string(x.shape()) + " does not broadcast from " +
                                to_string(shape));
  std::vector<int64_t> dims;
  for (int64_t d = 0; d < x.dim(); ++d)
    if (d < lead || (shape[d - lead] == 1 && x.shape()[d] != 1)) dims.push_back(d);
  if (dims.empty()) return x.reshape(shape);
  return sum(x, dims, true).reshape(shape);
}

}  // namespace rg
