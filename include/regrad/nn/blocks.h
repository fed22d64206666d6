// Residual blocks with the normalization placed before (pre-norm) or after (post-norm) the
// residual sum — the lecture's comparison at depth:
//   pre-norm:  x ← x + F(N(x))        (the identity path is never normalised)
//   post-norm: x ← N(x + F(x))        (the original Transformer)
// N is LayerNorm or RMSNorm over the last dim.
#pragma once
#include <memory>
#include <string>

#include "regrad/nn/dropout.h"
#include "regrad/nn/layers.h"
#include "regrad/nn/normalization.h"

namespace rg::nn {

enum class NormPlacement { Pre, Post };
NormPlacement parse_placement(const std::string& name);  // "pre" | "post"

// A block's norm: LayerNorm ("ln") or RMSNorm ("rms") over the last dim of size `dim`
// (nn::make_norm, with anything else refused).
std::shared_ptr<Module> make_block_norm(const std::string& norm, int64_t dim, DType dtype = DType::Float32);

// x ± norm around F(x) = Linear(dim, hidden) → GELU → Linear(hidden, dim).
class ResidualMLPBlock : public Module {
 public:
  ResidualMLPBlock(int64_t dim, int64_t hidden, NormPlacement placement, const std::string& norm = "ln",
                   Generator& gen = default_generator(), DType dtype = DType::Float32);
  const NormPlacement placement;
  Tensor forward(const Tensor& x) override;

 private:
  std::shared_ptr<Module> norm_;
  std::shared_ptr<Linear> fc1_, fc2_;
};

// Multi-head causal self-attention on (B, T, C): qkv = x·W_qkvᵀ, per head softmax(q·kᵀ/√d with
// future positions masked to −∞)·v, heads concatenated, then an output projection.
class CausalSelfAttention : public Module {
 public:
  CausalSelfAttention(int64_t dim, int64_t heads, Generator& gen = default_generator(), DType dtype = DType::Float32);
  const int64_t heads;
  Tensor forward(const Tensor& x) override;

 private:
  std::shared_ptr<Linear> qkv_, proj_;
};

// ResNet's basic block at constant width: y = relu(x + norm2(conv2(relu(norm1(conv1(x)))))), 3×3
// convolutions with padding 1; norm1/norm2 are given (BatchNorm2d, GroupNorm, … or null for none).
class ResidualConvBlock : public Module {
 public:
  ResidualConvBlock(int64_t channels, std::shared_ptr<Module> norm1, std::shared_ptr<Module> norm2,
                    Generator& gen = default_generator(), DType dtype = DType::Float32);
  Tensor forward(const Tensor& x) override;

 private:
  std::shared_ptr<Conv2d> conv1_, conv2_;
  std::shared_ptr<Module> norm1_, norm2_;
};

// A Transformer block: attention and an MLP (4× wide, GELU), each in a residual branch with the
// normalization placed per `placement`. `dropout` > 0 is the original Transformer's residual
// dropout (Vaswani et al. 2017, P_drop): each branch's output is dropped before it is added to
// the skip path (pre-norm x + Dropout(F(N(x))), post-norm N(x + Dropout(F(x)))).
class TransformerBlock : public Module {
 public:
  TransformerBlock(int64_t dim, int64_t heads, NormPlacement placement, const std::string& norm = "ln",
                   Generator& gen = default_generator(), DType dtype = DType::Float32, double dropout = 0.0);
  const NormPlacement placement;
  Tensor forward(const Tensor& x) override;

 private:
  std::shared_ptr<Module> norm1_, norm2_;
  std::shared_ptr<CausalSelfAttention> attn_;
  std::shared_ptr<Linear> fc1_, fc2_;
  std::shared_ptr<Dropout> drop_;
};

}  // namespace rg::nn
