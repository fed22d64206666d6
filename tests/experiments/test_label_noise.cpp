// The label noise of the double-descent experiment: exactly the requested share of labels is
// wrong, every wrong class is reachable, and the seed fixes the result.
#include "../test_util.h"
#include "double_descent/label_noise.h"

using namespace rg;

TEST_CASE("with_label_noise changes exactly round(fraction·N) labels, each to another class") {
  std::vector<int64_t> v;
  for (int64_t i = 0; i < 1000; ++i) v.push_back(i % 10);
  const Tensor y = tensor_i64(v);
  const Tensor noisy = dd::with_label_noise(y, 10, 0.2, 3);
  const int64_t* a = y.data<int64_t>();
  const int64_t* b = noisy.data<int64_t>();
  int64_t changed = 0;
  std::vector<int64_t> seen(10, 0);
  for (int64_t i = 0; i < 1000; ++i) {
    CHECK(b[i] >= 0);
    CHECK(b[i] < 10);
    if (a[i] != b[i]) ++changed, ++seen[static_cast<std::size_t>((b[i] - a[i] + 10) % 10)];
  }
  CHECK(changed == 200);
  for (int64_t s = 1; s < 10; ++s) CHECK(seen[static_cast<std::size_t>(s)] > 0);  // every other class is drawn
  CHECK(y.tolist() == tensor_i64(v).tolist());                                    // the input is untouched
  CHECK(dd::with_label_noise(y, 10, 0.2, 3).tolist() == noisy.tolist());
  CHECK(dd::with_label_noise(y, 10, 0.2, 4).tolist() != noisy.tolist());
  CHECK(dd::with_label_noise(y, 10, 0.0, 3).tolist() == y.tolist());
  CHECK(
      rg::test::contains(rg::test::invalid_argument_message([&] { dd::with_label_noise(y, 10, 1.5, 0); }), "fraction"));
}
