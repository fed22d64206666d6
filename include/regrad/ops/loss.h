// The negative log-likelihood loss with integer class targets, as torch.nn.functional.
#pragma once
#include <string>

#include "regrad/tensor/tensor.h"

namespace rg {

enum class Reduction { None, Mean, Sum };
Reduction parse_reduction(const std::string& name);  // "none" | "mean" | "sum"

// −log_probs[i, target[i]] for log_probs (N, C) and int64 targets (N) in [0, C). A target equal
// to ignore_index (PyTorch's default −100) contributes 0 and is left out of the mean's count.
// (cross_entropy, fused and with label smoothing, is in functional/cross_entropy.h.)
Tensor nll_loss(const Tensor& log_probs, const Tensor& target, Reduction reduction = Reduction::Mean,
                int64_t ignore_index = -100);

}  // namespace rg
