// Gradient checking: analytic gradients (backward) against central finite differences, in double.
#pragma once
#include <functional>
#include <string>
#include <vector>

#include "regrad/tensor/tensor.h"

namespace rg {

struct GradcheckOptions {
  double eps = 1e-6;  // PyTorch's torch.autograd.gradcheck defaults
  double atol = 1e-5;
  double rtol = 1e-3;
  uint64_t seed = 0;  // for the random upstream gradient
  // Every entry of the Jacobian (PyTorch's gradcheck): one backward per output element and one
  // pair of evaluations per input element. Otherwise one random projection vᵀJ (cheaper).
  bool full_jacobian = false;
};

struct GradcheckResult {
  bool ok = false;           // every comparison within tolerance, and at least one made
  int64_t checked = 0;       // comparisons: input elements (projection) or Jacobian entries
  double max_abs_err = 0.0;  // over all elements
  // The worst element: the largest |analytic − numeric| / (atol + rtol·|numeric|).
  int worst_input = -1;
  std::vector<int64_t> worst_index;
  int64_t worst_output = -1;  // its output element (flat), in full-Jacobian mode
  double analytic = 0.0, numeric = 0.0;
  std::string summary() const;  // "ok  max_abs_err=… worst=input 0 [1, 2] analytic=… numeric=…"
};

using TensorFn = std::function<Tensor(const std::vector<Tensor>&)>;

// Checks d(Σ v·f(inputs))/d(input) for every float64 input with requires_grad, where v is a fixed
// random upstream gradient (a constant one would hide bugs: x̂ sums to zero, so LayerNorm's dx is
// 0 for sum().backward()), or with full_jacobian every ∂f_j/∂x_i. Inputs must be float64; they
// are not modified. A check that compares nothing (no input requires grad, or all are empty)
// fails: it has proven nothing.
GradcheckResult gradcheck(const TensorFn& f, const std::vector<Tensor>& inputs, const GradcheckOptions& opts = {});

}  // namespace rg
