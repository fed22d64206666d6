// Matrix products through OpenBLAS (cblas_sgemm / cblas_dgemm), and which OpenBLAS kernels run them.
#pragma once
#include <string>

#include "regrad/tensor/tensor.h"

namespace rg {

// torch.matmul semantics for: 1-D·1-D is not supported; (..., M, K)·(K, N); (B, M, K)·(B, K, N)
// with equal batch dims; a 1-D operand is treated as a row (left) or column (right) and squeezed.
// Backward: dA = dC·Bᵀ, dB = Aᵀ·dC, computed by GEMM with transpose flags (nothing copied).
Tensor matmul(const Tensor& a, const Tensor& b);

}  // namespace rg

namespace rg {

// torch.nn.functional.linear: y = x·Wᵀ + b for x (…, in), weight (out, in), bias (out) or undefined.
// One GEMM with W transposed by flag; backward dx = dy·W, dW = dyᵀ·x, db = Σ dy.
Tensor linear(const Tensor& x, const Tensor& weight, const Tensor& bias = {});

}  // namespace rg

namespace rg {

// The name OpenBLAS gives the kernels it runs in this process ("Haswell", "Cooperlake", …). It picks
// them when it is loaded, from the CPU or from OPENBLAS_CORETYPE; they set the GEMMs' speed and
// their last bits, so the CLI and the experiments' reports name them.
std::string blas_kernels();

}  // namespace rg
