#include "../test_util.h"

using namespace rg;
using rg::test::check_values;
using rg::test::contains;
using rg::test::invalid_argument_message;

TEST_CASE("reshape infers -1 and rejects sizes that do not fit") {
  const Tensor x = arange(0.0, 12.0, 1.0);
  CHECK(x.reshape({3, -1}).shape() == Shape{3, 4});
  CHECK(flatten(x.reshape({2, 3, 2}), 1).shape() == Shape{2, 6});
  CHECK(unsqueeze(x, 0).shape() == Shape{1, 12});
  CHECK(squeeze(unsqueeze(x, 1), 1).shape() == Shape{12});
  const std::string msg = invalid_argument_message([&] { x.reshape({5, -1}); });
  CHECK(contains(msg, "[5, -1]"));
  CHECK(contains(msg, "[12]"));
  CHECK(contains(invalid_argument_message([&] { x.reshape({-1, -1}); }), "only one dimension can be -1"));
}

TEST_CASE("transpose, permute, slice and cat move the right elements") {
  const Tensor x = arange(0.0, 6.0, 1.0).reshape({2, 3});
  check_values(x.t(), {0, 3, 1, 4, 2, 5}, 0);
  const Tensor y = arange(0.0, 24.0, 1.0).reshape({2, 3, 4});
  const Tensor p = y.permute({2, 0, 1});
  CHECK(p.shape() == Shape{4, 2, 3});
  CHECK(p.at({3, 1, 2}) == y.at({1, 2, 3}));
  CHECK(p.at({1, 0, 2}) == y.at({0, 2, 1}));
  check_values(slice(x, 1, 0, 3, 2), {0, 2, 3, 5}, 0);
  check_values(slice(x, 1, -2, 100), {1, 2, 4, 5}, 0);  // Python-style clamping
  CHECK(slice(x, 0, 2, 5).shape() == Shape{0, 3});
  const Tensor c = cat({x, full({2, 1}, 9)}, 1);
  check_values(c, {0, 1, 2, 9, 3, 4, 5, 9}, 0);
  check_values(cat({x, x}, 0).reshape({-1}), {0, 1, 2, 3, 4, 5, 0, 1, 2, 3, 4, 5}, 0);
  CHECK(contains(invalid_argument_message([&] { cat({x, zeros({3, 3})}, 1); }), "[2, 3] and [3, 3]"));
  CHECK(contains(invalid_argument_message([&] { x.permute({0, 0}); }), "repeated dim"));
  check_values(expand(tensor({1, 2}, {2, 1}), {2, 3}), {1, 1, 1, 2, 2, 2}, 0);
  // torch: x.expand(-1, 3) keeps dim 0; x.expand(2, -1, 3) also; -1 in a new leading dim is an error.
  check_values(expand(tensor({1, 2}, {2, 1}), {-1, 3}), {1, 1, 1, 2, 2, 2}, 0);
  CHECK(expand(tensor({1, 2}, {2, 1}), {2, -1, 3}).shape() == Shape{2, 2, 3});
  CHECK(contains(invalid_argument_message([&] { expand(tensor({1, 2}, {2, 1}), {-1, 2, 3}); }), "new leading dim"));
}

TEST_CASE("index_select, embedding and gather index as PyTorch does") {
  const Tensor w = arange(0.0, 8.0, 1.0).reshape({4, 2});
  check_values(index_select(w, 0, tensor_i64({3, 0, 3})), {6, 7, 0, 1, 6, 7}, 0);
  const Tensor e = embedding(tensor_i64({1, 2, 0, 1}, {2, 2}), w);
  CHECK(e.shape() == Shape{2, 2, 2});
  check_values(e, {2, 3, 4, 5, 0, 1, 2, 3}, 0);
  const Tensor x = tensor({1, 2, 3, 4, 5, 6}, {2, 3});
  check_values(gather(x, 1, tensor_i64({2, 0, 1, 1}, {2, 2})), {3, 1, 5, 5}, 0);
  check_values(gather(x, 0, tensor_i64({1, 0, 1}, {1, 3})), {4, 2, 6}, 0);
  CHECK(
      contains(invalid_argument_message([&] { index_select(w, 0, tensor_i64({4})); }), "index 4 out of range [0, 4)"));
  CHECK(contains(invalid_argument_message([&] { embedding(tensor({1.0}), w); }), "index must be int64"));
  CHECK(contains(invalid_argument_message([&] { gather(x, 1, tensor_i64({0, 0, 0}, {3, 1})); }), "[3, 1]"));
}

TEST_CASE("embedding gradients accumulate over repeated tokens") {
  Tensor w = zeros({3, 2}, DType::Float64);
  w.requires_grad_();
  embedding(tensor_i64({2, 0, 2, 2}), w).sum().backward();
  check_values(w.grad(), {1, 1, 0, 0, 3, 3}, 0);
}

TEST_CASE("where and masked_fill choose elementwise") {
  const Tensor a = tensor({1, 2, 3, 4}, {2, 2}), b = tensor({-1, -2}, {2});
  check_values(where(tensor({1, 0, 0, 1}, {2, 2}), a, b), {1, -2, -1, 4}, 0);
  check_values(masked_fill(a, tensor_i64({0, 1}), -9), {1, -9, 3, -9}, 0);
  CHECK(contains(invalid_argument_message([&] { masked_fill(a, zeros({3}), 0); }), "[3] and [2, 2]"));
}

TEST_CASE("0-d tensors: transpose(s, 0, 0) is s, cat refuses them with a message") {
  const Tensor s = scalar_tensor(3.0, DType::Float64);
  CHECK(transpose(s, 0, -1).item() == 3.0);
  CHECK_THROWS_AS(transpose(s, 0, 1), std::invalid_argument);
  CHECK(contains(invalid_argument_message([&] { cat({s, s}, 0); }), "zero-dimensional tensor (at position 0)"));
}
