#include <cmath>

#include "../test_util.h"

using namespace rg;
using rg::test::check_values;

TEST_CASE("Linear: PyTorch's layout and default initialisation bounds") {
  Generator gen(0);
  nn::Linear fc(784, 512, true, gen);
  CHECK(fc.weight.shape() == Shape{512, 784});
  const double bound = 1 / std::sqrt(784.0);
  CHECK(max(abs(fc.weight)).item() <= bound);
  CHECK(max(abs(fc.weight)).item() > 0.95 * bound);
  // Uniform(−b, b) has variance b²/3.
  CHECK(std::abs(var(fc.weight.detach().reshape({-1})).item() - bound * bound / 3) < 0.02 * bound * bound);
  const Tensor x = randn({3, 784}, gen);
  CHECK(cmp("linear", fc(x), matmul(x, fc.weight.t()) + fc.bias, 0, 1e-5).approximate);
  CHECK(fc.named_parameters().size() == 2);
}

TEST_CASE("conv2d and its weight gradient match direct loops, strided and with \"same\" padding") {
  // im2col runs the general loop for strided or shrinking convolutions and copies whole shifted
  // planes for stride 1 with Ho = H, Wo = W ("same" padding); both build the columns that y and,
  // in the backward pass, dW are computed from.
  struct Case {
    int64_t H, W, k, stride, pad;
  };
  for (const Case& q : {Case{5, 4, 3, 2, 1}, Case{5, 4, 3, 1, 1}, Case{5, 4, 5, 1, 2}, Case{4, 6, 1, 1, 0},
                        Case{2, 3, 3, 1, 1}, Case{1, 1, 3, 1, 1}, Case{6, 5, 3, 1, 0}}) {
    CAPTURE(q.H);
    CAPTURE(q.W);
    CAPTURE(q.k);
    CAPTURE(q.stride);
    CAPTURE(q.pad);
    Generator gen(1);
    const Tensor x = randn({2, 3, q.H, q.W}, gen, DType::Float64),
                 w = randn({4, 3, q.k, q.k}, gen, DType::Float64).requires_grad_(), b = randn({4}, gen, DType::Float64);
    const Tensor y = conv2d(x, w, b, q.stride, q.pad);
    const int64_t Ho = (q.H + 2 * q.pad - q.k) / q.stride + 1, Wo = (q.W + 2 * q.pad - q.k) / q.stride + 1;
    REQUIRE(y.shape() == Shape{2, 4, Ho, Wo});
    const Tensor dy = randn(y.shape(), gen, DType::Float64);
    y.backward(dy);
    // x's pixel read by tap (i, j) of output (oh, ow), or none (0) outside the image.
    const auto pixel = [&](int64_t n, int64_t c, int64_t oh, int64_t ow, int64_t i, int64_t j) {
      const int64_t h = oh * q.stride - q.pad + i, ww = ow * q.stride - q.pad + j;
      return h >= 0 && h < q.H && ww >= 0 && ww < q.W ? x.at({n, c, h, ww}) : 0.0;
    };
    double worst_y = 0, worst_dw = 0;
    for (int64_t n = 0; n < 2; ++n)
      for (int64_t o = 0; o < 4; ++o)
        for (int64_t oh = 0; oh < Ho; ++oh)
          for (int64_t ow = 0; ow < Wo; ++ow) {
            double acc = b.at({o});
            for (int64_t c = 0; c < 3; ++c)
              for (int64_t i = 0; i < q.k; ++i)
                for (int64_t j = 0; j < q.k; ++j) acc += pixel(n, c, oh, ow, i, j) * w.at({o, c, i, j});
            worst_y = rg::test::worst_of(worst_y, std::abs(y.at({n, o, oh, ow}) - acc));
          }
    for (int64_t o = 0; o < 4; ++o)  // dW[o][c][i][j] = Σ over n, oh, ow of dy · the pixel tap (i, j) read
      for (int64_t c = 0; c < 3; ++c)
        for (int64_t i = 0; i < q.k; ++i)
          for (int64_t j = 0; j < q.k; ++j) {
            double acc = 0;
            for (int64_t n = 0; n < 2; ++n)
              for (int64_t oh = 0; oh < Ho; ++oh)
                for (int64_t ow = 0; ow < Wo; ++ow) acc += dy.at({n, o, oh, ow}) * pixel(n, c, oh, ow, i, j);
            worst_dw = rg::test::worst_of(worst_dw, std::abs(w.grad().at({o, c, i, j}) - acc));
          }
    CHECK(worst_y < 1e-12);
    CHECK(worst_dw < 1e-12);
  }
  Generator gen(2);
  CHECK_THROWS_WITH_AS(conv2d(randn({2, 3, 5, 4}, gen, DType::Float64), randn({4, 2, 3, 3}, gen, DType::Float64)),
                       doctest::Contains("[2, 3, 5, 4]"), std::invalid_argument);
}

TEST_CASE("conv2d over chunks of samples equals conv2d sample by sample") {
  // 17 samples: chunks of 3 (at least 8 chunks asked for), the last of 2; sample by sample, chunks of 1.
  Generator gen(4);
  const Tensor x = randn({17, 3, 6, 5}, gen, DType::Float64).requires_grad_(),
               w = randn({4, 3, 3, 3}, gen, DType::Float64).requires_grad_(),
               b = randn({4}, gen, DType::Float64).requires_grad_();
  const Tensor y = conv2d(x, w, b, 1, 1);
  const Tensor dy = randn(y.shape(), gen, DType::Float64);
  y.backward(dy);
  Tensor dw_sum = zeros(w.shape(), DType::Float64);
  for (int64_t n = 0; n < 17; ++n) {
    const Tensor xn = slice(x.detach(), 0, n, n + 1).requires_grad_(), wn = w.detach().clone().requires_grad_();
    const Tensor yn = conv2d(xn, wn, b.detach(), 1, 1);
    yn.backward(slice(dy, 0, n, n + 1));
    CHECK(cmp("y_n", yn, slice(y.detach(), 0, n, n + 1), 0, 1e-12).approximate);
    CHECK(cmp("dx_n", xn.grad(), slice(x.grad(), 0, n, n + 1), 0, 1e-12).approximate);
    dw_sum = dw_sum + wn.grad();
  }
  CHECK(cmp("dW", dw_sum, w.grad(), 0, 1e-10).approximate);
  // An empty batch: an empty output, and dW = 0.
  const Tensor w0 = w.detach().clone().requires_grad_();
  const Tensor y0 = conv2d(zeros({0, 3, 6, 5}, DType::Float64), w0, b.detach(), 1, 1);
  CHECK(y0.shape() == Shape{0, 4, 6, 5});
  sum(y0).backward();
  CHECK(max(abs(w0.grad())).item() == 0.0);
}

TEST_CASE("max_pool2d takes window maxima") {
  const Tensor x = arange(0.0, 16.0, 1.0).reshape({1, 1, 4, 4});
  check_values(max_pool2d(x, 2), {5, 7, 13, 15}, 0);
  CHECK(max_pool2d(x, 3, 1).shape() == Shape{1, 1, 2, 2});
}

TEST_CASE("max_pool2d: ties go to the first maximum, NaN propagates to the window's last NaN (PyTorch 1.13)") {
  const double nan = std::nan("");
  // Reference: torch.nn.functional.max_pool2d(x, 2, return_indices=True) and y.sum().backward():
  // values [nan, 4, 7], flat indices [7, 3, 4], x.grad one at those indices.
  const Tensor x = tensor({nan, 7, 3, 4, 7, 7, 5, nan, 0, -1, 7, -2}, {1, 1, 2, 6}, DType::Float64).requires_grad_();
  const Tensor y = max_pool2d(x, 2);
  REQUIRE(y.shape() == Shape{1, 1, 1, 3});
  CHECK(std::isnan(y.at({0, 0, 0, 0})));
  CHECK(y.at({0, 0, 0, 1}) == 4.0);
  CHECK(y.at({0, 0, 0, 2}) == 7.0);
  sum(y).backward();
  check_values(x.grad(), {0, 0, 0, 1, 1, 0, 0, 1, 0, 0, 0, 0}, 0);
}

TEST_CASE("max_pool2d: the float 2x2 kernel (vector blocks) picks the maxima and positions of the generic loop") {
  // In float, 2×2 windows of stride 2 run in vector blocks of 8 or 4 windows (rows of 4 or more
  // windows); in double, every window runs the generic loop. The two must agree exactly: values,
  // NaNs, and the gradient's positions (ties go to the first maximum in row-major order).
  Generator gen(11);
  for (const Shape& s : std::vector<Shape>{{2, 3, 28, 28},
                                           {1, 2, 14, 14},
                                           {1, 1, 4, 8},
                                           {1, 1, 5, 9},
                                           {1, 2, 3, 16},
                                           {1, 1, 2, 17},
                                           {1, 1, 6, 34},
                                           {1, 1, 4, 6},
                                           {3, 1, 2, 2}}) {
    CAPTURE(to_string(s));
    Tensor z = randint(-3, 4, s, gen).to(DType::Float64) * 0.5;  // halves in [−1.5, 1.5]: many ties
    double* pz = z.data<double>();
    for (int64_t i = 0; i < z.numel(); i += 37) pz[i] = std::nan("");
    const Tensor xd = z.detach().clone().requires_grad_(), xf = z.to(DType::Float32).requires_grad_();
    const Tensor yd = max_pool2d(xd, 2), yf = max_pool2d(xf, 2);
    REQUIRE(yf.shape() == yd.shape());
    const Tensor yd_f = yd.detach().to(DType::Float32);
    int64_t differ = 0;
    for (int64_t i = 0; i < yf.numel(); ++i) {
      const float a = yf.data<float>()[i], b = yd_f.data<float>()[i];
      differ += !(a == b || (std::isnan(a) && std::isnan(b)));
    }
    CHECK(differ == 0);
    const Tensor g = arange(1.0, static_cast<double>(yd.numel()) + 1, 1.0).reshape(yd.shape());  // distinct
    yd.backward(g);
    yf.backward(g.to(DType::Float32));
    CHECK(max(abs(xf.grad().to(DType::Float64) - xd.grad())).item() == 0.0);
    CHECK(sum(xd.grad()).item() == sum(g).item());
  }
}

TEST_CASE("max_pool2d and relu commute, values and gradients bit for bit (make_model's CNN relies on it)") {
  Generator gen(5);
  // Halves in [-2, 2], so that windows hold ties, zeros and only negative entries.
  const Tensor z = randint(-4, 5, {2, 3, 6, 8}, gen).to(DType::Float32) * 0.5;
  const Tensor a = z.detach().clone().requires_grad_(), b = z.detach().clone().requires_grad_();
  const Tensor ya = max_pool2d(relu(a), 2), yb = relu(max_pool2d(b, 2));
  CHECK(max(abs(ya - yb)).item() == 0.0);
  const Tensor g = randn(ya.shape(), gen);
  ya.backward(g);
  yb.backward(g);
  CHECK(max(abs(a.grad() - b.grad())).item() == 0.0);
  CHECK(max(abs(a.grad())).item() > 0.0);
}

TEST_CASE("Sequential chains layers and names parameters by position") {
  Generator gen(2);
  auto fc1 = std::make_shared<nn::Linear>(4, 8, true, gen);
  nn::Sequential net({fc1, std::make_shared<nn::ReLU>(), std::make_shared<nn::Linear>(8, 3, true, gen)});
  CHECK(net.size() == 3);
  const auto names = net.named_parameters();
  REQUIRE(names.size() == 4);
  CHECK(names[0].first == "0.weight");
  CHECK(names[3].first == "2.bias");
  const Tensor x = randn({5, 4}, gen);
  CHECK(net(x).shape() == Shape{5, 3});
  CHECK(nn::Flatten()(zeros({2, 3, 4})).shape() == Shape{2, 12});
  CHECK(nn::GlobalAvgPool2d()(ones({2, 3, 4, 4})).shape() == Shape{2, 3});
}

TEST_CASE("activation modules: ReLU, Tanh and GELU give their closed-form values") {
  const Tensor x = tensor({-1.0, 0.0, 0.5, 2.0}, DType::Float64);
  check_values(nn::ReLU()(x), {0.0, 0.0, 0.5, 2.0}, 0);
  check_values(nn::Tanh()(x), {std::tanh(-1.0), 0.0, std::tanh(0.5), std::tanh(2.0)}, 1e-15);
  // GELU(x) = x·Φ(x) = x·½(1 + erf(x/√2)): Φ(−1) = 0.158655253931457, Φ(0.5) = 0.691462461274013,
  // Φ(2) = 0.977249868051821.
  check_values(nn::GELU()(x), {-0.158655253931457, 0.0, 0.5 * 0.691462461274013, 2 * 0.977249868051821}, 1e-13);
}

TEST_CASE("conv2d refuses a kernel larger than the padded input at any stride") {
  // torch raises for x (1, 1, 2, 2), w (1, 1, 3, 3), stride 2; (2 − 3)/2 + 1 would round to 1.
  CHECK_THROWS_WITH_AS(conv2d(zeros({1, 1, 2, 2}), zeros({1, 1, 3, 3}), Tensor(), 2, 0),
                       doctest::Contains("larger than padded input"), std::invalid_argument);
  CHECK(conv2d(zeros({1, 1, 2, 2}), zeros({1, 1, 3, 3}), Tensor(), 2, 1).shape() == Shape{1, 1, 1, 1});
}
