// Notebook 6b: every exercise's comparison, the PyTorch check and manual-vs-autograd training.
#include <filesystem>

#include "../test_util.h"
#include "bn_by_hand/bn_by_hand.h"

using namespace rg;
using namespace bnh;

namespace {

const Data& words_data() {
  static const Data d = load_data(data::kDefaultWordsPath, 42);
  return d;
}

struct Batch {
  Tensor X, Y;
};
Batch first_batch(uint64_t seed) {
  Generator g(seed);
  const Tensor ix = randint(0, words_data().train.X.size(0), {32}, g);
  return {index_select(words_data().train.X, 0, ix), index_select(words_data().train.Y, 0, ix)};
}

Tensor autograd_grad(Params& p, const Forward& f, const std::string& name) {
  for (auto& [pn, t] : p.named())
    if (pn == name) return t->grad();
  for (const auto& [fn, t] : f.named())
    if (fn == name) return t.grad();
  return Tensor();
}

}  // namespace

TEST_CASE("bn_by_hand: exercises 1-3 agree with autograd, in float32 and float64") {
  for (DType dt : {DType::Float32, DType::Float64}) {
    Params p = init_params(42, dt);
    const Batch b = first_batch(43);
    const Forward f = forward(p, b.X, b.Y, true);
    f.loss.backward();
    const NamedGrads grads = manual_backward(f, p, b.X, b.Y);
    CHECK(grads.size() == 26);  // 19 intermediates + 7 parameters
    // The notebook's allclose in float32; in float64 a tolerance float32 arithmetic would miss.
    const double rtol = dt == DType::Float32 ? 1e-5 : 1e-10;
    for (const auto& [name, g] : grads) {
      const CmpResult c = cmp(name, g, autograd_grad(p, f, name), rtol, rtol * 1e-3);
      CHECK_MESSAGE(c.approximate, c.line());
    }
    const double atol = dt == DType::Float32 ? 1e-6 : 1e-12;
    const Tensor dhpreact = lookup(grads, "hpreact");
    const CmpResult ex2 = cmp("dhprebn fused", batchnorm_backward_fused(dhpreact, p.bngain, f.bnvar_inv, f.bnraw),
                              f.hprebn.grad(), 0, atol);
    CHECK_MESSAGE(ex2.approximate, ex2.line());
    // regrad's fused batch_norm kernel gives the same gradients.
    Tensor x = f.hprebn.detach().clone().requires_grad_();
    Tensor w = p.bngain.detach().reshape({p.hidden()}).clone().requires_grad_();
    batch_norm(x, {}, {}, w, {}, true).backward(dhpreact);
    CHECK(cmp("batch_norm dx", x.grad(), f.hprebn.grad(), 0, atol).approximate);
    CHECK(cmp("batch_norm dw", w.grad(), p.bngain.grad().reshape({p.hidden()}), 0, atol).approximate);
    const CmpResult ex3 = cmp("dlogits fused", cross_entropy_backward_fused(f.logits, b.Y), f.logits.grad(), 0, atol);
    CHECK_MESSAGE(ex3.approximate, ex3.line());
    Tensor z = f.logits.detach().clone().requires_grad_();
    cross_entropy(z, b.Y, Reduction::Mean, 0.1).backward();
    CHECK(cmp("dlogits smooth", cross_entropy_backward_fused(f.logits, b.Y, 0.1), z.grad(), 0, atol).approximate);
  }
}

TEST_CASE("bn_by_hand: BatchNorm by hand and fused match PyTorch's nn.BatchNorm1d") {
  for (const auto& [name, atol] : {std::pair{"float32", 1e-5}, std::pair{"float64", 1e-12}}) {
    const std::string dir = std::string(REGRAD_SOURCE_DIR) + "/experiments/bn_by_hand/reference/" + name;
    REQUIRE(std::filesystem::exists(dir + "/expected/dx.npy"));
    const auto rows = check_against_pytorch(dir, atol);
    CHECK(rows.size() == 12);
    for (const CmpResult& r : rows) CHECK_MESSAGE(r.approximate, name, " ", r.line());
  }
}

TEST_CASE("bn_by_hand: 200 steps with the manual backward reach autograd training's loss") {
  for (DType dt : {DType::Float32, DType::Float64}) {
    Params manual = init_params(7, dt), autograd = init_params(7, dt);
    Running r1 = initial_running(manual), r2 = initial_running(autograd);
    const TrainLog a = bnh::train(manual, r1, words_data().train, 200, 0.1, 150, 11, true, 50);
    const TrainLog b = bnh::train(autograd, r2, words_data().train, 200, 0.1, 150, 11, false, 50);
    REQUIRE(a.loss.size() == b.loss.size());
    const double tol = dt == DType::Float32 ? 1e-4 : 1e-9;  // 200 steps of rounding apart
    for (std::size_t k = 0; k < a.loss.size(); ++k) CHECK(std::abs(a.loss[k] - b.loss[k]) < tol);
    CHECK(a.loss.back() < a.loss.front() - 0.3);  // and it learns
    CHECK(std::abs(split_loss(manual, r1, words_data().val) - split_loss(autograd, r2, words_data().val)) < tol);
    CHECK(cmp("running var", r1.var, r2.var, 0, tol).approximate);
  }
}

TEST_CASE("bn_by_hand: running statistics after training are close to the calibrated ones") {
  Params p = init_params(3, DType::Float32);
  Running r = initial_running(p);
  bnh::train(p, r, words_data().train, 500, 0.1, 375, 5, true, 100);
  const Running c = calibrate(p, words_data().train);
  // Both estimate the same per-channel statistics: the losses they give agree closely.
  CHECK(std::abs(split_loss(p, r, words_data().val) - split_loss(p, c, words_data().val)) < 0.05);
  CHECK(max(abs(c.mean - r.mean)).item() < 0.5 * std::sqrt(max(c.var).item()));
}

TEST_CASE("bn_by_hand: --hidden sets the width, and the exercises hold at makemore's 200") {
  Params p = init_params(5, DType::Float64, 200);
  CHECK(p.W1.shape() == Shape({kBlock * kEmbed, 200}));
  CHECK(p.W2.shape() == Shape({200, kVocab}));
  CHECK(p.bngain.shape() == Shape({1, 200}));
  CHECK(initial_running(p).var.shape() == Shape({1, 200}));
  const Batch b = first_batch(6);
  const Forward f = forward(p, b.X, b.Y, true);
  f.loss.backward();
  for (const auto& [name, g] : manual_backward(f, p, b.X, b.Y)) {
    const CmpResult c = cmp(name, g, autograd_grad(p, f, name), 1e-10, 1e-13);  // float64
    CHECK_MESSAGE(c.approximate, c.line());
  }
  CHECK_THROWS_WITH(init_params(5, DType::Float32, 0), doctest::Contains("hidden width must be positive, got 0"));
}

TEST_CASE("bn_by_hand: the learning rate is lr before lr_decay_step and lr/10 from it") {
  // Decaying at step 0 is training at lr/10 throughout; decaying at step k switches exactly there.
  auto run = [](double lr, int64_t decay, int64_t steps) {
    Params p = init_params(9, DType::Float64);
    Running r = initial_running(p);
    bnh::train(p, r, words_data().train, steps, lr, decay, 4, true, 100);
    return p.W1.detach();
  };
  CHECK(cmp("decay at 0", run(0.5, 0, 20), run(0.05, 20, 20), 0, 1e-12).approximate);
  CHECK_FALSE(cmp("decay at 10", run(0.5, 10, 20), run(0.05, 20, 20), 0, 1e-6).approximate);
  CHECK_FALSE(cmp("decay at 10 vs 11", run(0.5, 10, 20), run(0.5, 11, 20), 0, 1e-9).approximate);
}
