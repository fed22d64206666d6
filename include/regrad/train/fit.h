// fit: the one training loop, shared by `regrad train` and every experiment.
//
// One epoch: for each shuffled mini-batch, set the learning rate from the schedule, augment (images
// only), transform_inputs (any inputs, e.g. masking character contexts), mix (Mixup/CutMix → soft targets), forward,
// cross_entropy(…, label_smoothing), backward, optional gradient clipping, optimizer step, optional L1 proximal step.
// Targets are class indices (N) or, for a character Transformer trained on every position, (N, T) with −100 where
// ignored: the loss, the running train loss/accuracy and the metrics are then means over the non-ignored positions
// (label smoothing per position). After each epoch the model is evaluated on the validation split (NLL, accuracy, ECE);
// the best model by validation NLL is kept (early stopping with `patience`), and optionally written as a checkpoint. At
// the end the best model is loaded back (keep_best) and evaluated on the test split.
#pragma once
#include <cstdint>
#include <cstdio>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "regrad/data/augment.h"
#include "regrad/data/splits.h"
#include "regrad/nn/module.h"
#include "regrad/optim/optim.h"
#include "regrad/train/checkpoint.h"
#include "regrad/train/metrics.h"

namespace rg::train {

struct EpochRecord {
  int64_t epoch = 0;
  double train_loss = 0, train_acc = 0;  // running means over the epoch's (augmented) batches' targets
  Metrics val;
  double lr = 0, seconds = 0, images_per_s = 0;
};

struct FitOptions {
  int64_t epochs = 5, batch_size = 128;
  // Optimizer: "sgd" (momentum, coupled L2 `weight_decay`) or "adamw" (decoupled decay).
  std::string optimizer = "sgd";
  double lr = 0.05, momentum = 0.9, weight_decay = 5e-4, l1 = 0.0;
  std::string schedule = "cosine";  // "cosine" (linear warmup, then cosine to 0) or "const"
  int64_t warmup = 0;               // warmup steps
  double label_smoothing = 0.0, max_grad_norm = 0.0;
  data::AugmentSpec augment;  // images only; on raw pixels where the splits carry mean and std
  // Applied to every training batch's inputs after `augment` (images or int64 contexts), drawing
  // from the augmentation generator; returns inputs of the same shape. Empty: none.
  std::function<Tensor(const Tensor& x, Generator& gen)> transform_inputs;
  double mixup = 0.0, cutmix = 0.0;  // Beta(α, α) parameters; 0 is off (both: each batch picks one)
  int64_t patience = 0;              // early stopping after this many epochs without a better val NLL (0: off)
  bool keep_best = true;             // load the best model by val NLL back at the end (else: the last)
  bool evaluate_test = true;         // evaluate the final model on the test split
  int64_t eval_batch_size = 1000;
  uint64_t seed = 0;  // shuffling (seed), augmentation (seed + 99), dropout masks (seed)
  // Files, each written atomically; empty is none.
  std::string log_csv;     // per-epoch CSV (kept across --resume)
  std::string checkpoint;  // the best model so far
  std::string save_state;  // the whole training state after every epoch
  std::string resume;      // continue from a save_state file: the same numbers as an uninterrupted run
  // Progress lines go here (nullptr: silent); `step_progress` adds five lines per epoch.
  std::FILE* progress = stdout;
  bool step_progress = true;
  // Called after every epoch; returning false stops training.
  std::function<bool(const EpochRecord&, nn::Module&)> on_epoch;
  // Called after each backward, before the optimizer step (step counts from 0): gradients are there.
  std::function<void(int64_t step, double loss, nn::Module&)> after_backward;
};

struct FitResult {
  std::vector<EpochRecord> history;
  int64_t best_epoch = 0, steps = 0;
  double best_val_nll = 0;
  bool diverged = false;    // the training loss became NaN or infinite: training stopped there
  std::string stop_reason;  // "epochs", "early stopping", "callback" or the divergence message
  Metrics test;             // of the model fit returns (best or last), when evaluate_test
  double seconds = 0;
};

// The optimizer named by `o.optimizer` over `params`.
std::unique_ptr<optim::Optimizer> make_optimizer(const std::vector<Tensor>& params, const FitOptions& o);

// Trains `model` on `data` (images (N, C, H, W) or int64 contexts, integer labels (N) or (N, T))
// with `o`. The per-epoch log CSV's last column, val_last_nll, is Metrics::last_nll.
FitResult fit(nn::Module& model, const data::Splits& data, const FitOptions& o);

}  // namespace rg::train
