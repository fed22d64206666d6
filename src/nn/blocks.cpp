#include "regrad/nn/blocks.h"

#include "regrad/functional/attention.h"
#include "regrad/nn/normalization.h"
#include "regrad/ops/elementwise.h"
#include "regrad/ops/index.h"
#include "regrad/tensor/factory.h"

namespace rg::nn {

NormPlacement parse_placement(const std::string& name) {
  if (name == "pre") return NormPlacement::Pre;
  if (name == "post") return NormPlacement::Post;
  throw std::invalid_argument("norm placement must be 'pre' or 'post', got '" + name + "'");
}

std::shared_ptr<Module> make_block_norm(const std::string& norm, int64_t dim, DType dtype) {
  if (norm != "ln" && norm != "rms")
    throw std::invalid_argument("block norm must be 'ln' or 'rms', got '" + norm + "'");
  return make_norm(norm, dim, {}, 0, dtype);
}

// The residual wiring shared by both blocks: pre-norm x + F(N(x)), post-norm N(x + F(x)).
template <typename F>
static Tensor residual(NormPlacement placement, Module& norm, const Tensor& x, F branch) {
  return placement == NormPlacement::Pre ? x + branch(norm(x)) : norm(x + branch(x));
}

ResidualMLPBlock::ResidualMLPBlock(int64_t dim, int64_t hidden, NormPlacement placement, const std::string& norm,
                                   Generator& gen, DType dtype)
    : placement(placement),
      norm_(make_block_norm(norm, dim, dtype)),
      fc1_(std::make_shared<Linear>(dim, hidden, true, gen, dtype)),
      fc2_(std::make_shared<Linear>(hidden, dim, true, gen, dtype)) {
  register_module("norm", norm_);
  register_module("fc1", fc1_);
  register_module("fc2", fc2_);
}

Tensor ResidualMLPBlock::forward(const Tensor& x) {
  return residual(placement, *norm_, x, [&](const Tensor& h) { return (*fc2_)(gelu((*fc1_)(h))); });
}

CausalSelfAttention::CausalSelfAttention(int64_t dim, int64_t heads, Generator& gen, DType dtype)
    : heads(heads),
      qkv_(std::make_shared<Linear>(dim, 3 * dim, true, gen, dtype)),
      proj_(std::make_shared<Linear>(dim, dim, true, gen, dtype)) {
  if (heads <= 0 || dim % heads != 0)
    throw std::invalid_argument("CausalSelfAttention: heads " + std::to_string(heads) + " must divide dim " +
                                std::to_string(dim));
  register_module("qkv", qkv_);
  register_module("proj", proj_);
}

Tensor CausalSelfAttention::forward(const Tensor& x) {
  if (x.dim() != 3) throw std::invalid_argument("CausalSelfAttention: expected (B, T, C), got " + to_string(x.shape()));
  return (*proj_)(causal_attention((*qkv_)(x), heads));  // qkv: (B, T, 3C)
}

ResidualConvBlock::ResidualConvBlock(int64_t channels, std::shared_ptr<Module> norm1, std::shared_ptr<Module> norm2,
                                     Generator& gen, DType dtype)
    : conv1_(std::make_shared<Conv2d>(channels, channels, 3, 1, 1, norm1 == nullptr, gen, dtype)),
      conv2_(std::make_shared<Conv2d>(channels, channels, 3, 1, 1, norm2 == nullptr, gen, dtype)),
      norm1_(std::move(norm1)),
      norm2_(std::move(norm2)) {
  register_module("conv1", conv1_);
  if (norm1_) register_module("norm1", norm1_);
  register_module("conv2", conv2_);
  if (norm2_) register_module("norm2", norm2_);
}

Tensor ResidualConvBlock::forward(const Tensor& x) {
  Tensor h = (*conv1_)(x);
  if (norm1_) h = (*norm1_)(h);
  h = (*conv2_)(relu(h));
  if (norm2_) h = (*norm2_)(h);
  return relu(x + h);
}

TransformerBlock::TransformerBlock(int64_t dim, int64_t heads, NormPlacement placement, const std::string& norm,
                                   Generator& gen, DType dtype, double dropout)
    : placement(placement),
      norm1_(make_block_norm(norm, dim, dtype)),
      norm2_(make_block_norm(norm, dim, dtype)),
      attn_(std::make_shared<CausalSelfAttention>(dim, heads, gen, dtype)),
      fc1_(std::make_shared<Linear>(dim, 4 * dim, true, gen, dtype)),
      fc2_(std::make_shared<Linear>(4 * dim, dim, true, gen, dtype)),
      drop_(std::make_shared<Dropout>(dropout)) {
  register_module("norm1", norm1_);
  register_module("attn", attn_);
  register_module("norm2", norm2_);
  register_module("fc1", fc1_);
  register_module("fc2", fc2_);
  register_module("drop", drop_);
}

Tensor TransformerBlock::forward(const Tensor& x) {
  const Tensor h = residual(placement, *norm1_, x, [&](const Tensor& a) { return (*drop_)((*attn_)(a)); });
  return residual(placement, *norm2_, h, [&](const Tensor& a) { return (*drop_)((*fc2_)(gelu((*fc1_)(a)))); });
}

}  // namespace rg::nn
