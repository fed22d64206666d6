// The optimizers, as torch.optim defines them (checked step by step against its trajectories in
// tests/optim/test_optim_reference.cpp): SGD with momentum, dampening, Nesterov and coupled L2;
// AdamW with decoupled decay and a step count per parameter; the L1 proximal step; gradient
// clipping by the global norm. Updates are in place on the parameters' buffers, one loop each.
#include "regrad/optim/optim.h"

#include <cmath>
#include <optional>

#include "../tensor/parallel.h"
#include "regrad/autograd/autograd.h"
#include "regrad/ops/elementwise.h"
#include "regrad/ops/reduce.h"
#include "regrad/tensor/factory.h"

namespace rg::optim {

Optimizer::Optimizer(std::vector<Tensor> params, double lr) : lr(lr), params_(std::move(params)) {
  if (!(lr >= 0.0)) throw std::invalid_argument("optimizer: learning rate must be >= 0, got " + std::to_string(lr));
  for (const Tensor& p : params_)
    if (!p.requires_grad() || !p.is_leaf())
      throw std::invalid_argument("optimizer: parameters must be leaf tensors that require grad");
}

void Optimizer::zero_grad(bool set_to_none) { zero_grads(params_, set_to_none); }

// Calls f(p, g, i, n) typed on the parameter's dtype for each parameter with a gradient.
template <typename F>
static void for_each_param(const std::vector<Tensor>& params, F f) {
  NoGradGuard no_grad;
  for (std::size_t k = 0; k < params.size(); ++k) {
    Tensor p = params[k];
    const Tensor g = p.grad();
    if (!g.defined()) continue;
    dispatch_float(p.dtype(), "optimizer", [&](auto tag) {
      using T = typename decltype(tag)::type;
      f(k, p.data<T>(), g.data<T>(), p.numel());
    });
  }
}

SGD::SGD(std::vector<Tensor> params, double lr, double momentum, double weight_decay, bool nesterov, double dampening)
    : Optimizer(std::move(params), lr),
      momentum(momentum),
      weight_decay(weight_decay),
      dampening(dampening),
      nesterov(nesterov),
      buf_(params_.size()) {
  if (momentum < 0 || weight_decay < 0) throw std::invalid_argument("SGD: momentum and weight_decay must be >= 0");
  if (nesterov && (momentum <= 0 || dampening != 0))
    throw std::invalid_argument("SGD: Nesterov momentum requires a momentum and zero dampening");
}

void SGD::step() {
  for_each_param(params_, [&](std::size_t k, auto* p, const auto* g, int64_t n) {
    using T = std::remove_pointer_t<decltype(p)>;
    const bool first = !buf_[k].defined();
    if (momentum != 0 && first) buf_[k] = zeros(params_[k].shape(), params_[k].dtype());
    T* b = momentum != 0 ? buf_[k].template data<T>() : nullptr;
    const T wd = static_cast<T>(weight_decay), mu = static_cast<T>(momentum), lr_ = static_cast<T>(lr);
    const T damp = first ? T(1) : static_cast<T>(1 - dampening);
    const bool nest = nesterov;
    detail::parallel_for(n, detail::kGrain, [=](int64_t i0, int64_t i1) {
      // Locals, not the closure's members (a store to p[i] could alias a float member, so they
      // would be reloaded every iteration), and one loop per case, each vectorised.
      T *pp = p, *pb = b;
      const T* pg = g;
      const T w = wd, m = mu, dm = damp, l = lr_;
      if (!pb) {
#pragma omp simd
        for (int64_t i = i0; i < i1; ++i) pp[i] -= l * (pg[i] + w * pp[i]);
      } else if (!nest) {
#pragma omp simd
        for (int64_t i = i0; i < i1; ++i) {
          pb[i] = m * pb[i] + dm * (pg[i] + w * pp[i]);  // at the first step b = 0, so b = d
          pp[i] -= l * pb[i];
        }
      } else {
#pragma omp simd
        for (int64_t i = i0; i < i1; ++i) {
          const T d = pg[i] + w * pp[i];
          pb[i] = m * pb[i] + dm * d;
          pp[i] -= l * (d + m * pb[i]);
        }
      }
    });
  });
}

// Buffers named prefix + index, for parameters whose buffer exists.
static Optimizer::State named_buffers(const std::vector<Tensor>& bufs, const std::string& prefix) {
  Optimizer::State out;
  for (std::size_t i = 0; i < bufs.size(); ++i)
    if (bufs[i].defined()) out.emplace_back(prefix + std::to_string(i), bufs[i]);
  return out;
}

static void restore_buffers(std::vector<Tensor>& bufs, const std::vector<Tensor>& params, const Optimizer::State& state,
                            const std::string& prefix) {
  for (const auto& [name, t] : state) {
    if (name.rfind(prefix, 0) != 0) continue;
    const std::size_t i = std::stoul(name.substr(prefix.size()));
    if (i >= params.size() || t.shape() != params[i].shape())
      throw std::invalid_argument("optimizer state '" + name + "' does not match the parameters");
    bufs[i] = t.detach().clone();
  }
}

Optimizer::State SGD::state() const { return named_buffers(buf_, "momentum_buffer."); }
void SGD::load_state(const State& state) { restore_buffers(buf_, params_, state, "momentum_buffer."); }

AdamW::AdamW(std::vector<Tensor> params, double lr, double beta1, double beta2, double eps, double weight_decay)
    : Optimizer(std::move(params), lr),
      beta1(beta1),
      beta2(beta2),
      eps(eps),
      weight_decay(weight_decay),
      m_(params_.size()),
      v_(params_.size()),
      step_(params_.size(), 0) {
  if (!(beta1 >= 0 && beta1 < 1 && beta2 >= 0 && beta2 < 1))
    throw std::invalid_argument("AdamW: betas must be in [0, 1)");
  if (eps < 0 || weight_decay < 0) throw std::invalid_argument("AdamW: eps and weight_decay must be >= 0");
}

void AdamW::step() {
  for_each_param(params_, [&](std::size_t k, auto* p, const auto* g, int64_t n) {
    using T = std::remove_pointer_t<decltype(p)>;
    if (!m_[k].defined()) {
      m_[k] = zeros(params_[k].shape(), params_[k].dtype());
      v_[k] = zeros(params_[k].shape(), params_[k].dtype());
    }
    // Each parameter counts its own steps (torch.optim.AdamW's state['step']): one whose first
    // gradient comes late still gets the bias correction 1 − β₁ at its first step.
    const double t = static_cast<double>(++step_[k]);
    const double c1 = 1 - std::pow(beta1, t), c2 = 1 - std::pow(beta2, t);
    T *m = m_[k].template data<T>(), *v = v_[k].template data<T>();
    // 1 − β in double, then rounded, as torch.optim passes it: 1 − float(0.999) computed in float
    // is 0.00099998713, 1.3e-5 away from 0.001 relatively, and every update of v would carry it.
    const T b1 = static_cast<T>(beta1), b2 = static_cast<T>(beta2), decay = static_cast<T>(1 - lr * weight_decay);
    const T a1 = static_cast<T>(1 - beta1), a2 = static_cast<T>(1 - beta2);
    const T step = static_cast<T>(lr / c1), rc2 = static_cast<T>(1 / std::sqrt(c2)), e = static_cast<T>(eps);
    detail::parallel_for(n, detail::kGrain, [=](int64_t i0, int64_t i1) {
      // Locals, not the closure's members, as in SGD's step: with the scalars captured by reference
      // GCC vectorised this loop in the threads' copy but not in the one-thread copy.
      T *pm = m, *pv = v, *pp = p;
      const T* pg = g;
      const T s_b1 = b1, s_b2 = b2, s_a1 = a1, s_a2 = a2, s_decay = decay, s_step = step, s_rc2 = rc2, s_e = e;
#pragma omp simd
      for (int64_t i = i0; i < i1; ++i) {
        pp[i] *= s_decay;  // decoupled weight decay
        pm[i] = s_b1 * pm[i] + s_a1 * pg[i];
        pv[i] = s_b2 * pv[i] + s_a2 * pg[i] * pg[i];
        pp[i] -= s_step * pm[i] / (std::sqrt(pv[i]) * s_rc2 + s_e);  // lr·m̂/(√v̂ + eps)
      }
    });
  });
}

Optimizer::State AdamW::state() const {
  State out = named_buffers(m_, "exp_avg.");
  for (auto& e : named_buffers(v_, "exp_avg_sq.")) out.push_back(e);
  for (std::size_t i = 0; i < params_.size(); ++i)
    if (m_[i].defined()) out.emplace_back("step." + std::to_string(i), tensor_i64({step_[i]}));
  return out;
}

void AdamW::load_state(const State& state) {
  std::vector<Tensor> m(params_.size()), v(params_.size());
  std::vector<int64_t> steps(params_.size(), 0);
  restore_buffers(m, params_, state, "exp_avg.");
  restore_buffers(v, params_, state, "exp_avg_sq.");
  std::optional<int64_t> shared;  // "step": one count for all, as written before per-parameter counts
  bool per_param = false;
  for (const auto& [name, t] : state) {
    if (name == "step") {
      shared = static_cast<int64_t>(t.item());
    } else if (name.rfind("step.", 0) == 0) {
      const std::size_t i = std::stoul(name.substr(5));
      if (i >= params_.size())
        throw std::invalid_argument("optimizer state '" + name + "' does not match the parameters");
      steps[i] = static_cast<int64_t>(t.item());
      per_param = true;
    }
  }
  if (shared && per_param) throw std::invalid_argument("AdamW state has both 'step' and per-parameter 'step.<i>'");
  for (std::size_t i = 0; i < params_.size(); ++i) {
    // An old state's single count is every parameter's: exact when each had a gradient at every
    // step (as in regrad train), the same approximation those runs made.
    if (shared && m[i].defined()) steps[i] = *shared;
    const std::string which = "parameter " + std::to_string(i);
    if (m[i].defined() != v[i].defined())
      throw std::invalid_argument("AdamW state: " + which + " has only one of exp_avg and exp_avg_sq");
    if (m[i].defined() && steps[i] < 1)
      throw std::invalid_argument("AdamW state: " + which + " has moments but step " + std::to_string(steps[i]) +
                                  " (expected a step count >= 1)");
    if (!m[i].defined() && steps[i] != 0)
      throw std::invalid_argument("AdamW state: " + which + " has step " + std::to_string(steps[i]) +
                                  " but no moments");
  }
  m_ = std::move(m);
  v_ = std::move(v);
  step_ = std::move(steps);
}

void l1_proximal_(const std::vector<Tensor>& params, double lr, double lambda) {
  if (lambda < 0) throw std::invalid_argument("l1_proximal_: lambda must be >= 0");
  NoGradGuard no_grad;
  for (Tensor p : params)
    dispatch_float(p.dtype(), "l1_proximal_", [&](auto tag) {
      using T = typename decltype(tag)::type;
      T* w = p.data<T>();
      const T t = static_cast<T>(lr * lambda);
      for (int64_t i = 0; i < p.numel(); ++i) {
        const T a = std::abs(w[i]) - t;
        w[i] = a > 0 ? std::copysign(a, w[i]) : T(0);
      }
    });
}

double clip_grad_norm_(const std::vector<Tensor>& params, double max_norm) {
  // ‖(‖g₁‖, ‖g₂‖, …)‖ as torch: each gradient's norm, then the norm of those, here in double.
  double total = 0;
  for (const Tensor& p : params) {
    const Tensor g = p.grad();
    if (!g.defined()) continue;
    dispatch_float(g.dtype(), "clip_grad_norm_", [&](auto tag) {
      using T = typename decltype(tag)::type;
      const T* d = g.data<T>();
      double ss = 0;
      for (int64_t i = 0; i < g.numel(); ++i) ss += static_cast<double>(d[i]) * static_cast<double>(d[i]);
      total += ss;
    });
  }
  const double norm = std::sqrt(total);
  // torch multiplies always, by clamp(max_norm/(norm + 1e-6), max=1): a factor just under 1 when
  // norm ≈ max_norm, NaN gradients for a NaN norm, and 0·g (NaN where g is ±inf) for an
  // infinite one (error_if_nonfinite=False).
  const double coef = max_norm / (norm + 1e-6);
  const double clamped = std::isnan(coef) ? coef : std::min(coef, 1.0);
  NoGradGuard no_grad;
  for (const Tensor& p : params)
    if (p.grad().defined()) p.grad().mul_(clamped);
  return norm;
}

double warmup_cosine_lr(int64_t step, int64_t warmup_steps, int64_t total_steps, double lr, double min_lr) {
  if (step < warmup_steps) return lr * static_cast<double>(step + 1) / static_cast<double>(warmup_steps);
  const double span = static_cast<double>(std::max<int64_t>(total_steps - warmup_steps, 1));
  const double progress = std::min(1.0, static_cast<double>(step - warmup_steps) / span);
  return min_lr + 0.5 * (lr - min_lr) * (1 + std::cos(M_PI * progress));
}

}  // namespace rg::optim
