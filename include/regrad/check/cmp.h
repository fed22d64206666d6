// Notebook-style comparison (makemore part 4): one aligned line per tensor.
//   cmp("hprebn", dhprebn, hprebn.grad())  →  hprebn          | exact: False | approximate: True  | maxdiff: 4.7e-10
#pragma once
#include <string>

#include "regrad/tensor/tensor.h"

namespace rg {

struct CmpResult {
  std::string name;
  bool exact = false;        // bitwise equal values
  bool approximate = false;  // torch.allclose: |a − b| ≤ atol + rtol·|b| everywhere
  double maxdiff = 0.0;
  std::string line() const;
};

// Shapes must match (std::invalid_argument naming both otherwise); dtypes may differ.
CmpResult cmp(const std::string& name, const Tensor& a, const Tensor& b, double rtol = 1e-5, double atol = 1e-8);

}  // namespace rg
