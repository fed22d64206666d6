// nn.Dropout(p): p is the drop probability (the lecture's keep-probability is 1 − p).
#pragma once
#include "regrad/nn/module.h"
#include "regrad/tensor/random.h"

namespace rg::nn {

class Dropout : public Module {
 public:
  // Draws masks from `gen` (the default generator when null); identity in eval mode.
  explicit Dropout(double p = 0.5, Generator* gen = nullptr);
  const double p;
  Tensor forward(const Tensor& input) override;

 private:
  Generator* gen_;
};

}  // namespace rg::nn
