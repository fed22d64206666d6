// Reverse-mode autograd: a Node per op result, holding its inputs and a backward closure.
//
// An op computes its output, returns it as it is unless needs_grad(inputs…), then calls
// record(name, out, inputs, backward) with the closure that maps dL/d(out) to dL/d(input_i),
// written right beside the forward (micrograd's habit).
// Tensor::backward() orders the graph topologically once (iteratively: deep graphs would overflow a
// recursive walk), seeds the output gradient and walks the order in reverse, adding (+=) each
// returned gradient into its input, so a tensor used twice receives both contributions.
//
// One convention for every closure: it captures what the backward needs as detached tensors
// (x.detach(): the values without the history, so saving a tensor never keeps its producer's
// graph alive) and plain values, plus a flag per input saying whether that input needs a
// gradient, read at forward time (x.requires_grad()); it computes only the flagged gradients
// and returns an undefined Tensor for the others.
#pragma once
#include <functional>
#include <string>
#include <vector>

#include "regrad/tensor/grad_mode.h"
#include "regrad/tensor/tensor.h"

namespace rg {

using Grads = std::vector<Tensor>;
// Returns one gradient per input, in order; an undefined Tensor for an input that needs none.
using BackwardFn = std::function<Grads(const Tensor& grad_out)>;

struct Node {
  std::string name;
  std::vector<Tensor> inputs;
  BackwardFn backward;
  bool released = false;  // set once backward() has freed this node's saved tensors
};

// grad_enabled() / set_grad_enabled() (tensor/grad_mode.h): the thread-local switch for
// recording graphs. Backward closures run with it off.

// RAII: no graph is recorded while a NoGradGuard lives (evaluation, optimizer steps, closures).
class NoGradGuard {
 public:
  NoGradGuard() : prev_(grad_enabled()) { set_grad_enabled(false); }
  ~NoGradGuard() { set_grad_enabled(prev_); }
  NoGradGuard(const NoGradGuard&) = delete;
  NoGradGuard& operator=(const NoGradGuard&) = delete;

 private:
  bool prev_;
};

// True when grad mode is on and some input requires grad: the result must record its history.
bool needs_grad(const std::vector<Tensor>& inputs);
// The same for a fixed list of inputs. Ops ask it before building their closure, whose captures
// (detached tensors, shapes) and std::function cost allocations that a result without history
// would throw away: with grad off (evaluation, a hand-written backward) an op then allocates only
// its output.
template <typename... Ts>
bool needs_grad(const Ts&... inputs) {
  return grad_enabled() && ((inputs.defined() && inputs.requires_grad()) || ...);
}

// Attaches history to `out` when needs_grad(inputs); returns `out`.
Tensor record(const char* name, Tensor out, std::vector<Tensor> inputs, BackwardFn backward);

}  // namespace rg
