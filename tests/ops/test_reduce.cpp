#include <omp.h>

#include "../test_util.h"

using namespace rg;
using rg::test::check_values;
using rg::test::contains;
using rg::test::invalid_argument_message;

TEST_CASE("sum, mean and var over dims with and without keepdim") {
  const Tensor x = tensor({1, 2, 3, 4, 5, 6}, {2, 3}, DType::Float64);
  check_values(sum(x), {21}, 0);
  CHECK(sum(x).dim() == 0);
  check_values(sum(x, {0}), {5, 7, 9}, 0);
  check_values(sum(x, {1}), {6, 15}, 0);
  CHECK(sum(x, {1}, true).shape() == Shape{2, 1});
  CHECK(sum(x, {0, 1}, true).shape() == Shape{1, 1});
  check_values(mean(x, {-1}), {2, 5}, 0);
  check_values(mean(x), {3.5}, 0);
  const Tensor v = tensor({1, 2, 3, 4}, DType::Float64);
  check_values(var(v), {5.0 / 3.0}, 1e-15);           // Σ(x − 2.5)² = 5, ÷ (n − 1)
  check_values(var(v, {0}, false), {1.25}, 1e-15);    // ÷ n
  check_values(var(x, {0}), {4.5, 4.5, 4.5}, 1e-15);  // pairs 3 apart: 2·1.5² ÷ 1
  CHECK(var(x, {1}, true, true).shape() == Shape{2, 1});
  const Tensor y = tensor({1, 2, 3, 4, 5, 6, 7, 8}, {2, 2, 2}, DType::Float64);
  check_values(sum(y, {0, 2}), {1 + 2 + 5 + 6, 3 + 4 + 7 + 8}, 0);
  CHECK(contains(invalid_argument_message([&] { sum(x, {2}); }), "dimension 2 out of range"));
  CHECK(contains(invalid_argument_message([&] { sum(x, {1, -1}); }), "appears twice"));
}

TEST_CASE("max returns values and the first arg-max") {
  const Tensor x = tensor({1, 7, 7, 3, -2, 0}, {2, 3});
  CHECK(max(x).item() == 7);
  const MaxResult r = max(x, 1);
  check_values(r.values, {7, 3}, 0);
  check_values(r.indices, {1, 0}, 0);
  const MaxResult c = max(x, 0, true);
  CHECK(c.values.shape() == Shape{1, 3});
  check_values(c.values, {3, 7, 7}, 0);
  Tensor w = tensor({1, 7, 7}, DType::Float64);
  w.requires_grad_();
  max(w).backward();
  check_values(w.grad(), {0, 0.5, 0.5}, 0);  // torch: the tied maxima share the gradient
}

TEST_CASE("a large sum is exact enough and the same for any thread count") {
  Generator gen(5);
  const Tensor x = rand({3000000}, gen);  // float32 values, summed in double
  double ref = 0;
  for (double v : x.tolist()) ref += v;
  const int threads = omp_get_max_threads();
  omp_set_num_threads(1);
  const double one = sum(x).item();
  const Tensor rows1 = sum(x.reshape({3000, 1000}), {0});
  omp_set_num_threads(2);
  const double two = sum(x).item();
  const Tensor rows2 = sum(x.reshape({3000, 1000}), {0});
  omp_set_num_threads(threads);
  CHECK(one == two);
  CHECK(cmp("column sums", rows1, rows2).exact);
  CHECK(std::abs(one - ref) / ref < 1e-7);  // float32 rounding of the result only
}

TEST_CASE("sum_to inverts broadcasting") {
  const Tensor g = ones({2, 3, 4});
  check_values(sum_to(g, {3, 1}), {8, 8, 8}, 0);
  check_values(sum_to(g, {4}), {6, 6, 6, 6}, 0);
  CHECK(sum_to(g, {2, 3, 4}).same(g));
  CHECK_THROWS_AS(sum_to(g, {5}), std::invalid_argument);
}

TEST_CASE("max follows PyTorch 1.13: NaN is the maximum, ties share the full reduction's gradient") {
  const double nan = std::nan("");
  // torch.max(x, 0) of [1, nan, 2] and of [nan, 1, nan]: nan at index 1 and at index 0 (the first NaN).
  auto r = max(tensor({1.0, nan, 2.0}, DType::Float64), 0);
  CHECK(std::isnan(r.values.item()));
  CHECK(r.indices.item() == 1.0);
  CHECK(max(tensor({nan, 1.0, nan}, DType::Float32), 0).indices.item() == 0.0);
  CHECK(std::isnan(max(tensor({1.0, nan, 2.0}, DType::Float64)).item()));
  // torch.max(x).backward() for x = [3, 1, 3]: [0.5, 0, 0.5] (evenly shared); torch.max(x, 0): [1, 0, 0].
  Tensor x = tensor({3.0, 1.0, 3.0}, DType::Float64).requires_grad_();
  max(x).backward();
  check_values(x.grad(), {0.5, 0, 0.5}, 0);
  Tensor w = tensor({3.0, 1.0, 3.0}, DType::Float64).requires_grad_();
  max(w, 0).values.backward();
  check_values(w.grad(), {1, 0, 0}, 0);
  // Among NaNs when the max is NaN: [nan, 1, nan] gives [0.5, 0, 0.5].
  Tensor n = tensor({nan, 1.0, nan}, DType::Float64).requires_grad_();
  max(n).backward();
  check_values(n.grad(), {0.5, 0, 0.5}, 0);
}

TEST_CASE("reductions over dim 0 or -1 of a 0-d tensor return the value, as PyTorch") {
  const Tensor s = scalar_tensor(2.0, DType::Float64);
  CHECK(mean(s, {0}).dim() == 0);
  CHECK(mean(s, {0}).item() == 2.0);
  CHECK(sum(s, {-1}).item() == 2.0);
  CHECK(mean(s, {0}, true).dim() == 0);
  CHECK(std::isnan(var(s, {0}).item()));  // one value, unbiased: 0/0, as torch
  CHECK(var(s, {0}, false).item() == 0.0);
  CHECK_THROWS_AS(mean(s, {1}), std::invalid_argument);
}
