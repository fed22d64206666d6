// The backward sweep: one topological order, then each node's closure in reverse.
#include <unordered_map>
#include <unordered_set>

#include "regrad/autograd/autograd.h"
#include "regrad/tensor/factory.h"

namespace rg {

bool needs_grad(const std::vector<Tensor>& inputs) {
  if (!grad_enabled()) return false;
  for (const Tensor& t : inputs)
    if (t.defined() && t.requires_grad()) return true;
  return false;
}

Tensor record(const char* name, Tensor out, std::vector<Tensor> inputs, BackwardFn backward) {
  if (!needs_grad(inputs)) return out;
  auto node = std::make_shared<Node>();
  node->name = name;
  node->inputs = std::move(inputs);
  node->backward = std::move(backward);
  out.impl().grad_fn = std::move(node);
  out.impl().requires_grad = true;
  return out;
}

// Post-order DFS with an explicit stack: a tensor comes after every tensor that depends on it
// when the list is read back to front. The list owns its tensors: freeing a node's saved inputs
// during the sweep must not destroy tensors still waiting for their turn.
static std::vector<std::shared_ptr<TensorImpl>> topological_order(const std::shared_ptr<TensorImpl>& root) {
  std::vector<std::shared_ptr<TensorImpl>> order;
  std::unordered_set<const TensorImpl*> visited{root.get()};
  std::vector<std::pair<std::shared_ptr<TensorImpl>, std::size_t>> stack{{root, 0}};
  while (!stack.empty()) {
    auto& [t, next] = stack.back();
    const Node* node = t->grad_fn.get();
    if (node && next < node->inputs.size()) {
      const Tensor& in = node->inputs[next++];
      if (in.defined() && in.requires_grad() && visited.insert(&in.impl()).second) stack.push_back({in.impl_ptr(), 0});
    } else {
      order.push_back(std::move(t));
      stack.pop_back();
    }
  }
  return order;
}

// A fresh copy of a, and a + b as a fresh tensor (neither operand may be changed: a gradient can be
// shared between inputs). Plain tensor-layer work, so that the engine depends on no op.
static Tensor copy_of(const Tensor& a) {
  Tensor out = Tensor::empty(a.shape(), a.dtype());
  out.copy_(a);
  return out;
}

static Tensor sum_of(const Tensor& a, const Tensor& b) {
  Tensor out = copy_of(a);
  out.add_(b);
  return out;
}

// Stores g into t.grad, or adds it in place to what is there (as PyTorch: a reference to .grad taken
// before backward() sees the sum). The first gradient is kept as it is only when nothing else
// holds it or its storage (g is the caller's last reference); otherwise it is copied. A gradient
// can be shared (a + b hands the same dy to both inputs; the seed is the caller's own tensor), and
// .grad must not alias anything, since it is changed in place: here, by clip_grad_norm_ and by
// the optimizers (PyTorch's AccumulateGrad does the same).
static void accumulate(TensorImpl& t, const Tensor& g) {
  if (g.shape() != t.shape)
    throw std::logic_error("backward: gradient of shape " + to_string(g.shape()) + " for a tensor of shape " +
                           to_string(t.shape));
  if (t.grad) {
    Tensor(t.grad).add_(g);
  } else if (g.impl_ptr().use_count() == 1 && g.impl().storage.use_count() == 1) {
    t.grad = g.impl_ptr();
  } else {
    t.grad = copy_of(g).impl_ptr();
  }
}

void Tensor::backward(const Tensor& gradient, bool retain_graph) const {
  if (!requires_grad()) throw std::invalid_argument("backward: tensor does not require grad and has no grad_fn");
  Tensor seed = gradient;
  if (!seed.defined()) {
    if (numel() != 1)
      throw std::invalid_argument(
          "backward: gradient can be implicitly created only for one-element tensors, got shape " + to_string(shape()));
    seed = ones(shape(), dtype());
  }
  if (seed.shape() != shape())
    throw std::invalid_argument("backward: gradient shape " + to_string(seed.shape()) + " differs from tensor shape " +
                                to_string(shape()));
  // As PyTorch's engine, a gradient of another dtype is converted to the tensor's own.
  if (seed.dtype() != dtype()) seed = seed.to(dtype());
  NoGradGuard no_grad;
  const auto order = topological_order(impl_ptr());
  // Gradients of intermediates live in this map, not on the tensors, unless retain_grad() asked.
  std::unordered_map<TensorImpl*, Tensor> pending;
  pending[&impl()] = seed.detach();
  for (auto it = order.rbegin(); it != order.rend(); ++it) {
    TensorImpl* t = it->get();
    auto found = pending.find(t);
    if (found == pending.end()) continue;  // no path carried a gradient here
    const Tensor g = found->second;
    pending.erase(found);  // g is now this gradient's last reference in the engine (see accumulate)
    Node* node = t->grad_fn.get();
    if (!node || t->retains_grad) accumulate(*t, g);
    if (!node) continue;
    if (node->released)
      throw std::runtime_error("backward: trying to backward through the graph a second time (node '" + node->name +
                               "'); pass retain_graph=true the first time");
    const Grads grads = node->backward(g);
    if (grads.size() != node->inputs.size())
      throw std::logic_error("backward of '" + node->name + "' returned " + std::to_string(grads.size()) +
                             " gradients for " + std::to_string(node->inputs.size()) + " inputs");
    for (std::size_t i = 0; i < grads.size(); ++i) {
      const Tensor& in = node->inputs[i];
      if (!in.defined() || !in.requires_grad() || !grads[i].defined()) continue;
      auto [slot, fresh] = pending.try_emplace(&in.impl(), grads[i]);
      if (!fresh) slot->second = sum_of(slot->second, grads[i]);
      if (slot->second.shape() != in.shape())
        throw std::logic_error("backward of '" + node->name + "': gradient " + to_string(grads[i].shape()) +
                               " for input " + std::to_string(i) + " of shape " + to_string(in.shape()));
    }
    if (!retain_graph) {  // free the saved tensors now: the graph is used once
      node->backward = nullptr;
      node->inputs.clear();
      node->released = true;
    }
  }
}

}  // namespace rg
