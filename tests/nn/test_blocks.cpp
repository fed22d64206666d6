#include <cmath>

#include "../test_util.h"

using namespace rg;

static Tensor param(nn::Module& m, const std::string& name) {
  for (auto& [n, t] : m.named_parameters())
    if (n == name) return t;
  FAIL("no parameter " << name);
  return Tensor();
}

TEST_CASE("GELU and Embedding") {
  rg::test::check_values(gelu(tensor({0.0, 1.0, -1.0}, DType::Float64)),
                         {0.0, 0.8413447460685429, -0.15865525393145707}, 1e-15);
  Generator g(0);
  nn::Embedding emb(27, 16, g);
  CHECK(emb(tensor_i64({1, 2, 3}, {1, 3})).shape() == Shape{1, 3, 16});
  CHECK(std::abs(var(emb.weight.detach().reshape({-1})).item() - 1.0) < 0.15);  // N(0, 1)
}

TEST_CASE("causal self-attention: a position never sees the future") {
  Generator g(1);
  nn::CausalSelfAttention attn(8, 2, g);
  Tensor x = randn({2, 5, 8}, g);
  const Tensor y = attn(x);
  Tensor x2 = x.clone();
  for (int64_t c = 0; c < 8; ++c) x2.set({0, 3, c}, 100.0);  // change position 3 of sample 0
  const Tensor y2 = attn(x2);
  CHECK(cmp("past", slice(y2, 1, 0, 3), slice(y, 1, 0, 3), 0, 1e-6).approximate);  // positions 0..2 unchanged
  CHECK_FALSE(cmp("now", slice(y2, 1, 3, 4), slice(y, 1, 3, 4), 0, 1e-3).approximate);
  CHECK_THROWS_AS(nn::CausalSelfAttention(8, 3, g), std::invalid_argument);
}

TEST_CASE("pre-norm and post-norm wiring") {
  Generator g(2);
  const Tensor x = randn({2, 4, 8}, g) * 3.0 + 1.0;
  // Post-norm: the block's output is LayerNorm'd (weight 1, bias 0 at init): rows have mean 0, var 1.
  nn::TransformerBlock post(8, 2, nn::NormPlacement::Post, "ln", g);
  const Tensor yp = post(x);
  rg::test::check_values(mean(yp, {-1}), std::vector<double>(8, 0.0), 1e-5);
  rg::test::check_values(var(yp, {-1}, false), std::vector<double>(8, 1.0), 1e-3);
  // Pre-norm: with both branches' output layers zeroed, the block is the identity.
  nn::TransformerBlock pre(8, 2, nn::NormPlacement::Pre, "rms", g);
  {
    NoGradGuard ng;
    for (const char* n : {"attn.proj.weight", "attn.proj.bias", "fc2.weight", "fc2.bias"}) param(pre, n).zero_();
  }
  CHECK(cmp("identity", pre(x), x, 0, 1e-6).approximate);
  CHECK(pre.named_parameters().size() == 1 + 4 + 1 + 4);  // RMSNorm weight, qkv + proj, RMSNorm weight, fc1 + fc2
  CHECK_THROWS_AS(nn::parse_placement("middle"), std::invalid_argument);
}

TEST_CASE("TransformerBlock residual dropout: dropped branches leave the skip path, eval is dropout-free") {
  Generator g(4);
  const Tensor x = randn({2, 4, 8}, g);
  Generator g1(5), g2(5);
  nn::TransformerBlock plain(8, 2, nn::NormPlacement::Pre, "ln", g1);
  nn::TransformerBlock dropped(8, 2, nn::NormPlacement::Pre, "ln", g2, DType::Float32, 1.0);
  CHECK(dropped.named_parameters().size() == plain.named_parameters().size());
  // p = 1 drops both branches entirely: a pre-norm block is then exactly the identity in training.
  CHECK(cmp("p=1 train", dropped(x), x, 0, 0).exact);
  dropped.eval();
  CHECK(cmp("p=1 eval", dropped(x), plain(x), 0, 0).exact);  // same weights, dropout off
  // 0 < p < 1 in training changes the output, and the same seed gives the same masks.
  Generator g3(5);
  nn::TransformerBlock half(8, 2, nn::NormPlacement::Post, "ln", g3, DType::Float32, 0.5);
  manual_seed(7);
  const Tensor a = half(x);
  manual_seed(7);
  CHECK(cmp("same seed", half(x), a, 0, 0).exact);
  half.eval();
  CHECK_FALSE(cmp("train vs eval", half(x), a, 0, 1e-3).approximate);
}

TEST_CASE("blocks pass gradcheck in double (input gradients through every layer)") {
  for (nn::NormPlacement placement : {nn::NormPlacement::Pre, nn::NormPlacement::Post}) {
    Generator g(3);
    auto block = std::make_shared<nn::TransformerBlock>(4, 2, placement, "ln", g, DType::Float64);
    auto mlp = std::make_shared<nn::ResidualMLPBlock>(4, 8, placement, "rms", g, DType::Float64);
    const Tensor x = randn({2, 3, 4}, g, DType::Float64).requires_grad_();
    const GradcheckResult r1 = gradcheck([&](const std::vector<Tensor>& in) { return (*block)(in[0]); }, {x});
    CHECK_MESSAGE(r1.ok, r1.summary());
    const GradcheckResult r2 = gradcheck([&](const std::vector<Tensor>& in) { return (*mlp)(in[0]); }, {x});
    CHECK_MESSAGE(r2.ok, r2.summary());
  }
}

TEST_CASE("ResidualConvBlock: identity skip plus two convolutions, gradchecked") {
  Generator g(4);
  auto n1 = std::make_shared<nn::GroupNorm>(2, 4, 1e-5, true, DType::Float64);
  auto n2 = std::make_shared<nn::GroupNorm>(2, 4, 1e-5, true, DType::Float64);
  nn::ResidualConvBlock block(4, n1, n2, g, DType::Float64);
  const Tensor x = randn({2, 4, 5, 5}, g, DType::Float64).requires_grad_();
  CHECK(block(x).shape() == x.shape());
  const GradcheckResult r = gradcheck([&](const std::vector<Tensor>& in) { return block(in[0]); }, {x});
  CHECK_MESSAGE(r.ok, r.summary());
  // With the second norm's gain at 0 the branch vanishes: y = relu(x).
  {
    NoGradGuard ng;
    param(block, "norm2.weight").zero_();
    param(block, "norm2.bias").zero_();
  }
  CHECK(cmp("relu(x)", block(x), relu(x), 0, 1e-12).approximate);
}

TEST_CASE("CharTransformer: logits per context, and clear errors") {
  train::CharTransformer t(27, 6, 16, 2, 2, nn::NormPlacement::Pre, "rms", 1);
  const Tensor tokens = tensor_i64(std::vector<int64_t>(3 * 6, 5), {3, 6});
  CHECK(t(tokens).shape() == Shape{3, 27});
  CHECK_THROWS_WITH_AS(t(tensor_i64({1, 2}, {1, 2})), doctest::Contains("expected int64 tokens (N, 6)"),
                       std::invalid_argument);
  CHECK_THROWS_AS(train::CharTransformer(27, 6, 16, 2, 1, nn::NormPlacement::Post, "bn", 1), std::invalid_argument);
  // With dropout: the same weights, and in eval mode the same logits as without.
  train::CharTransformer d(27, 6, 16, 2, 2, nn::NormPlacement::Pre, "rms", 1, 0.3);
  CHECK(d.named_parameters().size() == t.named_parameters().size());
  Tensor varied = tensor_i64(std::vector<int64_t>(3 * 6, 5), {3, 6});
  for (int64_t i = 0; i < 6; ++i) varied.set({1, i}, static_cast<double>(i + 1));
  CHECK_FALSE(cmp("train", d(varied), t(varied), 0, 1e-4).approximate);
  d.eval();
  CHECK(cmp("eval", d(varied), t(varied), 0, 0).exact);
}
