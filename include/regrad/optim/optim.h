// Optimizers, as torch.optim: SGD (momentum, Nesterov, coupled L2 weight_decay added to the
// gradient) and AdamW (decoupled weight decay); L1 as a proximal soft-threshold step; gradient
// clipping by global norm; linear warmup + cosine decay.
#pragma once
#include <string>
#include <utility>
#include <vector>

#include "regrad/tensor/tensor.h"

namespace rg::optim {

class Optimizer {
 public:
  explicit Optimizer(std::vector<Tensor> params, double lr);
  virtual ~Optimizer() = default;
  virtual void step() = 0;  // parameters without a gradient are skipped
  // PyTorch 1.13's Optimizer.zero_grad: fills each gradient with zeros, or with set_to_none drops
  // it (faster: backward then stores the new gradient instead of adding it to zeros; step() skips a
  // parameter without one, where with zeros its momentum and weight decay still act).
  void zero_grad(bool set_to_none = false);
  // The optimizer's buffers by name (for checkpoints), and their restoration.
  using State = std::vector<std::pair<std::string, Tensor>>;
  virtual State state() const = 0;
  virtual void load_state(const State& state) = 0;
  double lr;
  const std::vector<Tensor>& params() const { return params_; }

 protected:
  std::vector<Tensor> params_;
};

// g ← ∇ + weight_decay·p (the lecture's L2: adds λp to the gradient);
// b ← momentum·b + (1 − dampening)·g (b = g at the first step); g ← g + momentum·b (Nesterov) or b;
// p ← p − lr·g.
class SGD : public Optimizer {
 public:
  SGD(std::vector<Tensor> params, double lr, double momentum = 0.0, double weight_decay = 0.0, bool nesterov = false,
      double dampening = 0.0);
  void step() override;
  State state() const override;  // "momentum_buffer.<i>" for started buffers
  void load_state(const State& state) override;
  const double momentum, weight_decay, dampening;
  const bool nesterov;

 private:
  std::vector<Tensor> buf_;
};

// p ← p·(1 − lr·weight_decay) (decoupled), then Adam: m, v moments with bias correction,
// p ← p − lr·m̂/(√v̂ + eps). Defaults as torch.optim.AdamW. Like it, each parameter has its own
// step count t, advanced only at the steps where that parameter has a gradient.
class AdamW : public Optimizer {
 public:
  AdamW(std::vector<Tensor> params, double lr = 1e-3, double beta1 = 0.9, double beta2 = 0.999, double eps = 1e-8,
        double weight_decay = 1e-2);
  void step() override;
  // "exp_avg.<i>", "exp_avg_sq.<i>", "step.<i>" for each parameter that has taken a step.
  State state() const override;
  // Also reads a state written before per-parameter counts (one "step"): each parameter with
  // moments gets that count. Throws std::invalid_argument on inconsistent entries.
  void load_state(const State& state) override;
  const double beta1, beta2, eps, weight_decay;

 private:
  std::vector<Tensor> m_, v_;
  std::vector<int64_t> step_;
};

// The proximal step of an L1 penalty λ·Σ|p| after a gradient step of size lr:
// p ← sign(p)·max(|p| − lr·λ, 0), so small weights become exactly zero.
void l1_proximal_(const std::vector<Tensor>& params, double lr, double lambda);

// torch.nn.utils.clip_grad_norm_ (norm_type 2, error_if_nonfinite=False): multiplies every
// gradient by min(max_norm/(norm + 1e-6), 1), where norm is the global L2 norm of all of them,
// and returns that norm. A NaN norm makes every gradient NaN; an infinite one multiplies them by 0.
double clip_grad_norm_(const std::vector<Tensor>& params, double max_norm);

// Linear warmup from lr/warmup_steps to lr over warmup_steps, then cosine decay to min_lr at
// total_steps (step counts from 0).
double warmup_cosine_lr(int64_t step, int64_t warmup_steps, int64_t total_steps, double lr, double min_lr = 0.0);

}  // namespace rg::optim
