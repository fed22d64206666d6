// LayerNorm: statistics per row of the D trailing elements, affine per element.
// Derivation: docs/derivations.md#layernorm; the op and its kernels: row_norm.cpp, row_norm.h.
#include "regrad/functional/normalization.h"
#include "row_norm.h"

namespace rg {

Tensor layer_norm(const Tensor& input, const Shape& normalized_shape, const Tensor& weight, const Tensor& bias,
                  double eps) {
  return detail::row_norm("layer_norm", input, normalized_shape, weight, bias, eps, /*center=*/true);
}

}  // namespace rg
