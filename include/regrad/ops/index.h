// Indexing: rows by index (embeddings), gather along a dim, where and masked_fill.
#pragma once
#include "regrad/tensor/tensor.h"

namespace rg {

// Entries of x along dim at the int64 positions in the 1-D `index`; backward adds into those rows.
Tensor index_select(const Tensor& x, int64_t dim, const Tensor& index);
// weight[index] for an int64 index of any shape: result shape index.shape + [D].
Tensor embedding(const Tensor& index, const Tensor& weight);
// out[..., k, ...] = x[..., index[..., k, ...], ...] along dim; index has x's shape except along dim.
Tensor gather(const Tensor& x, int64_t dim, const Tensor& index);
// One-hot rows: out[..., k] = 1 where index == k (torch.nn.functional.one_hot), in `dtype`.
Tensor one_hot(const Tensor& index, int64_t num_classes, DType dtype = DType::Float32);
// Elementwise choice (condition nonzero → a), broadcasting all three.
Tensor where(const Tensor& condition, const Tensor& a, const Tensor& b);
// x with `value` where mask is nonzero; mask broadcasts to x.
Tensor masked_fill(const Tensor& x, const Tensor& mask, double value);

}  // namespace rg
