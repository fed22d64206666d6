// The reference models of the training kit, built from nn layers.
#pragma once
#include <memory>
#include <string>

#include "regrad/nn/layers.h"

namespace rg::train {

// "mlp": 784-512-512-10, each hidden layer Linear → norm → ReLU → Dropout(dropout).
// "cnn": [Conv3×3 → norm → ReLU → MaxPool2] × 2 (32, 64 channels) → Linear 3136→128 → ReLU →
//        Dropout → Linear 128→10.
// norm ∈ bn | gn | ln | rms | none (gn: 32 groups for the MLP, 8 for the CNN; ln/rms on a CNN
// normalise over (C, H, W)). Input (N, 1, 28, 28).
std::shared_ptr<nn::Sequential> make_model(const std::string& model, const std::string& norm, double dropout,
                                           uint64_t seed);

}  // namespace rg::train
