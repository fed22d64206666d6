// Internal, shared by the fused layers: argument checks with PyTorch-like messages, raw pointers of
// optional tensors and buffers (null when undefined or empty), and the gradients a fused layer
// allocates only when wanted.
#pragma once
#include <string>
#include <tuple>
#include <vector>

#include "regrad/tensor/tensor.h"

namespace rg::detail {

// An optional parameter (weight, bias, running stats) must have `shape` and the input's dtype.
inline void check_param(const Tensor& t, const char* name, const Shape& shape, const Tensor& input, const char* op) {
  if (!t.defined()) return;
  if (t.shape() != shape)
    throw std::invalid_argument(std::string(op) + ": " + name + " has shape " + to_string(t.shape()) + ", expected " +
                                to_string(shape) + " for input of shape " + to_string(input.shape()));
  if (t.dtype() != input.dtype())
    throw std::invalid_argument(std::string(op) + ": " + name + " is " + to_string(t.dtype()) + " but input is " +
                                to_string(input.dtype()));
}

inline void check_eps(double eps, const char* op) {
  if (!(eps >= 0.0)) throw std::invalid_argument(std::string(op) + ": eps must be >= 0, got " + std::to_string(eps));
}

// Number of elements in the trailing normalized_shape; checks that input ends with it.
inline int64_t trailing_size(const Tensor& input, const Shape& normalized_shape, const char* op) {
  const int64_t k = static_cast<int64_t>(normalized_shape.size());
  bool ok = k >= 1 && k <= input.dim();
  for (int64_t i = 0; ok && i < k; ++i) ok = input.shape()[input.dim() - k + i] == normalized_shape[i];
  if (!ok)
    throw std::invalid_argument(std::string(op) + ": normalized_shape " + to_string(normalized_shape) +
                                " does not match the trailing dims of input shape " + to_string(input.shape()));
  return numel(normalized_shape);
}

template <typename T>
const T* ptr_or_null(const Tensor& t) {
  return t.defined() ? t.data<T>() : nullptr;
}
template <typename T>
T* ptr_or_null(Tensor& t) {
  return t.defined() ? t.data<T>() : nullptr;
}

// The data of a buffer of accumulators, or null when it was left empty (not wanted).
template <typename T>
T* ptr_or_null(std::vector<T>& v) {
  return v.empty() ? nullptr : v.data();
}
template <typename T>
const T* ptr_or_null(const std::vector<T>& v) {
  return v.empty() ? nullptr : v.data();
}

// The skeleton every fused layer's backward shares (autograd.h's closure convention): which of
// (input, weight, bias) need a gradient is read when the op runs; the closure allocates only
// those gradients and returns undefined tensors for the rest.
struct NeedGrads {
  bool x, w, b;
  NeedGrads(const Tensor& input, const Tensor& weight, const Tensor& bias)
      : x(input.requires_grad()),
        w(weight.defined() && weight.requires_grad()),
        b(bias.defined() && bias.requires_grad()) {}
  // Uninitialised (dx, dw, db) for the wanted gradients: dx shaped like the input, dw and db like
  // the parameters.
  std::tuple<Tensor, Tensor, Tensor> allocate(const Shape& input, const Shape& param, DType dtype) const {
    return {x ? Tensor::empty(input, dtype) : Tensor(), w ? Tensor::empty(param, dtype) : Tensor(),
            b ? Tensor::empty(param, dtype) : Tensor()};
  }
};

}  // namespace rg::detail
