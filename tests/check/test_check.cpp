#include "../test_util.h"
#include "regrad/check/op_cases.h"

using namespace rg;
using rg::test::contains;

TEST_CASE("every primitive op passes gradcheck in double") {
  const auto cases = op_cases(0);
  CHECK(cases.size() >= 50);
  for (const auto& c : cases) {
    const GradcheckResult r = gradcheck(c.fn, c.inputs);
    CHECK_MESSAGE(r.ok, c.op, " (", c.detail, "): ", r.summary());
    CHECK(r.checked > 0);
  }
}

TEST_CASE("gradcheck also passes at other seeds") {
  for (uint64_t seed : {1, 2}) {
    for (const auto& c : op_cases(seed)) CHECK_MESSAGE(gradcheck(c.fn, c.inputs).ok, c.op, " ", c.detail, " seed ", seed);
  }
}

// An op with a deliberately wrong backward (derivative of x³ taken as 2x²): gradcheck must catch it.
static Tensor wrong_cube(const Tensor& x) {
  Tensor y;
  {
    NoGradGuard g;
    y = x * x * x;
  }
  return record("wrong_cube", y, {x}, [x = x.detach()](const Tensor& g) { return Grads{g * x * x * 2.0}; });
}

TEST_CASE("gradcheck detects a wrong backward and reports the worst element") {
  Tensor x = tensor({0.1, 2.0, -0.3}, DType::Float64);
  x.requires_grad_();
  const GradcheckResult r = gradcheck([](const std::vector<Tensor>& in) { return wrong_cube(in[0]); }, {x});
  CHECK_FALSE(r.ok);
  CHECK(r.worst_input == 0);
  CHECK(r.worst_index == std::vector<int64_t>{1});  // the error x² is largest at x = 2
  CHECK(contains(r.summary(), "FAIL"));
  CHECK_FALSE(x.grad().defined());  // the caller's tensors are left alone
}

TEST_CASE("gradcheck refuses float32 inputs") {
  Tensor x = ones({2});
  x.requires_grad_();
  CHECK_THROWS_AS(gradcheck([](const std::vector<Tensor>& in) { return in[0] * 2.0; }, {x}), std::invalid_argument);
}

TEST_CASE("cmp prints one notebook line: exact / approximate / maxdiff") {
  const Tensor a = tensor({1.0, 2.0}, DType::Float64);
  const CmpResult same = cmp("dlogits", a, a.clone());
  CHECK(same.exact);
  CHECK(same.approximate);
  CHECK(same.maxdiff == 0);
  CHECK(same.line() == "dlogits         | exact: True  | approximate: True  | maxdiff: 0");
  const CmpResult close = cmp("h", a, a + 1e-9);
  CHECK_FALSE(close.exact);
  CHECK(close.approximate);
  const CmpResult far = cmp("h", a, a + 1e-3);
  CHECK_FALSE(far.approximate);
  CHECK(std::abs(far.maxdiff - 1e-3) < 1e-15);
  CHECK_THROWS_WITH_AS(cmp("x", a, zeros({3})), doctest::Contains("[2] and [3]"), std::invalid_argument);
}
