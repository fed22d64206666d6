#include "regrad/train/metrics.h"

#include <cmath>
#include <vector>

#include "regrad/autograd/autograd.h"
#include "regrad/functional/cross_entropy.h"
#include "regrad/ops/reduce.h"
#include "regrad/ops/shape_ops.h"
#include "regrad/ops/softmax.h"

namespace rg::train {

int64_t count_correct(const Tensor& scores, const Tensor& labels) {
  NoGradGuard no_grad;
  const std::vector<double> pred = max(scores, 1).indices.tolist(), y = labels.tolist();
  int64_t correct = 0;
  for (std::size_t i = 0; i < pred.size(); ++i) correct += pred[i] == y[i];
  return correct;
}

double expected_calibration_error(const Tensor& probs, const Tensor& labels, int bins) {
  const int64_t N = probs.size(0);
  std::vector<double> conf(bins, 0), correct(bins, 0), count(bins, 0);
  const MaxResult top = max(probs.detach(), 1);  // confidence = the top probability
  const std::vector<double> c = top.values.tolist(), pred = top.indices.tolist(), y = labels.tolist();
  for (int64_t i = 0; i < N; ++i) {
    const int b = std::min(bins - 1, static_cast<int>(c[i] * bins));
    conf[b] += c[i];
    correct[b] += pred[i] == y[i];
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
    m.accuracy += static_cast<double>(count_correct(logits, batch.y));
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
