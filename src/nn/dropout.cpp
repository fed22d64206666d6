#include "regrad/nn/dropout.h"

#include "regrad/functional/dropout.h"

namespace rg::nn {

Dropout::Dropout(double p, Generator* gen) : p(p), gen_(gen) {
  if (!(p >= 0.0 && p <= 1.0))
    throw std::invalid_argument("Dropout: p (the drop probability) must be in [0, 1], got " + std::to_string(p));
}

Tensor Dropout::forward(const Tensor& input) {
  return dropout(input, p, is_training(), gen_ ? *gen_ : default_generator());
}

}  // namespace rg::nn
