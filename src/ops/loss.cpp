#include "regrad/ops/loss.h"

#include "regrad/autograd/autograd.h"
#include "regrad/tensor/factory.h"

namespace rg {

Reduction parse_reduction(const std::string& name) {
  if (name == "none") return Reduction::None;
  if (name == "mean") return Reduction::Mean;
  if (name == "sum") return Reduction::Sum;
  throw std::invalid_argument("reduction must be 'none', 'mean' or 'sum', got '" + name + "'");
}

Tensor nll_loss(const Tensor& logp, const Tensor& target, Reduction reduction, int64_t ignore_index) {
  if (logp.dim() != 2 || target.dim() != 1 || target.shape()[0] != logp.shape()[0])
    throw std::invalid_argument("nll_loss: expected input (N, C) and target (N), got shapes " +
                                to_string(logp.shape()) + " and " + to_string(target.shape()));
  if (target.dtype() != DType::Int64)
    throw std::invalid_argument("nll_loss: target must be int64 class indices, got " + to_string(target.dtype()));
  const int64_t N = logp.shape()[0], C = logp.shape()[1];
  const int64_t* t = target.data<int64_t>();
  int64_t kept = 0;  // positions whose target is not ignore_index: the mean's divisor
  for (int64_t i = 0; i < N; ++i) {
    if (t[i] == ignore_index) continue;
    ++kept;
    if (t[i] < 0 || t[i] >= C)
      throw std::invalid_argument("nll_loss: target " + std::to_string(t[i]) + " at position " + std::to_string(i) +
                                  " is out of range for " + std::to_string(C) + " classes");
  }
  Tensor losses = Tensor::empty({N}, logp.dtype());
  dispatch_float(logp.dtype(), "nll_loss", [&](auto tag) {
    using T = typename decltype(tag)::type;
    for (int64_t i = 0; i < N; ++i) losses.data<T>()[i] = t[i] == ignore_index ? T(0) : -logp.data<T>()[i * C + t[i]];
  });
  Tensor y = losses;
  if (reduction != Reduction::None) {
    double total = 0;
    for (double v : losses.tolist()) total += v;
    // The mean over kept positions (NaN when every target is ignored, as PyTorch 1.13).
    y = scalar_tensor(reduction == Reduction::Mean ? total / static_cast<double>(kept) : total, logp.dtype());
  }
  if (!needs_grad(logp)) return y;
  return record("nll_loss", y, {logp},
                [target, N, C, reduction, ignore_index, kept, shape = logp.shape()](const Tensor& g) {
                  // ∂(−logp[i, t_i])/∂logp[i, t_i] = −1 (÷ kept positions for the mean); every other entry, and
                  // every ignored row, gets 0.
                  Tensor gx = zeros(shape, g.dtype());
                  dispatch_float(g.dtype(), "nll_loss", [&](auto tag) {
                    using T = typename decltype(tag)::type;
                    const T* pg = g.data<T>();
                    const int64_t* t = target.data<int64_t>();
                    const T scale = reduction == Reduction::Mean ? T(1) / static_cast<T>(kept) : T(1);
                    for (int64_t i = 0; i < N; ++i)
                      if (t[i] != ignore_index)
                        gx.data<T>()[i * C + t[i]] = -(reduction == Reduction::None ? pg[i] : pg[0] * scale);
                  });
                  return Grads{gx};
                });
}

}  // namespace rg
