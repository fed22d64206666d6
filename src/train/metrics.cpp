#include "regrad/train/metrics.h"

#include <cmath>
#include <stdexcept>
#include <vector>

#include "regrad/autograd/autograd.h"
#include "regrad/functional/cross_entropy.h"
#include "regrad/ops/reduce.h"
#include "regrad/ops/shape_ops.h"
#include "regrad/ops/softmax.h"

namespace rg::train {

static constexpr double kIgnored = -100;  // cross_entropy's default ignore_index

int64_t count_correct(const Tensor& scores, const Tensor& labels) {
  NoGradGuard no_grad;
  const std::vector<double> pred = max(scores, 1).indices.tolist(), y = labels.tolist();
  int64_t correct = 0;
  if (pred.size() != y.size())
    throw std::invalid_argument("count_correct: scores " + to_string(scores.shape()) + " do not fit labels " +
                                to_string(labels.shape()));
  for (std::size_t i = 0; i < pred.size(); ++i) correct += pred[i] == y[i];  // −100 never equals a class
  return correct;
}

int64_t count_targets(const Tensor& target) {
  if (is_floating(target.dtype())) return target.size(0);
  int64_t n = 0;
  for (double v : target.tolist()) n += v != kIgnored;
  return n;
}

double expected_calibration_error(const Tensor& probs, const Tensor& labels, int bins) {
  std::vector<double> conf(bins, 0), correct(bins, 0), count(bins, 0);
  const MaxResult top = max(probs.detach(), 1);  // confidence = the top probability
  const std::vector<double> c = top.values.tolist(), pred = top.indices.tolist(), y = labels.tolist();
  int64_t N = 0;
  for (std::size_t i = 0; i < c.size(); ++i) {
    if (y[i] == kIgnored) continue;
    ++N;
    const int b = std::min(bins - 1, static_cast<int>(c[i] * bins));
    conf[b] += c[i];
    correct[b] += pred[i] == y[i];
    count[b] += 1;
  }
  double ece = 0;
  if (N == 0) return 0;
  for (int b = 0; b < bins; ++b)
    if (count[b] > 0) ece += std::abs(correct[b] - conf[b]) / static_cast<double>(N);  // (n_b/N)·|acc − conf|
  return ece;
}

Metrics evaluate(nn::Module& model, const data::DataLoader& loader) {
  const bool was_training = model.is_training();
  model.eval();
  NoGradGuard no_grad;
  Metrics m;
  int64_t last_count = 0;
  std::vector<Tensor> all_probs, all_labels;
  for (int64_t b = 0; b < loader.size(); ++b) {
    const data::Batch batch = loader.batch(b);
    const Tensor logits = model(batch.x);
    m.nll += cross_entropy(logits, batch.y, Reduction::Sum).item();  // ignored targets add 0
    m.accuracy += static_cast<double>(count_correct(logits, batch.y));
    m.count += count_targets(batch.y);
    Tensor probs = softmax(logits, 1), labels = batch.y;
    if (logits.dim() == 3) {  // (N, K, T): the last position alone, then one row per position for the ECE
      const int64_t T = logits.size(2);
      const Tensor last_y = squeeze(slice(batch.y, 1, T - 1, T), 1);
      m.last_nll += cross_entropy(squeeze(slice(logits, 2, T - 1, T), 2), last_y, Reduction::Sum).item();
      last_count += count_targets(last_y);
      probs = reshape(transpose(probs, 1, 2), {-1, logits.size(1)});
      labels = reshape(labels, {-1});
    }
    all_probs.push_back(probs);
    all_labels.push_back(labels);
  }
  model.train(was_training);
  if (m.count == 0) return m;
  m.nll /= static_cast<double>(m.count);
  m.accuracy /= static_cast<double>(m.count);
  m.last_nll = last_count > 0 ? m.last_nll / static_cast<double>(last_count) : m.nll;
  m.ece = expected_calibration_error(cat(all_probs, 0), cat(all_labels, 0));
  return m;
}

}  // namespace rg::train
