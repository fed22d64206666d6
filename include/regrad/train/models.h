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
//        Dropout → Linear 128→classes.
// norm ∈ bn | gn | ln | rms | none (gn: 32 groups for the MLP, 8 for the CNN; ln/rms on a CNN
// normalise over (C, H, W)). Input (N, channels, size, size): Fashion-MNIST's 1×28×28 by default.
std::shared_ptr<nn::Sequential> make_model(const std::string& model, const std::string& norm, double dropout,
                                           uint64_t seed, int64_t channels = 1, int64_t size = 28,
                                           int64_t classes = 10);

// A character-level Transformer for the word list: token + learned position embeddings, `layers`
// TransformerBlocks (norm "ln" or "rms", placed "pre" or "post"), a final norm for pre-norm, and a
// head on the last position predicting the next character. Input int64 (N, block_size).
class CharTransformer : public nn::Module {
 public:
  CharTransformer(int64_t vocab, int64_t block_size, int64_t embed, int64_t heads, int64_t layers,
                  nn::NormPlacement placement, const std::string& norm, uint64_t seed);
  Tensor forward(const Tensor& tokens) override;

 private:
  std::shared_ptr<nn::Embedding> tok_, pos_;
  std::vector<std::shared_ptr<nn::TransformerBlock>> blocks_;
  std::shared_ptr<nn::Module> final_norm_;
  std::shared_ptr<nn::Linear> head_;
  int64_t block_size_;
};

}  // namespace rg::train
