// Indexing ops. Gathers read through an int64 index; their backward passes scatter-add into zeros,
// so repeated indices (a token that appears twice) accumulate both gradients.
#include "regrad/ops/index.h"

#include <cstring>

#include "kernels.h"
#include "regrad/autograd/autograd.h"
#include "regrad/ops/reduce.h"
#include "regrad/ops/shape_ops.h"
#include "regrad/tensor/factory.h"

namespace rg {

static void check_index(const Tensor& index, int64_t size, const char* op) {
  if (index.dtype() != DType::Int64)
    throw std::invalid_argument(std::string(op) + ": index must be int64, got " + to_string(index.dtype()));
  const int64_t* p = index.data<int64_t>();
  for (int64_t k = 0; k < index.numel(); ++k)
    if (p[k] < 0 || p[k] >= size)
      throw std::invalid_argument(std::string(op) + ": index " + std::to_string(p[k]) + " out of range [0, " +
                                  std::to_string(size) + ")");
}

Tensor index_select(const Tensor& x, int64_t dim_in, const Tensor& index) {
  const int64_t dim = wrap_dim(dim_in, x.dim(), "index_select");
  if (index.dim() != 1)
    throw std::invalid_argument("index_select: index must be 1-D, got shape " + to_string(index.shape()));
  check_index(index, x.shape()[dim], "index_select");
  const detail::DimView v = detail::dim_view(x.shape(), dim);
  const int64_t m = index.numel();
  Shape shape = x.shape();
  shape[dim] = m;
  Tensor y = Tensor::empty(shape, x.dtype());
  const std::size_t row = static_cast<std::size_t>(v.inner) * element_size(x.dtype());
  const int64_t* idx = index.data<int64_t>();
  const char* src = static_cast<const char*>(x.raw_data());
  char* dst = static_cast<char*>(y.raw_data());
  detail::parallel_for(v.outer * m, detail::grain_for(v.inner), [&](int64_t b, int64_t e) {
    for (int64_t j = b; j < e; ++j) {
      const int64_t o = j / m, k = j % m;
      std::memcpy(dst + j * row, src + (o * v.n + idx[k]) * row, row);
    }
  });
  if (!needs_grad(x)) return y;
  return record("index_select", y, {x}, [index, v, m, xs = x.shape()](const Tensor& g) {
    Tensor gx = zeros(xs, g.dtype());  // ∂y[o,k,i]/∂x[o,idx[k],i] = 1: scatter-add g back
    dispatch_float(g.dtype(), "index_select", [&](auto tag) {
      using T = typename decltype(tag)::type;
      const T* pg = g.data<T>();
      T* px = gx.data<T>();
      const int64_t* idx = index.data<int64_t>();
      for (int64_t o = 0; o < v.outer; ++o)
        for (int64_t k = 0; k < m; ++k) {
          T* dst = px + (o * v.n + idx[k]) * v.inner;
          const T* src = pg + (o * m + k) * v.inner;
          for (int64_t i = 0; i < v.inner; ++i) dst[i] += src[i];
        }
    });
    return Grads{gx};
  });
}

Tensor embedding(const Tensor& index, const Tensor& weight) {
  if (weight.dim() != 2) throw std::invalid_argument("embedding: weight must be 2-D, got " + to_string(weight.shape()));
  Shape shape = index.shape();
  shape.push_back(weight.shape()[1]);
  return index_select(weight, 0, index.reshape({-1})).reshape(shape);
}

Tensor gather(const Tensor& x, int64_t dim_in, const Tensor& index) {
  const int64_t dim = wrap_dim(dim_in, x.dim(), "gather");
  Shape a = x.shape(), b = index.shape();
  if (a.size() != b.size() || (a[dim] = 0, b[dim] = 0, a != b))
    throw std::invalid_argument("gather: index shape " + to_string(index.shape()) + " must match input shape " +
                                to_string(x.shape()) + " except along dimension " + std::to_string(dim));
  check_index(index, x.shape()[dim], "gather");
  const detail::DimView v = detail::dim_view(x.shape(), dim);
  const int64_t m = index.shape()[dim];
  Tensor y = Tensor::empty(index.shape(), x.dtype());
  dispatch_float(x.dtype(), "gather", [&](auto tag) {
    using T = typename decltype(tag)::type;
    const T* px = x.data<T>();
    const int64_t* pi = index.data<int64_t>();
    T* py = y.data<T>();
    for (int64_t o = 0; o < v.outer; ++o)
      for (int64_t k = 0; k < m; ++k)
        for (int64_t i = 0; i < v.inner; ++i) {
          const int64_t j = (o * m + k) * v.inner + i;
          py[j] = px[(o * v.n + pi[j]) * v.inner + i];
        }
  });
  if (!needs_grad(x)) return y;
  return record("gather", y, {x}, [index, v, m, xs = x.shape()](const Tensor& g) {
    Tensor gx = zeros(xs, g.dtype());  // scatter-add: each gathered element sends g back to its source
    dispatch_float(g.dtype(), "gather", [&](auto tag) {
      using T = typename decltype(tag)::type;
      const T* pg = g.data<T>();
      const int64_t* pi = index.data<int64_t>();
      T* px = gx.data<T>();
      for (int64_t o = 0; o < v.outer; ++o)
        for (int64_t k = 0; k < m; ++k)
          for (int64_t i = 0; i < v.inner; ++i) {
            const int64_t j = (o * m + k) * v.inner + i;
            px[(o * v.n + pi[j]) * v.inner + i] += pg[j];
          }
    });
    return Grads{gx};
  });
}

Tensor one_hot(const Tensor& index, int64_t num_classes, DType dtype) {
  check_index(index, num_classes, "one_hot");
  Shape shape = index.shape();
  shape.push_back(num_classes);
  Tensor out = zeros(shape, dtype);
  const int64_t* idx = index.data<int64_t>();
  dispatch_float(dtype, "one_hot", [&](auto tag) {
    using T = typename decltype(tag)::type;
    for (int64_t i = 0; i < index.numel(); ++i) out.data<T>()[i * num_classes + idx[i]] = T(1);
  });
  return out;
}

// c ? a : b elementwise on tensors of one shape (c any dtype, nonzero = true).
static Tensor select(const Tensor& c, const Tensor& a, const Tensor& b) {
  Tensor cf = c.to(a.dtype());
  return dispatch_float(a.dtype(), "where", [&](auto tag) {
    using T = typename decltype(tag)::type;
    Tensor out = Tensor::empty(a.shape(), a.dtype());
    const T *pc = cf.data<T>(), *pa = a.data<T>(), *pb = b.data<T>();
    T* po = out.data<T>();
    detail::parallel_for(out.numel(), detail::kGrain, [&](int64_t s, int64_t e) {
      for (int64_t i = s; i < e; ++i) po[i] = pc[i] != T(0) ? pa[i] : pb[i];
    });
    return out;
  });
}

Tensor where(const Tensor& condition, const Tensor& a, const Tensor& b) {
  detail::check_same_dtype(a, b, "where");
  const Shape shape = broadcast_shapes(condition.shape(), broadcast_shapes(a.shape(), b.shape(), "where"), "where");
  Tensor c = expand(condition.detach(), shape);
  Tensor y;
  {
    NoGradGuard no_grad;
    y = select(c, expand(a, shape), expand(b, shape));
  }
  if (!needs_grad(a, b)) return y;
  return record(
      "where", y, {a, b},
      [c, sa = a.shape(), sb = b.shape(), na = a.requires_grad(), nb = b.requires_grad()](const Tensor& g) {
        const Tensor zero = zeros_like(g);  // the gradient follows the branch that was chosen
        return Grads{na ? sum_to(select(c, g, zero), sa) : Tensor(), nb ? sum_to(select(c, zero, g), sb) : Tensor()};
      });
}

Tensor masked_fill(const Tensor& x, const Tensor& mask, double value) {
  if (broadcast_shapes(mask.shape(), x.shape(), "masked_fill") != x.shape())
    throw std::invalid_argument("masked_fill: mask shape " + to_string(mask.shape()) + " does not broadcast to " +
                                to_string(x.shape()));
  return where(mask, scalar_tensor(value, x.dtype()), x);
}

}  // namespace rg
