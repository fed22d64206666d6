// The reference models of the training kit, built from nn layers.
#pragma once
#include <memory>
#include <string>

#include "regrad/nn/blocks.h"
#include "regrad/nn/layers.h"

namespace rg::train {

// "resnet-small": conv3×3 → 32 channels, a residual block, a stride-2 conv → 64, a residual
//        block, global average pooling, Linear 64→classes (conv biases dropped where a norm follows).
// "mlp": (C·H·W)-512-512-classes, each hidden layer Linear → norm → ReLU → Dropout(dropout).
// "cnn": [Conv3×3 → norm → ReLU → MaxPool2] × 2 (32, 64 channels) → Linear → 128 → ReLU →
//        Dropout → Linear 128→classes. The Sequential holds MaxPool2 before ReLU: the same function
//        and gradient, cheaper (models.cpp).
// norm ∈ bn | gn | ln | rms | none (gn: 32 groups for the MLP, 8 for the CNN; ln/rms on a CNN
// normalise over (C, H, W)). Input (N, channels, size, size): Fashion-MNIST's 1×28×28 by default.
std::shared_ptr<nn::Sequential> make_model(const std::string& model, const std::string& norm, double dropout,
                                           uint64_t seed, int64_t channels = 1, int64_t size = 28,
                                           int64_t classes = 10);

// A character-level Transformer for the word list: token + learned position embeddings, `layers`
// TransformerBlocks (norm "ln" or "rms", placed "pre" or "post"), a final norm for pre-norm, and a
// head predicting the next character. Input int64 (N, block_size). `all_positions`: the head on
// every position, logits (N, vocab, block_size) for per-position targets (the causal mask lets
// position t see only characters ≤ t); otherwise on the last position only, logits (N, vocab).
// `dropout` > 0: the original Transformer's dropout on the embedding sum and on every residual
// branch (TransformerBlock).
class CharTransformer : public nn::Module {
 public:
  CharTransformer(int64_t vocab, int64_t block_size, int64_t embed, int64_t heads, int64_t layers,
                  nn::NormPlacement placement, const std::string& norm, uint64_t seed, double dropout = 0.0,
                  bool all_positions = false);
  Tensor forward(const Tensor& tokens) override;

 private:
  std::shared_ptr<nn::Embedding> tok_, pos_;
  std::vector<std::shared_ptr<nn::TransformerBlock>> blocks_;
  std::shared_ptr<nn::Module> final_norm_;
  std::shared_ptr<nn::Linear> head_;
  std::shared_ptr<nn::Dropout> drop_;
  int64_t block_size_;
  bool all_positions_;
};

// Every reference model by name, sized for a dataset: the one model factory of `regrad train` and
// the experiments.
struct ModelOptions {
  std::string model;     // mlp, cnn, resnet-small or transformer-char ("": transformer-char for words, else mlp)
  std::string norm;      // "": bn for the image models, ln for transformer-char
  double dropout = 0.1;  // image models
  double transformer_dropout = 0.0;  // transformer-char: embedding and residual dropout (Vaswani et al.'s P_drop)
  int64_t embed = 64, heads = 4, layers = 2;  // transformer-char (block size: the data's context length)
  std::string placement = "pre";              // transformer-char: pre or post
  // transformer-char: "all" (every position predicts its next character, logits (N, vocab, T)) or
  // "last" (the last position only, logits (N, vocab)); must match data::SplitOptions::objective.
  std::string objective = "all";
  uint64_t seed = 0;
};
// `images` (N, C, H, W) float or int64 contexts (N, block_size); throws std::invalid_argument naming
// the model and the data when they do not fit together.
std::shared_ptr<nn::Module> make_model(const ModelOptions& o, const Tensor& example_inputs, int64_t classes);

}  // namespace rg::train
