// Numerically stable softmax and log_softmax (the row maximum is subtracted first).
#pragma once
#include "regrad/tensor/tensor.h"

namespace rg {

Tensor softmax(const Tensor& x, int64_t dim);
Tensor log_softmax(const Tensor& x, int64_t dim);

}  // namespace rg
