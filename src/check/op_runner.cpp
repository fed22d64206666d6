#include "regrad/check/op_runner.h"

#include <limits>
#include <vector>

#include "../functional/common.h"
#include "regrad/functional/cross_entropy.h"
#include "regrad/functional/dropout.h"
#include "regrad/functional/normalization.h"
#include "regrad/functional/reference.h"
#include "regrad/tensor/factory.h"

namespace rg {

const char* const kOpNames = "batch_norm, layer_norm, rms_norm, group_norm, dropout, cross_entropy";

namespace {

Tensor input(const OpRequest& r, const std::string& name, bool required) {
  auto it = r.inputs.find(name);
  if (it == r.inputs.end()) {
    if (required) throw std::invalid_argument(r.op + ": missing input '" + name + "'");
    return Tensor();
  }
  return it->second;
}

// A fresh leaf copy that requires grad, so backward fills its grad without touching the caller's.
Tensor leaf(const Tensor& t) {
  if (!t.defined()) return t;
  Tensor c = t.detach().clone();
  if (is_floating(c.dtype())) c.requires_grad_(true);
  return c;
}

template <typename T>
T need(const std::optional<T>& v, const OpRequest& r, const char* name) {
  if (!v) throw std::invalid_argument(r.op + ": missing argument --" + name);
  return *v;
}

void check_grad_out(const OpRequest& r, const Tensor& grad_out, const Shape& shape, DType dtype) {
  if (grad_out.shape() != shape || grad_out.dtype() != dtype)
    throw std::invalid_argument(r.op + ": grad_out is " + to_string(grad_out.dtype()) + " " +
                                to_string(grad_out.shape()) + ", expected " + to_string(dtype) + " " +
                                to_string(shape) + " (the output's)");
}

void check_p(const OpRequest& r, double p) {
  if (!(p >= 0.0 && p <= 1.0))
    throw std::invalid_argument(r.op + ": p (the drop probability) must be in [0, 1], got " + std::to_string(p));
}

// ---- the reference path: rg::reference's kernels on the request's arrays, in double ----

// Input `name`'s values after the fused layers' own checks (shape, dtype); empty when absent.
std::vector<double> values(const OpRequest& r, const char* name, const Shape& shape, const Tensor& x) {
  const Tensor t = input(r, name, false);
  detail::check_param(t, name, shape, x, r.op.c_str());
  return t.defined() ? t.tolist() : std::vector<double>{};
}
const double* ptr(const std::vector<double>& v) { return v.empty() ? nullptr : v.data(); }
double* ptr(std::vector<double>& v) { return v.empty() ? nullptr : v.data(); }

Tensor to_tensor(const std::vector<double>& v, const Shape& shape, DType dtype) {
  return shape.empty() ? scalar_tensor(v.at(0), dtype) : tensor(v, shape, dtype);  // tensor() reads {} as 1-D
}

std::map<std::string, Tensor> run_reference(const OpRequest& r, const Tensor& xt, const Tensor& grad_out) {
  const Shape& shape = xt.shape();
  const DType dt = xt.dtype();
  const char* op = r.op.c_str();
  const std::vector<double> x = xt.tolist();
  std::vector<double> y(x.size()), dx(x.size()), dw, db, g;
  Shape y_shape = shape;
  std::map<std::string, Tensor> out;
  const auto upstream = [&] {  // grad_out's values, once y's shape is known
    check_grad_out(r, grad_out, y_shape, dt);
    g = grad_out.tolist();
    return g.data();
  };
  const auto set_param_grads = [&](const Shape& s) {
    if (r.inputs.count("weight")) out["dweight"] = to_tensor(dw, s, dt);
    if (r.inputs.count("bias")) out["dbias"] = to_tensor(db, s, dt);
  };
  if (r.op == "batch_norm" || r.op == "group_norm") {
    if (xt.dim() < 2)
      throw std::invalid_argument(r.op + ": expected input of shape (N, C, *), got " + to_string(shape));
    const int64_t N = shape[0], C = shape[1], S = N * C == 0 ? 0 : xt.numel() / (N * C);
    const double eps = r.eps.value_or(1e-5);
    detail::check_eps(eps, op);
    const std::vector<double> w = values(r, "weight", {C}, xt), b = values(r, "bias", {C}, xt);
    dw.resize(w.size());
    db.resize(b.size());
    if (r.op == "batch_norm") {
      std::vector<double> rm = values(r, "running_mean", {C}, xt), rv = values(r, "running_var", {C}, xt);
      const bool tracked = r.inputs.count("running_mean"), training = !r.eval;
      if (tracked != static_cast<bool>(r.inputs.count("running_var")))
        throw std::invalid_argument("batch_norm: give both running_mean and running_var, or neither");
      if (training && N * S <= 1)
        throw std::invalid_argument(
            "batch_norm: expected more than 1 value per channel when training, got input size " + to_string(shape));
      if (!training && !tracked)
        throw std::invalid_argument("batch_norm: eval mode (training=false) needs running_mean and running_var");
      std::vector<double> mean(C), rstd(C);
      reference::batch_norm_forward(y.data(), mean.data(), rstd.data(), ptr(rm), ptr(rv), x.data(), ptr(w), ptr(b), N,
                                    C, S, training, r.momentum.value_or(0.1), eps);
      reference::batch_norm_backward(dx.data(), ptr(dw), ptr(db), upstream(), x.data(), ptr(w), mean.data(),
                                     rstd.data(), training, N, C, S);
      if (training && tracked) {
        out["running_mean"] = to_tensor(rm, {C}, dt);
        out["running_var"] = to_tensor(rv, {C}, dt);
      }
    } else {
      const int64_t G = need(r.groups, r, "groups");
      if (G <= 0 || C % G != 0)
        throw std::invalid_argument("group_norm: num_groups " + std::to_string(G) +
                                    " must be positive and divide the number of channels " + std::to_string(C));
      std::vector<double> mean(N * G), rstd(N * G);
      reference::group_norm_forward(y.data(), mean.data(), rstd.data(), x.data(), ptr(w), ptr(b), N, C, S, G, eps);
      reference::group_norm_backward(dx.data(), ptr(dw), ptr(db), upstream(), x.data(), ptr(w), mean.data(),
                                     rstd.data(), N, C, S, G);
    }
    set_param_grads({C});
  } else if (r.op == "layer_norm" || r.op == "rms_norm") {
    if (xt.dim() == 0) throw std::invalid_argument(r.op + ": expected an input with at least one dim");
    const Shape ns = r.normalized_shape.empty() ? Shape{shape.back()} : r.normalized_shape;
    const int64_t D = detail::trailing_size(xt, ns, op), rows = D == 0 ? 0 : xt.numel() / D;
    const std::vector<double> w = values(r, "weight", ns, xt), b = values(r, "bias", ns, xt);
    dw.resize(w.size());
    db.resize(b.size());
    if (r.op == "layer_norm") {
      const double eps = r.eps.value_or(1e-5);
      detail::check_eps(eps, op);
      std::vector<double> mean(rows), rstd(rows);
      reference::layer_norm_forward(y.data(), mean.data(), rstd.data(), x.data(), ptr(w), ptr(b), rows, D, eps);
      reference::layer_norm_backward(dx.data(), ptr(dw), ptr(db), upstream(), x.data(), ptr(w), mean.data(),
                                     rstd.data(), rows, D);
    } else {
      if (r.inputs.count("bias")) throw std::invalid_argument("rms_norm: has no bias");
      const double eps = r.eps.value_or(rms_norm_default_eps(dt));
      detail::check_eps(eps, op);
      std::vector<double> rstd(rows);
      reference::rms_norm_forward(y.data(), rstd.data(), x.data(), ptr(w), rows, D, eps);
      reference::rms_norm_backward(dx.data(), ptr(dw), upstream(), x.data(), ptr(w), rstd.data(), rows, D);
    }
    set_param_grads(ns);
  } else if (r.op == "dropout") {
    const double p = need(r.p, r, "p");
    check_p(r, p);
    const int64_t n = xt.numel();
    std::vector<uint8_t> mask(n, 1);  // eval: the identity, every element kept and p = 0
    if (!r.eval && r.inputs.count("mask")) {
      const std::vector<double> m = values(r, "mask", shape, xt);
      for (int64_t i = 0; i < n; ++i) {
        if (m[i] != 0.0 && m[i] != 1.0)
          throw std::invalid_argument("dropout: mask must hold only 0 and 1, found " + std::to_string(m[i]) +
                                      " at position " + std::to_string(i));
        mask[i] = m[i] == 1.0;
      }
    } else if (!r.eval) {
      reference::dropout_mask(mask.data(), n, p, need(r.seed, r, "seed (or give --mask)"), /*first=*/0);
    }
    reference::dropout_forward(y.data(), x.data(), mask.data(), n, r.eval ? 0.0 : p);
    reference::dropout_backward(dx.data(), upstream(), mask.data(), n, r.eval ? 0.0 : p);
  } else if (r.op == "cross_entropy") {
    if (xt.dim() != 2 || shape[1] == 0)
      throw std::invalid_argument("cross_entropy: expected logits of shape (N, K), K ≥ 1, got " + to_string(shape));
    const int64_t N = shape[0], K = shape[1];
    const Tensor target = input(r, "target", true);
    const bool hard = target.dtype() == DType::Int64;
    const double eps = r.label_smoothing.value_or(0.0);
    if (!(eps >= 0.0 && eps <= 1.0))
      throw std::invalid_argument("cross_entropy: label_smoothing must be in [0, 1], got " + std::to_string(eps));
    if (!hard && r.ignore_index.value_or(-100) >= 0)
      throw std::invalid_argument("cross_entropy: ignore_index is not supported for probability targets");
    std::vector<int64_t> index;
    std::vector<double> probs;
    if (hard) {
      if (target.shape() != Shape{N})
        throw std::invalid_argument("cross_entropy: logits " + to_string(shape) + " and target " +
                                    to_string(target.shape()) + " (class indices must have shape (N))");
      index.assign(target.data<int64_t>(), target.data<int64_t>() + N);
      for (int64_t i = 0; i < N; ++i)
        if (index[i] != r.ignore_index.value_or(-100) && (index[i] < 0 || index[i] >= K))
          throw std::invalid_argument("cross_entropy: target " + std::to_string(index[i]) + " at position " +
                                      std::to_string(i) + " is out of range for " + std::to_string(K) + " classes");
    } else {
      probs = values(r, "target", shape, xt);
    }
    const std::vector<double> w = values(r, "class_weight", {K}, xt);
    const Reduction reduction = parse_reduction(r.reduction);
    std::vector<double> loss(N), lse(N), dloss(N), dprobs(probs.size());
    const int64_t* t = hard ? index.data() : nullptr;
    const double divisor = reference::cross_entropy_forward(loss.data(), lse.data(), x.data(), t, ptr(probs), ptr(w), N,
                                                            K, eps, r.ignore_index.value_or(-100));
    double total = 0;
    for (double l : loss) total += l;
    y = reduction == Reduction::None   ? loss
        : reduction == Reduction::Mean ? std::vector<double>{total / divisor}
                                       : std::vector<double>{total};
    y_shape = reduction == Reduction::None ? Shape{N} : Shape{};
    const double* gv = upstream();
    for (int64_t i = 0; i < N; ++i)  // ∂L/∂loss_i
      dloss[i] = reduction == Reduction::None ? gv[i] : reduction == Reduction::Sum ? gv[0] : gv[0] / divisor;
    reference::cross_entropy_backward(dx.data(), ptr(dprobs), dloss.data(), x.data(), lse.data(), t, ptr(probs), ptr(w),
                                      N, K, eps, r.ignore_index.value_or(-100));
    if (!hard) out["dtarget"] = to_tensor(dprobs, shape, dt);  // PyTorch differentiates probability targets
  } else {
    throw std::invalid_argument("unknown op '" + r.op + "' (expected one of: " + kOpNames + ")");
  }
  out["y"] = to_tensor(y, y_shape, dt);
  out["dx"] = to_tensor(dx, shape, dt);
  return out;
}

}  // namespace

std::map<std::string, Tensor> run_op(const OpRequest& r) {
  const Tensor x_in = input(r, "x", true), grad_out = input(r, "grad_out", true);
  if (!is_floating(x_in.dtype())) throw std::invalid_argument(r.op + ": x must be float32 or float64");
  if (r.reference) return run_reference(r, x_in, grad_out);
  Tensor x = leaf(x_in);
  Tensor weight = leaf(input(r, "weight", false)), bias = leaf(input(r, "bias", false));
  std::map<std::string, Tensor> out;
  Tensor y, target;
  if (r.op == "batch_norm") {
    Tensor rm = input(r, "running_mean", false), rv = input(r, "running_var", false);
    if (rm.defined()) rm = rm.clone();
    if (rv.defined()) rv = rv.clone();
    y = batch_norm(x, rm, rv, weight, bias, !r.eval, r.momentum.value_or(0.1), r.eps.value_or(1e-5));
    if (!r.eval && rm.defined()) {
      out["running_mean"] = rm;
      out["running_var"] = rv;
    }
  } else if (r.op == "layer_norm" || r.op == "rms_norm") {
    const Shape shape = r.normalized_shape.empty() ? Shape{x.shape().back()} : r.normalized_shape;
    if (r.op == "layer_norm") {
      y = layer_norm(x, shape, weight, bias, r.eps.value_or(1e-5));
    } else {
      if (bias.defined()) throw std::invalid_argument("rms_norm: has no bias");
      y = rms_norm(x, shape, weight, r.eps);
    }
  } else if (r.op == "group_norm") {
    y = group_norm(x, need(r.groups, r, "groups"), weight, bias, r.eps.value_or(1e-5));
  } else if (r.op == "dropout") {
    const Tensor mask = input(r, "mask", false);
    const double p = need(r.p, r, "p");
    if (r.eval) {
      y = dropout(x, p, false);
    } else if (mask.defined()) {
      y = dropout_with_mask(x, mask, p);
    } else {
      Generator gen(need(r.seed, r, "seed (or give --mask)"));
      y = dropout(x, p, true, gen);
    }
  } else if (r.op == "cross_entropy") {
    if (weight.defined() || bias.defined())
      throw std::invalid_argument("cross_entropy: takes no weight or bias (per-class weights are class_weight)");
    target = input(r, "target", true);
    if (is_floating(target.dtype())) target = leaf(target);  // probabilities are differentiated too
    y = cross_entropy(x, target,
                      {.weight = input(r, "class_weight", false),
                       .ignore_index = r.ignore_index.value_or(-100),
                       .reduction = parse_reduction(r.reduction),
                       .label_smoothing = r.label_smoothing.value_or(0.0)});
  } else {
    throw std::invalid_argument("unknown op '" + r.op + "' (expected one of: " + kOpNames + ")");
  }
  check_grad_out(r, grad_out, y.shape(), y.dtype());
  if (y.requires_grad()) y.backward(grad_out);
  out["y"] = y.detach();
  out["dx"] = x.grad().defined() ? x.grad() : Tensor::empty(x.shape(), x.dtype()).fill_(0);
  if (weight.defined()) out["dweight"] = weight.grad();
  if (bias.defined()) out["dbias"] = bias.grad();
  if (target.defined() && target.requires_grad())
    out["dtarget"] = target.grad().defined() ? target.grad() : Tensor::empty(target.shape(), target.dtype()).fill_(0);
  return out;
}

}  // namespace rg
