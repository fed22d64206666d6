// GroupNorm: statistics per (sample, group) over the group's C/G channels and spatial dims,
// affine per channel. Derivation: docs/derivations.md#groupnorm. The input is viewed as
// (N, C, S); the M = (C/G)·S elements of group g of sample n are contiguous, so each group is a
// row of LayerNorm's kernels (row_norm.h) with per-channel parameters expanded over S.
#include <algorithm>
#include <numeric>
#include <vector>

#include "common.h"
#include "row_norm.h"
#include "regrad/autograd/autograd.h"
#include "regrad/functional/normalization.h"

namespace rg {
namespace {

// Per-channel parameters repeated over the S positions of each channel, so that a group's
// parameters are a contiguous slice like LayerNorm's: (C) → (C·S). Empty when `p` is undefined.
template <typename T>
std::vector<T> expand_per_channel(const Tensor& p, int64_t C, int64_t S) {
  std::vector<T> out(p.defined() ? C * S : 0);
  for (int64_t c = 0; c < static_cast<int64_t>(out.size()) / std::max<int64_t>(S, 1); ++c)
    std::fill_n(out.begin() + c * S, S, p.data<T>()[c]);
  return out;
}

template <typename T>
const T* data_or_null(const std::vector<T>& v) {
  return v.empty() ? nullptr : v.data();
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
  std::vector<double> mean(N * G), rstd(N * G);
  Tensor y = Tensor::empty(input.shape(), input.dtype());
  dispatch_float(input.dtype(), op, [&](auto tag) {
    using T = typename decltype(tag)::type;
    const std::vector<T> we = expand_per_channel<T>(weight, C, S), be = expand_per_channel<T>(bias, C, S);
    detail::row_norm_forward(y.data<T>(), mean.data(), rstd.data(), input.data<T>(), data_or_null(we),
                             data_or_null(be), N * G, C / G * S, G, eps, /*center=*/true);
  });
  return record(op, y, {input, weight, bias},
                [x = input.detach(), w = weight.defined() ? weight.detach() : Tensor(), has_bias = bias.defined(),
                 need_dx = input.requires_grad(), mean = std::move(mean), rstd = std::move(rstd), N, C, S,
                 G](const Tensor& dy) {
                  Tensor dx = detail::empty_if(need_dx, x.shape(), x.dtype());
                  Tensor dw = detail::empty_if(w.defined(), {C}, x.dtype());
                  Tensor db = detail::empty_if(has_bias, {C}, x.dtype());
                  dispatch_float(x.dtype(), "group_norm", [&](auto tag) {
                    using T = typename decltype(tag)::type;
                    const std::vector<T> we = expand_per_channel<T>(w, C, S);
                    std::vector<double> swe(dw.defined() ? C * S : 0), sbe(db.defined() ? C * S : 0);
                    detail::row_norm_backward(detail::ptr_or_null<T>(dx), dw.defined() ? swe.data() : nullptr,
                                              db.defined() ? sbe.data() : nullptr, dy.data<T>(), x.data<T>(),
                                              mean.data(), rstd.data(), data_or_null(we), N * G, C / G * S, G,
                                              /*center=*/true);
                    // dγ_c = Σ_s of the expanded gradient over the channel's S positions (and dβ alike).
                    const auto channel_sum = [S](const std::vector<double>& v, int64_t c) {
                      return std::accumulate(v.begin() + c * S, v.begin() + (c + 1) * S, 0.0);
                    };
                    for (int64_t c = 0; c < C; ++c) {
                      if (dw.defined()) dw.data<T>()[c] = static_cast<T>(channel_sum(swe, c));
                      if (db.defined()) db.data<T>()[c] = static_cast<T>(channel_sum(sbe, c));
                    }
                  });
                  return Grads{dx, dw, db};
                });
}

}  // namespace rg
