// The experiments' long-form results: what csv() writes, load() reads back, cell for cell, and a
// file of another form is refused with its name and line.
#include <fstream>

#include "../test_util.h"
#include "common/experiment.h"

using namespace rg;

TEST_CASE("Results::load reads back what Results::csv wrote") {
  rx::Results r({"norm", "batch_size"}, {"test_acc", "ms"});
  r.add({"bn", "2"}, 0, {0.814, 2.25});
  r.add({"gn", "2"}, 0, {0.8105, 2.5});
  r.add({"bn", "2"}, 1, {0.80, 1.0e-7});
  const std::string path = test::tmp_path("results/norms.csv");
  report::write_file(path, r.csv());
  const rx::Results back = rx::Results::load(path);
  CHECK(back.csv() == r.csv());
  CHECK(back.size() == 3);
  CHECK(back.levels("norm") == std::vector<std::string>{"bn", "gn"});
  CHECK(back.values({{"norm", "bn"}}, "test_acc") == std::vector<double>{0.814, 0.80});
  CHECK(back.values({{"norm", "bn"}}, "ms")[1] == doctest::Approx(1.0e-7).epsilon(1e-6));
}

TEST_CASE("Results::load names the file and the line of a malformed CSV") {
  const std::string path = test::tmp_path("results/bad.csv");
  auto message = [&](const std::string& text) {
    std::ofstream(path) << text;
    try {
      rx::Results::load(path);
    } catch (const std::runtime_error& e) {
      return std::string(e.what());
    }
    return std::string();
  };
  CHECK(test::contains(message("norm,acc\nbn,0.5\n"), "no 'seed' column"));
  CHECK(test::contains(message("norm,seed,acc\nbn,0,0.5\ngn,0\n"), path + ":3: 2 cells, 3 columns"));
  CHECK(test::contains(message("norm,seed,acc\nbn,0,high\n"), path + ":2: a seed or metric is not a number"));
  CHECK(test::contains(message(""), "no 'seed' column"));
  CHECK(test::contains(
      [&] {
        try {
          rx::Results::load(test::tmp_path("results/missing.csv"));
        } catch (const std::runtime_error& e) {
          return std::string(e.what());
        }
        return std::string();
      }(),
      "missing.csv: cannot be read"));
}

TEST_CASE("the verdicts' rule: a paired difference is significant above 2 std, from two seeds on") {
  const std::vector<double> d = rx::paired_diff({1.0, 2.1, 3.9, 7.0}, {0.0, 1.0, 3.0});  // the seeds both have
  REQUIRE(d.size() == 3);
  CHECK(d[0] == doctest::Approx(1.0));
  CHECK(d[1] == doctest::Approx(1.1));
  CHECK(d[2] == doctest::Approx(0.9));
  // mean 1, sample std 0.1: 1 > 0.2
  CHECK(rx::significant_gain(d));
  CHECK_FALSE(rx::significant_loss(d));
  const std::vector<double> neg{-1.0, -1.1, -0.9};
  CHECK(rx::significant_loss(neg));
  CHECK_FALSE(rx::significant_gain(neg));
  // mean 0.8333, sample std 1.2583: 0.83 < 2.52, not significant either way
  const std::vector<double> noisy{1.0, -0.5, 2.0};
  CHECK_FALSE(rx::significant_gain(noisy));
  CHECK_FALSE(rx::significant_loss(noisy));
  // exactly at the threshold is not above it: mean 2, std 1
  CHECK_FALSE(rx::significant_gain({1.0, 2.0, 3.0}));
  // one seed has no spread: never significant
  CHECK_FALSE(rx::significant_gain({5.0}));
  CHECK_FALSE(rx::significant_gain({}));
}
