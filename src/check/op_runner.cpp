#include "regrad/check/op_runner.h"

#include "regrad/functional/cross_entropy.h"
#include "regrad/functional/dropout.h"
#include "regrad/functional/normalization.h"

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

}  // namespace

std::map<std::string, Tensor> run_op(const OpRequest& r) {
  Tensor x = leaf(input(r, "x", true));
  const Tensor grad_out = input(r, "grad_out", true);
  if (!is_floating(x.dtype())) throw std::invalid_argument(r.op + ": x must be float32 or float64");
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
    y = cross_entropy(x, target, {.weight = input(r, "class_weight", false), .ignore_index = r.ignore_index.value_or(-100),
                                  .reduction = parse_reduction(r.reduction),
                                  .label_smoothing = r.label_smoothing.value_or(0.0)});
  } else {
    throw std::invalid_argument("unknown op '" + r.op + "' (expected one of: " + kOpNames + ")");
  }
  if (grad_out.shape() != y.shape() || grad_out.dtype() != y.dtype())
    throw std::invalid_argument(r.op + ": grad_out is " + to_string(grad_out.dtype()) + " " + to_string(grad_out.shape()) +
                                ", expected " + to_string(y.dtype()) + " " + to_string(y.shape()) + " (the output's)");
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
