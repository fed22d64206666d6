// The reference models of the training kit, built from nn layers.
#pragma once
#include <memory>
#include <string>

#include "regrad/nn/layers.h"

namespace rg::train {

// "mlp": (C·H·W)-512-512-classes, each hidden layer Linear → norm → ReLU → Dropout(dropout).
// "cnn": [Conv3×3 → norm → ReLU → MaxPool2] × 2 (32, 64 channels) → Linear → 128 → ReLU →
//        Dropout → Linear 128→classes.
// norm ∈ bn | gn | ln | rms | none (gn: 32 groups for the MLP, 8 for the CNN; ln/rms on a CNN
// normalise over (C, H, W)). Input (N, channels, size, size): Fashion-MNIST's 1×28×28 by default.
std::shared_ptr<nn::Sequential> make_model(const std::string& model, const std::string& norm, double dropout,
                                           uint64_t seed, int64_t channels = 1, int64_t size = 28,
                                           int64_t classes = 10);

}  // namespace rg::train
