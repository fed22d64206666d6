// Reductions over dimensions, with keepdim as in PyTorch. Sums accumulate in double and are
// combined in a fixed order, so results do not depend on the thread count.
#pragma once
#include <vector>

#include "regrad/tensor/tensor.h"

namespace rg {

Tensor sum(const Tensor& x);  // all elements, 0-d
Tensor sum(const Tensor& x, const std::vector<int64_t>& dims, bool keepdim = false);
Tensor mean(const Tensor& x);
Tensor mean(const Tensor& x, const std::vector<int64_t>& dims, bool keepdim = false);
// Variance over dims: divides by n−1 when unbiased (PyTorch's default), by n otherwise.
Tensor var(const Tensor& x, const std::vector<int64_t>& dims, bool unbiased = true, bool keepdim = false);
Tensor var(const Tensor& x);  // all elements, unbiased (var(x, {}, false) for the biased one)

// As PyTorch, a NaN counts as the largest value (the first NaN, along dim).
// Largest element (0-d); the elements equal to it share its gradient equally (torch.max()).
Tensor max(const Tensor& x);
struct MaxResult {
  Tensor values;
  Tensor indices;  // int64, position of the first maximum along dim; the gradient goes there
};
MaxResult max(const Tensor& x, int64_t dim, bool keepdim = false);

// Sums a gradient of a broadcast result back to `shape` (the inverse of broadcasting).
Tensor sum_to(const Tensor& x, const Shape& shape);

}  // namespace rg
