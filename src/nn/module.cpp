#include "regrad/nn/module.h"

#include <map>
#include <stdexcept>

#include "regrad/autograd/autograd.h"

namespace rg::nn {

void Module::register_parameter(const std::string& name, Tensor* t) {
  if (t->defined()) t->requires_grad_(true);
  params_.emplace_back(name, t);
}

void Module::register_buffer(const std::string& name, Tensor* t) { buffers_.emplace_back(name, t); }

void Module::register_module(const std::string& name, std::shared_ptr<Module> child) {
  children_.emplace_back(name, std::move(child));
}

void Module::collect(const std::string& prefix, bool buffers, NamedTensors& out) const {
  for (const auto& [name, t] : buffers ? buffers_ : params_)
    if (t->defined()) out.emplace_back(prefix + name, *t);
  for (const auto& [name, child] : children_) child->collect(prefix + name + ".", buffers, out);
}

NamedTensors Module::named_parameters() const {
  NamedTensors out;
  collect("", false, out);
  return out;
}

NamedTensors Module::named_buffers() const {
  NamedTensors out;
  collect("", true, out);
  return out;
}

std::vector<Tensor> Module::parameters() const {
  std::vector<Tensor> out;
  for (auto& [name, t] : named_parameters()) out.push_back(t);
  return out;
}

Module& Module::train(bool on) {
  training_ = on;
  for (auto& [name, child] : children_) child->train(on);
  return *this;
}

void Module::zero_grad(bool set_to_none) { zero_grads(parameters(), set_to_none); }

NamedTensors Module::state_dict() const {
  NamedTensors s = named_parameters();
  for (auto& b : named_buffers()) s.push_back(b);
  return s;
}

void Module::load_state_dict(const NamedTensors& state) {
  std::map<std::string, Tensor> by_name(state.begin(), state.end());
  const NamedTensors mine = state_dict();
  if (mine.size() != state.size())
    throw std::invalid_argument("load_state_dict: the state has " + std::to_string(state.size()) +
                                " tensors, the module " + std::to_string(mine.size()));
  NoGradGuard no_grad;
  for (const auto& [name, t] : mine) {
    auto it = by_name.find(name);
    if (it == by_name.end())
      throw std::invalid_argument("load_state_dict: no tensor named '" + name + "' in the state");
    if (it->second.shape() != t.shape())
      throw std::invalid_argument("load_state_dict: '" + name + "' has shape " + to_string(it->second.shape()) +
                                  ", the module expects " + to_string(t.shape()));
    Tensor dst = t;
    dst.copy_(it->second);
  }
}

}  // namespace rg::nn
