#include <filesystem>
#include <fstream>
#include <regex>
#include <set>

#include "../test_util.h"
#include "regrad/autograd/autograd.h"
#include "regrad/check/op_cases.h"

using namespace rg;
using rg::test::contains;

static GradcheckOptions options_for(const OpCase& c, bool full = false, uint64_t seed = 0) {
  GradcheckOptions o;
  o.eps = c.eps;
  o.full_jacobian = full;
  o.seed = seed;
  return o;
}

TEST_CASE("every primitive op passes gradcheck in double") {
  for (const auto& c : op_cases(0)) {
    const GradcheckResult r = gradcheck(c.fn, c.inputs, options_for(c));
    CHECK_MESSAGE(r.ok, c.op, " (", c.detail, "): ", r.summary());
  }
}

TEST_CASE("gradcheck also passes at other seeds") {
  for (uint64_t seed : {1, 2}) {
    for (const auto& c : op_cases(seed))
      CHECK_MESSAGE(gradcheck(c.fn, c.inputs, options_for(c, false, seed)).ok, c.op, " ", c.detail, " seed ", seed);
  }
}

TEST_CASE("every fused layer passes the full-Jacobian gradcheck (every output element)") {
  const std::set<std::string> fused{"batch_norm", "layer_norm", "rms_norm", "group_norm", "dropout", "cross_entropy"};
  std::set<std::string> seen;
  for (const auto& c : op_cases(0)) {
    if (!fused.count(c.op)) continue;
    const GradcheckResult r = gradcheck(c.fn, c.inputs, options_for(c, /*full=*/true));
    CHECK_MESSAGE(r.ok, c.op, " (", c.detail, "): ", r.summary());
    int64_t in = 0;
    for (const Tensor& t : c.inputs)
      if (t.requires_grad()) in += t.numel();
    CHECK(r.checked == in * c.fn(c.inputs).numel());  // every entry of the Jacobian
    seen.insert(c.op);
  }
  CHECK(seen == fused);
}

// Every name passed to record(...) in src/ must appear in a graph built by the catalogue, so no op
// with a backward goes unchecked. Literal names are read from the sources; the few calls that pass
// a variable are listed here, and their count is checked so a new one must be added.
TEST_CASE("every op that records a backward has a gradcheck case") {
  namespace fs = std::filesystem;
  std::set<std::string> in_src;
  int variable_calls = 0;
  const std::regex literal(R"re(\brecord\(\s*"([A-Za-z0-9_]+)")re"),
      any(R"re(\brecord\(\s*([A-Za-z_][A-Za-z0-9_]*)\s*,)re");
  for (const auto& f : fs::recursive_directory_iterator(fs::path(REGRAD_SOURCE_DIR) / "src")) {
    if (f.path().extension() != ".cpp" && f.path().extension() != ".h") continue;
    if (f.path().filename() == "engine.cpp") continue;  // the definition of record itself
    std::ifstream in(f.path());
    const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    for (std::sregex_iterator it(text.begin(), text.end(), literal), end; it != end; ++it) in_src.insert((*it)[1]);
    for (std::sregex_iterator it(text.begin(), text.end(), any), end; it != end; ++it) ++variable_calls;
  }
  // softmax.cpp: record(name, …) for softmax and log_softmax; row_norm.cpp: record(op, …) for
  // layer_norm and rms_norm; group_norm.cpp: record(op, …) for group_norm.
  CHECK(variable_calls == 3);
  for (const char* n : {"softmax", "log_softmax", "layer_norm", "rms_norm", "group_norm"}) in_src.insert(n);
  REQUIRE(in_src.size() > 40);

  std::set<std::string> recorded;
  for (const auto& c : op_cases(0)) {
    const Tensor out = c.fn(c.inputs);
    std::vector<std::shared_ptr<Node>> stack;
    if (out.grad_fn()) stack.push_back(out.grad_fn());
    while (!stack.empty()) {
      const std::shared_ptr<Node> node = stack.back();
      stack.pop_back();
      recorded.insert(node->name);
      for (const Tensor& t : node->inputs)
        if (t.defined() && t.grad_fn()) stack.push_back(t.grad_fn());
    }
  }
  for (const std::string& name : in_src) CHECK_MESSAGE(recorded.count(name), "no gradcheck case records '", name, "'");
}

TEST_CASE("a gradcheck that compares nothing fails") {
  const Tensor x = tensor({1.0, 2.0}, DType::Float64);  // does not require grad
  for (bool full : {false, true}) {
    GradcheckOptions o;
    o.full_jacobian = full;
    const GradcheckResult r = gradcheck([](const std::vector<Tensor>& in) { return in[0] * 2.0; }, {x}, o);
    CHECK(r.checked == 0);
    CHECK_FALSE(r.ok);
    CHECK(contains(r.summary(), "nothing checked"));
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
  GradcheckOptions full;
  full.full_jacobian = true;
  const GradcheckResult rf = gradcheck([](const std::vector<Tensor>& in) { return wrong_cube(in[0]); }, {x}, full);
  CHECK_FALSE(rf.ok);
  CHECK(rf.checked == 9);  // 3 outputs × 3 inputs
  CHECK(rf.worst_index == std::vector<int64_t>{1});
  CHECK(rf.worst_output == 1);  // the Jacobian is diagonal: the error sits at (1, 1)
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
