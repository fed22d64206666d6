// Layers as torch.nn: Linear, Conv2d, pooling, Flatten, activations, Embedding, Sequential.
#pragma once
#include <memory>
#include <vector>

#include "regrad/nn/module.h"
#include "regrad/tensor/random.h"

namespace rg::nn {

// y = x·Wᵀ + b. PyTorch's default initialisation: W, b ~ U(−1/√in, 1/√in) (kaiming_uniform with
// a = √5), so activations keep their scale at the start.
class Linear : public Module {
 public:
  Linear(int64_t in_features, int64_t out_features, bool bias = true, Generator& gen = default_generator(),
         DType dtype = DType::Float32);
  Tensor weight, bias;  // (out, in), (out)
  const int64_t in_features, out_features;
  Tensor forward(const Tensor& input) override;
};

// Square kernels; PyTorch's default initialisation with fan_in = in_channels·k².
class Conv2d : public Module {
 public:
  Conv2d(int64_t in_channels, int64_t out_channels, int64_t kernel_size, int64_t stride = 1, int64_t padding = 0,
         bool bias = true, Generator& gen = default_generator(), DType dtype = DType::Float32);
  Tensor weight, bias;  // (out, in, k, k), (out)
  const int64_t stride, padding;
  Tensor forward(const Tensor& input) override;
};

class MaxPool2d : public Module {
 public:
  explicit MaxPool2d(int64_t kernel_size, int64_t stride = 0) : kernel_size(kernel_size), stride(stride) {}
  const int64_t kernel_size, stride;
  Tensor forward(const Tensor& input) override;
};

class AvgPool2d : public Module {
 public:
  explicit AvgPool2d(int64_t kernel_size, int64_t stride = 0) : kernel_size(kernel_size), stride(stride) {}
  const int64_t kernel_size, stride;
  Tensor forward(const Tensor& input) override;
};

// Mean over H and W: (N, C, H, W) → (N, C) (AdaptiveAvgPool2d(1) followed by Flatten).
class GlobalAvgPool2d : public Module {
 public:
  Tensor forward(const Tensor& input) override;
};

class Flatten : public Module {  // (N, …) → (N, ∏…)
 public:
  Tensor forward(const Tensor& input) override;
};

class ReLU : public Module {
 public:
  Tensor forward(const Tensor& input) override;
};

class Tanh : public Module {
 public:
  Tensor forward(const Tensor& input) override;
};

class GELU : public Module {  // the exact (erf) form, as torch.nn.GELU()
 public:
  Tensor forward(const Tensor& input) override;
};

// Embedding(num_embeddings, embedding_dim), weights ~ N(0, 1) as PyTorch; input int64 indices.
class Embedding : public Module {
 public:
  Embedding(int64_t num_embeddings, int64_t embedding_dim, Generator& gen = default_generator(),
            DType dtype = DType::Float32);
  Tensor weight;
  Tensor forward(const Tensor& indices) override;
};

// Applies its children in order; they are registered as "0", "1", … as in PyTorch.
class Sequential : public Module {
 public:
  Sequential() = default;
  explicit Sequential(std::vector<std::shared_ptr<Module>> layers);
  Sequential& add(std::shared_ptr<Module> layer);
  Tensor forward(const Tensor& input) override;
  std::size_t size() const { return layers_.size(); }
  const std::shared_ptr<Module>& operator[](std::size_t i) const { return layers_.at(i); }

 private:
  std::vector<std::shared_ptr<Module>> layers_;
};

}  // namespace rg::nn
