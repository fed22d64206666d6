// Every optimizer step against the same step computed by hand.
#include <cmath>
#include <map>

#include "../test_util.h"

using namespace rg;
using rg::test::check_values;
using rg::test::contains;
using rg::test::invalid_argument_message;

static Tensor param(std::initializer_list<double> v) { return tensor(v, DType::Float64).requires_grad_(); }
static void set_grad(Tensor& p, std::initializer_list<double> g) {
  p.zero_grad();
  (p * tensor(g, DType::Float64)).sum().backward();  // d/dp Σ p·g = g
}

TEST_CASE("SGD with L2 weight decay: the lecture's single-weight update w ← w − η(∇ + λw)") {
  // w = 2.0, g = 1.5, η = 0.1: 1.85 without L2, 1.848 with λ = 0.01.
  for (double lambda : {0.0, 0.01}) {
    Tensor w = param({2.0});
    optim::SGD opt({w}, 0.1, 0.0, lambda);
    set_grad(w, {1.5});
    opt.step();
    check_values(w, {lambda == 0 ? 1.85 : 1.848}, 1e-15);
  }
}

TEST_CASE("SGD momentum and Nesterov follow torch.optim.SGD") {
  Tensor a = param({1.0, -1.0}), b = param({1.0, -1.0});
  optim::SGD plain({a}, 0.1, 0.9), nesterov({b}, 0.1, 0.9, 0.0, true);
  const double g1[2] = {0.5, -0.2}, g2[2] = {0.1, 0.3};
  set_grad(a, {g1[0], g1[1]});
  set_grad(b, {g1[0], g1[1]});
  plain.step();
  nesterov.step();
  set_grad(a, {g2[0], g2[1]});
  set_grad(b, {g2[0], g2[1]});
  plain.step();
  nesterov.step();
  for (int i = 0; i < 2; ++i) {
    const double buf1 = g1[i], buf2 = 0.9 * buf1 + g2[i];  // b₁ = g₁, b₂ = μb₁ + g₂
    const double p_plain = (i ? -1.0 : 1.0) - 0.1 * buf1 - 0.1 * buf2;
    const double p_nest = (i ? -1.0 : 1.0) - 0.1 * (g1[i] + 0.9 * buf1) - 0.1 * (g2[i] + 0.9 * buf2);
    CHECK(std::abs(a.at({i}) - p_plain) < 1e-15);
    CHECK(std::abs(b.at({i}) - p_nest) < 1e-15);
  }
  CHECK_THROWS_AS(optim::SGD({param({1.0})}, 0.1, 0.0, 0.0, true), std::invalid_argument);
}

TEST_CASE("AdamW: decoupled decay, bias-corrected moments") {
  Tensor p = param({1.0, -2.0});
  optim::AdamW opt({p}, 0.01, 0.9, 0.999, 1e-8, 0.1);
  set_grad(p, {0.3, -0.4});
  opt.step();
  // Step 1: m̂ = g, v̂ = g², so p ← p·(1 − lr·wd) − lr·g/(|g| + eps).
  check_values(p, {1.0 * (1 - 0.001) - 0.01 * 0.3 / (0.3 + 1e-8), -2.0 * (1 - 0.001) + 0.01 * 0.4 / (0.4 + 1e-8)},
               1e-15);
  // Step 2 by hand.
  const double m = 0.9 * 0.1 * 0.3 + 0.1 * 0.5, v = 0.999 * 0.001 * 0.09 + 0.001 * 0.25;
  const double mhat = m / (1 - 0.81), vhat = v / (1 - 0.999 * 0.999);
  const double p0 = p.at({0});
  set_grad(p, {0.5, 0.0});
  opt.step();
  CHECK(std::abs(p.at({0}) - (p0 * (1 - 0.001) - 0.01 * mhat / (std::sqrt(vhat) + 1e-8))) < 1e-14);
}

TEST_CASE("AdamW counts steps per parameter: a late first gradient gets the first step's correction") {
  Tensor a = param({1.0}), b = param({-2.0});
  optim::AdamW opt({a, b}, 0.01, 0.9, 0.999, 1e-8, 0.1);
  set_grad(a, {0.3});
  opt.step();  // b has no gradient yet: untouched, no step counted
  CHECK(b.at({0}) == -2.0);
  set_grad(a, {0.3});
  set_grad(b, {-0.4});
  opt.step();
  // b's first step: m̂ = g, v̂ = g², whatever the optimizer's own step count.
  CHECK(std::abs(b.at({0}) - (-2.0 * (1 - 0.001) + 0.01 * 0.4 / (0.4 + 1e-8))) < 1e-15);
  const auto st = opt.state();
  std::map<std::string, double> steps;
  for (const auto& [name, t] : st)
    if (name.rfind("step", 0) == 0) steps[name] = t.item();
  CHECK(steps == std::map<std::string, double>{{"step.0", 2.0}, {"step.1", 1.0}});
}

TEST_CASE("AdamW loads a state with one shared 'step' and refuses inconsistent ones") {
  Tensor a = param({1.0, -2.0}), b = param({1.0, -2.0});
  optim::AdamW oa({a}, 0.01), ob({b}, 0.01);
  for (int s = 0; s < 3; ++s) {
    set_grad(a, {0.3, 0.1 * s});
    oa.step();
  }
  optim::Optimizer::State legacy;  // as written before per-parameter counts
  for (const auto& [name, t] : oa.state()) legacy.emplace_back(name == "step.0" ? "step" : name, t);
  ob.load_state(legacy);
  {
    NoGradGuard ng;
    b.copy_(a);
  }
  set_grad(a, {-0.2, 0.5});
  set_grad(b, {-0.2, 0.5});
  oa.step();
  ob.step();
  CHECK(cmp("same step", a, b).exact);

  optim::Optimizer::State no_step;
  for (const auto& [name, t] : oa.state())
    if (name.rfind("step", 0) != 0) no_step.emplace_back(name, t);
  CHECK(contains(invalid_argument_message([&] { ob.load_state(no_step); }), "parameter 0 has moments but step 0"));
  optim::Optimizer::State both = oa.state();
  both.emplace_back("step", tensor_i64({4}));
  CHECK(contains(invalid_argument_message([&] { ob.load_state(both); }), "both 'step' and per-parameter"));
}

TEST_CASE("L1 proximal step makes small weights exactly zero") {
  Tensor w = param({0.05, -0.3, 0.2, -0.08});
  optim::l1_proximal_({w}, 0.1, 1.0);  // threshold lr·λ = 0.1
  check_values(w, {0.0, -0.2, 0.1, 0.0}, 1e-15);
  CHECK(w.at({0}) == 0.0);
}

TEST_CASE("clip_grad_norm_ multiplies by clamp(max_norm/(norm + 1e-6), max=1), as torch") {
  Tensor a = param({1.0, 1.0}), b = param({1.0});
  set_grad(a, {3.0, 0.0});
  set_grad(b, {4.0});
  const double norm = optim::clip_grad_norm_({a, b}, 1.0);
  CHECK(std::abs(norm - 5.0) < 1e-12);
  const double s = 1.0 / (5.0 + 1e-6);
  check_values(a.grad(), {3 * s, 0}, 1e-15);
  check_values(b.grad(), {4 * s}, 1e-15);
  // Under the limit: the factor is clamped to exactly 1.
  CHECK(std::abs(optim::clip_grad_norm_({a, b}, 10.0) - 5.0 * s) < 1e-12);
  check_values(b.grad(), {4 * s}, 0.0);
  // At the limit the factor is max_norm/(norm + 1e-6) < 1, not 1: torch scales then too.
  set_grad(a, {3.0, 0.0});
  set_grad(b, {4.0});
  optim::clip_grad_norm_({a, b}, 5.0);
  check_values(b.grad(), {4 * 5.0 / (5.0 + 1e-6)}, 1e-15);
  CHECK(b.grad().at({0}) != 4.0);
}

TEST_CASE("clip_grad_norm_ with a non-finite norm behaves as torch's error_if_nonfinite=False") {
  Tensor a = param({1.0, 1.0}), b = param({1.0});
  set_grad(a, {3.0, INFINITY});
  set_grad(b, {4.0});
  CHECK(std::isinf(optim::clip_grad_norm_({a, b}, 1.0)));  // factor 1/(inf + 1e-6) = 0
  CHECK(a.grad().at({0}) == 0.0);
  CHECK(std::isnan(a.grad().at({1})));  // inf·0
  CHECK(b.grad().at({0}) == 0.0);
  set_grad(a, {3.0, NAN});
  set_grad(b, {4.0});
  CHECK(std::isnan(optim::clip_grad_norm_({a, b}, 1.0)));
  CHECK(std::isnan(a.grad().at({0})));
  CHECK(std::isnan(b.grad().at({0})));
  Tensor c = param({1.0});  // no gradient at all: norm 0, nothing to scale
  CHECK(optim::clip_grad_norm_({c}, 1.0) == 0.0);
  CHECK(!c.grad().defined());
}

TEST_CASE("warmup + cosine learning rate") {
  CHECK(optim::warmup_cosine_lr(0, 10, 110, 1.0) == doctest::Approx(0.1));
  CHECK(optim::warmup_cosine_lr(9, 10, 110, 1.0) == doctest::Approx(1.0));
  CHECK(optim::warmup_cosine_lr(10, 10, 110, 1.0) == doctest::Approx(1.0));
  CHECK(optim::warmup_cosine_lr(60, 10, 110, 1.0, 0.2) == doctest::Approx(0.6));  // halfway: the mean
  CHECK(optim::warmup_cosine_lr(110, 10, 110, 1.0, 0.2) == doctest::Approx(0.2));
}

TEST_CASE("optimizers refuse bad arguments") {
  CHECK_THROWS_AS(optim::SGD({param({1.0})}, -0.1), std::invalid_argument);
  CHECK_THROWS_AS(optim::AdamW({param({1.0})}, 0.1, 1.0), std::invalid_argument);
  CHECK_THROWS_AS(optim::SGD({tensor({1.0})}, 0.1), std::invalid_argument);  // not requiring grad
}

TEST_CASE("optimizer state round-trips: a restored optimizer takes the same next step") {
  for (int kind = 0; kind < 2; ++kind) {
    Tensor a = param({1.0, -2.0}), b = param({1.0, -2.0});
    std::unique_ptr<optim::Optimizer> oa, ob;
    if (kind == 0) {
      oa = std::make_unique<optim::SGD>(std::vector<Tensor>{a}, 0.1, 0.9);
      ob = std::make_unique<optim::SGD>(std::vector<Tensor>{b}, 0.1, 0.9);
    } else {
      oa = std::make_unique<optim::AdamW>(std::vector<Tensor>{a}, 0.01);
      ob = std::make_unique<optim::AdamW>(std::vector<Tensor>{b}, 0.01);
    }
    set_grad(a, {0.3, 0.1});
    oa->step();
    {
      NoGradGuard ng;
      b.copy_(a);
    }
    ob->load_state(oa->state());
    set_grad(a, {-0.2, 0.5});
    set_grad(b, {-0.2, 0.5});
    oa->step();
    ob->step();
    CHECK(cmp("same step", a, b).exact);
  }
}

TEST_CASE("AdamW in float32 takes 1 − β in double, as torch.optim: three steps at lr 0.1 agree to an ulp") {
  // torch 1.13: p = [1, 2, -0.5] (float32), AdamW(lr=0.1) with defaults, p.grad set to each row of
  // g, then step(). With 1 − float(β₂) computed in float (0.00099998713, not 0.001) the first step
  // was 12 ulp off.
  Tensor p = tensor({1.0, 2.0, -0.5}).requires_grad_();
  optim::AdamW opt({p}, 0.1);
  const std::vector<std::vector<double>> g = {{0.5, -1.0, 0.25}, {0.3, -0.2, 1.5}, {-0.7, 0.1, 0.05}};
  const std::vector<std::vector<double>> torch_p = {{0.8990000486373901, 2.0980000495910645, -0.5995000004768372},
                                                    {0.8023520112037659, 2.176206111907959, -0.6833130121231079},
                                                    {0.8033032417297363, 2.2295680046081543, -0.749945878982544}};
  for (std::size_t t = 0; t < g.size(); ++t) {
    opt.zero_grad(/*set_to_none=*/true);
    p.impl().grad = tensor({g[t][0], g[t][1], g[t][2]}).impl_ptr();
    opt.step();
    for (int64_t i = 0; i < 3; ++i) {
      const double ulp = std::nextafter(static_cast<float>(torch_p[t][i]), 1e30f) - static_cast<float>(torch_p[t][i]);
      INFO("step ", t, " element ", i, ": ", p.at({i}), " vs torch ", torch_p[t][i]);
      CHECK(std::abs(p.at({i}) - torch_p[t][i]) <= 2 * ulp);
    }
  }
}

TEST_CASE("zero_grad fills gradients with zeros by default (torch 1.13), or drops them with set_to_none") {
  // torch 1.13: SGD(lr 0.1, momentum 0.9, weight_decay 0.01) on p = [1, 2]; backward of Σp, step,
  // zero_grad(), step again: the zero gradient still moves p by momentum and decay, to
  // [0.807201, 1.804302]. With set_to_none=True the second step skips p: [0.899, 1.898].
  for (const bool to_none : {false, true}) {
    Tensor p = param({1.0, 2.0});
    optim::SGD opt({p}, 0.1, 0.9, 0.01);
    p.sum().backward();
    opt.step();
    opt.zero_grad(to_none);
    CHECK(p.grad().defined() == !to_none);
    if (!to_none) check_values(p.grad(), {0.0, 0.0}, 0);
    opt.step();
    if (to_none) check_values(p, {0.899, 1.898}, 1e-12);
    else check_values(p, {0.807201, 1.804302}, 1e-12);
  }
  // Module::zero_grad alike.
  nn::Linear lin(2, 1);
  lin.weight.sum().backward();
  lin.zero_grad();
  REQUIRE(lin.weight.grad().defined());
  check_values(lin.weight.grad(), {0.0, 0.0}, 0);
  lin.zero_grad(/*set_to_none=*/true);
  CHECK_FALSE(lin.weight.grad().defined());
}
