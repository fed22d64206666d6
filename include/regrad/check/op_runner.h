// Runs one fused layer forward and backward from named arrays: the engine behind `regrad op`
// and the PyTorch reference tests, so anyone can check regrad against NumPy or PyTorch. With
// `reference` it runs the plain reference kernels (regrad/functional/reference.h) instead of
// the fast ones, in double, and returns the results in x's dtype.
#pragma once
#include <map>
#include <optional>
#include <string>

#include "regrad/tensor/tensor.h"

namespace rg {

struct OpRequest {
  std::string op;  // batch_norm | layer_norm | rms_norm | group_norm | dropout | cross_entropy
  // x, grad_out (required); weight, bias, running_mean, running_var, target, class_weight, mask
  // (as the op needs).
  std::map<std::string, Tensor> inputs;
  bool eval = false;
  std::optional<double> eps, momentum, p, label_smoothing;
  std::optional<uint64_t> seed;  // dropout without a mask
  std::optional<int64_t> groups;
  std::optional<int64_t> ignore_index;  // cross_entropy (default -100)
  Shape normalized_shape;
  std::string reduction = "mean";
  bool reference = false;
};

// Returns y, dx and, where the op has them, dweight, dbias, dtarget (cross_entropy with
// probability targets) and (training batch_norm with running statistics) the updated
// running_mean and running_var. `reference` runs the plain reference kernels
// (src/functional/reference/) instead of the fast ones. The inputs are not modified.
// Throws std::invalid_argument for a missing or ill-shaped input or argument.
std::map<std::string, Tensor> run_op(const OpRequest& request);

extern const char* const kOpNames;  // "batch_norm, layer_norm, rms_norm, group_norm, dropout, cross_entropy"

}  // namespace rg
