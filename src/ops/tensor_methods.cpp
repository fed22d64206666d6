// The Tensor members that are ops: to() and clone() (differentiable copies) and the method forms
// of common ops (t.sum() is rg::sum(t)). Declared in tensor.h for the method syntax, defined in
// the ops layer because they record autograd history.
#include <cstring>

#include "regrad/autograd/autograd.h"
#include "regrad/ops/elementwise.h"
#include "regrad/ops/linalg.h"
#include "regrad/ops/reduce.h"
#include "regrad/ops/shape_ops.h"

namespace rg {

// ---- conversions ----

Tensor Tensor::to(DType target) const {
  if (target == dtype()) return *this;
  Tensor out = Tensor::empty(shape(), target);
  out.copy_(detach());
  if (is_floating(dtype()) && is_floating(target)) {
    const DType source = dtype();
    if (!needs_grad(*this)) return out;
    return record("to", out, {*this}, [source](const Tensor& g) { return Grads{g.to(source)}; });
  }
  return out;
}

Tensor Tensor::clone() const {
  Tensor out = Tensor::empty(shape(), dtype());
  std::memcpy(out.raw_data(), raw_data(), static_cast<std::size_t>(numel()) * element_size(dtype()));
  if (!needs_grad(*this)) return out;
  return record("clone", out, {*this}, [](const Tensor& g) { return Grads{g}; });
}

// ---- method forms ----

Tensor Tensor::reshape(const Shape& s) const { return rg::reshape(*this, s); }
Tensor Tensor::transpose(int64_t d0, int64_t d1) const { return rg::transpose(*this, d0, d1); }
Tensor Tensor::permute(const std::vector<int64_t>& dims) const { return rg::permute(*this, dims); }
Tensor Tensor::sum() const { return rg::sum(*this); }
Tensor Tensor::sum(const std::vector<int64_t>& dims, bool keepdim) const { return rg::sum(*this, dims, keepdim); }
Tensor Tensor::mean() const { return rg::mean(*this); }
Tensor Tensor::mean(const std::vector<int64_t>& dims, bool keepdim) const { return rg::mean(*this, dims, keepdim); }
Tensor Tensor::exp() const { return rg::exp(*this); }
Tensor Tensor::log() const { return rg::log(*this); }
Tensor Tensor::tanh() const { return rg::tanh(*this); }
Tensor Tensor::relu() const { return rg::relu(*this); }
Tensor Tensor::sqrt() const { return rg::sqrt(*this); }
Tensor Tensor::pow(double e) const { return rg::pow(*this, e); }
Tensor Tensor::matmul(const Tensor& o) const { return rg::matmul(*this, o); }

}  // namespace rg
