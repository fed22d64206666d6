#include <omp.h>

#include <array>
#include <cmath>

#include "../../src/ops/kernels.h"
#include "../test_util.h"

using namespace rg;
using rg::test::check_values;
using rg::test::contains;
using rg::test::invalid_argument_message;

// Naive triple loop, the reference for GEMM.
static std::vector<double> naive_matmul(const Tensor& a, const Tensor& b) {
  const int64_t M = a.shape()[0], K = a.shape()[1], N = b.shape()[1];
  std::vector<double> out(M * N, 0.0);
  for (int64_t i = 0; i < M; ++i)
    for (int64_t j = 0; j < N; ++j)
      for (int64_t k = 0; k < K; ++k) out[i * N + j] += a.at({i, k}) * b.at({k, j});
  return out;
}

TEST_CASE("matmul agrees with the naive product, in float and double") {
  Generator gen(11);
  for (DType dt : {DType::Float32, DType::Float64}) {
    const Tensor a = randn({7, 5}, gen, dt), b = randn({5, 3}, gen, dt);
    check_values(matmul(a, b), naive_matmul(a, b), dt == DType::Float32 ? 1e-5 : 1e-13);
  }
  const Tensor a = randn({2, 4, 3}, gen, DType::Float64), b = randn({2, 3, 5}, gen, DType::Float64);
  const Tensor c = matmul(a, b);
  CHECK(c.shape() == Shape{2, 4, 5});
  check_values(slice(c, 0, 1, 2).reshape({4, 5}),
               naive_matmul(slice(a, 0, 1, 2).reshape({4, 3}), slice(b, 0, 1, 2).reshape({3, 5})), 1e-13);
  CHECK(matmul(randn({3}, gen), randn({3, 2}, gen)).shape() == Shape{2});
  CHECK(matmul(randn({2, 3}, gen), randn({3}, gen)).shape() == Shape{2});
  // Two vectors: their dot product, 0-d, as torch.matmul; its gradients are the other vector.
  Tensor u = tensor({1.0, 2.0, 3.0}, DType::Float64).requires_grad_(), v = tensor({4.0, 5.0, 6.0}, DType::Float64);
  const Tensor dot = matmul(u, v);
  CHECK(dot.dim() == 0);
  CHECK(dot.item() == 32.0);
  dot.backward();
  check_values(u.grad(), {4, 5, 6}, 0);
}

TEST_CASE("GEMMs cut across threads by rows or by columns agree with the naive product") {
  // At 2 threads a GEMM above 2^20 multiply-adds is cut into blocks of C's rows (C taller than
  // wide) or columns (wider than tall); linear's backward adds the transposed operands.
  const int threads = omp_get_max_threads();
  for (int t : {1, 2}) {
    omp_set_num_threads(t);
    Generator gen(12);
    for (auto [M, K, N] : {std::array<int64_t, 3>{300, 200, 100}, {40, 200, 300}}) {
      const Tensor a = randn({M, K}, gen, DType::Float64), b = randn({K, N}, gen, DType::Float64);
      check_values(matmul(a, b), naive_matmul(a, b), 1e-12);
    }
    for (auto [rows, out] : {std::array<int64_t, 2>{300, 100}, {40, 300}}) {
      const Tensor x = randn({rows, 200}, gen, DType::Float64).requires_grad_();
      const Tensor w = randn({out, 200}, gen, DType::Float64).requires_grad_();
      const Tensor g = randn({rows, out}, gen, DType::Float64);
      const Tensor y = linear(x, w, Tensor());
      y.backward(g);
      check_values(y, naive_matmul(x.detach(), transpose(w.detach(), 0, 1)), 1e-12);  // x·wᵀ
      check_values(x.grad(), naive_matmul(g, w.detach()), 1e-12);                     // dx = g·w
      check_values(w.grad(), naive_matmul(transpose(g, 0, 1), x.detach()), 1e-12);    // dw = gᵀ·x
    }
  }
  omp_set_num_threads(threads);
}

TEST_CASE("the GEMM wrapper with beta = 0 ignores what C held, NaN included, and leaves C's padding alone") {
  // detail::gemm clears C itself and calls OpenBLAS with beta = 1; C here is a block of a wider
  // buffer (row stride ldc > N) that starts out NaN, the padding between its rows must stay NaN.
  const int threads = omp_get_max_threads();
  for (int t : {1, 2}) {
    omp_set_num_threads(t);
    Generator gen(13);
    for (auto [M, K, N] : {std::array<int64_t, 3>{300, 200, 100}, {40, 200, 300}, {5, 3, 4}}) {
      const Tensor a = randn({M, K}, gen, DType::Float64), b = randn({K, N}, gen, DType::Float64);
      const int64_t ldc = N + 3;
      std::vector<double> c(static_cast<std::size_t>(M * ldc), std::nan(""));
      detail::gemm(false, false, M, N, K, a.data<double>(), K, b.data<double>(), N, 0.0, c.data(), ldc);
      const std::vector<double> want = naive_matmul(a, b);
      int64_t wrong = 0, padding_touched = 0;
      for (int64_t i = 0; i < M; ++i) {
        for (int64_t j = 0; j < N; ++j) wrong += !(std::fabs(c[i * ldc + j] - want[i * N + j]) <= 1e-12);
        for (int64_t j = N; j < ldc; ++j) padding_touched += !std::isnan(c[i * ldc + j]);
      }
      CHECK_MESSAGE(wrong == 0, M, "x", K, "x", N, " at ", t, " thread(s)");
      CHECK(padding_touched == 0);
      // beta = 1 adds the product to what C holds.
      std::vector<double> ones(static_cast<std::size_t>(M * N), 1.0);
      detail::gemm(false, false, M, N, K, a.data<double>(), K, b.data<double>(), N, 1.0, ones.data(), N);
      for (int64_t i = 0; i < M * N; ++i) wrong += !(std::fabs(ones[i] - 1.0 - want[i]) <= 1e-12);
      CHECK(wrong == 0);
    }
  }
  omp_set_num_threads(threads);
}

TEST_CASE("matmul shape mismatch names both shapes") {
  const std::string msg = invalid_argument_message([] { matmul(zeros({2, 3}), zeros({4, 5})); });
  CHECK(contains(msg, "[2, 3] and [4, 5]"));
  CHECK(contains(msg, "3 != 4"));
  CHECK(contains(invalid_argument_message([] { matmul(zeros({3}), zeros({4})); }), "[3] and [4] differ in length"));
  CHECK(contains(invalid_argument_message([] { matmul(zeros({}), zeros({3})); }), "at least 1 dim"));
}

TEST_CASE("softmax is stable for logits of ±1000 and sums to 1") {
  const Tensor x = tensor({1000, 999, -1000, 1000}, {2, 2});
  const Tensor s = softmax(x, 1);
  const double e = 1 / (1 + std::exp(-1.0));
  check_values(s, {e, 1 - e, 0, 1}, 1e-6);
  const Tensor ls = log_softmax(x, 1);
  check_values(slice(ls, 0, 0, 1), {std::log(e), std::log(1 - e)}, 1e-6);
  check_values(slice(ls, 0, 1, 2), {-2000, 0}, 1.3e-4);  // float's spacing at 2000 is 1.2e-4
  for (double v : ls.tolist()) CHECK(std::isfinite(v));
  Generator gen(2);
  const Tensor r = softmax(randn({4, 6, 5}, gen, DType::Float64) * 50.0, 1);
  check_values(sum(r, {1}), std::vector<double>(20, 1.0), 1e-12);
}

TEST_CASE("cross_entropy matches closed forms") {
  // Uniform logits over K classes: loss = log K whatever the target.
  check_values(cross_entropy(zeros({3, 10}, DType::Float64), tensor_i64({0, 4, 9})), {std::log(10.0)}, 1e-14);
  // Two classes, logits (2, 0), target 0: loss = log(1 + e^{-2}).
  const Tensor logits = tensor({2, 0}, {1, 2}, DType::Float64);
  check_values(cross_entropy(logits, tensor_i64({0})), {std::log1p(std::exp(-2.0))}, 1e-14);
  check_values(cross_entropy(tensor({2, 0, 0, 2}, {2, 2}, DType::Float64), tensor_i64({0, 0}), Reduction::None),
               {std::log1p(std::exp(-2.0)), 2 + std::log1p(std::exp(-2.0))}, 1e-14);
  // The gradient of the mean loss is (softmax − onehot)/N.
  Tensor z = tensor({1, 2, 3, 0, 0, 0}, {2, 3}, DType::Float64);
  z.requires_grad_();
  cross_entropy(z, tensor_i64({2, 1})).backward();
  const Tensor expected = (softmax(z.detach(), 1) - tensor({0, 0, 1, 0, 1, 0}, {2, 3}, DType::Float64)) / 2.0;
  CHECK(cmp("dlogits", z.grad(), expected, 0, 1e-15).approximate);
}

TEST_CASE("cross_entropy: class weights, ignore_index and the weighted mean, in closed form") {
  const DType f64 = DType::Float64;
  // Row 0: logits (2, 0, 0), class 0: l0 = −log(e²/(e² + 2)); row 1: uniform, l1 = log 3.
  const Tensor z = tensor({2, 0, 0, 0, 0, 0}, {2, 3}, f64);
  const double l0 = std::log(std::exp(2.0) + 2) - 2, l1 = std::log(3.0);
  const Tensor w = tensor({1, 2, 3}, f64);
  // PyTorch's weighted mean: Σ w_t·l / Σ w_t.
  check_values(cross_entropy(z, tensor_i64({0, 2}), {.weight = w}), {(1 * l0 + 3 * l1) / 4}, 1e-14);
  check_values(cross_entropy(z, tensor_i64({0, 2}), {.weight = w, .reduction = Reduction::None}), {l0, 3 * l1}, 1e-14);
  // An ignored position adds nothing and leaves the mean's denominator.
  check_values(cross_entropy(z, tensor_i64({0, -100})), {l0}, 1e-14);
  check_values(cross_entropy(z, tensor_i64({0, 1}), {.ignore_index = 1, .reduction = Reduction::None}), {l0, 0}, 1e-14);
  CHECK(std::isnan(cross_entropy(z, tensor_i64({-100, -100})).item()));  // 0/0, as PyTorch
  // Label smoothing ε with weights: loss = −Σ_k w_k·q_k·log p_k, the mean divided by Σ w_t.
  const double eps = 0.3, lp1 = -l1;  // row 1: every log p = −log 3
  check_values(cross_entropy(z, tensor_i64({-100, 2}), {.weight = w, .label_smoothing = eps}),
               {-(3 * (1 - eps) * lp1 + eps / 3 * (1 + 2 + 3) * lp1) / 3}, 1e-14);
  Tensor zz = z.clone().requires_grad_();
  cross_entropy(zz, tensor_i64({0, -100}), {.weight = w}).backward();
  // Row 0 alone, weighted mean over w_0: the gradient is softmax − onehot; row 1 gets none.
  const Tensor p0 = softmax(z.detach(), 1);
  check_values(zz.grad(), {p0.at({0, 0}) - 1, p0.at({0, 1}), p0.at({0, 2}), 0, 0, 0}, 1e-15);
}

TEST_CASE("cross_entropy differentiates probability targets: dL/dt = −(1 − ε)·log softmax(z)") {
  const int64_t K = 4;
  for (double eps : {0.0, 0.2}) {
    Tensor t = tensor({0.1, 0.2, 0.3, 0.4}, {1, K}, DType::Float64).requires_grad_();
    cross_entropy(zeros({1, K}, DType::Float64), t, Reduction::Sum, eps).backward();
    REQUIRE(t.grad().defined());
    check_values(t.grad(), std::vector<double>(K, (1 - eps) * std::log(4.0)), 1e-15);
  }
}

TEST_CASE("cross_entropy over (N, K, d1, d2) is the (N·d1·d2, K) loss with the classes moved last") {
  Generator gen(4);
  const Tensor x = randn({2, 5, 3, 4}, gen, DType::Float64), t = randint(0, 5, {2, 3, 4}, gen);
  const Tensor rows = permute(x, {0, 2, 3, 1}).reshape({-1, 5});
  for (Reduction red : {Reduction::None, Reduction::Mean, Reduction::Sum}) {
    const Tensor a = cross_entropy(x, t, {.ignore_index = 3, .reduction = red, .label_smoothing = 0.1});
    const Tensor b =
        cross_entropy(rows, t.reshape({-1}), {.ignore_index = 3, .reduction = red, .label_smoothing = 0.1});
    CHECK(a.shape() == (red == Reduction::None ? Shape{2, 3, 4} : Shape{}));
    CHECK(cmp("loss", a.reshape({-1}), b.reshape({-1}), 0, 1e-14).approximate);
  }
}

TEST_CASE("cross_entropy rejects bad targets clearly") {
  CHECK(contains(invalid_argument_message([] {
                   cross_entropy(zeros({2, 3}), tensor_i64({0, 3}));
                 }),
                 "target 3 at position 1 is out of range for 3 classes"));
  CHECK(contains(invalid_argument_message([] {
                   cross_entropy(zeros({2, 3}), tensor_i64({0}));
                 }),
                 "logits [2, 3] and target [1]"));
  CHECK(contains(invalid_argument_message([] {
                   cross_entropy(zeros({2, 3}), zeros({2}));
                 }),
                 "probabilities must have the logits' shape"));
  CHECK(contains(invalid_argument_message([] {
                   cross_entropy(zeros({2, 3, 4}), tensor_i64({0, 1}));
                 }),
                 "class indices must have the logits' shape without the class dim, [2, 4]"));
  CHECK(contains(invalid_argument_message([] {
                   cross_entropy(zeros({2, 3}), zeros({2, 3}), {.ignore_index = 0});
                 }),
                 "ignore_index (0) is not supported for probability targets"));
  CHECK(contains(invalid_argument_message([] {
                   cross_entropy(zeros({2, 3}), tensor_i64({0, 1}), {.weight = ones({2})});
                 }),
                 "weight is float32 [2], expected float32 [3]"));
  CHECK(contains(invalid_argument_message([] {
                   cross_entropy(zeros({2, 3}), tensor_i64({0, 1}), {.weight = ones({3}).requires_grad_()});
                 }),
                 "weight must not require grad"));
  CHECK(contains(invalid_argument_message([] { nll_loss(zeros({2, 3}), zeros({2})); }), "int64"));
  CHECK(contains(invalid_argument_message([] { parse_reduction("avg"); }), "'avg'"));
}

TEST_CASE("cross_entropy with a -inf logit: inf at the target, finite elsewhere, as PyTorch 1.13") {
  const double inf = INFINITY;
  // torch: F.cross_entropy([[-inf, 0]], [0]) = inf; [[-inf, 0]], [1] gives 0; with
  // label_smoothing 0.1 and target 1 the smoothing term reaches the -inf logit: inf.
  const Tensor z = tensor({-inf, 0.0}, {1, 2}, DType::Float64);
  CHECK(cross_entropy(z, tensor_i64({0}, {1})).item() == inf);
  CHECK(cross_entropy(z, tensor_i64({1}, {1})).item() == 0.0);
  CHECK(cross_entropy(z, tensor_i64({1}, {1}), Reduction::Mean, 0.1).item() == inf);
}

TEST_CASE("nll_loss skips targets equal to ignore_index (default -100) and averages over the rest") {
  // torch: nll_loss(log_softmax(z, 1), [2, -100, 0]) = 0.8720017221392431, gradient -1/2 at (0, 2)
  // and (2, 0), zero in the ignored row.
  const Tensor z = tensor({0.1, 0.2, 0.3, 1.0, -1.0, 0.5, 0.3, 0.3, -2.0}, DType::Float64).reshape({3, 3});
  const Tensor lp = log_softmax(z, 1).detach().requires_grad_();
  const Tensor loss = nll_loss(lp, tensor_i64({2, -100, 0}));
  CHECK(std::abs(loss.item() - 0.8720017221392431) < 1e-15);
  loss.backward();
  check_values(lp.grad(), {0, 0, -0.5, 0, 0, 0, -0.5, 0, 0}, 0);
  CHECK(std::isnan(nll_loss(lp, tensor_i64({-100, -100, -100})).item()));  // every target ignored: 0/0
  CHECK_THROWS_AS(nll_loss(lp, tensor_i64({2, -1, 0})), std::invalid_argument);
}

TEST_CASE("linear with no input features gives the bias; a GEMM with K = 0 gives zeros") {
  // torch: F.linear(torch.empty(5, 0), torch.empty(3, 0), torch.ones(3)) is a 5×3 tensor of ones.
  const Tensor y = linear(Tensor::empty({5, 0}), Tensor::empty({3, 0}), ones({3}));
  CHECK(y.shape() == Shape{5, 3});
  for (int64_t i = 0; i < 15; ++i) CHECK(y.reshape({15}).at({i}) == 1.0);
  const Tensor m = matmul(Tensor::empty({2, 0}), Tensor::empty({0, 4}));
  CHECK(m.shape() == Shape{2, 4});
  for (int64_t i = 0; i < 8; ++i) CHECK(m.reshape({8}).at({i}) == 0.0);
}
