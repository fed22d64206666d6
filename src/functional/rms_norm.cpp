// RMSNorm: LayerNorm without centering (μ = 0) and without bias: y = γ·x / √(mean(x²) + ε).
// Derivation: docs/derivations.md#rmsnorm; the op and its kernels: row_norm.cpp, row_norm.h.
#include <limits>

#include "regrad/functional/normalization.h"
#include "row_norm.h"

namespace rg {

double rms_norm_default_eps(DType dtype) {
  return dtype == DType::Float32 ? std::numeric_limits<float>::epsilon() : std::numeric_limits<double>::epsilon();
}

Tensor rms_norm(const Tensor& input, const Shape& normalized_shape, const Tensor& weight, std::optional<double> eps) {
  const double e = eps ? *eps : rms_norm_default_eps(input.dtype());
  return detail::row_norm("rms_norm", input, normalized_shape, weight, Tensor(), e, /*center=*/false);
}

}  // namespace rg
