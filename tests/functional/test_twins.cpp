// Each hand-derived backward against its composed twin (rg::composed, primitive ops + autograd):
// outputs and gradients for x, weight and bias agree to 1e-12 in double and 1e-5 in float.
#include <functional>

#include "../test_util.h"

using namespace rg;

static double tol(DType dt) { return dt == DType::Float64 ? 1e-12 : 1e-5; }

// Runs fused and composed on leaf copies of `inputs` with the same random upstream gradient and
// compares the output and every input gradient (cmp lines in the notebook's manner).
static void check_twins(const char* name, const std::vector<Tensor>& inputs, const TensorFn& fused,
                        const TensorFn& twin, const std::vector<const char*>& names = {"dx", "dweight", "dbias"}) {
  std::vector<Tensor> a, b;
  for (const Tensor& t : inputs) {
    a.push_back(t.defined() ? t.detach().clone().requires_grad_() : t);
    b.push_back(t.defined() ? t.detach().clone().requires_grad_() : t);
  }
  const Tensor ya = fused(a), yb = twin(b);
  Generator gen(77);
  const Tensor g = randn(ya.shape(), gen, ya.dtype());
  ya.backward(g);
  yb.backward(g);
  const double t = tol(ya.dtype());
  INFO(std::string(name));
  const CmpResult cy = cmp("y", ya, yb, 0, t);
  CHECK_MESSAGE(cy.approximate, cy.line());
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (!a[i].defined()) continue;
    REQUIRE_MESSAGE(a[i].grad().defined(), "the fused op gave no gradient for ", names[i]);
    const CmpResult c = cmp(names[i], a[i].grad(), b[i].grad(), 0, t);
    CHECK_MESSAGE(c.approximate, c.line());
  }
}

using V = const std::vector<Tensor>&;

TEST_CASE("causal_attention agrees with its composed twin (permuted heads, masked softmax), in double and float") {
  for (DType dt : {DType::Float64, DType::Float32}) {
    Generator gen(dt == DType::Float64 ? 21 : 22);
    // The Transformer's shape (embed 64, 4 heads, context 8), odd sizes, a context of 1, the largest
    // heads computed by loops (32×16, and 13 columns: a partial block of 8) and the smallest by GEMMs
    // (33×16, 32×17, 40×32).
    for (const auto& [shape, heads] : {std::pair<Shape, int64_t>{{4, 8, 192}, 4},
                                       {{3, 7, 36}, 3},
                                       {{2, 1, 12}, 2},
                                       {{2, 32, 96}, 2},
                                       {{2, 13, 39}, 1},
                                       {{2, 33, 48}, 1},
                                       {{2, 32, 51}, 1},
                                       {{2, 40, 192}, 2}}) {
      check_twins(
          "causal_attention", {randn(shape, gen, dt) * 2.0}, [h = heads](V x) { return causal_attention(x[0], h); },
          [h = heads](V x) { return composed::causal_attention(x[0], h); }, {"dqkv"});
    }
  }
  CHECK_THROWS_WITH_AS(causal_attention(zeros({2, 3, 12}), 3), doctest::Contains("[2, 3, 12]"), std::invalid_argument);
}

TEST_CASE("fused layers agree with their composed twins, in double and float") {
  for (DType dt : {DType::Float64, DType::Float32}) {
    Generator gen(dt == DType::Float64 ? 1 : 2);
    auto r = [&](const Shape& s) { return randn(s, gen, dt) * 2.0 + 0.5; };
    const Tensor none;
    for (const Shape& s : {Shape{16, 5}, Shape{4, 3, 7}, Shape{3, 4, 5, 6}}) {
      const int64_t C = s[1];
      check_twins(
          "batch_norm train", {r(s), r({C}), r({C})},
          [none](V x) { return batch_norm(x[0], none, none, x[1], x[2], true); },
          [none](V x) { return composed::batch_norm(x[0], none, none, x[1], x[2], true); });
      check_twins(
          "batch_norm train, no affine", {r(s)}, [none](V x) { return batch_norm(x[0], none, none, none, none, true); },
          [none](V x) { return composed::batch_norm(x[0], none, none, none, none, true); });
      const Tensor rm = r({C}), rv = rand({C}, gen, dt) + 0.5;
      check_twins(
          "batch_norm eval", {r(s), r({C}), r({C})},
          [rm, rv](V x) { return batch_norm(x[0], rm, rv, x[1], x[2], false); },
          [rm, rv](V x) { return composed::batch_norm(x[0], rm, rv, x[1], x[2], false); });
      check_twins(
          "group_norm", {r(s), r({C}), r({C})}, [](V x) { return group_norm(x[0], 1, x[1], x[2]); },
          [](V x) { return composed::group_norm(x[0], 1, x[1], x[2]); });
      // One group per channel; for (N, C) that leaves one element per group, x̂ ≡ 0: checked in
      // double only, since float rounding in the twin's backward (rstd² ≈ 1e3) is the larger error.
      if (s.size() > 2 || dt == DType::Float64)
        check_twins(
            "group_norm C groups", {r(s), r({C}), r({C})}, [C](V x) { return group_norm(x[0], C, x[1], x[2], 1e-3); },
            [C](V x) { return composed::group_norm(x[0], C, x[1], x[2], 1e-3); });
    }
    check_twins(
        "group_norm 2 of 6", {r({3, 6, 4}), r({6}), r({6})}, [](V x) { return group_norm(x[0], 2, x[1], x[2]); },
        [](V x) { return composed::group_norm(x[0], 2, x[1], x[2]); });
    // Spatial size >= 64: the kernels' per-channel runs.
    check_twins(
        "group_norm long runs", {r({3, 6, 8, 9}), r({6}), r({6})}, [](V x) { return group_norm(x[0], 3, x[1], x[2]); },
        [](V x) { return composed::group_norm(x[0], 3, x[1], x[2]); });
    check_twins(
        "group_norm long runs, no affine", {r({2, 4, 100})}, [none](V x) { return group_norm(x[0], 2); },
        [none](V x) { return composed::group_norm(x[0], 2); });
    check_twins(
        "layer_norm", {r({70, 33}), r({33}), r({33})}, [](V x) { return layer_norm(x[0], {33}, x[1], x[2]); },
        [](V x) { return composed::layer_norm(x[0], {33}, x[1], x[2]); });
    check_twins(
        "layer_norm 2 dims, no affine", {r({2, 3, 4, 5})},
        [none](V x) {
          return layer_norm(x[0], {4, 5});
        },
        [none](V x) {
          return composed::layer_norm(x[0], {4, 5});
        });
    check_twins(
        "rms_norm", {r({70, 33}), r({33})}, [](V x) { return rms_norm(x[0], {33}, x[1], 1e-6); },
        [](V x) { return composed::rms_norm(x[0], {33}, x[1], 1e-6); });
    check_twins(
        "rms_norm default eps, no weight", {r({5, 2, 8})},
        [](V x) {
          return rms_norm(x[0], {2, 8});
        },
        [](V x) {
          return composed::rms_norm(x[0], {2, 8});
        });
    const Tensor mask = bernoulli({9, 13}, 0.6, gen, dt);
    check_twins(
        "dropout", {r({9, 13})}, [mask](V x) { return dropout_with_mask(x[0], mask, 0.4); },
        [mask](V x) { return composed::dropout_with_mask(x[0], mask, 0.4); });
    const Tensor targets = randint(0, 7, {12}, gen), probs = softmax(randn({12, 7}, gen, dt), 1);
    for (Reduction red : {Reduction::Mean, Reduction::Sum, Reduction::None})
      for (double ls : {0.0, 0.1, 1.0}) {
        check_twins(
            "cross_entropy", {r({12, 7})}, [&](V x) { return cross_entropy(x[0], targets, red, ls); },
            [&](V x) { return composed::cross_entropy(x[0], targets, red, ls); });
        check_twins(
            "cross_entropy soft", {r({12, 7})}, [&](V x) { return cross_entropy(x[0], probs, red, ls); },
            [&](V x) { return composed::cross_entropy(x[0], probs, red, ls); });
      }
  }
}

// Weight and bias each present or absent (PyTorch adds the bias without a weight too): each
// combination in every kernel path (GroupNorm on both sides of its run-length switch).
TEST_CASE("fused layers agree with their twins for every weight/bias combination") {
  for (DType dt : {DType::Float64, DType::Float32}) {
    Generator gen(dt == DType::Float64 ? 5 : 6);
    auto r = [&](const Shape& s) { return randn(s, gen, dt) * 2.0 + 0.5; };
    for (int affine = 0; affine < 4; ++affine) {
      const bool has_w = affine & 1, has_b = affine & 2;
      const auto param = [&](bool on, const Shape& s) { return on ? r(s) : Tensor(); };
      const std::string what = std::string(has_w ? "weight" : "no weight") + (has_b ? ", bias" : ", no bias");
      const Tensor none;
      check_twins(("layer_norm " + what).c_str(), {r({7, 13}), param(has_w, {13}), param(has_b, {13})},
                  [](V x) { return layer_norm(x[0], {13}, x[1], x[2]); },
                  [](V x) { return composed::layer_norm(x[0], {13}, x[1], x[2]); });
      for (const Shape& s : {Shape{3, 6, 5}, Shape{2, 6, 67}})  // short and long runs
        check_twins(("group_norm " + what).c_str(), {r(s), param(has_w, {6}), param(has_b, {6})},
                    [](V x) { return group_norm(x[0], 3, x[1], x[2]); },
                    [](V x) { return composed::group_norm(x[0], 3, x[1], x[2]); });
      check_twins(("batch_norm " + what).c_str(), {r({9, 5, 3}), param(has_w, {5}), param(has_b, {5})},
                  [none](V x) { return batch_norm(x[0], none, none, x[1], x[2], true); },
                  [none](V x) { return composed::batch_norm(x[0], none, none, x[1], x[2], true); });
    }
  }
}

// Every combination of cross_entropy's arguments, in each layout: (N, K), (N, K, d1, d2) with
// targets (N, d1, d2), and (K); probability targets are differentiated too.
TEST_CASE("cross_entropy agrees with its twin for every argument combination and layout") {
  for (DType dt : {DType::Float64, DType::Float32}) {
    Generator gen(dt == DType::Float64 ? 8 : 9);
    const int64_t K = 5;
    for (const Shape& s : {Shape{11, K}, Shape{3, K, 2, 3}, Shape{K}}) {
      Shape pos = s;
      pos.erase(pos.begin() + (s.size() == 1 ? 0 : 1));
      Tensor idx = randint(0, K, pos, gen);
      const int64_t P = idx.numel();
      Tensor idx_ignored = idx.clone();  // some positions set to -100, some to class 2 (ignored below)
      for (int64_t i = 1; i < P; i += 3) idx_ignored.data<int64_t>()[i] = -100;
      const Tensor probs = softmax(randn(s, gen, dt), s.size() == 1 ? 0 : 1);
      const Tensor weight = rand({K}, gen, dt) * 2.0 + 0.1;
      for (Reduction red : {Reduction::Mean, Reduction::Sum, Reduction::None})
        for (double ls : {0.0, 0.3})
          for (bool weighted : {false, true}) {
            CrossEntropyOptions o{.weight = weighted ? weight : Tensor(), .reduction = red, .label_smoothing = ls};
            const std::string what = to_string(s) + (weighted ? " weighted" : "") + " ls " + std::to_string(ls);
            for (int hard = 0; hard < 3; ++hard) {
              // 0: class indices; 1: with ignored positions (-100, then ignore_index 2); 2: probabilities
              CrossEntropyOptions oi = o;
              if (hard == 1 && red == Reduction::Sum) oi.ignore_index = 2;
              const Tensor target = hard == 0 ? idx : hard == 1 ? (oi.ignore_index == 2 ? idx : idx_ignored) : probs;
              if (hard < 2)
                check_twins(("cross_entropy " + what).c_str(), {randn(s, gen, dt)},
                            [&](V x) { return cross_entropy(x[0], target, oi); },
                            [&](V x) { return composed::cross_entropy(x[0], target, oi); });
              else
                check_twins(("cross_entropy soft " + what).c_str(), {randn(s, gen, dt), probs},
                            [&](V x) { return cross_entropy(x[0], x[1], oi); },
                            [&](V x) { return composed::cross_entropy(x[0], x[1], oi); }, {"dx", "dtarget"});
            }
          }
    }
  }
}

TEST_CASE("batch_norm's running statistics match the composed twin's") {
  Generator gen(3);
  const Tensor x = randn({10, 4, 3}, gen, DType::Float64) * 3.0 + 1.0;
  Tensor rm1 = zeros({4}, DType::Float64), rv1 = ones({4}, DType::Float64);
  Tensor rm2 = rm1.clone(), rv2 = rv1.clone();
  batch_norm(x, rm1, rv1, {}, {}, true, 0.3);
  composed::batch_norm(x, rm2, rv2, {}, {}, true, 0.3);
  CHECK(cmp("running_mean", rm1, rm2, 0, 1e-14).approximate);
  CHECK(cmp("running_var", rv1, rv2, 0, 1e-14).approximate);
}
