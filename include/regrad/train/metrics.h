// Evaluation metrics: accuracy, negative log-likelihood, expected calibration error.
#pragma once
#include <cstdint>

#include "regrad/data/loader.h"
#include "regrad/nn/module.h"

namespace rg::train {

struct Metrics {
  double nll = 0, accuracy = 0, ece = 0;
  int64_t count = 0;
};

// How many rows of scores (N, K) have their (first) maximum at the label's class.
int64_t count_correct(const Tensor& scores, const Tensor& labels);

// ECE with `bins` equal-width confidence bins: Σ_b (n_b/N)·|accuracy_b − mean confidence_b|,
// where confidence is the top softmax probability (Guo et al. 2017). probs (N, K), labels (N).
double expected_calibration_error(const Tensor& probs, const Tensor& labels, int bins = 15);

// Runs `model` in eval mode without a graph over every batch and returns mean NLL, accuracy and
// ECE (15 bins); the model's train/eval mode is restored afterwards.
Metrics evaluate(nn::Module& model, const data::DataLoader& loader);

}  // namespace rg::train
