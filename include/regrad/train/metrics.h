// Evaluation metrics: accuracy, negative log-likelihood, expected calibration error.
#pragma once
#include <cstdint>

#include "regrad/data/loader.h"
#include "regrad/nn/module.h"

namespace rg::train {

// Over the targets that are not ignored (class index −100, cross_entropy's ignore_index): with
// per-position targets (N, T) every non-ignored position counts once.
struct Metrics {
  double nll = 0, accuracy = 0, ece = 0;
  int64_t count = 0;  // targets evaluated
  // The last position's NLL alone, for logits (N, K, T): the old "last" objective's number on the
  // same contexts, so every-position runs can be compared with it. For logits (N, K): nll.
  double last_nll = 0;
};

// How many targets have their (first) maximum score at the label's class: scores (N, K, d…),
// labels (N, d…); labels equal to −100 are skipped.
int64_t count_correct(const Tensor& scores, const Tensor& labels);

// The number of targets a batch's loss averages over: class indices other than −100, or the rows
// of probability targets (Mixup/CutMix).
int64_t count_targets(const Tensor& target);

// ECE with `bins` equal-width confidence bins: Σ_b (n_b/N)·|accuracy_b − mean confidence_b|,
// where confidence is the top softmax probability (Guo et al. 2017). probs (N, K), labels (N);
// rows labelled −100 are left out (N counts the others).
double expected_calibration_error(const Tensor& probs, const Tensor& labels, int bins = 15);

// Runs `model` in eval mode without a graph over every batch and returns mean NLL, accuracy and
// ECE (15 bins) over the non-ignored targets (logits (N, K) or (N, K, T) with labels (N) or
// (N, T)); the model's train/eval mode is restored afterwards.
Metrics evaluate(nn::Module& model, const data::DataLoader& loader);

}  // namespace rg::train
