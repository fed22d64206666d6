// Every primitive op, with the argument cases that exercise distinct code paths (same shape,
// broadcasting, keepdim, strided dims, batched). Inputs are float64 and seeded.
#include "regrad/check/op_cases.h"

#include "regrad/functional/attention.h"
#include "regrad/functional/cross_entropy.h"
#include "regrad/functional/dropout.h"
#include "regrad/functional/normalization.h"
#include "regrad/ops/conv.h"
#include "regrad/ops/elementwise.h"
#include "regrad/ops/index.h"
#include "regrad/ops/linalg.h"
#include "regrad/ops/loss.h"
#include "regrad/ops/reduce.h"
#include "regrad/ops/shape_ops.h"
#include "regrad/ops/softmax.h"
#include "regrad/tensor/factory.h"

namespace rg {

std::vector<OpCase> op_cases(uint64_t seed) {
  Generator gen(seed);
  const DType f64 = DType::Float64;
  auto leaf = [](Tensor t) { return t.requires_grad_(true); };
  auto normal = [&](const Shape& s) { return leaf(randn(s, gen, f64)); };
  // Strictly positive inputs, away from 0, for log / sqrt / rsqrt / pow / div.
  auto positive = [&](const Shape& s) { return leaf(rand(s, gen, f64) * 1.5 + 0.5); };
  using V = const std::vector<Tensor>&;

  std::vector<OpCase> c;
  c.push_back({"add", "same shape [3, 4]", {normal({3, 4}), normal({3, 4})}, [](V x) { return x[0] + x[1]; }});
  c.push_back({"add", "broadcast [3, 1] + [4]", {normal({3, 1}), normal({4})}, [](V x) { return x[0] + x[1]; }});
  c.push_back({"add", "scalar", {normal({2, 3})}, [](V x) { return x[0] + 2.5; }});
  c.push_back(
      {"sub", "broadcast [2, 3, 4] - [3, 1]", {normal({2, 3, 4}), normal({3, 1})}, [](V x) { return x[0] - x[1]; }});
  c.push_back({"sub", "scalar - tensor", {normal({5})}, [](V x) { return 1.0 - x[0]; }});
  c.push_back({"mul", "broadcast [4, 3] * [3]", {normal({4, 3}), normal({3})}, [](V x) { return x[0] * x[1]; }});
  c.push_back({"mul", "same tensor twice x*x", {normal({6})}, [](V x) { return x[0] * x[0]; }});
  c.push_back({"div", "broadcast [3, 4] / [4]", {normal({3, 4}), positive({4})}, [](V x) { return x[0] / x[1]; }});
  c.push_back({"div", "scalar / tensor", {positive({5})}, [](V x) { return 2.0 / x[0]; }});
  c.push_back({"pow", "tensor ^ tensor", {positive({3, 2}), normal({2})}, [](V x) { return pow(x[0], x[1]); }});
  c.push_back({"pow", "x^3", {normal({2, 3})}, [](V x) { return pow(x[0], 3.0); }});
  c.push_back({"pow", "x^-0.5", {positive({4})}, [](V x) { return pow(x[0], -0.5); }});
  c.push_back({"neg", "[2, 3]", {normal({2, 3})}, [](V x) { return -x[0]; }});
  c.push_back({"exp", "[2, 3]", {normal({2, 3})}, [](V x) { return exp(x[0]); }});
  c.push_back({"log", "[2, 3]", {positive({2, 3})}, [](V x) { return log(x[0]); }});
  c.push_back({"sqrt", "[2, 3]", {positive({2, 3})}, [](V x) { return sqrt(x[0]); }});
  c.push_back({"rsqrt", "[2, 3]", {positive({2, 3})}, [](V x) { return rsqrt(x[0]); }});
  c.push_back({"tanh", "[2, 3]", {normal({2, 3})}, [](V x) { return tanh(x[0]); }});
  c.push_back({"relu", "[3, 4]", {normal({3, 4})}, [](V x) { return relu(x[0]); }});
  c.push_back({"sigmoid", "[3, 4]", {normal({3, 4}) * 4.0}, [](V x) { return sigmoid(x[0]); }});
  c.push_back({"gelu", "[3, 4]", {normal({3, 4}) * 2.0}, [](V x) { return gelu(x[0]); }});
  c.push_back({"abs", "[3, 4]", {normal({3, 4})}, [](V x) { return abs(x[0]); }});
  c.push_back({"sum", "all", {normal({3, 4})}, [](V x) { return sum(x[0]); }});
  c.push_back({"sum", "dims [0, 2]", {normal({2, 3, 4})}, [](V x) { return sum(x[0], {0, 2}); }});
  c.push_back({"sum", "dim 1 keepdim", {normal({2, 3, 4})}, [](V x) { return sum(x[0], {1}, true); }});
  c.push_back({"mean", "all", {normal({3, 4})}, [](V x) { return mean(x[0]); }});
  c.push_back({"mean", "dim -1 keepdim", {normal({3, 5})}, [](V x) { return mean(x[0], {-1}, true); }});
  c.push_back({"var", "unbiased dim 0", {normal({5, 3})}, [](V x) { return var(x[0], {0}); }});
  c.push_back({"var", "biased dim 1 keepdim", {normal({3, 5})}, [](V x) { return var(x[0], {1}, false, true); }});
  c.push_back({"var", "all, unbiased", {normal({4, 3})}, [](V x) { return var(x[0]); }});
  c.push_back({"max", "all", {normal({3, 4})}, [](V x) { return max(x[0]); }});
  c.push_back({"max", "dim 1", {normal({3, 4})}, [](V x) { return max(x[0], 1).values; }});
  c.push_back({"max", "dim 0 keepdim", {normal({3, 4})}, [](V x) { return max(x[0], 0, true).values; }});
  c.push_back({"reshape", "[2, 6] -> [3, -1]", {normal({2, 6})}, [](V x) {
                 return reshape(x[0], {3, -1}) * x[0].reshape({3, 4});
               }});
  c.push_back({"flatten", "[2, 3, 4] dims 1..2", {normal({2, 3, 4})}, [](V x) { return flatten(x[0], 1); }});
  c.push_back(
      {"unsqueeze", "dim 1 then squeeze", {normal({3, 4})}, [](V x) { return squeeze(unsqueeze(x[0], 1) * 2.0, 1); }});
  c.push_back({"transpose", "[3, 4] dims 0, 1", {normal({3, 4})}, [](V x) { return transpose(x[0], 0, 1); }});
  c.push_back({"permute", "[2, 3, 4] -> (2, 0, 1)", {normal({2, 3, 4})}, [](V x) { return permute(x[0], {2, 0, 1}); }});
  c.push_back({"cat", "dim 1", {normal({2, 3}), normal({2, 2})}, [](V x) { return cat({x[0], x[1]}, 1); }});
  c.push_back({"slice", "dim 1, 1:6:2", {normal({3, 7})}, [](V x) { return slice(x[0], 1, 1, 6, 2); }});
  c.push_back({"expand", "[3, 1] -> [2, 3, 4]", {normal({3, 1})}, [](V x) { return expand(x[0], {2, 3, 4}); }});
  const Tensor rows = tensor_i64({2, 0, 2, 1});
  c.push_back(
      {"index_select", "dim 0, repeated rows", {normal({3, 4})}, [rows](V x) { return index_select(x[0], 0, rows); }});
  c.push_back({"index_select", "dim 1", {normal({3, 4})}, [rows](V x) { return index_select(x[0], 1, rows); }});
  const Tensor tokens = tensor_i64({1, 4, 1, 0, 3, 3}, {2, 3});
  c.push_back(
      {"embedding", "[2, 3] tokens, 5x4 table", {normal({5, 4})}, [tokens](V x) { return embedding(tokens, x[0]); }});
  const Tensor gidx = tensor_i64({0, 2, 1, 1, 3, 0}, {3, 2});
  c.push_back({"gather", "dim 1", {normal({3, 4})}, [gidx](V x) { return gather(x[0], 1, gidx); }});
  const Tensor cond = tensor({1, 0, 0, 1, 1, 0}, {2, 3}, f64);
  c.push_back({"where", "broadcast [2, 3], [3]", {normal({2, 3}), normal({3})}, [cond](V x) {
                 return where(cond, x[0], x[1]);
               }});
  c.push_back({"masked_fill", "mask [3]", {normal({2, 3})}, [](V x) {
                 return masked_fill(x[0], tensor({0, 1, 0}, DType::Float64), -7.0);
               }});
  c.push_back({"matmul", "[3, 4] @ [4, 5]", {normal({3, 4}), normal({4, 5})}, [](V x) { return matmul(x[0], x[1]); }});
  c.push_back({"matmul", "batched [2, 3, 4] @ [2, 4, 5]", {normal({2, 3, 4}), normal({2, 4, 5})}, [](V x) {
                 return matmul(x[0], x[1]);
               }});
  c.push_back(
      {"matmul", "[2, 3, 4] @ [4, 5]", {normal({2, 3, 4}), normal({4, 5})}, [](V x) { return matmul(x[0], x[1]); }});
  c.push_back({"matmul", "broadcast [2, 1, 3, 4] @ [3, 4, 2]", {normal({2, 1, 3, 4}), normal({3, 4, 2})}, [](V x) {
                 return matmul(x[0], x[1]);
               }});
  c.push_back({"matmul", "vector [4] @ [4, 3]", {normal({4}), normal({4, 3})}, [](V x) { return matmul(x[0], x[1]); }});
  c.push_back({"linear", "[5, 4] -> 3, bias", {normal({5, 4}), normal({3, 4}), normal({3})}, [](V x) {
                 return linear(x[0], x[1], x[2]);
               }});
  c.push_back({"linear", "[2, 3, 4] -> 2, no bias", {normal({2, 3, 4}), normal({2, 4})}, [](V x) {
                 return linear(x[0], x[1]);
               }});
  c.push_back(
      {"conv2d", "3x3, stride 1, padding 1, bias", {normal({2, 2, 5, 5}), normal({3, 2, 3, 3}), normal({3})}, [](V x) {
         return conv2d(x[0], x[1], x[2], 1, 1);
       }});
  c.push_back({"conv2d", "2x2, stride 2, no bias", {normal({2, 3, 4, 6}), normal({2, 3, 2, 2})}, [](V x) {
                 return conv2d(x[0], x[1], {}, 2, 0);
               }});
  c.push_back({"max_pool2d", "2x2", {normal({2, 2, 4, 6})}, [](V x) { return max_pool2d(x[0], 2); }});
  c.push_back(
      {"max_pool2d", "3x3 stride 2 (overlapping)", {normal({1, 2, 7, 5})}, [](V x) { return max_pool2d(x[0], 3, 2); }});
  c.push_back({"avg_pool2d", "2x2", {normal({2, 2, 4, 6})}, [](V x) { return avg_pool2d(x[0], 2); }});
  c.push_back(
      {"avg_pool2d", "3x3 stride 2 (overlapping)", {normal({1, 2, 7, 5})}, [](V x) { return avg_pool2d(x[0], 3, 2); }});
  c.push_back({"softmax", "dim -1", {normal({3, 5})}, [](V x) { return softmax(x[0], -1); }});
  c.push_back({"softmax", "dim 0 (strided)", {normal({4, 3})}, [](V x) { return softmax(x[0], 0); }});
  c.push_back({"log_softmax", "dim 1 of [2, 4, 3]", {normal({2, 4, 3})}, [](V x) { return log_softmax(x[0], 1); }});
  const Tensor targets = tensor_i64({2, 0, 4});
  c.push_back({"nll_loss", "mean", {normal({3, 5})}, [targets](V x) { return nll_loss(x[0], targets); }});
  const Tensor one_ignored = tensor_i64({2, -100, 4, 1});
  c.push_back({"nll_loss", "mean, ignore_index -100", {normal({4, 5})}, [one_ignored](V x) {
                 return nll_loss(x[0], one_ignored);
               }});
  c.push_back({"clone", "[2, 3]", {normal({2, 3})}, [](V x) { return x[0].clone() * x[0]; }});
  // float64 → float32 → float64: the output is rounded to float32 (relative 6e-8), so the step is
  // 1e-3, where that rounding moves the difference quotient by ~1e-4 (the tolerance is 1e-3).
  c.push_back({"to",
               "float64 -> float32 -> float64",
               {normal({2, 3})},
               [](V x) { return x[0].to(DType::Float32).to(DType::Float64) * x[0]; },
               1e-3});

  // ---- fused layers with hand-derived backward (src/functional/) ----
  const Tensor none;
  auto bn_train = [none](V x) { return batch_norm(x[0], none, none, x[1], x[2], true); };
  c.push_back({"causal_attention", "(2, 5, 3·6), 2 heads", {normal({2, 5, 18})}, [](V x) {
                 return causal_attention(x[0], 2);
               }});
  c.push_back(
      {"causal_attention", "(1, 4, 3·4), 1 head", {normal({1, 4, 12})}, [](V x) { return causal_attention(x[0], 1); }});
  c.push_back({"causal_attention", "(2, 3, 3·17), 1 head of 17 columns (GEMMs)", {normal({2, 3, 51})}, [](V x) {
                 return causal_attention(x[0], 1);
               }});
  c.push_back({"batch_norm", "train (N, C) affine", {normal({6, 4}), normal({4}), normal({4})}, bn_train});
  c.push_back({"batch_norm", "train (N, C, L) affine", {normal({3, 4, 5}), normal({4}), normal({4})}, bn_train});
  c.push_back({"batch_norm", "train (N, C, H, W) affine", {normal({2, 3, 3, 4}), normal({3}), normal({3})}, bn_train});
  c.push_back({"batch_norm", "train, no affine, eps 0.1", {normal({5, 3})}, [none](V x) {
                 return batch_norm(x[0], none, none, none, none, true, 0.1, 0.1);
               }});
  const Tensor rm = randn({4}, gen, f64), rv = rand({4}, gen, f64) + 0.5;
  c.push_back({"batch_norm", "eval (N, C, L) affine", {normal({3, 4, 2}), normal({4}), normal({4})}, [rm, rv](V x) {
                 return batch_norm(x[0], rm, rv, x[1], x[2], false);
               }});
  c.push_back({"layer_norm", "[4, 6] over [6] affine", {normal({4, 6}), normal({6}), normal({6})}, [](V x) {
                 return layer_norm(x[0], {6}, x[1], x[2]);
               }});
  c.push_back({"layer_norm",
               "[2, 3, 4, 5] over [4, 5] affine",
               {normal({2, 3, 4, 5}), normal({4, 5}), normal({4, 5})},
               [](V x) {
                 return layer_norm(x[0], {4, 5}, x[1], x[2]);
               }});
  c.push_back({"layer_norm", "no affine, eps 1e-3", {normal({3, 7})}, [none](V x) {
                 return layer_norm(x[0], {7}, none, none, 1e-3);
               }});
  c.push_back({"rms_norm", "[4, 6] over [6] weight", {normal({4, 6}), normal({6})}, [](V x) {
                 return rms_norm(x[0], {6}, x[1], 1e-6);
               }});
  c.push_back({"rms_norm", "[2, 3, 4] over [3, 4], no weight", {normal({2, 3, 4})}, [none](V x) {
                 return rms_norm(x[0], {3, 4}, none);
               }});
  c.push_back({"group_norm", "(2, 6, 5), 3 groups affine", {normal({2, 6, 5}), normal({6}), normal({6})}, [](V x) {
                 return group_norm(x[0], 3, x[1], x[2]);
               }});
  c.push_back({"group_norm",
               "(2, 4, 2, 3), 1 group (LayerNorm-like)",
               {normal({2, 4, 2, 3}), normal({4}), normal({4})},
               [](V x) { return group_norm(x[0], 1, x[1], x[2]); }});
  c.push_back({"group_norm",
               "(2, 4, 2, 3), 4 groups (InstanceNorm-like)",
               {normal({2, 4, 2, 3}), normal({4}), normal({4})},
               [](V x) { return group_norm(x[0], 4, x[1], x[2]); }});
  c.push_back({"group_norm", "(3, 4, 5), 2 groups, no affine", {normal({3, 4, 5})}, [none](V x) {
                 return group_norm(x[0], 2, none, none);
               }});
  // Spatial size >= 64: the kernels loop over each channel's run of S elements.
  c.push_back({"group_norm",
               "(2, 4, 8, 8), 2 groups affine, long runs",
               {normal({2, 4, 8, 8}), normal({4}), normal({4})},
               [](V x) { return group_norm(x[0], 2, x[1], x[2]); }});
  c.push_back({"group_norm", "(2, 2, 70), 1 group, no affine, long runs", {normal({2, 2, 70})}, [none](V x) {
                 return group_norm(x[0], 1, none, none);
               }});
  const Tensor keep = bernoulli({4, 5}, 0.7, gen, f64);
  c.push_back(
      {"dropout", "given mask, p 0.3", {normal({4, 5})}, [keep](V x) { return dropout_with_mask(x[0], keep, 0.3); }});
  c.push_back({"dropout", "seeded mask, p 0.5", {normal({3, 70})}, [](V x) {
                 Generator g(9);  // the same mask on every evaluation
                 return dropout(x[0], 0.5, true, g);
               }});
  const Tensor probs = softmax(randn({3, 5}, gen, f64), 1);
  c.push_back({"cross_entropy", "mean", {normal({3, 5})}, [targets](V x) { return cross_entropy(x[0], targets); }});
  c.push_back({"cross_entropy", "sum, label_smoothing 0.1", {normal({3, 5})}, [targets](V x) {
                 return cross_entropy(x[0], targets, Reduction::Sum, 0.1);
               }});
  c.push_back({"cross_entropy", "none, label_smoothing 0.2", {normal({3, 5})}, [targets](V x) {
                 return cross_entropy(x[0], targets, Reduction::None, 0.2);
               }});
  c.push_back({"cross_entropy", "soft targets, label_smoothing 0.1", {normal({3, 5})}, [probs](V x) {
                 return cross_entropy(x[0], probs, Reduction::Mean, 0.1);
               }});
  const Tensor cw = rand({5}, gen, f64) + 0.5;
  c.push_back({"cross_entropy", "class weight, label_smoothing 0.2", {normal({3, 5})}, [targets, cw](V x) {
                 return cross_entropy(x[0], targets, {.weight = cw, .label_smoothing = 0.2});
               }});
  const Tensor some_ignored = tensor_i64({2, -100, 4, 1});
  c.push_back({"cross_entropy", "ignore_index -100, class weight", {normal({4, 5})}, [some_ignored, cw](V x) {
                 return cross_entropy(x[0], some_ignored, {.weight = cw});
               }});
  const Tensor seq = tensor_i64({0, 1, 4, 1, 3, 2, 1, 1, 0, 4, 2, 3}, {2, 2, 3});
  c.push_back({"cross_entropy", "(2, 5, 2, 3), ignore_index 1, sum", {normal({2, 5, 2, 3})}, [seq](V x) {
                 return cross_entropy(x[0], seq, {.ignore_index = 1, .reduction = Reduction::Sum});
               }});
  c.push_back({"cross_entropy", "(5) unbatched, label_smoothing 0.1", {normal({5})}, [](V x) {
                 return cross_entropy(x[0], tensor_i64({3}).reshape({}), Reduction::Mean, 0.1);
               }});
  c.push_back({"cross_entropy",
               "soft targets differentiated, weight, none",
               {normal({3, 5}), leaf(softmax(randn({3, 5}, gen, f64), 1))},
               [cw](V x) {
                 return cross_entropy(x[0], x[1], {.weight = cw, .reduction = Reduction::None, .label_smoothing = 0.1});
               }});
  return c;
}

}  // namespace rg
