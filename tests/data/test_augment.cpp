#include <omp.h>

#include <algorithm>
#include <cmath>
#include <set>

#include "../test_util.h"

using namespace rg;

static Tensor images(int64_t n = 8) {
  Generator g(1);
  return rand({n, 2, 5, 6}, g);
}

TEST_CASE("a flip twice is the identity; p = 0 changes nothing, p = 1 mirrors every row") {
  const Tensor x = images();
  Generator g1(3), g2(3);
  const Tensor once = data::random_hflip(x, g1, 1.0);
  CHECK(once.at({0, 1, 2, 0}) == x.at({0, 1, 2, 5}));
  CHECK(cmp("twice", data::random_hflip(once, g2, 1.0), x).exact);
  Generator g3(4);
  CHECK(cmp("p=0", data::random_hflip(x, g3, 0.0), x).exact);
}

TEST_CASE("random crop keeps the shape; padding 0 is the identity; shifted content is preserved") {
  const Tensor x = images();
  Generator g(5);
  const Tensor c = data::random_crop(x, 2, g);
  CHECK(c.shape() == x.shape());
  Generator g0(6);
  CHECK(cmp("pad 0", data::random_crop(x, 0, g0), x).exact);
  // Each output image is its input shifted by some (dy, dx) within the padding, zeros where the
  // shift leaves the image: out[h][w] = in[h + dy][w + dx].
  const int64_t C = x.size(1), H = x.size(2), W = x.size(3);
  int shifted = 0;
  for (int64_t n = 0; n < x.size(0); ++n) {
    bool found = false;
    for (int64_t dy = -2; dy <= 2 && !found; ++dy)
      for (int64_t dx = -2; dx <= 2 && !found; ++dx) {
        bool match = true;
        for (int64_t ch = 0; ch < C && match; ++ch)
          for (int64_t h = 0; h < H && match; ++h)
            for (int64_t w = 0; w < W && match; ++w) {
              const bool inside = h + dy >= 0 && h + dy < H && w + dx >= 0 && w + dx < W;
              match = c.at({n, ch, h, w}) == (inside ? x.at({n, ch, h + dy, w + dx}) : 0.0);
            }
        if (match) found = true, shifted += dy != 0 || dx != 0;
      }
    CHECK_MESSAGE(found, "image ", n, " is not a shift of its input");
  }
  CHECK(shifted > 0);
}

TEST_CASE("random erasing: p = 0 is the identity, p = 1 erases a box in every image") {
  const Tensor x = images(4) + 1.0;  // no zeros before erasing
  Generator g(7);
  CHECK(cmp("p=0", data::random_erasing(x, g, 0.0), x).exact);
  const Tensor e = data::random_erasing(x, g, 1.0);
  for (int64_t n = 0; n < 4; ++n) {
    int zeros = 0;
    for (int64_t c = 0; c < 2; ++c)
      for (int64_t h = 0; h < 5; ++h)
        for (int64_t w = 0; w < 6; ++w) zeros += e.at({n, c, h, w}) == 0.0;
    CHECK(zeros > 0);
    CHECK(zeros <= 2 * 5 * 6 / 2);
  }
}

TEST_CASE("Beta(α, α) draws have mean 1/2 and the right variance") {
  Generator g(8);
  const int n = 20000;
  const double alpha = 0.4;
  double s = 0, s2 = 0;
  int outside = 0;
  for (int i = 0; i < n; ++i) {
    const double b = data::sample_beta(alpha, g);
    outside += !(b >= 0.0 && b <= 1.0);
    s += b;
    s2 += b * b;
  }
  CHECK(outside == 0);
  const double mean = s / n, var = s2 / n - mean * mean, expected_var = 1.0 / (4 * (2 * alpha + 1));
  CHECK(std::abs(mean - 0.5) < 5 * std::sqrt(expected_var / n));
  // The sample variance's standard error: √((μ₄ − σ⁴)/n), with Beta(α, α)'s excess kurtosis −6/(2α + 3).
  const double var_se = expected_var * std::sqrt((2.0 - 6.0 / (2 * alpha + 3)) / n);
  CHECK(std::abs(var - expected_var) < 5 * var_se);
}

TEST_CASE("Mixup: x' = λ·x + (1 − λ)·x[π] and targets λ·onehot(y) + (1 − λ)·onehot(y[π])") {
  const Tensor x = images();
  const Tensor y = tensor_i64({0, 1, 2, 3, 4, 5, 6, 7});  // one class per image: row n's target names π(n)
  Generator g(9);
  const data::Mixed m = data::mixup(x, y, 8, 0.4, g);
  const double lam = m.lambda;
  REQUIRE(m.targets.shape() == Shape{8, 8});
  REQUIRE(lam > 0.0);
  REQUIRE(lam < 1.0);
  REQUIRE(std::abs(lam - 0.5) > 1e-3);  // λ and 1 − λ tell the two classes apart
  std::vector<int64_t> perm(8, -1);
  for (int64_t n = 0; n < 8; ++n) {
    for (int64_t k = 0; k < 8; ++k) {
      const double t = m.targets.at({n, k});
      if (k == n && std::abs(t - 1.0) < 1e-6) perm[n] = n;  // π(n) = n: the whole weight on y_n
      else if (k != n && std::abs(t - (1 - lam)) < 1e-6) perm[n] = k;
      else if (k != n) CHECK(t == 0.0);
    }
    REQUIRE(perm[n] >= 0);
    if (perm[n] != n) CHECK(std::abs(m.targets.at({n, n}) - lam) < 1e-6);
  }
  CHECK(std::set<int64_t>(perm.begin(), perm.end()).size() == 8);  // π is a permutation
  CHECK(std::count_if(perm.begin(), perm.end(), [n = 0](int64_t p) mutable { return p != n++; }) > 0);
  for (int64_t n = 0; n < 8; ++n) {
    const Tensor want = slice(x, 0, n, n + 1) * lam + slice(x, 0, perm[n], perm[n] + 1) * (1 - lam);
    const CmpResult c = cmp("mixed image", slice(m.images, 0, n, n + 1), want, 1e-6, 0);
    CHECK_MESSAGE(c.approximate, c.line());
  }
  CHECK_THROWS_AS(data::mixup(x, y, 8, 0.0, g), std::invalid_argument);
}

TEST_CASE("CutMix: λ equals the kept area and labels follow it") {
  const Tensor x = zeros({6, 1, 10, 10});
  Tensor ids = arange(0.0, 6.0, 1.0).reshape({6, 1, 1, 1});
  const Tensor tagged = x + ids;                    // image n is filled with the value n
  const Tensor y = tensor_i64({0, 1, 2, 3, 4, 5});  // one class per image
  Generator g(10);
  const data::Mixed m = data::cutmix(tagged, y, 6, 1.0, g);
  int mixed_rows = 0;
  for (int64_t n = 0; n < 6; ++n) {
    int kept = 0;
    std::set<double> sources;  // the box's pixels: all from the one image π(n)
    for (int64_t h = 0; h < 10; ++h)
      for (int64_t w = 0; w < 10; ++w) {
        const double v = m.images.at({n, 0, h, w});
        if (v == static_cast<double>(n)) ++kept;
        else sources.insert(v);
      }
    if (sources.empty()) continue;  // π(n) = n: nothing visibly pasted
    ++mixed_rows;
    REQUIRE(sources.size() == 1);
    const double from = *sources.begin();
    CHECK(kept == std::lround(m.lambda * 100));  // λ is the kept area
    CHECK(std::abs(m.targets.at({n, n}) - m.lambda) < 1e-6);
    CHECK(std::abs(m.targets.at({n, static_cast<int64_t>(from)}) - (1 - m.lambda)) < 1e-6);
  }
  CHECK(mixed_rows > 0);
  rg::test::check_values(sum(m.targets, {1}), std::vector<double>(6, 1.0), 1e-6);
}

TEST_CASE("rotation by 0 and jitter by 0 are the identity; RandAugment keeps shape and range") {
  const Tensor x = images();
  Generator g(11);
  CHECK(cmp("rotate 0", data::random_rotation(x, 0.0, g), x, 0, 1e-6).approximate);
  CHECK(cmp("jitter 0", data::color_jitter(x, 0.0, 0.0, g), x, 0, 1e-6).approximate);
  CHECK(cmp("0 ops", data::rand_augment(x, 0, 9, g), x).exact);
  Generator g1(12), g2(12);
  const Tensor a = data::rand_augment(x, 2, 9, g1), b = data::rand_augment(x, 2, 9, g2);
  CHECK(cmp("seeded", a, b).exact);
  CHECK(a.shape() == x.shape());
  CHECK(max(a).item() <= 1.0);
  CHECK(-max(-a).item() >= 0.0);
  CHECK_FALSE(cmp("changed", a, x, 0, 1e-6).approximate);
  CHECK_THROWS_AS(data::rand_augment(x, 2, 31, g), std::invalid_argument);
  CHECK_THROWS_AS(data::color_jitter(x, 1.5, 0.0, g), std::invalid_argument);
}

TEST_CASE("rotations turn counter-clockwise about the centre") {
  Tensor x = zeros({1, 1, 5, 5});
  x.set({0, 0, 0, 4}, 1.0);  // top-right corner
  const Tensor ccw = data::rotate(x, 90);
  CHECK(std::abs(ccw.at({0, 0, 0, 0}) - 1.0) < 1e-6);  // → top-left
  CHECK(std::abs(sum(ccw).item() - 1.0) < 1e-6);
  CHECK(std::abs(data::rotate(x, -90).at({0, 0, 4, 4}) - 1.0) < 1e-6);  // clockwise → bottom-right
  CHECK(cmp("360", data::rotate(x, 360), x, 0, 1e-6).approximate);
}

TEST_CASE("AugmentSpec parses every augmentation name and refuses others") {
  const data::AugmentSpec s = data::AugmentSpec::parse("flip,crop,rotate,jitter,randaugment", 0.3);
  CHECK((s.flip && s.crop && s.rotate && s.jitter && s.randaugment));
  CHECK(s.erasing == 0.3);
  CHECK_FALSE(data::AugmentSpec::parse("").flip);
  CHECK_THROWS_WITH_AS(data::AugmentSpec::parse("flip,blur"), doctest::Contains("unknown augmentation 'blur'"),
                       std::invalid_argument);
  Generator g(14);
  CHECK(s.apply(images(), g).shape() == images().shape());
}

namespace {

// Per-channel normalisation as data::Splits carries it, with values unlike any dataset's.
const Tensor kMean = tensor({0.3, 0.6}, {1, 2, 1, 1}), kStd = tensor({0.2, 0.4}, {1, 2, 1, 1});
Tensor normalise(const Tensor& raw) { return ((raw - kMean) / kStd).detach(); }
Tensor unnormalise(const Tensor& x) { return (x * kStd + kMean).detach(); }

}  // namespace

TEST_CASE("AugmentSpec on normalised images: the same as normalising the augmented raw images") {
  Generator g0(21);
  const Tensor raw = rand({64, 2, 5, 6}, g0);
  for (const char* list : {"randaugment", "jitter", "rotate", "crop", "randaugment,rotate,jitter,flip,vflip,crop"}) {
    CAPTURE(list);
    const data::AugmentSpec spec = data::AugmentSpec::parse(list);
    Generator g1(22), g2(22), g3(22);
    const Tensor expected = normalise(spec.apply(raw, g2));
    CHECK(cmp(list, spec.apply(normalise(raw), g1, kMean, kStd), expected, 0, 1e-4).approximate);
    // Without the normalisation the ops act in the wrong units (the bug this overload fixes).
    CHECK_FALSE(cmp(list, spec.apply(normalise(raw), g3), expected, 0, 1e-4).approximate);
  }
  // Flips alone need no round trip: exactly apply() on the normalised images.
  const data::AugmentSpec flips = data::AugmentSpec::parse("flip,vflip");
  Generator g4(23), g5(23);
  CHECK(cmp("flips", flips.apply(normalise(raw), g4, kMean, kStd), flips.apply(normalise(raw), g5)).exact);
}

TEST_CASE("RandAugment on normalised images: brightness and solarize act on raw pixels") {
  // RandAugment(2, 9) in AugmentSpec: m = 9/30, brightness factor 1 ± 0.27, solarize threshold 0.7.
  // Each image draws (op, sign) twice, in image order, from the generator's first 4·N counters;
  // op = ⌊11·u⌋ (0 identity, 6 brightness, 8 solarize). Images whose two ops are among those
  // three are checked against the formulas on raw pixels.
  const int64_t N = 512;
  Generator g0(31);
  const Tensor raw = rand({N, 2, 5, 6}, g0);
  const uint64_t seed = 32;
  Generator g(seed);
  const Tensor out = unnormalise(data::AugmentSpec::parse("randaugment").apply(normalise(raw), g, kMean, kStd));
  const auto in = raw.tolist(), got = out.tolist();
  const int64_t per = 2 * 5 * 6;
  int64_t checked = 0, solarized = 0;
  for (int64_t n = 0; n < N; ++n) {
    int ops[2];
    double signs[2];
    for (int k = 0; k < 2; ++k) {
      ops[k] = static_cast<int>(11 * Generator::uniform_at(seed, static_cast<uint64_t>(4 * n + 2 * k)));
      signs[k] = Generator::uniform_at(seed, static_cast<uint64_t>(4 * n + 2 * k + 1)) < 0.5 ? -1.0 : 1.0;
    }
    auto known = [](int op) { return op == 0 || op == 6 || op == 8; };
    if (!known(ops[0]) || !known(ops[1])) continue;
    ++checked;
    solarized += ops[0] == 8 || ops[1] == 8;
    for (int64_t i = n * per; i < (n + 1) * per; ++i) {
      double v = in[static_cast<std::size_t>(i)];
      for (int k = 0; k < 2; ++k) {
        if (ops[k] == 6) v = std::clamp(v * (1 + signs[k] * 0.27), 0.0, 1.0);
        if (ops[k] == 8) v = v >= 0.7 ? 1 - v : v;
      }
      CHECK(std::abs(got[static_cast<std::size_t>(i)] - v) < 1e-5);
    }
  }
  CHECK(checked >= 10);  // 9/121 of 512 images expected
  CHECK(solarized >= 3);
}

TEST_CASE("AugmentSpec on normalised images: crop fills black, erasing fills the mean; bad shapes are refused") {
  const Tensor raw = ones({16, 2, 5, 6});
  Generator g(41);
  const Tensor c = unnormalise(data::AugmentSpec::parse("crop").apply(normalise(raw), g, kMean, kStd));
  int64_t black = 0;
  for (double v : c.tolist()) {
    CHECK((std::abs(v) < 1e-6 || std::abs(v - 1) < 1e-6));
    black += std::abs(v) < 1e-6;
  }
  CHECK(black > 0);
  // Erasing runs after the normalisation, as torchvision's RandomErasing after Normalize: value 0.
  const data::AugmentSpec erase = data::AugmentSpec::parse("", 1.0);
  Generator g1(42), g2(42);
  const Tensor e = erase.apply(normalise(raw), g1, kMean, kStd);
  CHECK(cmp("erasing", e, data::random_erasing(normalise(raw), g2, 1.0)).exact);
  const auto ev = e.tolist();
  CHECK(std::count(ev.begin(), ev.end(), 0.0) > 0);
  Generator g3(43);
  CHECK_THROWS_WITH_AS(erase.apply(raw, g3, tensor({0.5}, {1, 1, 1, 1}), kStd),
                       doctest::Contains("mean and std must both be (1, 2, 1, 1)"), std::invalid_argument);
}

TEST_CASE("a vertical flip twice is the identity") {
  const Tensor x = images();
  Generator g1(15), g2(15);
  const Tensor once = data::random_vflip(x, g1, 1.0);
  CHECK(once.at({0, 1, 0, 3}) == x.at({0, 1, 4, 3}));
  CHECK(cmp("twice", data::random_vflip(once, g2, 1.0), x).exact);
}

TEST_CASE("augmentations run in parallel over images and give the same batch for any thread count") {
  Generator g0(16);
  const Tensor x = rand({256, 1, 28, 28}, g0);
  const data::AugmentSpec spec = data::AugmentSpec::parse("flip,vflip,crop,rotate,jitter,randaugment", 0.5);
  const int threads = omp_get_max_threads();
  omp_set_num_threads(1);
  Generator g1(17);
  const Tensor one = spec.apply(x, g1);
  omp_set_num_threads(2);
  Generator g2(17);
  const Tensor two = spec.apply(x, g2);
  omp_set_num_threads(threads);
  CHECK(cmp("threads", one, two).exact);
}

TEST_CASE("mask_context: each token becomes the padding index with probability p") {
  Generator g(11);
  const Tensor x = randint(1, 27, {400, 8}, g);  // no padding before masking
  Generator g0(12), g1(12);
  CHECK(cmp("p=0", data::mask_context(x, 0.0, g0), x).exact);
  for (double v : data::mask_context(x, 1.0, g0).tolist()) CHECK(v == 0.0);
  const Tensor m = data::mask_context(x, 0.25, g1);
  const auto before = x.tolist(), after = m.tolist();
  int64_t masked = 0, other_changes = 0;
  for (std::size_t i = 0; i < before.size(); ++i) {
    masked += after[i] == 0.0;
    other_changes += after[i] != 0.0 && after[i] != before[i];
  }
  // 3,200 Bernoulli(0.25) draws: the masked share is 0.25 within 3σ = 3·√(0.25·0.75/3200) ≈ 0.023.
  CHECK(std::abs(static_cast<double>(masked) / 3200.0 - 0.25) < 0.023);
  CHECK(other_changes == 0);
  Generator g2(12);
  CHECK(cmp("same seed", data::mask_context(x, 0.25, g2), m).exact);
  Generator g3(13);
  CHECK(data::mask_context(x, 1.0, g3, 5).at({3, 2}) == 5.0);  // another padding index
}

TEST_CASE("shuffle_context: with probability p a context's tokens are permuted uniformly") {
  // Row n holds the tokens 1 … 8 in order.
  std::vector<int64_t> v;
  const int64_t N = 2000, T = 8;
  for (int64_t n = 0; n < N; ++n)
    for (int64_t t = 1; t <= T; ++t) v.push_back(t);
  const Tensor x = tensor_i64(v, {N, T});
  Generator g0(21);
  CHECK(cmp("p=0", data::shuffle_context(x, 0.0, g0), x).exact);
  const Tensor s = data::shuffle_context(x, 1.0, g0);
  const auto out = s.tolist();
  std::vector<int64_t> first_token(T + 1, 0);
  int64_t unchanged = 0;
  for (int64_t n = 0; n < N; ++n) {
    std::vector<double> row(out.begin() + n * T, out.begin() + (n + 1) * T);
    unchanged += std::is_sorted(row.begin(), row.end());
    ++first_token[static_cast<std::size_t>(row[0])];
    std::sort(row.begin(), row.end());
    for (int64_t t = 0; t < T; ++t) CHECK(row[t] == static_cast<double>(t + 1));  // a permutation
  }
  CHECK(unchanged < 5);  // the identity has probability 1/8! per row
  // Uniform: each token comes first in 2000/8 = 250 rows, within 4σ = 4·√(2000·(1/8)·(7/8)) ≈ 59.
  for (int64_t t = 1; t <= T; ++t) CHECK(std::abs(first_token[static_cast<std::size_t>(t)] - 250) < 59);
  Generator g1(22);
  const auto half = data::shuffle_context(x, 0.5, g1).tolist();
  int64_t changed = 0;
  for (int64_t n = 0; n < N; ++n) changed += !std::is_sorted(half.begin() + n * T, half.begin() + (n + 1) * T);
  // Bernoulli(0.5) rows: 1000 within 4σ ≈ 89.
  CHECK(std::abs(changed - 1000) < 89);
}

TEST_CASE("text augmentations refuse images and a bad p") {
  Generator g(1);
  CHECK_THROWS_WITH_AS(data::mask_context(rand({2, 8}, g), 0.1, g),
                       doctest::Contains("mask_context: expected int64 contexts (N, T), got float32 [2, 8]"),
                       std::invalid_argument);
  CHECK_THROWS_WITH_AS(data::shuffle_context(randint(0, 27, {2, 8}, g), 1.5, g),
                       doctest::Contains("p must be in [0, 1]"), std::invalid_argument);
}
