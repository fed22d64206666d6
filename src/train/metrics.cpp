#include "regrad/train/metrics.h"

#include <cmath>
#include <vector>

#include "regrad/autograd/autograd.h"
#include "regrad/functional/cross_entropy.h"
#include "regrad/ops/shape_ops.h"
#include "regrad/ops/softmax.h"

namespace rg::train {

double expected_calibration_error(const Tensor& probs, const Tensor& labels, int bins) {
  const int64_t N = probs.size(0), K = probs.size(1);
  std::vector<double> conf(bins, 0), correct(bins, 0), count(bins, 0);
  const std::vector<double> p = probs.tolist(), y = labels.tolist();
  for (int64_t i = 0; i < N; ++i) {
    int64_t best = 0;
    for (int64_t k = 1; k < K; ++k)
      if (p[i * K + k] > p[i * K + best]) best = k;
    const double c = p[i * K + best];
    const int b = std::min(bins - 1, static_cast<int>(c * bins));
    conf[b] += c;
    correct[b] += best == static_cast<int64_t>(y[i]);
    count[b] += 1;
  }
  double ece = 0;
  for (int b = 0; b < bins; ++b)
    if (count[b] > 0) ece += std::abs(correct[b] - conf[b]) / static_cast<double>(N);  // (n_b/N)·|acc − conf|
  return ece;
}

Metrics evaluate(nn::Module& model, const data::DataLoader& loader) {
  const bool was_training = model.is_training();
  model.eval();
  NoGradGuard no_grad;
  Metrics m;
  std::vector<Tensor> all_probs, all_labels;
  for (int64_t b = 0; b < loader.size(); ++b) {
    const data::Batch batch = loader.batch(b);
    const Tensor logits = model(batch.x);
    const int64_t n = batch.x.size(0);
    m.nll += cross_entropy(logits, batch.y, Reduction::Sum).item();
    const Tensor probs = softmax(logits, 1);
    const std::vector<double> p = probs.tolist(), y = batch.y.tolist();
    const int64_t K = logits.size(1);
    for (int64_t i = 0; i < n; ++i) {
      int64_t best = 0;
      for (int64_t k = 1; k < K; ++k)
        if (p[i * K + k] > p[i * K + best]) best = k;
      m.accuracy += best == static_cast<int64_t>(y[i]);
    }
    m.count += n;
    all_probs.push_back(probs);
    all_labels.push_back(batch.y);
  }
  model.train(was_training);
  if (m.count == 0) return m;
  m.nll /= static_cast<double>(m.count);
  m.accuracy /= static_cast<double>(m.count);
  m.ece = expected_calibration_error(cat(all_probs, 0), cat(all_labels, 0));
  return m;
}

}  // namespace rg::train
