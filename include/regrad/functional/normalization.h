// Fused normalization layers with hand-derived backward kernels (docs/derivations.md).
// Names, argument order and defaults are torch.nn.functional's. An undefined Tensor stands for
// PyTorch's None (no affine weight/bias, no running statistics).
#pragma once
#include <optional>

#include "regrad/tensor/tensor.h"

namespace rg {

// Input (N, C), (N, C, L) or (N, C, H, W); statistics per channel over every other dim.
// training: normalise with the biased batch variance and, when running stats are given, update
//   running_mean ← (1 − momentum)·running_mean + momentum·mean,
//   running_var  ← (1 − momentum)·running_var  + momentum·var·M/(M − 1)   (unbiased), in place;
// eval: normalise with the running statistics.
Tensor batch_norm(const Tensor& input, Tensor running_mean, Tensor running_var, const Tensor& weight = {},
                  const Tensor& bias = {}, bool training = false, double momentum = 0.1, double eps = 1e-5);

// Normalises over the trailing dims given by normalized_shape; weight/bias have that shape.
Tensor layer_norm(const Tensor& input, const Shape& normalized_shape, const Tensor& weight = {},
                  const Tensor& bias = {}, double eps = 1e-5);

// y = x · rsqrt(mean(x²) + eps) · weight over the trailing normalized_shape: no mean, no bias.
// eps defaults to rms_norm_default_eps(input's dtype), as torch.nn.functional.rms_norm.
Tensor rms_norm(const Tensor& input, const Shape& normalized_shape, const Tensor& weight = {},
                std::optional<double> eps = std::nullopt);

// RMSNorm's default eps, PyTorch's torch.finfo(dtype).eps: the machine epsilon of float or double.
double rms_norm_default_eps(DType dtype);

// Input (N, C, *): statistics per sample and group of C/num_groups channels, affine per channel.
Tensor group_norm(const Tensor& input, int64_t num_groups, const Tensor& weight = {}, const Tensor& bias = {},
                  double eps = 1e-5);

}  // namespace rg
