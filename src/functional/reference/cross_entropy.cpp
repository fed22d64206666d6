// Cross-entropy with label smoothing, the reference kernels.
// Derivation: docs/derivations.md#cross-entropy-with-label-smoothing
// Fast kernels: src/functional/cross_entropy.cpp. PyTorch's definition, class weights included:
// its hard-target loss (1 − ε)·w_t·(lse − z_t) + (ε/K)·Σ_k w_k·(lse − z_k) is Σ_k w_k·q_k·(lse − z_k)
// with q = (1 − ε)·onehot(t) + ε/K, the same formula as for soft targets.
#include <algorithm>
#include <cmath>

#include "regrad/functional/reference.h"

namespace rg::reference {
namespace {

// w_k·q_ik: the weighted, smoothed target of row i, class k.
double weighted_target(const int64_t* target, const double* probs, const double* weight, int64_t i, int64_t k,
                       int64_t K, double eps) {
  const double t = target ? (target[i] == k ? 1.0 : 0.0) : probs[i * K + k];
  return (weight ? weight[k] : 1.0) * ((1.0 - eps) * t + eps / static_cast<double>(K));
}

}  // namespace

double cross_entropy_forward(double* loss, double* lse, const double* logits, const int64_t* target,
                             const double* probs, const double* weight, int64_t N, int64_t K, double label_smoothing,
                             int64_t ignore_index) {
  double divisor = 0;
  for (int64_t i = 0; i < N; ++i) {
    const double* z = logits + i * K;
    double m = z[0], sum_exp = 0;  // lse = m + log Σ exp(z − m), with m the max: no overflow
    for (int64_t k = 1; k < K; ++k) m = std::max(m, z[k]);
    for (int64_t k = 0; k < K; ++k) sum_exp += std::exp(z[k] - m);
    lse[i] = m + std::log(sum_exp);
    loss[i] = 0;
    if (target && target[i] == ignore_index) continue;
    for (int64_t k = 0; k < K; ++k)  // −Σ w·q·log softmax(z)
      loss[i] += weighted_target(target, probs, weight, i, k, K, label_smoothing) * (lse[i] - z[k]);
    divisor += target ? (weight ? weight[target[i]] : 1.0) : 1.0;
  }
  return divisor;
}

// ∂loss_i/∂z_k = softmax(z)_k·Σ_j w_j·q_j − w_k·q_k   (softmax = exp(z − lse); = softmax − q unweighted)
// ∂loss_i/∂p_k = (1 − ε)·w_k·(lse − z_k)              (soft targets: q_k = (1 − ε)·p_k + ε/K)
void cross_entropy_backward(double* dlogits, double* dprobs, const double* dloss, const double* logits,
                            const double* lse, const int64_t* target, const double* probs, const double* weight,
                            int64_t N, int64_t K, double label_smoothing, int64_t ignore_index) {
  for (int64_t i = 0; i < N; ++i) {
    const bool ignored = target && target[i] == ignore_index;
    double sum_wq = 0;
    for (int64_t k = 0; k < K && !ignored; ++k)
      sum_wq += weighted_target(target, probs, weight, i, k, K, label_smoothing);
    for (int64_t k = 0; k < K; ++k) {
      const double z = logits[i * K + k], wq = weighted_target(target, probs, weight, i, k, K, label_smoothing);
      dlogits[i * K + k] = ignored ? 0.0 : dloss[i] * (std::exp(z - lse[i]) * sum_wq - wq);
      if (dprobs) dprobs[i * K + k] = dloss[i] * (1.0 - label_smoothing) * (weight ? weight[k] : 1.0) * (lse[i] - z);
    }
  }
}

}  // namespace rg::reference
