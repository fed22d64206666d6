// The composed twins of the fused layers: the same functions built only from primitive autograd
// ops (sub, mul, mean, rsqrt, log_softmax, …). They are slow and obviously right; tests use them
// to show that each hand-derived backward kernel gives the same gradients.
#pragma once
#include <optional>

#include "regrad/functional/cross_entropy.h"
#include "regrad/ops/loss.h"
#include "regrad/tensor/tensor.h"

namespace rg::composed {

Tensor batch_norm(const Tensor& input, Tensor running_mean, Tensor running_var, const Tensor& weight = {},
                  const Tensor& bias = {}, bool training = false, double momentum = 0.1, double eps = 1e-5);
Tensor layer_norm(const Tensor& input, const Shape& normalized_shape, const Tensor& weight = {},
                  const Tensor& bias = {}, double eps = 1e-5);
Tensor rms_norm(const Tensor& input, const Shape& normalized_shape, const Tensor& weight = {},
                std::optional<double> eps = std::nullopt);
Tensor group_norm(const Tensor& input, int64_t num_groups, const Tensor& weight = {}, const Tensor& bias = {},
                  double eps = 1e-5);
// causal_attention: heads as permuted views of qkv, masked scores, softmax, matmuls.
Tensor causal_attention(const Tensor& qkv, int64_t num_heads);
Tensor dropout_with_mask(const Tensor& input, const Tensor& mask, double p);
Tensor cross_entropy(const Tensor& input, const Tensor& target, const CrossEntropyOptions& options);
Tensor cross_entropy(const Tensor& input, const Tensor& target, Reduction reduction = Reduction::Mean,
                     double label_smoothing = 0.0);

}  // namespace rg::composed
