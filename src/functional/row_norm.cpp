// The autograd op behind layer_norm (layer_norm.cpp) and rms_norm (rms_norm.cpp): argument
// checks, the forward kernel, and a backward closure that calls row_norm_backward (row_norm.h).
#include <vector>

#include "common.h"
#include "regrad/autograd/autograd.h"
#include "row_norm.h"

namespace rg::detail {

Tensor row_norm(const char* op, const Tensor& input, const Shape& normalized_shape, const Tensor& weight,
                const Tensor& bias, double eps, bool center) {
  const int64_t D = trailing_size(input, normalized_shape, op);
  check_param(weight, "weight", normalized_shape, input, op);
  check_param(bias, "bias", normalized_shape, input, op);
  check_eps(eps, op);
  const int64_t rows = D == 0 ? 0 : input.numel() / D;
  std::vector<double> mean(rows), rstd(rows);
  Tensor y = Tensor::empty(input.shape(), input.dtype());
  dispatch_float(input.dtype(), op, [&](auto tag) {
    using T = typename decltype(tag)::type;
    row_norm_forward(y.data<T>(), mean.data(), rstd.data(), input.data<T>(), ptr_or_null<T>(weight),
                     ptr_or_null<T>(bias), rows, D, /*G=*/1, /*F=*/1, eps, center);
  });
  if (!needs_grad(input, weight, bias)) return y;
  return record(
      op, y, {input, weight, bias},
      [op, x = input.detach(), w = weight.defined() ? weight.detach() : Tensor(), need = NeedGrads(input, weight, bias),
       mean = std::move(mean), rstd = std::move(rstd), rows, D, center, pshape = normalized_shape](const Tensor& dy) {
        Tensor dx, dw, db;  // not a structured binding: clang 14 cannot capture one in a lambda
        std::tie(dx, dw, db) = need.allocate(x.shape(), pshape, x.dtype());
        std::vector<double> sw(need.w ? D : 0), sb(need.b ? D : 0);  // dγ, dβ in double
        dispatch_float(x.dtype(), op, [&](auto tag) {
          using T = typename decltype(tag)::type;
          const auto backward = center ? row_norm_backward<true, T> : row_norm_backward<false, T>;
          backward(ptr_or_null<T>(dx), ptr_or_null(sw), ptr_or_null(sb), dy.data<T>(), x.data<T>(), mean.data(),
                   rstd.data(), ptr_or_null<T>(w), rows, D, /*G=*/1, /*F=*/1);
          for (int64_t d = 0; d < static_cast<int64_t>(sw.size()); ++d) dw.data<T>()[d] = static_cast<T>(sw[d]);
          for (int64_t d = 0; d < static_cast<int64_t>(sb.size()); ++d) db.data<T>()[d] = static_cast<T>(sb[d]);
        });
        return Grads{dx, dw, db};
      });
}

}  // namespace rg::detail
