#include <cstdio>
#include <filesystem>
#include <fstream>

#include "../test_util.h"

using namespace rg;
using rg::test::contains;

static std::string read_all(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

static std::string checkpoint_error(const std::string& bytes) {
  try {
    train::parse_checkpoint(bytes, "ck.bin");
  } catch (const std::runtime_error& e) {
    return e.what();
  }
  return "";
}

TEST_CASE("checkpoints round-trip names, dtypes, shapes and values, and leave no temporary file") {
  Generator gen(1);
  const train::NamedTensors state{{"w", randn({3, 4}, gen)},
                                  {"b", randn({2}, gen, DType::Float64)},
                                  {"steps", tensor_i64({7})},
                                  {"scalar", scalar_tensor(1.5)}};
  const std::string dir = rg::test::tmp_path("ck"), path = dir + "/model.ckpt";  // save creates the folder
  std::filesystem::remove_all(dir);
  train::save_checkpoint(path, state);
  CHECK_FALSE(std::filesystem::exists(path + ".tmp"));
  const auto back = train::load_checkpoint(path);
  REQUIRE(back.size() == state.size());
  for (std::size_t i = 0; i < state.size(); ++i) {
    CHECK(back[i].first == state[i].first);
    CHECK(back[i].second.dtype() == state[i].second.dtype());
    CHECK(cmp(back[i].first, back[i].second, state[i].second).exact);
  }
  // Every kind of damage is reported, naming the file.
  const std::string good = read_all(path);
  CHECK(contains(checkpoint_error(""), "ck.bin: checkpoint is empty"));
  CHECK(contains(checkpoint_error("PK\x03\x04 not a checkpoint"), "bad magic"));
  CHECK(contains(checkpoint_error(good.substr(0, good.size() / 2)), "ck.bin"));
  std::string flipped = good;
  flipped[good.size() / 2] ^= 0x40;
  CHECK(contains(checkpoint_error(flipped), "checksum mismatch"));
  std::string v2 = good;
  v2[8] = 2;
  CHECK(contains(checkpoint_error(v2), "unsupported checkpoint version 2"));
  CHECK_THROWS_WITH_AS(train::load_checkpoint("/nonexistent.ckpt"), doctest::Contains("/nonexistent.ckpt"),
                       std::runtime_error);
  std::filesystem::remove_all(dir);
}

TEST_CASE("state_dict / load_state_dict restore a model exactly, and refuse a mismatched state") {
  auto a = train::make_model("mlp", "bn", 0.1, 1), b = train::make_model("mlp", "bn", 0.1, 2);
  const auto names = a->state_dict();
  // 3 linears, 2 BN (weight, bias), 2 BN buffers (running_mean, running_var, num_batches_tracked)
  CHECK(names.size() == 3 * 2 + 2 * 2 + 2 * 3);
  CHECK(names.back().first == "6.num_batches_tracked");
  const std::string path = rg::test::tmp_path("model.ckpt");
  Generator gen(3);
  const Tensor x = randn({4, 1, 28, 28}, gen);
  a->eval();
  b->eval();
  CHECK_FALSE(cmp("different seeds", (*a)(x), (*b)(x)).approximate);  // so the load below has work to do
  train::save_checkpoint(path, a->state_dict());
  b->load_state_dict(train::load_checkpoint(path));
  CHECK(cmp("same outputs", (*a)(x), (*b)(x)).exact);
  auto cnn = train::make_model("cnn", "bn", 0.1, 1);
  CHECK_THROWS_AS(cnn->load_state_dict(a->state_dict()), std::invalid_argument);
  std::remove(path.c_str());
}

TEST_CASE("expected calibration error: 0 when confidence equals accuracy, |acc − conf| otherwise") {
  // Four predictions at confidence 0.75, three right: perfectly calibrated.
  const Tensor p = tensor({0.75, 0.25, 0.75, 0.25, 0.75, 0.25, 0.25, 0.75}, {4, 2});
  CHECK(train::expected_calibration_error(p, tensor_i64({0, 0, 0, 0})) == doctest::Approx(0.0));
  // All right at confidence 0.75: ECE = 1 − 0.75.
  CHECK(train::expected_calibration_error(p, tensor_i64({0, 0, 0, 1})) == doctest::Approx(0.25));
}

TEST_CASE("models: shapes, norms and bad names") {
  Generator gen(4);
  const Tensor x = randn({2, 1, 28, 28}, gen);
  for (const char* norm : {"bn", "gn", "ln", "rms", "none"}) {
    CHECK(train::make_model("mlp", norm, 0.0, 0)->forward(x).shape() == Shape{2, 10});
    CHECK(train::make_model("cnn", norm, 0.2, 0)->forward(x).shape() == Shape{2, 10});
  }
  CHECK(train::make_model("resnet-small", "bn", 0.1, 0)->forward(x).shape() == Shape{2, 10});
  CHECK(train::make_model("resnet-small", "gn", 0.0, 0, 3, 32, 5)->forward(randn({2, 3, 32, 32}, gen)).shape() ==
        Shape{2, 5});
  CHECK(train::make_model("cnn", "bn", 0.0, 0, 3, 32, 10)->forward(randn({2, 3, 32, 32}, gen)).shape() == Shape{2, 10});
  CHECK_THROWS_WITH_AS(train::make_model("resnet", "bn", 0, 0), doctest::Contains("unknown model 'resnet'"),
                       std::invalid_argument);
  CHECK_THROWS_WITH_AS(train::make_model("mlp", "xx", 0, 0), doctest::Contains("unknown norm 'xx'"),
                       std::invalid_argument);
}
