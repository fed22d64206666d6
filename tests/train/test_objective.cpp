// The character Transformer's two objectives: every position predicts its next character ("all",
// targets (N, T) with the leading padding ignored) or the last position only ("last", targets (N)).
// The loss, fit's loss and evaluate's metrics are checked against per-position sums in double.
#include <cmath>
#include <optional>

#include "../test_util.h"

using namespace rg;

namespace {

// −log softmax(z)[y] and, for label smoothing, the mean over classes of −log softmax(z), in double.
struct RowLoss {
  double nll, uniform;
};
RowLoss row_loss(const std::vector<double>& z, int64_t y) {
  double m = -INFINITY, s = 0, sum_z = 0;
  for (double v : z) m = std::max(m, v);
  for (double v : z) s += std::exp(v - m), sum_z += v;
  const double lse = m + std::log(s), K = static_cast<double>(z.size());
  return {lse - z[static_cast<std::size_t>(y)], lse - sum_z / K};
}

// Logits (N, K, T) as nested vectors [i][t][k].
std::vector<std::vector<std::vector<double>>> per_position(const Tensor& logits) {
  const int64_t N = logits.size(0), K = logits.size(1), T = logits.size(2);
  const std::vector<double> v = logits.tolist();
  std::vector<std::vector<std::vector<double>>> out(N, std::vector<std::vector<double>>(T, std::vector<double>(K)));
  for (int64_t i = 0; i < N; ++i)
    for (int64_t k = 0; k < K; ++k)
      for (int64_t t = 0; t < T; ++t) out[i][t][k] = v[(i * K + k) * T + t];
  return out;
}

std::shared_ptr<nn::Module> tiny(const std::string& objective, const Tensor& x, uint64_t seed = 7) {
  train::ModelOptions m;
  m.model = "transformer-char";
  m.embed = 8;
  m.heads = 2;
  m.layers = 1;
  m.seed = seed;
  m.objective = objective;
  return train::make_model(m, x, data::kVocab);
}

}  // namespace

TEST_CASE("position_targets: every position's next character, leading padding ignored") {
  const data::CharDataset d = data::char_contexts({"ab", "c"}, 3);
  // Contexts ... → a, ..a → b, .ab → ., ... → c, ..c → . ; position t predicts context[t+1], the last y.
  const Tensor t = data::position_targets(d.X, d.Y);
  CHECK(t.shape() == Shape{5, 3});
  rg::test::check_values(t,
                         {-100, -100, 1,  //
                          -100, 1, 2,     //
                          1, 2, 0,        //
                          -100, -100, 3,  //
                          -100, 3, 0},
                         0);
  CHECK_THROWS_WITH_AS(data::position_targets(d.X, slice(d.Y, 0, 0, 4)), doctest::Contains("[5, 3] and int64 [4]"),
                       std::invalid_argument);

  // load_splits builds them for the words by default; "last" keeps the next character alone, which
  // is the per-position targets' last column.
  data::SplitOptions o;
  o.dataset = "words";
  o.val_size = 100;
  o.train_subset = 300;
  const data::Splits all = data::load_splits(o);
  o.objective = "last";
  const data::Splits last = data::load_splits(o);
  CHECK(all.y_train.shape() == Shape{300, 8});
  CHECK(last.y_train.shape() == Shape{300});
  CHECK(all.y_val.shape() == Shape{100, 8});
  CHECK(all.y_test.size(0) == last.y_test.size(0));
  CHECK(squeeze(slice(all.y_train, 1, 7, 8), 1).tolist() == last.y_train.tolist());
  o.objective = "first";
  CHECK_THROWS_WITH_AS(data::load_splits(o), doctest::Contains("unknown objective 'first'"), std::invalid_argument);
}

TEST_CASE("transformer-char, objective all: the loss is the mean of the per-position cross-entropies") {
  const data::CharDataset d = data::char_contexts({"emma", "ava", "zoe"}, 4);
  const Tensor y = data::position_targets(d.X, d.Y);
  const int64_t N = d.X.size(0), T = 4;
  auto all = tiny("all", d.X);
  auto last = tiny("last", d.X);
  std::optional<NoGradGuard> no_grad(std::in_place);
  const Tensor logits = (*all)(d.X);
  REQUIRE(logits.shape() == Shape{N, data::kVocab, T});
  // The same weights: "last" is the last position of "all".
  const Tensor z_last = (*last)(d.X);
  rg::test::check_values(squeeze(slice(logits, 2, T - 1, T), 2), z_last.tolist(), 1e-6);
  // Causal: position t's logits do not change when a later character does.
  Tensor x2 = d.X.clone();
  x2.set({0, 3}, 5);  // row 0, the last character
  rg::test::check_values(slice((*all)(x2), 2, 0, T - 1), slice(logits, 2, 0, T - 1).tolist(), 1e-6);

  // By hand, one position at a time, in double: mean over the non-ignored positions.
  const auto z = per_position(logits);
  const std::vector<double> yv = y.tolist();
  double sum = 0, smooth_sum = 0, count = 0;
  const double eps = 0.1;
  for (int64_t i = 0; i < N; ++i)
    for (int64_t t = 0; t < T; ++t) {
      const auto target = static_cast<int64_t>(yv[i * T + t]);
      if (target == -100) continue;
      const RowLoss r = row_loss(z[i][t], target);
      sum += r.nll;
      smooth_sum += (1 - eps) * r.nll + eps * r.uniform;  // q = (1 − ε)·onehot + ε/K
      count += 1;
    }
  CHECK(count < static_cast<double>(N * T));  // some padding was ignored
  CHECK(cross_entropy(logits, y).item() == doctest::Approx(sum / count).epsilon(1e-6));
  CHECK(cross_entropy(logits, y, Reduction::Mean, eps).item() == doctest::Approx(smooth_sum / count).epsilon(1e-6));
  // The same through each position's (N, K) slice separately.
  double sliced = 0;
  for (int64_t t = 0; t < T; ++t)
    sliced +=
        cross_entropy(squeeze(slice(logits, 2, t, t + 1), 2), squeeze(slice(y, 1, t, t + 1), 1), Reduction::Sum).item();
  CHECK(sliced / count == doctest::Approx(sum / count).epsilon(1e-6));

  no_grad.reset();
  // fit's first step sees that loss (one batch of all contexts, label smoothing on), and its
  // running train loss is a mean over targets, not contexts.
  data::Splits s;
  s.x_train = s.x_val = s.x_test = d.X;
  s.y_train = s.y_val = s.y_test = y;
  s.classes = data::kVocab;
  s.images = false;
  train::FitOptions o;
  o.epochs = 1;
  o.batch_size = N;
  o.progress = nullptr;
  o.label_smoothing = eps;
  double first = NAN;
  o.after_backward = [&](int64_t step, double l, nn::Module&) {
    if (step == 0) first = l;
  };
  auto model = tiny("all", d.X);
  const train::FitResult r = train::fit(*model, s, o);
  CHECK(first == doctest::Approx(smooth_sum / count).epsilon(1e-5));
  CHECK(r.history[0].train_loss == doctest::Approx(first));
  // A model of the other objective is refused with both names.
  auto wrong = tiny("last", d.X);
  CHECK_THROWS_WITH_AS(train::fit(*wrong, s, o), doctest::Contains("logits [13, 27] do not fit the targets [13, 4]"),
                       std::invalid_argument);
  CHECK_THROWS_WITH_AS(tiny("next", d.X), doctest::Contains("unknown objective 'next'"), std::invalid_argument);
}

TEST_CASE("evaluate on per-position targets: NLL, accuracy and ECE over the positions not ignored") {
  const data::CharDataset d = data::char_contexts({"kate", "bo", "lily", "max"}, 5);
  const Tensor y = data::position_targets(d.X, d.Y);
  const int64_t N = d.X.size(0), T = 5;
  auto model = tiny("all", d.X, 3);
  const train::Metrics m = train::evaluate(*model, data::DataLoader(d.X, y, 4, false));
  Tensor logits;
  {
    NoGradGuard no_grad;
    model->eval();
    logits = (*model)(d.X);
  }
  const auto z = per_position(logits);
  const std::vector<double> yv = y.tolist();
  double nll = 0, last_nll = 0, correct = 0, count = 0;
  std::vector<double> probs, labels;
  for (int64_t i = 0; i < N; ++i)
    for (int64_t t = 0; t < T; ++t) {
      const auto target = static_cast<int64_t>(yv[i * T + t]);
      if (target == -100) continue;
      const double l = row_loss(z[i][t], target).nll;
      nll += l;
      if (t == T - 1) last_nll += l;
      int64_t arg = 0;
      for (int64_t k = 1; k < data::kVocab; ++k)
        if (z[i][t][k] > z[i][t][arg]) arg = k;
      correct += arg == target;
      count += 1;
      for (int64_t k = 0; k < data::kVocab; ++k) probs.push_back(std::exp(-row_loss(z[i][t], k).nll));
      labels.push_back(static_cast<double>(target));
    }
  CHECK(m.count == static_cast<int64_t>(count));
  CHECK(count < static_cast<double>(N * T));
  CHECK(m.nll == doctest::Approx(nll / count).epsilon(1e-6));
  CHECK(m.last_nll == doctest::Approx(last_nll / static_cast<double>(N)).epsilon(1e-6));
  CHECK(m.accuracy == doctest::Approx(correct / count));
  std::vector<int64_t> li(labels.begin(), labels.end());
  const double ece = train::expected_calibration_error(
      tensor(probs, {static_cast<int64_t>(labels.size()), data::kVocab}), tensor_i64(li));
  CHECK(m.ece == doctest::Approx(ece).epsilon(1e-5));
  // count_correct and the ECE skip −100 themselves: an ignored row changes nothing.
  const Tensor p = tensor({0.75, 0.25, 0.75, 0.25, 0.9, 0.1}, {3, 2});
  CHECK(train::expected_calibration_error(p, tensor_i64({0, 1, -100})) == doctest::Approx(0.25));
  CHECK(train::count_correct(p, tensor_i64({0, -100, 0})) == 2);
  CHECK(train::count_targets(tensor_i64({0, -100, 3, -100})) == 2);
}
