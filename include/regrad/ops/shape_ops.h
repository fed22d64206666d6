// Reshaping and rearranging. reshape/view share storage (tensors are always contiguous);
// transpose, permute, cat, slice and expand write new tensors.
#pragma once
#include <vector>

#include "regrad/tensor/tensor.h"

namespace rg {

Tensor reshape(const Tensor& x, const Shape& shape);  // one size may be −1
Tensor flatten(const Tensor& x, int64_t start_dim = 0, int64_t end_dim = -1);
Tensor unsqueeze(const Tensor& x, int64_t dim);
Tensor squeeze(const Tensor& x, int64_t dim);
Tensor transpose(const Tensor& x, int64_t dim0, int64_t dim1);
Tensor permute(const Tensor& x, const std::vector<int64_t>& dims);
Tensor cat(const std::vector<Tensor>& tensors, int64_t dim = 0);
// Elements start, start+step, … < end along dim; negative start/end count from the end, as x[a:b:s].
Tensor slice(const Tensor& x, int64_t dim, int64_t start, int64_t end, int64_t step = 1);
Tensor expand(const Tensor& x, const Shape& shape);  // broadcast_to, materialised; -1 keeps that size

}  // namespace rg
