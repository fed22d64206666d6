// Fused cross-entropy: log-softmax and the loss in one forward pass, and a backward that is
// g·(softmax(z)·Σ w·q − w·q) in one pass
// (docs/derivations.md#cross-entropy-with-label-smoothing).
#pragma once
#include "regrad/ops/loss.h"
#include "regrad/tensor/tensor.h"

namespace rg {

// torch.nn.functional.cross_entropy's keyword arguments (size_average and reduce, deprecated
// there, are left out). With designated initialisers a call reads like PyTorch's:
//   cross_entropy(logits, target, {.weight = w, .ignore_index = 0, .label_smoothing = 0.1})
struct CrossEntropyOptions {
  Tensor weight = {};           // per-class weight (K), the logits' dtype; undefined: all 1
  int64_t ignore_index = -100;  // class-index targets equal to it add 0 and leave the mean
  Reduction reduction = Reduction::Mean;
  double label_smoothing = 0.0;  // in [0, 1]
};

// input: logits (N, K), (N, K, d1, …) or (K); class dim 1 (0 for (K)).
// target: int64 class indices of the input's shape without the class dim, or probabilities of the
// input's shape and dtype (Mixup and CutMix produce those).
// Per position i, with the smoothed target q = (1 − ε)·t + ε/K (t one-hot or the probabilities,
// ε = label_smoothing) and class weights w:
//   loss_i = −Σ_k w_k·q_ik·log softmax(z_i)_k,   0 where the class index is ignore_index.
// reduction none: the losses, shaped like the input without the class dim; sum: their sum;
// mean: for class indices Σ loss_i / Σ w_{t_i} over the positions not ignored (PyTorch's
// weighted mean; NaN when that is 0), for probabilities Σ loss_i / (number of positions).
// Gradients: the logits, and probability targets that require grad (as PyTorch). The weight is
// not differentiated (PyTorch refuses one that requires grad, so does this).
Tensor cross_entropy(const Tensor& input, const Tensor& target, const CrossEntropyOptions& options);

Tensor cross_entropy(const Tensor& input, const Tensor& target, Reduction reduction = Reduction::Mean,
                     double label_smoothing = 0.0);

}  // namespace rg
