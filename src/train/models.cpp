#include "regrad/train/models.h"

#include <stdexcept>

#include "regrad/nn/dropout.h"
#include "regrad/nn/normalization.h"
#include "regrad/ops/elementwise.h"
#include "regrad/ops/shape_ops.h"

namespace rg::train {

// The normalization layer for `features` channels at spatial size hw×hw (hw = 0: a flat vector).
static std::shared_ptr<nn::Module> norm_layer(const std::string& norm, int64_t features, int64_t hw, int64_t groups) {
  return nn::make_norm(norm, features, hw == 0 ? Shape{} : Shape{hw, hw}, groups);
}

std::shared_ptr<nn::Sequential> make_model(const std::string& model, const std::string& norm, double dropout,
                                           uint64_t seed, int64_t channels, int64_t size, int64_t classes) {
  if (channels <= 0 || size < 4 || classes < 2)
    throw std::invalid_argument("make_model: need channels > 0, size >= 4 and at least 2 classes");
  Generator gen(seed);
  auto net = std::make_shared<nn::Sequential>();
  auto add_norm = [&](int64_t features, int64_t hw, int64_t groups) {
    if (auto n = norm_layer(norm, features, hw, groups)) net->add(n);
  };
  if (model == "mlp") {
    net->add(std::make_shared<nn::Flatten>());
    int64_t in = channels * size * size;
    for (int k = 0; k < 2; ++k) {
      net->add(std::make_shared<nn::Linear>(in, 512, true, gen));
      add_norm(512, 0, 32);
      net->add(std::make_shared<nn::ReLU>());
      if (dropout > 0) net->add(std::make_shared<nn::Dropout>(dropout));
      in = 512;
    }
    net->add(std::make_shared<nn::Linear>(512, classes, true, gen));
  } else if (model == "cnn") {
    int64_t in = channels, hw = size;
    for (int64_t out : {32, 64}) {
      net->add(std::make_shared<nn::Conv2d>(in, out, 3, 1, 1, true, gen));
      add_norm(out, hw, 8);
      // ReLU → MaxPool2, computed in the other order: both are monotone, so max(relu(·)) =
      // relu(max(·)), with the same gradient (the window's arg-max gets g when its value is > 0,
      // nothing gets anything otherwise); ReLU then runs on a quarter of the elements.
      net->add(std::make_shared<nn::MaxPool2d>(2));
      net->add(std::make_shared<nn::ReLU>());
      in = out;
      hw /= 2;
    }
    net->add(std::make_shared<nn::Flatten>());
    net->add(std::make_shared<nn::Linear>(64 * hw * hw, 128, true, gen));
    net->add(std::make_shared<nn::ReLU>());
    if (dropout > 0) net->add(std::make_shared<nn::Dropout>(dropout));
    net->add(std::make_shared<nn::Linear>(128, classes, true, gen));
  } else if (model == "resnet-small") {
    net->add(std::make_shared<nn::Conv2d>(channels, 32, 3, 1, 1, norm == "none", gen));
    add_norm(32, size, 8);
    net->add(std::make_shared<nn::ReLU>());
    net->add(
        std::make_shared<nn::ResidualConvBlock>(32, norm_layer(norm, 32, size, 8), norm_layer(norm, 32, size, 8), gen));
    const int64_t half = (size - 1) / 2 + 1;  // 3×3 conv, stride 2, padding 1
    net->add(std::make_shared<nn::Conv2d>(32, 64, 3, 2, 1, norm == "none", gen));
    add_norm(64, half, 8);
    net->add(std::make_shared<nn::ReLU>());
    net->add(
        std::make_shared<nn::ResidualConvBlock>(64, norm_layer(norm, 64, half, 8), norm_layer(norm, 64, half, 8), gen));
    net->add(std::make_shared<nn::GlobalAvgPool2d>());
    if (dropout > 0) net->add(std::make_shared<nn::Dropout>(dropout));
    net->add(std::make_shared<nn::Linear>(64, classes, true, gen));
  } else {
    throw std::invalid_argument("unknown model '" + model + "' (expected mlp, cnn or resnet-small)");
  }
  return net;
}

CharTransformer::CharTransformer(int64_t vocab, int64_t block_size, int64_t embed, int64_t heads, int64_t layers,
                                 nn::NormPlacement placement, const std::string& norm, uint64_t seed, double dropout,
                                 bool all_positions)
    : drop_(std::make_shared<nn::Dropout>(dropout)), block_size_(block_size), all_positions_(all_positions) {
  Generator gen(seed);
  tok_ = std::make_shared<nn::Embedding>(vocab, embed, gen);
  pos_ = std::make_shared<nn::Embedding>(block_size, embed, gen);
  register_module("tok", tok_);
  register_module("pos", pos_);
  for (int64_t l = 0; l < layers; ++l) {
    blocks_.push_back(
        std::make_shared<nn::TransformerBlock>(embed, heads, placement, norm, gen, DType::Float32, dropout));
    register_module("block" + std::to_string(l), blocks_.back());
  }
  if (placement == nn::NormPlacement::Pre) {  // post-norm blocks already end normalised
    final_norm_ = nn::make_block_norm(norm, embed);
    register_module("norm", final_norm_);
  }
  head_ = std::make_shared<nn::Linear>(embed, vocab, true, gen);
  register_module("head", head_);
  register_module("drop", drop_);
}

Tensor CharTransformer::forward(const Tensor& tokens) {
  if (tokens.dim() != 2 || tokens.size(1) != block_size_ || tokens.dtype() != DType::Int64)
    throw std::invalid_argument("CharTransformer: expected int64 tokens (N, " + std::to_string(block_size_) +
                                "), got " + to_string(tokens.dtype()) + " " + to_string(tokens.shape()));
  const int64_t n = tokens.size(0), T = block_size_;
  Tensor h = (*drop_)((*tok_)(tokens) + pos_->weight);  // (N, T, C) + (T, C)
  for (auto& b : blocks_) h = (*b)(h);
  if (final_norm_) h = (*final_norm_)(h);
  if (all_positions_) return transpose((*head_)(h), 1, 2);     // (N, T, vocab) → cross_entropy's (N, vocab, T)
  const Tensor last = slice(h, 1, T - 1, T).reshape({n, -1});  // the last position predicts the next character
  return (*head_)(last);
}

std::shared_ptr<nn::Module> make_model(const ModelOptions& o, const Tensor& x, int64_t classes) {
  const bool contexts = x.dtype() == DType::Int64;
  const std::string model = !o.model.empty() ? o.model : contexts ? "transformer-char" : "mlp";
  const std::string norm = !o.norm.empty() ? o.norm : model == "transformer-char" ? "ln" : "bn";
  if (model == "transformer-char") {
    if (!contexts || x.dim() != 2)
      throw std::invalid_argument("transformer-char needs int64 character contexts (N, block_size), got " +
                                  to_string(x.dtype()) + " " + to_string(x.shape()) + " (use the words dataset)");
    if (o.objective != "all" && o.objective != "last")
      throw std::invalid_argument("unknown objective '" + o.objective + "' (expected all or last)");
    return std::make_shared<CharTransformer>(classes, x.size(1), o.embed, o.heads, o.layers,
                                             nn::parse_placement(o.placement), norm, o.seed, o.transformer_dropout,
                                             o.objective == "all");
  }
  if (contexts || x.dim() != 4)
    throw std::invalid_argument("the model '" + model + "' needs images (N, C, H, W), got " + to_string(x.dtype()) +
                                " " + to_string(x.shape()) + " (character contexts need transformer-char)");
  return make_model(model, norm, o.dropout, o.seed, x.size(1), x.size(2), classes);
}

}  // namespace rg::train
