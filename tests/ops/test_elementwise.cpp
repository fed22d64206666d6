#include <array>
#include <cmath>
#include <vector>

#include "../test_util.h"

using namespace rg;
using rg::test::check_values;
using rg::test::contains;
using rg::test::invalid_argument_message;

TEST_CASE("elementwise values match closed forms") {
  const Tensor x = tensor({-2, -0.5, 0, 0.5, 2}, DType::Float64);
  check_values(exp(x), {std::exp(-2), std::exp(-0.5), 1, std::exp(0.5), std::exp(2)}, 1e-15);
  check_values(tanh(x), {std::tanh(-2), std::tanh(-0.5), 0, std::tanh(0.5), std::tanh(2)}, 1e-15);
  check_values(relu(x), {0, 0, 0, 0.5, 2}, 0);
  check_values(sigmoid(x),
               {1 / (1 + std::exp(2)), 1 / (1 + std::exp(0.5)), 0.5, 1 / (1 + std::exp(-0.5)), 1 / (1 + std::exp(-2))},
               1e-15);
  check_values(abs(x), {2, 0.5, 0, 0.5, 2}, 0);
  check_values(-x, {2, 0.5, 0, -0.5, -2}, 0);
  const Tensor p = tensor({0.25, 1, 4}, DType::Float64);
  check_values(sqrt(p), {0.5, 1, 2}, 0);
  check_values(rsqrt(p), {2, 1, 0.5}, 0);
  check_values(log(p), {std::log(0.25), 0, std::log(4)}, 1e-15);
  check_values(pow(p, 2.0), {0.0625, 1, 16}, 0);
  check_values(pow(p, tensor({0.5, 3, -1}, DType::Float64)), {0.5, 1, 0.25}, 1e-15);
  check_values(1.0 / p, {4, 1, 0.25}, 0);
  check_values(1.0 - p, {0.75, 0, -3}, 0);
}

TEST_CASE("relu and pow follow PyTorch 1.13 at NaN and at zero") {
  const double nan = std::nan(""), inf = INFINITY;
  // torch: relu([nan, -1, 2]) = [nan, 0, 2], its gradient [1, 0, 1]; relu(-0.0) = -0.0.
  Tensor x = tensor({nan, -1.0, 2.0}, DType::Float64).requires_grad_();
  Tensor y = relu(x);
  check_values(y, {nan, 0, 2}, 0);
  sum(y).backward();
  check_values(x.grad(), {1, 0, 1}, 0);
  CHECK(std::signbit(relu(tensor({-0.0}, DType::Float64)).item()));
  for (DType dt : {DType::Float32, DType::Float64}) {
    // torch: d/dx x^0 = 0 at x = 0 (not 0·0^(−1)); d/dx x^0.5 = inf at 0.
    Tensor z = tensor({0.0, 2.0}, dt).requires_grad_();
    sum(pow(z, 0.0)).backward();
    check_values(z.grad(), {0, 0}, 0);
    Tensor h = tensor({0.0, 2.0}, dt).requires_grad_();
    sum(pow(h, 0.5)).backward();
    check_values(h.grad(), {inf, 0.35355339}, 1e-6);
    // torch.pow(a, b) with a = [0, 2, 0], b = [2, 0, 0]: a.grad = [0, 0, 0], b.grad = [0, log 2, 0].
    Tensor a = tensor({0.0, 2.0, 0.0}, dt).requires_grad_(), b = tensor({2.0, 0.0, 0.0}, dt).requires_grad_();
    Tensor p = pow(a, b);
    check_values(p, {0, 1, 1}, 0);
    sum(p).backward();
    check_values(a.grad(), {0, 0, 0}, 0);
    check_values(b.grad(), {0, std::log(2.0), 0}, 1e-6);
  }
}

TEST_CASE("float exp overflows to inf and underflows through the denormals, as libm") {
  // Every length, so that both the vector body and the scalar remainder of the loop are checked.
  const std::vector<float> xs{88.72283f, 88.72284f, 100, -87.5f,    -100,     -103.5f, -104,
                              0,         1,         -1,  -INFINITY, INFINITY, NAN};
  for (std::size_t n = 1; n <= xs.size(); ++n) {
    std::vector<double> v(xs.begin(), xs.begin() + static_cast<std::ptrdiff_t>(n));
    const Tensor y = exp(tensor(v, {static_cast<int64_t>(n)}));
    for (std::size_t i = 0; i < n; ++i) {
      const float want = std::exp(xs[i]), got = y.data<float>()[i];
      CAPTURE(xs[i]);
      if (std::isnan(want)) CHECK(std::isnan(got));
      else if (std::isinf(want) || want == 0) CHECK(got == want);
      else CHECK(std::abs(got - want) <= 3 * (std::nextafter(want, INFINITY) - want));  // ≤ 2 ulp, libm ≤ 1
    }
  }
}

TEST_CASE("sigmoid saturates without overflow") {
  const Tensor s = sigmoid(tensor({-1000, 1000}));
  check_values(s, {0, 1}, 0);
}

TEST_CASE("broadcasting follows NumPy's rule") {
  const Tensor col = tensor({1, 2, 3}, {3, 1}), row = tensor({10, 20}, {2});
  const Tensor s = col + row;
  CHECK(s.shape() == Shape{3, 2});
  check_values(s, {11, 21, 12, 22, 13, 23}, 0);
  const Tensor b = tensor({1, 2, 3, 4, 5, 6}, {2, 1, 3}) * tensor({1, 10}, {2, 1});
  CHECK(b.shape() == Shape{2, 2, 3});
  check_values(b, {1, 2, 3, 10, 20, 30, 4, 5, 6, 40, 50, 60}, 0);
  check_values(scalar_tensor(2) * tensor({1, 2}), {2, 4}, 0);
}

TEST_CASE("broadcast gradients sum over the broadcast dimensions") {
  Tensor a = tensor({1, 2, 3}, {3, 1}, DType::Float64), b = tensor({10, 20}, {2}, DType::Float64);
  a.requires_grad_();
  b.requires_grad_();
  (a * b).sum().backward();
  check_values(a.grad(), {30, 30, 30}, 0);  // Σ_j b_j
  check_values(b.grad(), {6, 6}, 0);        // Σ_i a_i
  CHECK(a.grad().shape() == Shape{3, 1});
}

TEST_CASE("shape mismatch throws std::invalid_argument naming both shapes") {
  const std::string msg = invalid_argument_message([] { add(zeros({2, 3}), zeros({4})); });
  CHECK(contains(msg, "add"));
  CHECK(contains(msg, "[2, 3]"));
  CHECK(contains(msg, "[4]"));
  CHECK(contains(invalid_argument_message([] { mul(zeros({3, 2}), zeros({2, 3})); }), "[3, 2] and [2, 3]"));
  CHECK(contains(invalid_argument_message([] { add(zeros({2}), zeros({2}, DType::Float64)); }),
                 "float32 [2] vs float64 [2]"));
  CHECK(contains(invalid_argument_message([] { exp(tensor_i64({1})); }), "exp: expected a floating-point tensor"));
}

TEST_CASE("pow with the common exponents is the plain arithmetic, and its gradient checks out") {
  const std::vector<double> xs{0.25, 0.7, 1.0, 1.5, 3.0};
  const Tensor x = tensor(xs, {5}, DType::Float64);
  for (double e : {2.0, 1.0, 0.0, -1.0, -2.0, 0.5, -0.5, 3.0, -1.5}) {
    CAPTURE(e);
    const Tensor y = pow(x, e);
    for (std::size_t i = 0; i < xs.size(); ++i)
      CHECK(y.at({static_cast<int64_t>(i)}) == doctest::Approx(std::pow(xs[i], e)).epsilon(1e-15));
    Tensor xg = x.clone().detach().requires_grad_();
    const GradcheckResult r = gradcheck([e](const std::vector<Tensor>& in) { return pow(in[0], e); }, {xg});
    CHECK_MESSAGE(r.ok, r.summary());
  }
  // In float, x² is the correctly rounded product, bit for bit, and x^−½ is 1/√x.
  const Tensor f = tensor({1.1f, 3.7f, 1e-3f, 12345.678f});
  const Tensor f2 = pow(f, 2.0), fr = pow(f, -0.5);
  for (int64_t i = 0; i < 4; ++i) {
    const float v = static_cast<float>(f.at({i}));
    CHECK(static_cast<float>(f2.at({i})) == v * v);
    CHECK(static_cast<float>(fr.at({i})) == 1.0f / std::sqrt(v));
  }
}

TEST_CASE("the quotient's gradient in b is −(a/b)/b, which neither overflows nor underflows where b² would") {
  // torch, float32: a = 1e30, b = 1e20 gives b.grad = -1e-10; a = 1e-30, b = 1e-25 gives -9.9999993e19.
  for (auto [av, bv, expected] :
       {std::array<double, 3>{1e30, 1e20, -1.0000000134e-10}, std::array<double, 3>{1e-30, 1e-25, -9.9999993208e+19}}) {
    Tensor a = tensor({av}).requires_grad_(), b = tensor({bv}).requires_grad_();
    (a / b).sum().backward();
    INFO("a = ", av, ", b = ", bv, ": b.grad = ", b.grad().at({0}));
    CHECK(std::abs(b.grad().at({0}) / expected - 1) < 1e-6);
  }
}

TEST_CASE("pow(x, 3) is x·x·x, as PyTorch computes it (std::pow can differ in the last bit)") {
  const Tensor x = tensor({2.7, -1.3, 0.1});
  const Tensor y = pow(x, 3.0);
  for (int64_t i = 0; i < 3; ++i) {
    const float v = static_cast<float>(x.at({i}));
    CHECK(y.at({i}) == static_cast<double>(v * v * v));
  }
  CHECK(y.at({0}) == static_cast<double>(19.683002471923828f));  // torch.tensor([2.7]).pow(3)
}
