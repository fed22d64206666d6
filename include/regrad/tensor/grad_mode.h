// Grad mode: the thread-local switch that says whether ops record autograd history. It sits in
// the tensor layer (as PyTorch's c10 GradMode) because in-place updates consult it: they refuse
// to change a tensor that requires grad while history is being recorded. NoGradGuard
// (autograd/autograd.h) sets it for a scope.
#pragma once

namespace rg {

bool grad_enabled();
void set_grad_enabled(bool on);

}  // namespace rg
