// The library's training loop on real Fashion-MNIST images: it learns, keeps the best model,
// stops early, calls its callbacks, reports divergence, and resumes to the same numbers.
#include <filesystem>

#include "../test_util.h"

using namespace rg;

namespace {

// 1,500 training and 500 validation images (the first of the seeded split), the full test set
// evaluated only where a test asks for it.
const data::Splits& small_splits() {
  static const data::Splits s = [] {
    data::SplitOptions o;
    o.val_size = 500;
    o.train_subset = 1500;
    o.seed = 5;
    data::Splits d = data::load_splits(o);
    d.x_test = slice(d.x_test, 0, 0, 1000);
    d.y_test = slice(d.y_test, 0, 0, 1000);
    d.x_val = slice(d.x_val, 0, 0, 500);
    return d;
  }();
  return s;
}

train::FitOptions quiet(int64_t epochs) {
  train::FitOptions o;
  o.epochs = epochs;
  o.batch_size = 100;
  o.progress = nullptr;
  o.seed = 3;
  return o;
}

std::shared_ptr<nn::Module> mlp(uint64_t seed = 1) {
  train::ModelOptions m;
  m.model = "mlp";
  m.seed = seed;
  return train::make_model(m, small_splits().x_train, 10);
}

}  // namespace

TEST_CASE("fit learns Fashion-MNIST and keeps the best epoch by validation NLL") {
  const data::Splits& d = small_splits();
  auto model = mlp();
  const train::FitResult r = train::fit(*model, d, quiet(3));
  REQUIRE(r.history.size() == 3);
  CHECK(r.steps == 3 * 15);
  CHECK(r.stop_reason == "epochs");
  CHECK_FALSE(r.diverged);
  // A model whose gradients were zero stays at chance (10 %, NLL ln 10 = 2.30).
  CHECK(r.test.accuracy > 0.70);
  CHECK(r.test.nll < 1.0);
  double best = INFINITY;
  int64_t best_epoch = 0;
  for (const auto& e : r.history)
    if (e.val.nll < best) best = e.val.nll, best_epoch = e.epoch;
  CHECK(r.best_epoch == best_epoch);
  CHECK(r.best_val_nll == best);
  // The returned model is the best one: its validation NLL is the best epoch's.
  const train::Metrics val = train::evaluate(*model, data::DataLoader(d.x_val, d.y_val, 1000, false));
  CHECK(val.nll == doctest::Approx(best).epsilon(1e-9));
}

TEST_CASE("fit: callbacks see every step and epoch, and can stop training") {
  const data::Splits& d = small_splits();
  auto model = mlp();
  train::FitOptions o = quiet(5);
  o.evaluate_test = false;
  int64_t backward_calls = 0, last_step = -1;
  bool grads_present = true;
  o.after_backward = [&](int64_t step, double loss, nn::Module& m) {
    ++backward_calls;
    last_step = step;
    grads_present = grads_present && std::isfinite(loss) && m.parameters()[0].grad().defined();
  };
  std::vector<int64_t> epochs;
  o.on_epoch = [&](const train::EpochRecord& e, nn::Module&) {
    epochs.push_back(e.epoch);
    return e.epoch < 2;  // stop after the second epoch
  };
  const train::FitResult r = train::fit(*model, d, o);
  CHECK(r.stop_reason == "callback");
  CHECK(epochs == std::vector<int64_t>{1, 2});
  CHECK(backward_calls == 30);
  CHECK(last_step == 29);
  CHECK(grads_present);
  CHECK(r.test.count == 0);  // not evaluated
}

TEST_CASE("fit: transform_inputs sees every training batch, and the model trains on what it returns") {
  const data::Splits& d = small_splits();
  {  // Images: called once per step with the batch; zeroed inputs leave nothing to learn from.
    auto model = mlp();
    train::FitOptions o = quiet(2);
    o.evaluate_test = false;
    int64_t calls = 0;
    bool shapes_ok = true;
    o.transform_inputs = [&](const Tensor& x, Generator&) {
      ++calls;
      shapes_ok = shapes_ok && x.shape() == Shape{100, 1, 28, 28};
      return zeros(x.shape());
    };
    const train::FitResult r = train::fit(*model, d, o);
    CHECK(calls == 30);
    CHECK(shapes_ok);
    // Constant inputs: the best the model can do is the class prior, about 10 % accuracy here.
    CHECK(r.history.back().train_acc < 0.2);
    CHECK(r.history.back().val.accuracy < 0.2);
  }
  {  // Character contexts (where `augment` is refused): the hook gets the int64 batch.
    Generator g(2);
    data::Splits w;
    w.x_train = randint(0, 27, {64, 8}, g);
    w.y_train = randint(0, 27, {64}, g);
    w.x_val = w.x_test = w.x_train;
    w.y_val = w.y_test = w.y_train;
    w.classes = 27;
    w.images = false;
    train::ModelOptions m;
    m.model = "transformer-char";
    m.embed = 8;
    m.heads = 2;
    m.layers = 1;
    m.objective = "last";  // targets (N): the next character only
    auto model = train::make_model(m, w.x_train, 27);
    train::FitOptions o = quiet(1);
    o.batch_size = 32;
    int64_t calls = 0;
    o.transform_inputs = [&](const Tensor& x, Generator&) {
      ++calls;
      CHECK(x.dtype() == DType::Int64);
      return zeros(x.shape(), DType::Int64);
    };
    CHECK_NOTHROW(train::fit(*model, w, o));
    CHECK(calls == 2);
    o.transform_inputs = [](const Tensor& x, Generator&) { return slice(x, 1, 0, 4); };
    CHECK_THROWS_WITH_AS(train::fit(*model, w, o), doctest::Contains("transform_inputs returned [32, 4]"),
                         std::invalid_argument);
  }
}

TEST_CASE("fit: early stopping, and divergence reported instead of thrown") {
  const data::Splits& d = small_splits();
  {  // A learning rate this large with a constant schedule diverges within the first epoch.
    auto model = mlp();
    train::FitOptions o = quiet(2);
    o.lr = 1e30;
    o.schedule = "const";
    const train::FitResult r = train::fit(*model, d, o);
    CHECK(r.diverged);
    CHECK(rg::test::contains(r.stop_reason, "at epoch 1, step"));
    CHECK(r.history.empty());
  }
  {  // 1,500 images at a constant lr 0.1 overfit within a few epochs: val NLL stops improving.
    auto model = mlp();
    train::FitOptions o = quiet(30);
    o.lr = 0.1;
    o.schedule = "const";
    o.patience = 2;
    const train::FitResult r = train::fit(*model, d, o);
    CHECK(r.stop_reason == "early stopping");
    CHECK(static_cast<int64_t>(r.history.size()) == r.best_epoch + 2);
    CHECK(r.history.size() < 30);
  }
}

TEST_CASE("fit: a run resumed from its saved state gives the same numbers as an uninterrupted one") {
  const data::Splits& d = small_splits();
  const std::string dir = rg::test::tmp_path("fit_resume");
  std::filesystem::remove_all(dir);
  train::FitOptions o = quiet(3);
  o.optimizer = "adamw";
  o.lr = 2e-3;
  o.augment = data::AugmentSpec::parse("flip,crop", 0.25);
  o.mixup = 0.2;
  auto whole = mlp();
  const train::FitResult a = train::fit(*whole, d, o);

  train::FitOptions first = o;
  // Stopped by its callback after epoch 1, so that its schedule spans the same 3 epochs.
  first.on_epoch = [](const train::EpochRecord&, nn::Module&) { return false; };
  first.save_state = dir + "/state.ckpt";
  first.log_csv = dir + "/log.csv";
  auto part = mlp();
  train::fit(*part, d, first);
  train::FitOptions rest = o;
  rest.resume = dir + "/state.ckpt";
  rest.log_csv = dir + "/log.csv";
  auto resumed = mlp(99);  // a different initialisation: everything must come from the state
  const train::FitResult b = train::fit(*resumed, d, rest);
  REQUIRE(b.history.size() == 2);
  CHECK(b.history.back().val.nll == a.history.back().val.nll);
  CHECK(b.test.nll == a.test.nll);
  CHECK(b.best_epoch == a.best_epoch);
  // The log holds all three epochs.
  const std::string log = read_file(dir + "/log.csv");
  CHECK(std::count(log.begin(), log.end(), '\n') == 4);
  std::filesystem::remove_all(dir);
}

TEST_CASE("load_splits: sizes, normalisation and clear errors") {
  const data::Splits& d = small_splits();
  CHECK(d.x_train.shape() == Shape{1500, 1, 28, 28});
  CHECK(d.x_val.size(0) == 500);
  CHECK(d.classes == 10);
  // The splits carry their normalisation: Fashion-MNIST's training mean 0.2860 and std 0.3530
  // (the published values), and un-normalising gives back pixels in [0, 1] with black and white.
  REQUIRE(d.mean.shape() == Shape{1, 1, 1, 1});
  REQUIRE(d.std.shape() == Shape{1, 1, 1, 1});
  CHECK(std::abs(d.mean.item() - 0.2860) < 5e-5);
  CHECK(std::abs(d.std.item() - 0.3530) < 5e-5);
  const Tensor raw = d.x_train * d.std + d.mean;
  CHECK(std::abs(max(-raw).item()) < 1e-5);  // the smallest pixel is 0
  CHECK(std::abs(max(raw).item() - 1.0) < 1e-5);
  data::SplitOptions o;
  o.dataset = "words";
  o.block_size = 3;
  o.val_size = 1000;
  const data::Splits w = data::load_splits(o);
  CHECK_FALSE(w.images);
  CHECK_FALSE(w.mean.defined());
  CHECK(w.x_val.shape() == Shape{1000, 3});
  CHECK(w.classes == 27);
  o.val_size = 10'000'000;
  CHECK(rg::test::contains(rg::test::invalid_argument_message([&] { data::load_splits(o); }), "val_size must be in"));
  o.dataset = "imagenet";
  CHECK(rg::test::contains(rg::test::invalid_argument_message([&] { data::load_splits(o); }),
                           "unknown dataset 'imagenet'"));
}
