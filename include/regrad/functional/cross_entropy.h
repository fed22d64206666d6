// Fused cross-entropy: log-softmax and the loss in one forward pass, and a backward that is
// g·(softmax − target) in one pass (docs/derivations.md#cross-entropy-with-label-smoothing).
#pragma once
#include "regrad/ops/loss.h"
#include "regrad/tensor/tensor.h"

namespace rg {

// input: logits (N, K). target: int64 class indices (N) or float probabilities (N, K) (Mixup and
// CutMix produce those). The smoothed target is (1 − label_smoothing)·target + label_smoothing/K,
// exactly PyTorch's definition. reduction: mean over N (default), sum, or none (shape (N)).
Tensor cross_entropy(const Tensor& input, const Tensor& target, Reduction reduction = Reduction::Mean,
                     double label_smoothing = 0.0);

}  // namespace rg
