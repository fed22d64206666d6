// The composed twins: each fused layer written with primitive autograd ops only, exactly as the
// formulas read. Autograd derives their backward; tests compare it with the hand-derived kernels.
#include "regrad/functional/composed.h"

#include <cmath>
#include <numeric>

#include "regrad/autograd/autograd.h"
#include "regrad/functional/normalization.h"
#include "regrad/ops/elementwise.h"
#include "regrad/ops/index.h"
#include "regrad/ops/linalg.h"
#include "regrad/ops/reduce.h"
#include "regrad/ops/shape_ops.h"
#include "regrad/ops/softmax.h"
#include "regrad/tensor/factory.h"

namespace rg::composed {

// Shape [1, C, 1, …] that broadcasts a per-channel vector against an (N, C, *) input.
static Shape channel_shape(const Tensor& x) {
  Shape s(x.dim(), 1);
  s[1] = x.shape()[1];
  return s;
}

static Tensor affine(Tensor y, const Tensor& weight, const Tensor& bias, const Shape& param_shape) {
  if (weight.defined()) y = y * weight.reshape(param_shape);
  if (bias.defined()) y = y + bias.reshape(param_shape);
  return y;
}

Tensor batch_norm(const Tensor& x, Tensor running_mean, Tensor running_var, const Tensor& weight, const Tensor& bias,
                  bool training, double momentum, double eps) {
  std::vector<int64_t> dims{0};
  for (int64_t d = 2; d < x.dim(); ++d) dims.push_back(d);
  const Shape cs = channel_shape(x);
  Tensor mean, var;
  if (training) {
    mean = rg::mean(x, dims, true);
    var = rg::var(x, dims, /*unbiased=*/false, true);
    if (running_mean.defined()) {
      NoGradGuard no_grad;
      const double M = static_cast<double>(x.numel() / x.shape()[1]);
      running_mean.copy_(running_mean * (1 - momentum) + mean.reshape({-1}) * momentum);
      running_var.copy_(running_var * (1 - momentum) + var.reshape({-1}) * (momentum * M / (M - 1)));
    }
  } else {
    mean = running_mean.reshape(cs);
    var = running_var.reshape(cs);
  }
  return affine((x - mean) * rsqrt(var + eps), weight, bias, cs);
}

static std::vector<int64_t> trailing_dims(const Shape& normalized_shape) {
  std::vector<int64_t> dims(normalized_shape.size());
  std::iota(dims.begin(), dims.end(), -static_cast<int64_t>(normalized_shape.size()));
  return dims;
}

Tensor layer_norm(const Tensor& x, const Shape& normalized_shape, const Tensor& weight, const Tensor& bias,
                  double eps) {
  const auto dims = trailing_dims(normalized_shape);
  const Tensor xhat = (x - mean(x, dims, true)) * rsqrt(var(x, dims, false, true) + eps);
  return affine(xhat, weight, bias, normalized_shape);
}

Tensor rms_norm(const Tensor& x, const Shape& normalized_shape, const Tensor& weight, std::optional<double> eps) {
  const double e = eps ? *eps : rms_norm_default_eps(x.dtype());
  const Tensor xhat = x * rsqrt(mean(x * x, trailing_dims(normalized_shape), true) + e);
  return affine(xhat, weight, Tensor(), normalized_shape);
}

Tensor group_norm(const Tensor& x, int64_t num_groups, const Tensor& weight, const Tensor& bias, double eps) {
  const Tensor g = x.reshape({x.shape()[0], num_groups, -1});
  const Tensor xhat = (g - mean(g, {2}, true)) * rsqrt(var(g, {2}, false, true) + eps);
  return affine(xhat.reshape(x.shape()), weight, bias, channel_shape(x));
}

Tensor dropout_with_mask(const Tensor& x, const Tensor& mask, double p) {
  return x * mask.to(x.dtype()) * (p < 1.0 ? 1.0 / (1.0 - p) : 0.0);
}

Tensor cross_entropy(const Tensor& logits, const Tensor& target, Reduction reduction, double label_smoothing) {
  return rg::composed::cross_entropy(logits, target,
                                     CrossEntropyOptions{.reduction = reduction, .label_smoothing = label_smoothing});
}

// −Σ_k w_k·q_k·log softmax(z)_k per position, with one-hot rows built for class indices and a
// constant 0/1 `keep` that removes the positions whose index is ignore_index.
Tensor cross_entropy(const Tensor& logits, const Tensor& target, const CrossEntropyOptions& o) {
  const int64_t cdim = logits.dim() == 1 ? 0 : 1, K = logits.shape()[cdim];
  Shape cs(logits.dim(), 1);  // broadcasts a per-class vector along the class dim
  cs[cdim] = K;
  Tensor t = target, keep;
  double denominator = 0;
  if (target.dtype() == DType::Int64) {
    // Position p = a·S + s has its class-k logit at flat index (a·K + k)·S + s.
    const int64_t P = target.numel();
    int64_t S = 1;
    for (int64_t d = cdim + 1; d < logits.dim(); ++d) S *= logits.shape()[d];
    std::vector<double> onehot(logits.numel(), 0.0), kept(P, 0.0);
    const std::vector<double> w = o.weight.defined() ? o.weight.tolist() : std::vector<double>(K, 1.0);
    for (int64_t p = 0; p < P; ++p) {
      const int64_t c = target.data<int64_t>()[p];
      if (c == o.ignore_index) continue;
      onehot[(p / S * K + c) * S + p % S] = 1.0;
      kept[p] = 1.0;
      denominator += w[c];
    }
    t = tensor(onehot, logits.shape(), logits.dtype());
    keep = tensor(kept, {P}, logits.dtype()).reshape(target.shape());
  } else {
    denominator = static_cast<double>(logits.numel() / K);
  }
  Tensor wq = t * (1.0 - o.label_smoothing) + o.label_smoothing / static_cast<double>(K);
  if (o.weight.defined()) wq = wq * o.weight.reshape(cs);
  Tensor loss = -sum(wq * log_softmax(logits, cdim), {cdim});
  if (keep.defined()) loss = loss * keep;
  if (o.reduction == Reduction::None) return loss;
  return o.reduction == Reduction::Sum ? sum(loss) : sum(loss) / denominator;
}

Tensor causal_attention(const Tensor& qkv, int64_t num_heads) {
  const int64_t B = qkv.size(0), T = qkv.size(1), C = qkv.size(2) / 3, D = C / num_heads;
  auto head_view = [&](int64_t part) {  // (B, T, C) slice → (B, heads, T, D)
    return permute(reshape(slice(qkv, 2, part * C, (part + 1) * C), {B, T, num_heads, D}), {0, 2, 1, 3});
  };
  const Tensor q = head_view(0), k = head_view(1), v = head_view(2);
  Tensor future = Tensor::empty({T, T}, qkv.dtype());  // 1 above the diagonal: t may not look at s > t
  for (int64_t t = 0; t < T; ++t)
    for (int64_t s = 0; s < T; ++s) future.set({t, s}, s > t ? 1.0 : 0.0);
  const Tensor scores = matmul(q, transpose(k, 2, 3)) * (1.0 / std::sqrt(static_cast<double>(D)));
  const Tensor att = softmax(masked_fill(scores, future, -INFINITY), -1);
  return reshape(permute(matmul(att, v), {0, 2, 1, 3}), {B, T, C});
}

}  // namespace rg::composed
