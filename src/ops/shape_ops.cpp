// Shape ops. reshape is a view; the others gather through strides into a fresh contiguous tensor
// (strided_copy), and their backward passes are the inverse rearrangement.
#include "regrad/ops/shape_ops.h"

#include <cstring>
#include <numeric>

#include "kernels.h"
#include "regrad/autograd/autograd.h"
#include "regrad/ops/reduce.h"
#include "regrad/tensor/factory.h"

namespace rg {

// out[idx] = src[Σ idx_d · strides_d] for every index of `shape`; `src` already includes any offset.
// With dst_strides given, the roles flip: dst[Σ idx_d · dst_strides_d] = contiguous src[idx].
template <typename T>
static void strided_copy(const T* src, const std::vector<int64_t>& src_strides, T* dst,
                         const std::vector<int64_t>& dst_strides, const Shape& shape) {
  const int64_t n = numel(shape);
  if (n == 0) return;
  if (shape.empty()) {
    dst[0] = src[0];
    return;
  }
  const int64_t inner = shape.back(), rows = n / inner;
  const int64_t si = src_strides.back(), di = dst_strides.back();
  detail::parallel_for(rows, detail::grain_for(inner), [&](int64_t b, int64_t e) {
    for (int64_t r = b; r < e; ++r) {
      const T* s = src + detail::row_offset(r, shape, src_strides);
      T* d = dst + detail::row_offset(r, shape, dst_strides);
      for (int64_t i = 0; i < inner; ++i) d[i * di] = s[i * si];
    }
  });
}

// A fresh contiguous tensor of `shape` read from x's data at `offset` through `strides`.
static Tensor gather_strided(const Tensor& x, const Shape& shape, const std::vector<int64_t>& strides,
                             int64_t offset = 0) {
  Tensor out = Tensor::empty(shape, x.dtype());
  dispatch_all(x.dtype(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    strided_copy(x.data<T>() + offset, strides, out.data<T>(), contiguous_strides(shape), shape);
  });
  return out;
}

Tensor reshape(const Tensor& x, const Shape& shape_in) {
  Shape shape = shape_in;
  int64_t known = 1, infer = -1;
  for (std::size_t i = 0; i < shape.size(); ++i) {
    if (shape[i] == -1) {
      if (infer >= 0) throw std::invalid_argument("reshape: only one dimension can be -1 in " + to_string(shape_in));
      infer = static_cast<int64_t>(i);
    } else if (shape[i] < 0) {
      throw std::invalid_argument("reshape: invalid size in " + to_string(shape_in));
    } else {
      known *= shape[i];
    }
  }
  if (infer >= 0 && known != 0 && x.numel() % known == 0) shape[infer] = x.numel() / known;
  if (numel(shape) != x.numel() || (infer >= 0 && known == 0))
    throw std::invalid_argument("reshape: shape " + to_string(shape_in) + " is invalid for input of shape " +
                                to_string(x.shape()) + " (" + std::to_string(x.numel()) + " elements)");
  Tensor y = x.detach();
  y.impl().shape = shape;
  if (!needs_grad(x)) return y;
  return record("reshape", y, {x}, [s = x.shape()](const Tensor& g) { return Grads{g.reshape(s)}; });
}

Tensor flatten(const Tensor& x, int64_t start_dim, int64_t end_dim) {
  if (x.dim() == 0) return reshape(x, {1});
  const int64_t s = wrap_dim(start_dim, x.dim(), "flatten"), e = wrap_dim(end_dim, x.dim(), "flatten");
  if (s > e) throw std::invalid_argument("flatten: start_dim comes after end_dim");
  Shape shape(x.shape().begin(), x.shape().begin() + s);
  shape.push_back(numel(Shape(x.shape().begin() + s, x.shape().begin() + e + 1)));
  shape.insert(shape.end(), x.shape().begin() + e + 1, x.shape().end());
  return reshape(x, shape);
}

Tensor unsqueeze(const Tensor& x, int64_t dim) {
  const int64_t d = wrap_dim(dim, x.dim() + 1, "unsqueeze");
  Shape shape = x.shape();
  shape.insert(shape.begin() + d, 1);
  return reshape(x, shape);
}

Tensor squeeze(const Tensor& x, int64_t dim) {
  const int64_t d = wrap_dim(dim, x.dim(), "squeeze");
  if (x.dim() == 0 || x.shape()[d] != 1) return x;
  Shape shape = x.shape();
  shape.erase(shape.begin() + d);
  return reshape(x, shape);
}

Tensor permute(const Tensor& x, const std::vector<int64_t>& dims) {
  const int64_t nd = x.dim();
  if (static_cast<int64_t>(dims.size()) != nd)
    throw std::invalid_argument("permute: " + to_string(Shape(dims)) + " does not match the " + std::to_string(nd) +
                                " dims of shape " + to_string(x.shape()));
  std::vector<int64_t> perm(dims.size()), inverse(dims.size(), -1);
  for (int64_t i = 0; i < nd; ++i) {
    perm[i] = wrap_dim(dims[i], nd, "permute");
    if (inverse[perm[i]] != -1) throw std::invalid_argument("permute: repeated dim in " + to_string(Shape(dims)));
    inverse[perm[i]] = i;
  }
  const auto in_strides = contiguous_strides(x.shape());
  Shape shape(nd);
  std::vector<int64_t> strides(nd);
  for (int64_t i = 0; i < nd; ++i) {
    shape[i] = x.shape()[perm[i]];
    strides[i] = in_strides[perm[i]];
  }
  Tensor y = gather_strided(x, shape, strides);
  if (!needs_grad(x)) return y;
  return record("permute", y, {x}, [inverse](const Tensor& g) { return Grads{permute(g, inverse)}; });
}

Tensor transpose(const Tensor& x, int64_t dim0, int64_t dim1) {
  if (x.dim() == 0) {  // dims 0 and −1 name the scalar itself: nothing to swap
    wrap_dim(dim0, 0, "transpose");
    wrap_dim(dim1, 0, "transpose");
    return permute(x, {});
  }
  std::vector<int64_t> perm(x.dim());
  std::iota(perm.begin(), perm.end(), 0);
  std::swap(perm[wrap_dim(dim0, x.dim(), "transpose")], perm[wrap_dim(dim1, x.dim(), "transpose")]);
  return permute(x, perm);
}

Tensor expand(const Tensor& x, const Shape& shape_in) {
  // As PyTorch, −1 keeps the size of x's matching dim (dims align from the right); not in a new
  // leading dim, which has no size to keep.
  Shape shape = shape_in;
  const int64_t lead = static_cast<int64_t>(shape.size()) - x.dim();
  for (int64_t d = 0; d < static_cast<int64_t>(shape.size()); ++d)
    if (shape[d] == -1) {
      if (d < lead)
        throw std::invalid_argument("expand: -1 is not allowed in a new leading dim, got " + to_string(shape_in) +
                                    " for a tensor of shape " + to_string(x.shape()));
      shape[d] = x.shape()[d - lead];
    }
  if (broadcast_shapes(x.shape(), shape, "expand") != shape)
    throw std::invalid_argument("expand: shape " + to_string(x.shape()) + " cannot be expanded to " + to_string(shape));
  if (x.shape() == shape) return x;
  Tensor y = gather_strided(x, shape, detail::broadcast_strides(x.shape(), shape));
  if (!needs_grad(x)) return y;
  return record("expand", y, {x}, [s = x.shape()](const Tensor& g) { return Grads{sum_to(g, s)}; });
}

Tensor slice(const Tensor& x, int64_t dim_in, int64_t start, int64_t end, int64_t step) {
  const int64_t dim = wrap_dim(dim_in, x.dim(), "slice");
  if (step <= 0) throw std::invalid_argument("slice: step must be positive, got " + std::to_string(step));
  const int64_t n = x.shape()[dim];
  auto clamp = [n](int64_t i) { return std::clamp<int64_t>(i < 0 ? i + n : i, 0, n); };
  start = clamp(start);
  end = std::max(clamp(end), start);
  Shape shape = x.shape();
  shape[dim] = (end - start + step - 1) / step;
  std::vector<int64_t> strides = contiguous_strides(x.shape());
  const int64_t offset = start * strides[dim];
  strides[dim] *= step;
  Tensor y = gather_strided(x, shape, strides, offset);
  if (!needs_grad(x)) return y;
  return record("slice", y, {x}, [xs = x.shape(), shape, strides, offset](const Tensor& g) {
    Tensor gx = zeros(xs, g.dtype());  // g goes back to the sliced positions; the rest get 0
    dispatch_float(g.dtype(), "slice", [&](auto tag) {
      using T = typename decltype(tag)::type;
      strided_copy(g.data<T>(), contiguous_strides(shape), gx.data<T>() + offset, strides, shape);
    });
    return Grads{gx};
  });
}

Tensor cat(const std::vector<Tensor>& ts, int64_t dim_in) {
  if (ts.empty()) throw std::invalid_argument("cat: expected a non-empty list of tensors");
  for (std::size_t i = 0; i < ts.size(); ++i)
    if (ts[i].dim() == 0)
      throw std::invalid_argument("cat: zero-dimensional tensor (at position " + std::to_string(i) +
                                  ") cannot be concatenated");
  const int64_t dim = wrap_dim(dim_in, ts[0].dim(), "cat");
  Shape shape = ts[0].shape();
  shape[dim] = 0;
  for (const Tensor& t : ts) {
    Shape a = t.shape(), b = ts[0].shape();
    if (t.dim() == ts[0].dim()) a[dim] = b[dim] = 0;
    if (a != b || t.dtype() != ts[0].dtype())
      throw std::invalid_argument("cat: shapes " + to_string(ts[0].shape()) + " and " + to_string(t.shape()) +
                                  " differ outside dimension " + std::to_string(dim) + " (or dtypes differ)");
    shape[dim] += t.shape()[dim];
  }
  Tensor y = Tensor::empty(shape, ts[0].dtype());
  const detail::DimView v = detail::dim_view(shape, dim);
  const std::size_t esz = element_size(y.dtype());
  int64_t at = 0;  // running offset along dim
  std::vector<int64_t> starts;
  for (const Tensor& t : ts) {
    starts.push_back(at);
    const int64_t block = t.shape()[dim] * v.inner;
    for (int64_t o = 0; o < v.outer; ++o)
      std::memcpy(static_cast<char*>(y.raw_data()) + ((o * v.n + at) * v.inner) * esz,
                  static_cast<const char*>(t.raw_data()) + o * block * esz, static_cast<std::size_t>(block) * esz);
    at += t.shape()[dim];
  }
  std::vector<int64_t> sizes;
  for (const Tensor& t : ts) sizes.push_back(t.shape()[dim]);
  if (!needs_grad(ts)) return y;
  return record("cat", y, ts, [starts, sizes, dim](const Tensor& g) {
    Grads grads;  // each input's gradient is its slice of g
    for (std::size_t i = 0; i < starts.size(); ++i) grads.push_back(slice(g, dim, starts[i], starts[i] + sizes[i]));
    return grads;
  });
}

}  // namespace rg
