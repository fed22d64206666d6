// Least squares through LAPACK's dgelsd (OpenBLAS ships LAPACK): torch.linalg.lstsq(A, B, rcond,
// driver="gelsd").
#pragma once
#include <cstdint>

#include "regrad/tensor/tensor.h"

namespace rg {

struct LstsqResult {
  Tensor solution;         // (n) or (n, k), the dtype of A
  int64_t rank = 0;        // the effective rank: singular values above rcond·σ_max
  Tensor singular_values;  // (min(m, n)), descending, float64
};

// The minimum-norm least-squares solution X = A⁺B of A·X ≈ B for A (m, n) and B (m) or (m, k):
// among the minimisers of ‖A·X − B‖ (every X with A·X = B when p = n > m and A has full rank)
// the one of least ‖X‖. Computed in float64 by an SVD (divide and conquer); singular values
// ≤ rcond·σ_max count as zero, and rcond < 0 means eps(A's dtype)·max(m, n), torch's default (a
// float32 A gets float32's eps, 1.19e-7, although the SVD runs in float64).
// Not differentiable: no graph is recorded (the inputs are read as constants).
// Throws std::invalid_argument on bad shapes or dtypes, std::runtime_error when the SVD fails.
LstsqResult lstsq(const Tensor& a, const Tensor& b, double rcond = -1.0);

}  // namespace rg
