// Internal, shared by the fused layers: argument checks with PyTorch-like messages, raw pointers of
// optional tensors (null when undefined), and gradient tensors allocated only when wanted.
#pragma once
#include <string>

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

// An empty tensor shaped like `like` when `wanted`, else undefined: gradients nobody needs.
inline Tensor empty_if(bool wanted, const Shape& shape, DType dtype) {
  return wanted ? Tensor::empty(shape, dtype) : Tensor();
}

}  // namespace rg::detail
