// The lecture's worked numbers and the layers' invariants, plus bad input.
#include <omp.h>

#include <cmath>

#include "../test_util.h"

using namespace rg;
using rg::test::check_values;
using rg::test::contains;
using rg::test::invalid_argument_message;

TEST_CASE("dropout: the lecture's example h = [2.0, 1.5, 0.5, 3.0], keep-prob 0.5, mask [1, 0, 1, 0]") {
  const Tensor h = tensor({2.0, 1.5, 0.5, 3.0});
  check_values(dropout_with_mask(h, tensor({1, 0, 1, 0}), /*p=*/0.5), {4, 0, 1, 0}, 0);
}

TEST_CASE("dropout: the mean over many masks converges to h (inverted scaling keeps E[y] = x)") {
  const int64_t n = 200000;
  const Tensor h = tensor({2.0, 1.5, 0.5, 3.0}, DType::Float64);
  Generator gen(123);
  const Tensor y = dropout(expand(h, {n, 4}), 0.5, true, gen);
  const Tensor m = mean(y, {0});
  for (int64_t j = 0; j < 4; ++j) {
    const double se = h.at({j}) / std::sqrt(double(n));  // y ∈ {0, 2h}: standard deviation h
    CHECK(std::abs(m.at({j}) - h.at({j})) < 5 * se);
  }
  // The fraction dropped is p.
  double zeros = 0;
  for (double v : y.tolist()) zeros += v == 0.0;
  CHECK(std::abs(zeros / (4.0 * n) - 0.5) < 5 * std::sqrt(0.25 / (4.0 * n)));
}

TEST_CASE("dropout: p = 0 and eval are the identity, p = 1 gives exact zeros, masks ignore thread count") {
  Generator gen(1);
  const Tensor x = randn({1000}, gen);
  CHECK(cmp("p=0", dropout(x, 0.0, true, gen), x).exact);
  CHECK(cmp("eval", dropout(x, 0.7, false, gen), x).exact);
  Tensor xl = x.clone().requires_grad_();
  Tensor y = dropout(xl, 1.0, true, gen);
  CHECK(cmp("p=1", y, zeros({1000})).exact);
  y.backward(ones({1000}));
  CHECK(cmp("dx p=1", xl.grad(), zeros({1000})).exact);
  const int threads = omp_get_max_threads();
  omp_set_num_threads(1);
  Generator g1(5);
  const Tensor one = dropout(ones({300000}), 0.3, true, g1);
  omp_set_num_threads(2);
  Generator g2(5);
  const Tensor two = dropout(ones({300000}), 0.3, true, g2);
  omp_set_num_threads(threads);
  CHECK(cmp("mask", one, two).exact);
  // Kept elements are scaled by exactly 1/(1 − p).
  int64_t other = 0;
  for (double v : one.tolist()) other += v != 0.0 && v != static_cast<double>(static_cast<float>(1.0 / 0.7));
  CHECK(other == 0);
}

TEST_CASE("batch_norm: the lecture's example x = [1, 3, 5, 7], γ = 2, β = 0.5") {
  // μ = 4, σ² = (9 + 1 + 1 + 9)/4 = 5, y = 2·(x − 4)/√(5 + ε) + 0.5 ≈ [−2.1833, −0.3944, 1.3944, 3.1833].
  for (DType dt : {DType::Float64, DType::Float32}) {
    const Tensor x = tensor({1, 3, 5, 7}, {4, 1}, dt);
    Tensor rm = zeros({1}, dt), rv = ones({1}, dt);
    const Tensor y = batch_norm(x, rm, rv, tensor({2.0}, dt), tensor({0.5}, dt), true);
    check_values(y, {-2.1833, -0.3944, 1.3944, 3.1833}, 5e-5);  // the lecture's four decimals
    const double s = std::sqrt(5 + 1e-5);
    check_values(y, {-6 / s + 0.5, -2 / s + 0.5, 2 / s + 0.5, 6 / s + 0.5}, dt == DType::Float64 ? 1e-15 : 1e-6);
    check_values(rm, {0.1 * 4}, dt == DType::Float64 ? 1e-15 : 1e-7);                 // μ = 4
    check_values(rv, {0.9 + 0.1 * 20.0 / 3.0}, dt == DType::Float64 ? 1e-15 : 1e-6);  // unbiased: 20/3
  }
}

TEST_CASE("batch_norm: a 4-sample example by hand") {
  // One channel, x = [1, 2, 3, 6]: mean 3, biased variance (4 + 1 + 0 + 9)/4 = 3.5.
  const Tensor x = tensor({1, 2, 3, 6}, {4, 1}, DType::Float64);
  Tensor rm = zeros({1}, DType::Float64), rv = ones({1}, DType::Float64);
  const Tensor y = batch_norm(x, rm, rv, {}, {}, true);
  const double s = std::sqrt(3.5 + 1e-5);
  check_values(y, {-2 / s, -1 / s, 0, 3 / s}, 1e-15);
  check_values(rm, {0.1 * 3}, 1e-15);                       // 0.9·0 + 0.1·mean
  check_values(rv, {0.9 * 1 + 0.1 * (14.0 / 3.0)}, 1e-15);  // unbiased variance 14/3
  // With weight 2 and bias 0.5 the output is 2·x̂ + 0.5.
  const Tensor ya = batch_norm(x, {}, {}, tensor({2.0}, DType::Float64), tensor({0.5}, DType::Float64), true);
  check_values(ya, {-4 / s + 0.5, -2 / s + 0.5, 0.5, 6 / s + 0.5}, 1e-15);
}

TEST_CASE("batch_norm: running statistics after k steps follow the momentum formula") {
  Generator gen(9);
  const double m = 0.1;
  Tensor rm = zeros({3}, DType::Float64), rv = ones({3}, DType::Float64);
  std::vector<double> em(3, 0.0), ev(3, 1.0);
  for (int step = 0; step < 5; ++step) {
    const Tensor x = randn({8, 3}, gen, DType::Float64) * (step + 1.0) + step;
    batch_norm(x, rm, rv, {}, {}, true, m);
    for (int64_t c = 0; c < 3; ++c) {  // by hand, from the raw values
      double mu = 0, ss = 0;
      for (int64_t i = 0; i < 8; ++i) mu += x.at({i, c}) / 8;
      for (int64_t i = 0; i < 8; ++i) ss += (x.at({i, c}) - mu) * (x.at({i, c}) - mu);
      em[c] = (1 - m) * em[c] + m * mu;
      ev[c] = (1 - m) * ev[c] + m * ss / 7;  // unbiased
    }
  }
  check_values(rm, em, 1e-13);
  check_values(rv, ev, 1e-13);
}

TEST_CASE("batch_norm: in eval mode a batch of 1 gives the same output as that sample in a batch") {
  Generator gen(4);
  const Tensor x = randn({6, 4, 3}, gen), rm = randn({4}, gen), rv = rand({4}, gen) + 0.5;
  const Tensor w = randn({4}, gen), b = randn({4}, gen);
  const Tensor all = batch_norm(x, rm, rv, w, b, false);
  const Tensor one = batch_norm(slice(x, 0, 2, 3), rm, rv, w, b, false);
  CHECK(cmp("sample 2", one, slice(all, 0, 2, 3)).exact);
}

TEST_CASE("cross_entropy: the smoothed label sums to 1 with (1 − ε) + ε/K on the true class") {
  const int64_t K = 10;
  const double eps = 0.1;
  // With zero logits, dloss/dz = softmax − q = 1/K − q, so q can be read off the gradient.
  Tensor z = zeros({1, K}, DType::Float64).requires_grad_();
  cross_entropy(z, tensor_i64({3}), Reduction::Sum, eps).backward();
  const Tensor q = 1.0 / double(K) - z.grad();
  CHECK(std::abs(sum(q).item() - 1.0) < 1e-15);
  CHECK(std::abs(q.at({0, 3}) - (0.9 + 0.01)) < 1e-15);
  CHECK(std::abs(q.at({0, 0}) - 0.01) < 1e-15);
  // The loss of uniform logits is log K for any smoothing: −Σ q·log(1/K) with Σq = 1.
  CHECK(std::abs(cross_entropy(zeros({2, K}, DType::Float64), tensor_i64({1, 2}), Reduction::Mean, 0.3).item() -
                 std::log(double(K))) < 1e-14);
}

TEST_CASE("normalization invariants: zero mean / unit variance rows, RMS of 1") {
  Generator gen(6);
  const Tensor x = randn({5, 64}, gen, DType::Float64) * 4.0 + 3.0;
  const Tensor ln = layer_norm(x, {64}, {}, {}, 0.0);
  check_values(mean(ln, {1}), std::vector<double>(5, 0.0), 1e-14);
  check_values(var(ln, {1}, false), std::vector<double>(5, 1.0), 1e-12);
  const Tensor rms = rms_norm(x, {64}, {}, 0.0);
  check_values(mean(rms * rms, {1}), std::vector<double>(5, 1.0), 1e-12);
  // GroupNorm with one group equals LayerNorm over (C, *); with C groups it is InstanceNorm.
  const Tensor img = randn({2, 4, 3, 3}, gen, DType::Float64);
  CHECK(cmp("gn1=ln", group_norm(img, 1), layer_norm(img, {4, 3, 3}), 0, 1e-14).approximate);
  const Tensor inorm = layer_norm(img.reshape({8, 9}), {9}).reshape({2, 4, 3, 3});
  CHECK(cmp("gnC=instance", group_norm(img, 4), inorm, 0, 1e-14).approximate);
  // BatchNorm1d on (N, C) is LayerNorm of the transpose.
  const Tensor bn = batch_norm(x, {}, {}, {}, {}, true);
  CHECK(cmp("bn=ln(xT)", bn, layer_norm(x.t(), {5}).t(), 0, 1e-13).approximate);
}

TEST_CASE("fused layers reject bad input with clear messages") {
  const Tensor x = zeros({4, 3});
  auto msg = [](auto f) { return invalid_argument_message(f); };
  CHECK(contains(msg([&] { batch_norm(x, {}, {}, ones({4}), {}, true); }), "weight has shape [4], expected [3]"));
  CHECK(contains(msg([&] {
                   batch_norm(zeros({1, 3}), {}, {}, {}, {}, true);
                 }),
                 "expected more than 1 value per channel when training, got input size [1, 3]"));
  CHECK(contains(msg([&] { batch_norm(x, {}, {}, {}, {}, false); }), "eval mode"));
  CHECK(contains(msg([&] { batch_norm(x, {}, {}, {}, {}, true, 0.1, -1e-5); }), "eps must be >= 0"));
  CHECK(contains(msg([&] { batch_norm(zeros({4}), {}, {}, {}, {}, true); }), "expected input of shape (N, C)"));
  CHECK(contains(msg([&] { batch_norm(x, {}, {}, ones({3}, DType::Float64), {}, true); }), "weight is float64"));
  CHECK(contains(msg([&] { group_norm(zeros({2, 6, 4}), 4); }), "num_groups 4 must be positive and divide"));
  CHECK(contains(msg([&] { group_norm(zeros({2, 6, 4}), 3, ones({5})); }), "weight has shape [5], expected [6]"));
  CHECK(contains(msg([&] { layer_norm(x, {4}); }), "normalized_shape [4] does not match"));
  CHECK(contains(msg([&] { layer_norm(x, {3}, {}, {}, -1); }), "eps must be >= 0"));
  CHECK(contains(msg([&] { rms_norm(x, {3}, ones({2})); }), "weight has shape [2], expected [3]"));
  CHECK(contains(msg([&] { dropout(x, 1.5); }), "p (the drop probability) must be in [0, 1], got 1.5"));
  CHECK(contains(msg([&] { dropout(x, -0.1); }), "must be in [0, 1]"));
  CHECK(contains(msg([&] {
                   dropout_with_mask(x, zeros({3, 4}), 0.5);
                 }),
                 "mask shape [3, 4] differs from input shape [4, 3]"));
  CHECK(contains(msg([&] { dropout_with_mask(x, full({4, 3}, 0.5), 0.5); }), "only 0 and 1"));
  CHECK(contains(msg([&] {
                   cross_entropy(x, tensor_i64({0, 1, 3, 0}));
                 }),
                 "target 3 at position 2 is out of range for 3 classes"));
  CHECK(contains(msg([&] { cross_entropy(x, tensor_i64({0, -1, 0, 0})); }), "target -1"));
  CHECK(contains(msg([&] {
                   cross_entropy(x, tensor_i64({0, 1, 2, 0}), Reduction::Mean, 1.5);
                 }),
                 "label_smoothing must be in [0, 1]"));
  CHECK(contains(msg([&] { cross_entropy(x, tensor_i64({0, 1, 2, 0}), Reduction::Mean, -0.1); }), "label_smoothing"));
}
