// GroupNorm: statistics per (sample, group) over the group's C/G channels and spatial dims,
// affine per channel. Derivation: docs/derivations.md#groupnorm. The input is viewed as
// (N, C, S); the M = (C/G)·S elements of group g of sample n are contiguous, so each group is a
// row of LayerNorm's kernels (row_norm.h). With long channels (S ≥ kLongRun) the kernels loop
// over each channel's run of S elements; with short ones the per-channel parameters are repeated
// S times instead, so that the loops run over whole groups (S = 16: a run would be one vector).
#include <algorithm>
#include <numeric>
#include <vector>

#include "common.h"
#include "regrad/autograd/autograd.h"
#include "regrad/functional/normalization.h"
#include "row_norm.h"

namespace rg {
namespace {

constexpr int64_t kLongRun = 64;  // measured: docs/performance.md

// Per-channel parameters each repeated E times: (C) → (C·E). Empty when `p` is undefined.
template <typename T>
std::vector<T> expand_per_channel(const Tensor& p, int64_t C, int64_t E) {
  std::vector<T> out(p.defined() ? C * E : 0);
  for (int64_t c = 0; c < static_cast<int64_t>(out.size()) / std::max<int64_t>(E, 1); ++c)
    std::fill_n(out.begin() + c * E, E, p.data<T>()[c]);
  return out;
}

}  // namespace

Tensor group_norm(const Tensor& input, int64_t num_groups, const Tensor& weight, const Tensor& bias, double eps) {
  const char* op = "group_norm";
  if (input.dim() < 2)
    throw std::invalid_argument("group_norm: expected input of shape (N, C, *), got " + to_string(input.shape()));
  const int64_t N = input.shape()[0], C = input.shape()[1];
  if (num_groups <= 0 || C % num_groups != 0)
    throw std::invalid_argument("group_norm: num_groups " + std::to_string(num_groups) +
                                " must be positive and divide the number of channels " + std::to_string(C));
  detail::check_param(weight, "weight", {C}, input, op);
  detail::check_param(bias, "bias", {C}, input, op);
  detail::check_eps(eps, op);
  const int64_t S = N * C == 0 ? 0 : input.numel() / (N * C), G = num_groups;
  const int64_t F = S >= kLongRun ? S : 1, E = S / F;  // run length; copies of each parameter
  std::vector<double> mean(N * G), rstd(N * G);
  Tensor y = Tensor::empty(input.shape(), input.dtype());
  dispatch_float(input.dtype(), op, [&](auto tag) {
    using T = typename decltype(tag)::type;
    const std::vector<T> we = expand_per_channel<T>(weight, C, E), be = expand_per_channel<T>(bias, C, E);
    detail::row_norm_forward(y.data<T>(), mean.data(), rstd.data(), input.data<T>(), detail::ptr_or_null(we),
                             detail::ptr_or_null(be), N * G, C / G * S, G, F, eps, /*center=*/true);
  });
  if (!needs_grad(input, weight, bias)) return y;
  return record(op, y, {input, weight, bias},
                [x = input.detach(), w = weight.defined() ? weight.detach() : Tensor(),
                 need = detail::NeedGrads(input, weight, bias), mean = std::move(mean), rstd = std::move(rstd), N, C, S,
                 G, F, E](const Tensor& dy) {
                  Tensor dx, dw, db;  // not a structured binding: clang 14 cannot capture one in a lambda
                  std::tie(dx, dw, db) = need.allocate(x.shape(), {C}, x.dtype());
                  dispatch_float(x.dtype(), "group_norm", [&](auto tag) {
                    using T = typename decltype(tag)::type;
                    const std::vector<T> we = expand_per_channel<T>(w, C, E);
                    std::vector<double> swe(need.w ? C * E : 0), sbe(need.b ? C * E : 0);
                    detail::row_norm_backward</*center=*/true>(
                        detail::ptr_or_null<T>(dx), detail::ptr_or_null(swe), detail::ptr_or_null(sbe), dy.data<T>(),
                        x.data<T>(), mean.data(), rstd.data(), detail::ptr_or_null(we), N * G, C / G * S, G, F);
                    // dγ_c = the sum over the channel's E copies (and dβ alike).
                    const auto channel_sum = [E](const std::vector<double>& v, int64_t c) {
                      return std::accumulate(v.begin() + c * E, v.begin() + (c + 1) * E, 0.0);
                    };
                    for (int64_t c = 0; c < C; ++c) {
                      if (need.w) dw.data<T>()[c] = static_cast<T>(channel_sum(swe, c));
                      if (need.b) db.data<T>()[c] = static_cast<T>(channel_sum(sbe, c));
                    }
                  });
                  return Grads{dx, dw, db};
                });
}

}  // namespace rg
