// Convolution and pooling on (N, C, H, W) tensors, as torch.nn.functional.
#pragma once
#include "regrad/tensor/tensor.h"

namespace rg {

// 2-D convolution (cross-correlation, as PyTorch) by im2col + GEMM, parallel over the batch.
// weight (O, C, kh, kw), bias (O) or undefined; output (N, O, Ho, Wo) with
// Ho = (H + 2·padding − kh)/stride + 1. Backward: dW = Σ_n dY_n·colsᵀ, dcols = Wᵀ·dY_n → col2im.
Tensor conv2d(const Tensor& input, const Tensor& weight, const Tensor& bias = {}, int64_t stride = 1,
              int64_t padding = 0);

// Max over kernel×kernel windows (stride defaults to the kernel size); the gradient goes to the
// arg-max of each window (the first of equal maxima). As PyTorch, a window holding a NaN gives NaN,
// and its gradient goes to the window's last NaN.
Tensor max_pool2d(const Tensor& input, int64_t kernel_size, int64_t stride = 0);

// Mean over kernel×kernel windows (stride defaults to the kernel size); each input element of a
// window receives g/k² of the window's gradient.
Tensor avg_pool2d(const Tensor& input, int64_t kernel_size, int64_t stride = 0);

}  // namespace rg
