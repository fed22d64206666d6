// nn.Module: parameters and buffers by name, child modules, train()/eval().
// A module registers pointers to its own Tensor members, so `bn.weight` and the entry in
// parameters() are the same tensor; modules are neither copied nor moved (hold them by shared_ptr).
#pragma once
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "regrad/tensor/tensor.h"

namespace rg::nn {

using NamedTensors = std::vector<std::pair<std::string, Tensor>>;

class Module {
 public:
  Module() = default;
  Module(const Module&) = delete;
  Module& operator=(const Module&) = delete;
  virtual ~Module() = default;

  virtual Tensor forward(const Tensor& input) = 0;
  Tensor operator()(const Tensor& input) { return forward(input); }

  // Recursive, in registration order; names are dotted paths ("block.0.weight"), as PyTorch's.
  NamedTensors named_parameters() const;
  NamedTensors named_buffers() const;
  std::vector<Tensor> parameters() const;

  // Parameters, then buffers ("running_mean", …), by name: the tensors themselves, not copies.
  NamedTensors state_dict() const;
  // Copies a state into the module's tensors; names and shapes must match exactly.
  void load_state_dict(const NamedTensors& state);

  Module& train(bool on = true);  // recursive
  Module& eval() { return train(false); }
  bool is_training() const { return training_; }
  void zero_grad(bool set_to_none = false);  // as Optimizer::zero_grad, over parameters()

 protected:
  void register_parameter(const std::string& name, Tensor* t);  // sets requires_grad on a defined t
  void register_buffer(const std::string& name, Tensor* t);
  void register_module(const std::string& name, std::shared_ptr<Module> child);

 private:
  void collect(const std::string& prefix, bool buffers, NamedTensors& out) const;
  bool training_ = true;
  std::vector<std::pair<std::string, Tensor*>> params_, buffers_;
  std::vector<std::pair<std::string, std::shared_ptr<Module>>> children_;
};

}  // namespace rg::nn
