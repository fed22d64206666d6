// Notebook 6b, "BatchNorm1d by hand", in C++: the makemore MLP (Karpathy, part 4) with a
// BatchNorm1d layer, its forward split into named intermediates, and every backward written out.
// The program is main.cpp; this is the part the tests share.
#pragma once
#include <string>
#include <utility>
#include <vector>

#include "regrad/regrad.h"

namespace bnh {

using rg::Tensor;

constexpr int64_t kBlock = 3, kEmbed = 10, kVocab = 27;
// The notebook's hidden width for exercises 1-3; makemore trains exercise 4 with 200 (--hidden).
constexpr int64_t kDefaultHidden = 64;
constexpr double kEps = 1e-5;

// The splits of the word list, as (context, next character) pairs.
struct Data {
  rg::data::CharDataset train, val, test;
};
// Lower-case a–z words, shuffled with `seed`, split 80/10/10 by words (as makemore).
Data load_data(const std::string& words_path, uint64_t seed);

struct Params {
  Tensor C, W1, b1, W2, b2, bngain, bnbias;
  std::vector<std::pair<std::string, Tensor*>> named();
  int64_t hidden() const { return W1.size(1); }
};
// makemore part 4's initialisation (Kaiming-scaled W1, small W2 so the first loss is near log 27).
Params init_params(uint64_t seed, rg::DType dtype, int64_t hidden = kDefaultHidden);

// The forward pass, one line per atom. With `retain`, every intermediate keeps its gradient.
struct Forward {
  Tensor emb, embcat, hprebn, bnmeani, bndiff, bndiff2, bnvar, bnvar_inv, bnraw, hpreact, h, logits, logit_maxes,
      norm_logits, counts, counts_sum, counts_sum_inv, probs, logprobs, loss;
  std::vector<std::pair<std::string, Tensor>> named() const;
};
Forward forward(const Params& p, const Tensor& Xb, const Tensor& Yb, bool retain);

// Exercise 1: the gradient of every intermediate and parameter, by hand, in makemore's order.
using NamedGrads = std::vector<std::pair<std::string, Tensor>>;
NamedGrads manual_backward(const Forward& f, const Params& p, const Tensor& Xb, const Tensor& Yb);
Tensor lookup(const NamedGrads& grads, const std::string& name);

// Exercise 2: BatchNorm's backward in one expression (biased variance, as nn.BatchNorm1d).
Tensor batchnorm_backward_fused(const Tensor& dhpreact, const Tensor& bngain, const Tensor& bnvar_inv,
                                const Tensor& bnraw);
// Exercise 3: cross-entropy's backward in one expression, optionally label-smoothed. (makemore
// part 4 has these two the other way round: its exercise 2 is cross-entropy, 3 BatchNorm.)
Tensor cross_entropy_backward_fused(const Tensor& logits, const Tensor& Yb, double label_smoothing = 0.0);

// Exercise 4: training. Running statistics kept as nn.BatchNorm1d keeps them (momentum 0.1,
// unbiased running variance).
struct Running {
  Tensor mean, var;
};
// nn.BatchNorm1d's starting statistics: mean 0, variance 1, one per hidden unit.
Running initial_running(const Params& p);
struct TrainLog {
  std::vector<int64_t> step;
  std::vector<double> loss;      // mean mini-batch loss over the steps since the previous entry
  std::vector<double> val_loss;  // eval-mode loss on `val` at `step` (when a val split is given)
};
// SGD with lr for steps [0, lr_decay_step), then lr/10 (makemore: 0.1, then 0.01 from step
// 100,000). `manual` uses only the hand-written backward (no autograd); otherwise
// loss.backward() does the work. Logs every log_every steps, and prints a line per entry when
// `print` is set.
TrainLog train(Params& p, Running& running, const rg::data::CharDataset& data, int64_t steps, double lr,
               int64_t lr_decay_step, uint64_t seed, bool manual, int64_t log_every, int64_t batch_size = 32,
               const rg::data::CharDataset* val = nullptr, bool print = false);

// Mean cross-entropy of a split with eval-mode BatchNorm using the given statistics.
double split_loss(const Params& p, const Running& stats, const rg::data::CharDataset& data);
// "Calibrate the batch norm at the end of training": mean and unbiased variance of hprebn over a split.
Running calibrate(const Params& p, const rg::data::CharDataset& data);
// The PyTorch check. export_reference_inputs writes one batch's hprebn, γ, β, dhpreact and fresh
// running statistics into dir; tests/reference/make_bn_by_hand_reference.py feeds them to
// nn.BatchNorm1d and writes its outputs into dir/expected. check_against_pytorch recomputes them
// by hand (the exercise formulas) and with regrad's fused batch_norm, and compares.
void export_reference_inputs(const std::string& dir, const Params& p, const Tensor& Xb, const Tensor& Yb);
std::vector<rg::CmpResult> check_against_pytorch(const std::string& dir, double atol);

// A new word, sampled from the model with eval-mode BatchNorm.
std::string sample_word(const Params& p, const Running& stats, rg::Generator& gen);

}  // namespace bnh
