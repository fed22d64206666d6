#include "../test_util.h"

using namespace rg;
using rg::test::check_values;
using rg::test::contains;
using rg::test::invalid_argument_message;

TEST_CASE("BatchNorm1d has PyTorch's defaults, parameters and buffers") {
  nn::BatchNorm1d bn(3);
  CHECK(bn.eps == 1e-5);
  CHECK(bn.momentum == 0.1);
  check_values(bn.weight, {1, 1, 1}, 0);
  check_values(bn.bias, {0, 0, 0}, 0);
  check_values(bn.running_mean, {0, 0, 0}, 0);
  check_values(bn.running_var, {1, 1, 1}, 0);
  const auto params = bn.named_parameters();
  REQUIRE(params.size() == 2);
  CHECK(params[0].first == "weight");
  CHECK(params[0].second.same(bn.weight));
  CHECK(params[0].second.requires_grad());
  const auto buffers = bn.named_buffers();
  REQUIRE(buffers.size() == 3);
  CHECK(buffers[1].first == "running_var");
  CHECK(buffers[2].first == "num_batches_tracked");  // torch's state_dict key, a 0-d int64
  CHECK(buffers[2].second.dtype() == DType::Int64);
  CHECK(buffers[2].second.dim() == 0);
  CHECK_FALSE(bn.running_var.requires_grad());
  CHECK(nn::BatchNorm1d(3, 1e-5, 0.1, false).parameters().empty());
  CHECK(nn::BatchNorm1d(3, 1e-5, 0.1, true, false).named_buffers().empty());
}

TEST_CASE("BatchNorm: train() updates running statistics, eval() uses them") {
  Generator gen(1);
  nn::BatchNorm1d bn(4);
  const Tensor x = randn({16, 4}, gen) * 2.0 + 1.0;
  const Tensor y_train = bn(x);
  CHECK(bn.num_batches_tracked.item() == 1);
  CHECK(cmp("train", y_train, batch_norm(x, {}, {}, {}, {}, true)).exact);
  check_values(bn.running_mean, (mean(x, {0}) * 0.1).tolist(), 1e-6);
  check_values(bn.running_var, (var(x, {0}) * 0.1 + 0.9).tolist(), 1e-6);  // unbiased batch variance
  bn.eval();
  CHECK_FALSE(bn.is_training());
  const Tensor y_eval = bn(x);
  CHECK(cmp("eval", y_eval, batch_norm(x, bn.running_mean, bn.running_var, bn.weight, bn.bias, false)).exact);
  CHECK(bn.num_batches_tracked.item() == 1);
}

TEST_CASE("BatchNorm with momentum=None keeps the cumulative average of batch statistics") {
  Generator gen(2);
  nn::BatchNorm1d bn(2, 1e-5, std::nullopt);
  Tensor sum_means = zeros({2}), sum_vars = zeros({2});
  for (int k = 0; k < 4; ++k) {
    const Tensor x = randn({8, 2}, gen) * (1.0 + k) + double(k);
    bn(x);
    sum_means = sum_means + mean(x, {0});
    sum_vars = sum_vars + var(x, {0});  // unbiased; the initial 1 has weight 0 after the first batch
    check_values(bn.running_mean, (sum_means / (k + 1.0)).tolist(), 1e-5);
    check_values(bn.running_var, (sum_vars / (k + 1.0)).tolist(), 1e-5);
  }
}

TEST_CASE("BatchNorm2d: running_var is the unbiased variance over (N, H, W), weighted by momentum") {
  Generator gen(5);
  nn::BatchNorm2d bn(3, 1e-5, 0.3, true, true, DType::Float64);
  Tensor em = zeros({3}, DType::Float64), ev = ones({3}, DType::Float64);
  for (int k = 0; k < 3; ++k) {
    const Tensor x = randn({4, 3, 2, 5}, gen, DType::Float64) * (2.0 + k) - 1.0;
    bn(x);
    em = em * 0.7 + mean(x, {0, 2, 3}) * 0.3;
    ev = ev * 0.7 + var(x, {0, 2, 3}) * 0.3;  // M = 40 elements per channel: ÷ 39
  }
  check_values(bn.running_mean, em.tolist(), 1e-14);
  check_values(bn.running_var, ev.tolist(), 1e-14);
}

TEST_CASE("BatchNorm recalibration: reset_running_stats, then momentum=None averages batch statistics") {
  Generator gen(4);
  nn::BatchNorm2d bn(3);  // momentum 0.1 while "training"
  for (int k = 0; k < 5; ++k) bn(randn({4, 3, 2, 2}, gen) * 3.0 - 2.0);
  bn.weight.detach().fill_(2.0);
  bn.reset_running_stats();
  CHECK(bn.num_batches_tracked.item() == 0);
  check_values(bn.running_mean, {0, 0, 0}, 0);
  check_values(bn.running_var, {1, 1, 1}, 0);
  check_values(bn.weight, {2, 2, 2}, 0);  // parameters are not statistics
  bn.momentum = std::nullopt;
  Tensor sum_mean = zeros({3}), sum_var = zeros({3});
  for (int k = 0; k < 3; ++k) {
    const Tensor x = randn({5, 3, 2, 2}, gen) * (1.0 + k) + double(k);
    bn(x);
    sum_mean = sum_mean + mean(x, {0, 2, 3});
    sum_var = sum_var + var(x, {0, 2, 3});  // unbiased, as the running variance
  }
  CHECK(bn.num_batches_tracked.item() == 3);
  check_values(bn.running_mean, (sum_mean / 3.0).tolist(), 1e-5);
  check_values(bn.running_var, (sum_var / 3.0).tolist(), 1e-5);
}

TEST_CASE("BatchNorm without running statistics uses batch statistics in eval too") {
  Generator gen(3);
  nn::BatchNorm2d bn(3, 1e-5, 0.1, true, false);
  const Tensor x = randn({2, 3, 4, 4}, gen);
  bn.eval();
  CHECK(cmp("eval", bn(x), batch_norm(x, {}, {}, bn.weight, bn.bias, true)).exact);
}

TEST_CASE("modules reject wrong input shapes and bad constructor arguments") {
  nn::BatchNorm1d bn1(3);
  CHECK(contains(invalid_argument_message([&] { bn1(zeros({2, 3, 4, 5})); }), "BatchNorm1d: expected 2D or 3D input"));
  CHECK(contains(invalid_argument_message([&] {
                   bn1(zeros({2, 4}));
                 }),
                 "expected 3 channels (dim 1), got input of shape [2, 4]"));
  nn::BatchNorm2d bn2(3);
  CHECK(contains(invalid_argument_message([&] { bn2(zeros({2, 3, 4})); }), "BatchNorm2d: expected 4D input"));
  CHECK(contains(invalid_argument_message([] { nn::GroupNorm(4, 6); }), "must be divisible by num_groups 4"));
  nn::GroupNorm gn(2, 4);
  CHECK(contains(invalid_argument_message([&] { gn(zeros({2, 6, 3})); }), "expected input (N, 4, *)"));
  CHECK(contains(invalid_argument_message([] { nn::Dropout(1.2); }), "must be in [0, 1], got 1.2"));
  nn::LayerNorm ln({5});
  CHECK(contains(invalid_argument_message([&] { ln(zeros({2, 4})); }), "normalized_shape [5]"));
}

TEST_CASE("LayerNorm, RMSNorm, GroupNorm and Dropout modules call their functional ops") {
  Generator gen(4);
  const Tensor x = randn({3, 4, 5}, gen);
  nn::LayerNorm ln({4, 5});
  CHECK(ln.weight.shape() == Shape{4, 5});
  CHECK(cmp("ln", ln(x), layer_norm(x, {4, 5})).exact);
  nn::RMSNorm rms({5}, 1e-6);
  CHECK(rms.named_parameters().size() == 1);
  CHECK(cmp("rms", rms(x), rms_norm(x, {5}, {}, 1e-6)).exact);
  nn::GroupNorm gn(2, 4);
  CHECK(cmp("gn", gn(x), group_norm(x, 2)).exact);
  Generator g1(8), g2(8);
  nn::Dropout drop(0.25, &g1);
  CHECK(cmp("dropout", drop(x), dropout(x, 0.25, true, g2)).exact);
  drop.eval();
  CHECK(cmp("dropout eval", drop(x), x).exact);
}

// A composite module: train()/eval() and names reach the children.
struct Block : nn::Module {
  std::shared_ptr<nn::LayerNorm> norm = std::make_shared<nn::LayerNorm>(Shape{4});
  std::shared_ptr<nn::Dropout> drop = std::make_shared<nn::Dropout>(0.1);
  Block() {
    register_module("norm", norm);
    register_module("drop", drop);
  }
  Tensor forward(const Tensor& x) override { return (*drop)((*norm)(x)); }
};

TEST_CASE("train()/eval() and parameter names are recursive") {
  Block b;
  const auto names = b.named_parameters();
  REQUIRE(names.size() == 2);
  CHECK(names[0].first == "norm.weight");
  CHECK(names[1].first == "norm.bias");
  b.eval();
  CHECK_FALSE(b.drop->is_training());
  b.train();
  CHECK(b.norm->is_training());
  b(ones({2, 4}) * tensor({1, 2, 3, 4})).sum().backward();
  CHECK(b.norm->weight.grad().defined());
  b.zero_grad();  // recursive: the child's gradients are zeroed (torch 1.13's default) ...
  check_values(b.norm->weight.grad(), {0, 0, 0, 0}, 0);
  b.zero_grad(/*set_to_none=*/true);  // ... or dropped
  CHECK_FALSE(b.norm->weight.grad().defined());
}

TEST_CASE("make_norm builds each named normalization layer with the right shape, and refuses the rest") {
  const auto bn1 = std::dynamic_pointer_cast<nn::BatchNorm1d>(nn::make_norm("bn", 4));
  REQUIRE(bn1);
  CHECK(bn1->num_features == 4);
  CHECK(std::dynamic_pointer_cast<nn::BatchNorm2d>(nn::make_norm("bn", 4, {5, 5})));
  const auto gn = std::dynamic_pointer_cast<nn::GroupNorm>(nn::make_norm("gn", 8, {3, 3}, 2));
  REQUIRE(gn);
  CHECK(gn->num_groups == 2);
  const auto ln = std::dynamic_pointer_cast<nn::LayerNorm>(nn::make_norm("ln", 4, {5, 5}));
  REQUIRE(ln);
  CHECK(ln->normalized_shape == Shape{4, 5, 5});
  const auto rms = std::dynamic_pointer_cast<nn::RMSNorm>(nn::make_norm("rms", 16, {}, 0, DType::Float64));
  REQUIRE(rms);
  CHECK(rms->normalized_shape == Shape{16});
  CHECK(*rms->eps == 1e-5);
  CHECK(rms->weight.dtype() == DType::Float64);
  CHECK(nn::make_norm("none", 4) == nullptr);
  CHECK(contains(invalid_argument_message([] { nn::make_norm("gn", 8); }), "groups"));
  CHECK(contains(invalid_argument_message([] { nn::make_norm("bn", 4, {5}); }), "[5]"));
  CHECK(contains(invalid_argument_message([] { nn::make_norm("batch", 4); }), "unknown norm 'batch'"));
  CHECK(contains(invalid_argument_message([] { nn::make_block_norm("bn", 4); }), "block norm must be 'ln' or 'rms'"));
}

TEST_CASE("BatchNorm in training takes an empty batch: an empty result, the running statistics untouched") {
  // torch 1.13: nn.BatchNorm1d(3)(torch.zeros(0, 3)) returns a (0, 3) tensor; running_mean and
  // running_var keep their values. A single value per channel is still refused.
  nn::BatchNorm1d bn(3);
  const Tensor x = zeros({0, 3}).requires_grad_();
  const Tensor y = bn(x);
  CHECK(y.shape() == Shape{0, 3});
  check_values(bn.running_mean, {0, 0, 0}, 0);
  check_values(bn.running_var, {1, 1, 1}, 0);
  y.sum().backward();
  check_values(bn.weight.grad(), {0, 0, 0}, 0);
  CHECK(x.grad().shape() == Shape{0, 3});
  CHECK_THROWS_AS(bn(zeros({1, 3})), std::invalid_argument);
}

TEST_CASE("num_batches_tracked travels in state_dict: momentum=None's average resumes where it stopped") {
  // torch: BatchNorm1d(2, momentum=None) after 2 batches, state_dict() into a fresh module, a third
  // batch: the running mean is the mean of all three batch means, as without the copy.
  Generator gen(5);
  const Tensor x1 = randn({6, 2}, gen), x2 = randn({6, 2}, gen) + 1.0, x3 = randn({6, 2}, gen) - 2.0;
  nn::BatchNorm1d a(2, 1e-5, std::nullopt), b(2, 1e-5, std::nullopt);
  a(x1);
  a(x2);
  b.load_state_dict(a.state_dict());
  CHECK(b.num_batches_tracked.item() == 2);
  b(x3);
  check_values(b.running_mean, ((mean(x1, {0}) + mean(x2, {0}) + mean(x3, {0})) / 3.0).tolist(), 1e-6);
}
