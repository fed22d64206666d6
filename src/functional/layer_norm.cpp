// LayerNorm and RMSNorm: statistics per row of the D trailing elements, kernels in row_norm.h.
// Derivations: docs/derivations.md#layernorm and #rmsnorm. One kernel serves both: `center`
// subtracts the row mean (LayerNorm); without it μ = 0 and there is no bias (RMSNorm).
#include <cmath>
#include <limits>
#include <vector>

#include "common.h"
#include "row_norm.h"
#include "regrad/autograd/autograd.h"
#include "regrad/functional/normalization.h"

namespace rg {
namespace {

Tensor row_norm(const char* op, const Tensor& input, const Shape& normalized_shape, const Tensor& weight,
                const Tensor& bias, double eps, bool center) {
  const int64_t D = detail::trailing_size(input, normalized_shape, op);
  detail::check_param(weight, "weight", normalized_shape, input, op);
  detail::check_param(bias, "bias", normalized_shape, input, op);
  detail::check_eps(eps, op);
  const int64_t rows = D == 0 ? 0 : input.numel() / D;
  std::vector<double> mean(rows), rstd(rows);
  Tensor y = Tensor::empty(input.shape(), input.dtype());
  dispatch_float(input.dtype(), op, [&](auto tag) {
    using T = typename decltype(tag)::type;
    detail::row_norm_forward(y.data<T>(), mean.data(), rstd.data(), input.data<T>(), detail::ptr_or_null<T>(weight),
                             detail::ptr_or_null<T>(bias), rows, D, /*G=*/1, /*F=*/1, eps, center);
  });
  return record(op, y, {input, weight, bias},
                [x = input.detach(), w = weight.defined() ? weight.detach() : Tensor(), has_bias = bias.defined(),
                 need_dx = input.requires_grad(), mean = std::move(mean), rstd = std::move(rstd), rows, D, center,
                 pshape = normalized_shape](const Tensor& dy) {
                  Tensor dx = detail::empty_if(need_dx, x.shape(), x.dtype());
                  Tensor dw = detail::empty_if(w.defined(), pshape, x.dtype());
                  Tensor db = detail::empty_if(has_bias, pshape, x.dtype());
                  std::vector<double> sw(dw.defined() ? D : 0), sb(db.defined() ? D : 0);
                  dispatch_float(x.dtype(), "layer_norm", [&](auto tag) {
                    using T = typename decltype(tag)::type;
                    detail::row_norm_backward(detail::ptr_or_null<T>(dx), dw.defined() ? sw.data() : nullptr,
                                              db.defined() ? sb.data() : nullptr, dy.data<T>(), x.data<T>(),
                                              mean.data(), rstd.data(), detail::ptr_or_null<T>(w), rows, D, /*G=*/1,
                                              /*F=*/1, center);
                    for (int64_t d = 0; d < static_cast<int64_t>(sw.size()); ++d) dw.data<T>()[d] = static_cast<T>(sw[d]);
                    for (int64_t d = 0; d < static_cast<int64_t>(sb.size()); ++d) db.data<T>()[d] = static_cast<T>(sb[d]);
                  });
                  return Grads{dx, dw, db};
                });
}

}  // namespace

Tensor layer_norm(const Tensor& input, const Shape& normalized_shape, const Tensor& weight, const Tensor& bias,
                  double eps) {
  return row_norm("layer_norm", input, normalized_shape, weight, bias, eps, /*center=*/true);
}

double rms_norm_default_eps(DType dtype) {
  return dtype == DType::Float32 ? std::numeric_limits<float>::epsilon() : std::numeric_limits<double>::epsilon();
}

Tensor rms_norm(const Tensor& input, const Shape& normalized_shape, const Tensor& weight, std::optional<double> eps) {
  const double e = eps ? *eps : rms_norm_default_eps(input.dtype());
  return row_norm("rms_norm", input, normalized_shape, weight, Tensor(), e, /*center=*/false);
}

}  // namespace rg
