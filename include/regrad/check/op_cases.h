// The catalogue of primitive-op gradient checks: one entry per op and argument case, shared by the
// test suite (every entry must pass) and by `regrad gradcheck`, which prints them as a table.
#pragma once
#include <string>
#include <vector>

#include "regrad/check/gradcheck.h"

namespace rg {

struct OpCase {
  std::string op;              // "add"
  std::string detail;          // "broadcast [3, 1] + [4]"
  std::vector<Tensor> inputs;  // float64; those with requires_grad are checked
  TensorFn fn;
  double eps = 1e-6;  // finite-difference step (larger where the op rounds to float32)
};

std::vector<OpCase> op_cases(uint64_t seed = 0);

}  // namespace rg
