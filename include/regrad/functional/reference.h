// The reference kernels of the fused layers: for each, one plain forward and one plain backward
// on raw arrays (llm.c's train_gpt2.c style). Straight loops in double, no threads, no blocking:
// what a student reads beside docs/derivations.md, and what the tests hold the fast kernels
// (src/functional/*.cpp) to. Sources: src/functional/reference/, one file per layer.
//
// Conventions: arrays are row-major double; a forward writes its output and the cache that its
// backward reads (mean, rstd, lse, mask); a backward overwrites its gradients. weight = null
// means γ = 1, bias = null means β = 0 (PyTorch's affine=False); a null dweight or dbias is not
// computed. Names and defaults are torch.nn.functional's.
#pragma once
#include <cstdint>

namespace rg::reference {

// BatchNorm over x viewed as (N, C, S), S = 1, L or H·W: statistics per channel over N·S elements.
// training: normalise with the batch's mean and biased variance, and update running_mean and
//   running_var in place when given (momentum = weight of the new value; running_var unbiased);
// eval: normalise with running_mean and running_var (required), which are not changed.
// Cache: mean and rstd per channel (C each).
void batch_norm_forward(double* out, double* mean, double* rstd, double* running_mean, double* running_var,
                        const double* inp, const double* weight, const double* bias, int64_t N, int64_t C, int64_t S,
                        bool training, double momentum, double eps);
void batch_norm_backward(double* dinp, double* dweight, double* dbias, const double* dout, const double* inp,
                         const double* weight, const double* mean, const double* rstd, bool training, int64_t N,
                         int64_t C, int64_t S);

// LayerNorm over rows of D elements (D = numel(normalized_shape)); weight and bias have D.
// Cache: mean and rstd per row.
void layer_norm_forward(double* out, double* mean, double* rstd, const double* inp, const double* weight,
                        const double* bias, int64_t rows, int64_t D, double eps);
void layer_norm_backward(double* dinp, double* dweight, double* dbias, const double* dout, const double* inp,
                         const double* weight, const double* mean, const double* rstd, int64_t rows, int64_t D);

// RMSNorm over rows of D elements: no centring, no bias. Cache: rstd per row.
void rms_norm_forward(double* out, double* rstd, const double* inp, const double* weight, int64_t rows, int64_t D,
                      double eps);
void rms_norm_backward(double* dinp, double* dweight, const double* dout, const double* inp, const double* weight,
                       const double* rstd, int64_t rows, int64_t D);

// GroupNorm over x viewed as (N, C, S) with G groups of C/G channels; weight and bias per
// channel. Cache: mean and rstd per (sample, group), N·G each.
void group_norm_forward(double* out, double* mean, double* rstd, const double* inp, const double* weight,
                        const double* bias, int64_t N, int64_t C, int64_t S, int64_t G, double eps);
void group_norm_backward(double* dinp, double* dweight, double* dbias, const double* dout, const double* inp,
                         const double* weight, const double* mean, const double* rstd, int64_t N, int64_t C, int64_t S,
                         int64_t G);

// Dropout: p is the drop probability. dropout_mask draws the fast kernel's mask for n elements
// (1 = kept) from the generator's seed and its offset `first` when the draw is made;
// forward and backward multiply by mask/(1 − p) (0 when p = 1).
void dropout_mask(uint8_t* mask, int64_t n, double p, uint64_t seed, uint64_t first);
void dropout_forward(double* out, const double* inp, const uint8_t* mask, int64_t n, double p);
void dropout_backward(double* dinp, const double* dout, const uint8_t* mask, int64_t n, double p);

// Cross-entropy of logits (N, K) with label smoothing ε, per row (reduction 'none'):
//   loss_i = Σ_k w_k·q_ik·(lse_i − z_ik),  q_i = (1 − ε)·t_i + ε/K,  lse_i = logsumexp(z_i),
// t_i one-hot of target[i] (hard: target non-null, probs null) or the row probs[i] (soft: target
// null). weight: per-class w (null: all 1). Hard rows with target[i] == ignore_index have loss 0
// and gradient 0. Returns the divisor of reduction 'mean' (PyTorch's): hard, Σ w_target over the
// rows not ignored; soft, N. Cache: lse per row. dloss: the upstream gradient of each loss_i;
// dprobs (soft targets; null: not wanted) receives the gradient of the target probabilities.
double cross_entropy_forward(double* loss, double* lse, const double* logits, const int64_t* target,
                             const double* probs, const double* weight, int64_t N, int64_t K, double label_smoothing,
                             int64_t ignore_index = -100);
void cross_entropy_backward(double* dlogits, double* dprobs, const double* dloss, const double* logits,
                            const double* lse, const int64_t* target, const double* probs, const double* weight,
                            int64_t N, int64_t K, double label_smoothing, int64_t ignore_index = -100);

}  // namespace rg::reference
