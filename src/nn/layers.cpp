#include "regrad/nn/layers.h"

#include <cmath>

#include "regrad/ops/conv.h"
#include "regrad/ops/elementwise.h"
#include "regrad/ops/index.h"
#include "regrad/ops/linalg.h"
#include "regrad/ops/reduce.h"
#include "regrad/ops/shape_ops.h"
#include "regrad/tensor/factory.h"

namespace rg::nn {

// U(−bound, bound) with bound = 1/√fan_in: PyTorch's kaiming_uniform_(a=√5) for weights, and its
// default for biases.
static Tensor uniform_init(const Shape& shape, int64_t fan_in, Generator& gen, DType dtype) {
  const double bound = 1.0 / std::sqrt(static_cast<double>(fan_in));
  return (rand(shape, gen, dtype) * (2 * bound) - bound).detach();
}

Linear::Linear(int64_t in, int64_t out, bool has_bias, Generator& gen, DType dtype)
    : in_features(in), out_features(out) {
  if (in <= 0 || out <= 0) throw std::invalid_argument("Linear: in_features and out_features must be positive");
  weight = uniform_init({out, in}, in, gen, dtype);
  if (has_bias) bias = uniform_init({out}, in, gen, dtype);
  register_parameter("weight", &weight);
  register_parameter("bias", &bias);
}

Tensor Linear::forward(const Tensor& x) { return linear(x, weight, bias); }

Conv2d::Conv2d(int64_t in, int64_t out, int64_t k, int64_t stride, int64_t padding, bool has_bias, Generator& gen,
               DType dtype)
    : stride(stride), padding(padding) {
  if (in <= 0 || out <= 0 || k <= 0) throw std::invalid_argument("Conv2d: channels and kernel_size must be positive");
  weight = uniform_init({out, in, k, k}, in * k * k, gen, dtype);
  if (has_bias) bias = uniform_init({out}, in * k * k, gen, dtype);
  register_parameter("weight", &weight);
  register_parameter("bias", &bias);
}

Tensor Conv2d::forward(const Tensor& x) { return conv2d(x, weight, bias, stride, padding); }

Tensor MaxPool2d::forward(const Tensor& x) { return max_pool2d(x, kernel_size, stride); }
Tensor AvgPool2d::forward(const Tensor& x) { return avg_pool2d(x, kernel_size, stride); }
Tensor GlobalAvgPool2d::forward(const Tensor& x) { return mean(x, {2, 3}); }
Tensor Flatten::forward(const Tensor& x) { return flatten(x, 1); }
Tensor ReLU::forward(const Tensor& x) { return relu(x); }
Tensor Tanh::forward(const Tensor& x) { return tanh(x); }
Tensor GELU::forward(const Tensor& x) { return gelu(x); }

Embedding::Embedding(int64_t num, int64_t dim, Generator& gen, DType dtype) {
  if (num <= 0 || dim <= 0) throw std::invalid_argument("Embedding: sizes must be positive");
  weight = randn({num, dim}, gen, dtype);
  register_parameter("weight", &weight);
}

Tensor Embedding::forward(const Tensor& indices) { return embedding(indices, weight); }

Sequential::Sequential(std::vector<std::shared_ptr<Module>> layers) {
  for (auto& l : layers) add(std::move(l));
}

Sequential& Sequential::add(std::shared_ptr<Module> layer) {
  register_module(std::to_string(layers_.size()), layer);
  layers_.push_back(std::move(layer));
  return *this;
}

Tensor Sequential::forward(const Tensor& x) {
  Tensor h = x;
  for (auto& l : layers_) h = (*l)(h);
  return h;
}

}  // namespace rg::nn
