#include "../test_util.h"

using namespace rg;
using rg::test::check_values;
using rg::test::contains;

static Tensor leaf(std::initializer_list<double> v) {
  Tensor t = tensor(v, DType::Float64);
  t.requires_grad_();
  return t;
}

TEST_CASE("a tensor used twice receives both gradient contributions") {
  Tensor x = leaf({3.0});
  Tensor y = x * x + x;  // dy/dx = 2x + 1 = 7
  y.backward();
  check_values(x.grad(), {7.0}, 0);
}

TEST_CASE("micrograd's worked example: the graph of a small expression") {
  // micrograd's test_sanity_check/test_more_ops expression, line for line.
  Tensor a = leaf({-4.0}), b = leaf({2.0});
  Tensor c = a + b;
  Tensor d = a * b + pow(b, 3.0);
  c = c + c + 1.0;
  c = c + 1.0 + c + (-a);
  d = d + d * 2.0 + relu(b + a);
  d = d + 3.0 * d + relu(b - a);
  Tensor e = c - d;
  Tensor f = pow(e, 2.0);
  Tensor g = f / 2.0;
  g = g + 10.0 / f;
  g.backward();
  // PyTorch (float64): g = 24.70408163265306, dg/da = 138.83381924198252, dg/db = 645.5772594752186.
  CHECK(std::abs(g.item() - 24.70408163265306) < 1e-12);
  CHECK(std::abs(a.grad().item() - 138.83381924198252) < 1e-10);
  CHECK(std::abs(b.grad().item() - 645.5772594752186) < 1e-10);
}

TEST_CASE("leaf gradients accumulate across backward calls until zero_grad") {
  Tensor x = leaf({1.0, 2.0});
  (x * 3.0).sum().backward();
  (x * 3.0).sum().backward();
  check_values(x.grad(), {6.0, 6.0}, 0);
  x.zero_grad();
  CHECK_FALSE(x.grad().defined());
}

TEST_CASE("intermediate gradients are kept only with retain_grad") {
  Tensor x = leaf({1.0, -2.0});
  Tensor h = x * 2.0;
  h.retain_grad();
  Tensor k = h * 5.0;        // not retained
  Tensor y = (k * h).sum();  // y = 5h², dy/dh = 10h, h = 2x
  y.backward();
  check_values(h.grad(), {20.0, -40.0}, 0);
  CHECK_FALSE(k.grad().defined());
  check_values(x.grad(), {40.0, -80.0}, 0);
  CHECK_THROWS_AS(zeros({2}).retain_grad(), std::invalid_argument);
}

TEST_CASE("the graph is freed after backward unless retained") {
  Tensor x = leaf({2.0});
  Tensor y = exp(x) * x;
  y.backward(Tensor(), /*retain_graph=*/true);
  y.backward();  // allowed once more
  const double once = std::exp(2.0) * 3.0;
  CHECK(std::abs(x.grad().item() - 2 * once) < 1e-12);
  CHECK_THROWS_WITH_AS(y.backward(), doctest::Contains("second time"), std::runtime_error);
}

TEST_CASE("no-grad guard and detach stop recording") {
  Tensor x = leaf({1.0});
  {
    NoGradGuard guard;
    Tensor y = x * 2.0;
    CHECK_FALSE(y.requires_grad());
    CHECK(y.is_leaf());
  }
  CHECK((x * 2.0).requires_grad());
  Tensor d = x.detach();
  CHECK_FALSE(d.requires_grad());
  Tensor y = x * d;  // d is a constant: dy/dx = d = 1
  y.backward();
  check_values(x.grad(), {1.0}, 0);
}

TEST_CASE("backward needs an explicit gradient for non-scalars and checks its shape") {
  Tensor x = leaf({1.0, 2.0});
  Tensor y = x * 2.0;
  CHECK_THROWS_WITH_AS(y.backward(), doctest::Contains("one-element"), std::invalid_argument);
  CHECK_THROWS_WITH_AS(y.backward(ones({3}, DType::Float64)), doctest::Contains("[3]"), std::invalid_argument);
  y.backward(tensor({1.0, -1.0}, DType::Float64));
  check_values(x.grad(), {2.0, -2.0}, 0);
  CHECK_THROWS_AS(zeros({1}).backward(), std::invalid_argument);  // nothing to differentiate
}

TEST_CASE("backward converts a gradient of another dtype to the tensor's own, as PyTorch does") {
  // torch: x float64, (x * 2).backward(torch.ones(3)) gives x.grad float64 (and the reverse).
  Tensor x = leaf({1.0, 2.0, 3.0});
  (x * 2.0).backward(tensor({1.0, 0.5, -1.0}, DType::Float32));
  CHECK(x.grad().dtype() == DType::Float64);
  check_values(x.grad(), {2.0, 1.0, -2.0}, 0);
  Tensor xf = tensor({1.0, 2.0}, DType::Float32).requires_grad_();
  (xf * 3.0).backward(tensor({0.25, 1.0}, DType::Float64));
  CHECK(xf.grad().dtype() == DType::Float32);
  check_values(xf.grad(), {0.75, 3.0}, 0);
}

TEST_CASE("a graph 100000 ops deep does not overflow the stack") {
  Tensor x = leaf({0.5});
  Tensor y = x;
  for (int i = 0; i < 100000; ++i) y = y * 1.0 + 0.0;
  y.backward();
  check_values(x.grad(), {1.0}, 0);
}

TEST_CASE("only tensors on a path from the output receive gradients") {
  Tensor a = leaf({1.0}), b = leaf({2.0});
  Tensor y = a * 3.0;
  Tensor unused = b * 2.0;
  y.backward();
  CHECK(a.grad().defined());
  CHECK_FALSE(b.grad().defined());
}

TEST_CASE("float32 graphs produce float32 gradients; to() converts them back") {
  Tensor x = ones({2}, DType::Float64);
  x.requires_grad_();
  Tensor y = (x.to(DType::Float32) * 3.0f).sum();
  CHECK(y.dtype() == DType::Float32);
  y.backward();
  CHECK(x.grad().dtype() == DType::Float64);
  check_values(x.grad(), {3.0, 3.0}, 0);
}

TEST_CASE("a gradient shared between inputs or with the caller is copied into .grad, never aliased") {
  // a + b hands the same dy to both leaves; clip_grad_norm_ then scales each gradient in place.
  // torch: (a + b).sum().backward(); clip_grad_norm_([a, b], 0.5) gives 0.25 in every entry.
  Tensor a = leaf({1.0, 2.0}), b = leaf({3.0, 4.0});
  (a + b).sum().backward();
  CHECK(a.grad().raw_data() != b.grad().raw_data());
  optim::clip_grad_norm_({a, b}, 0.5);
  check_values(a.grad(), {0.25, 0.25}, 1e-6);
  check_values(b.grad(), {0.25, 0.25}, 1e-6);
  // The seed is the caller's tensor: changing x.grad in place must leave it alone.
  Tensor x = leaf({1.0, 2.0});
  const Tensor seed = tensor({1.0, 1.0}, DType::Float64);
  (x + 0.0).backward(seed);
  x.grad().mul_(5.0);
  check_values(seed, {1.0, 1.0}, 0);
  check_values(x.grad(), {5.0, 5.0}, 0);
}

TEST_CASE("a second backward adds into .grad in place, as PyTorch: a reference taken before sees the sum") {
  // torch: x.grad after two backward passes of (3x).sum() is [6, 6], and g = x.grad taken after the
  // first is the same tensor, so it reads [6, 6] too.
  Tensor x = leaf({1.0, 2.0});
  (x * 3.0).sum().backward();
  const Tensor g = x.grad();
  (x * 3.0).sum().backward();
  check_values(g, {6.0, 6.0}, 0);
  check_values(x.grad(), {6.0, 6.0}, 0);
  // zero_grad(set_to_none = false) then backward: the same tensor again, now holding the new gradient.
  optim::SGD opt({x}, 0.1);
  opt.zero_grad();
  (x * 2.0).sum().backward();
  check_values(g, {2.0, 2.0}, 0);
}
