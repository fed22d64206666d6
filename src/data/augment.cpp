#include "regrad/data/augment.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include "../tensor/parallel.h"
#include "regrad/autograd/autograd.h"
#include "regrad/ops/elementwise.h"
#include "regrad/ops/index.h"
#include "regrad/tensor/factory.h"

namespace rg::data {
namespace {

struct Dims {
  int64_t N, C, H, W;
};

Dims dims_of(const Tensor& images, const char* op) {
  if (images.dim() != 4 || images.dtype() != DType::Float32)
    throw std::invalid_argument(std::string(op) + ": expected float32 images (N, C, H, W), got " +
                                to_string(images.dtype()) + " " + to_string(images.shape()));
  return {images.shape()[0], images.shape()[1], images.shape()[2], images.shape()[3]};
}

// Uniform draws from the generator, one at a time, in a fixed order.
double uniform(Generator& gen) { return Generator::uniform_at(gen.seed(), gen.advance(1)); }
int64_t pick(double u, int64_t lo, int64_t hi) {  // u ∈ [0, 1) → an integer in [lo, hi]
  return lo + static_cast<int64_t>(u * static_cast<double>(hi - lo + 1));
}
int64_t randint(Generator& gen, int64_t lo, int64_t hi) { return pick(uniform(gen), lo, hi); }

// Runs f(n, u) for every image n, in parallel over images, where u points at that image's `draws`
// uniforms. All draws are taken from gen first, in image order, so the augmented batch is the
// same for any thread count.
template <typename F>
void per_image(int64_t N, int64_t image_size, int draws, Generator& gen, F f) {
  std::vector<double> u(static_cast<std::size_t>(N * draws));
  for (double& v : u) v = uniform(gen);
  detail::parallel_for(N, detail::grain_for(image_size), [&](int64_t n0, int64_t n1) {
    for (int64_t n = n0; n < n1; ++n) f(n, u.data() + n * draws);
  });
}

double sample_gamma(double a, Generator& gen) {
  if (a < 1) return sample_gamma(a + 1, gen) * std::pow(uniform(gen), 1.0 / a);  // boost for a < 1
  const double d = a - 1.0 / 3.0, c = 1.0 / std::sqrt(9 * d);
  while (true) {  // Marsaglia & Tsang (2000)
    const double z = Generator::normal_at(gen.seed(), gen.advance(1)), v = std::pow(1 + c * z, 3);
    if (v <= 0) continue;
    const double u = uniform(gen);
    if (std::log(u) < 0.5 * z * z + d - d * v + d * std::log(v)) return d * v;
  }
}

std::vector<int64_t> permutation(int64_t n, Generator& gen) {
  std::vector<int64_t> p(static_cast<std::size_t>(n));
  for (int64_t i = 0; i < n; ++i) p[i] = i;
  for (int64_t i = n - 1; i > 0; --i) std::swap(p[i], p[randint(gen, 0, i)]);
  return p;
}

Tensor soft_targets(const Tensor& labels, const std::vector<int64_t>& perm, int64_t K, double lambda) {
  NoGradGuard no_grad;
  const Tensor a = one_hot(labels, K), b = one_hot(index_select(labels, 0, tensor_i64(perm)), K);
  return (a * lambda + b * (1.0 - lambda)).detach();
}

void check_alpha(double alpha, const char* op) {
  if (!(alpha > 0)) throw std::invalid_argument(std::string(op) + ": alpha must be > 0, got " + std::to_string(alpha));
}

}  // namespace

Tensor random_hflip(const Tensor& images, Generator& gen, double p) {
  const Dims d = dims_of(images, "random_hflip");
  Tensor out = images.detach().clone();
  float* px = out.data<float>();
  per_image(d.N, d.C * d.H * d.W, 1, gen, [&](int64_t n, const double* u) {
    if (u[0] >= p) return;
    for (int64_t r = 0; r < d.C * d.H; ++r)
      std::reverse(px + (n * d.C * d.H + r) * d.W, px + (n * d.C * d.H + r + 1) * d.W);
  });
  return out;
}

Tensor random_vflip(const Tensor& images, Generator& gen, double p) {
  const Dims d = dims_of(images, "random_vflip");
  Tensor out = images.detach().clone();
  float* px = out.data<float>();
  per_image(d.N, d.C * d.H * d.W, 1, gen, [&](int64_t n, const double* u) {
    if (u[0] >= p) return;
    for (int64_t c = 0; c < d.C; ++c)
      for (int64_t h = 0; h < d.H / 2; ++h)
        std::swap_ranges(px + ((n * d.C + c) * d.H + h) * d.W, px + ((n * d.C + c) * d.H + h + 1) * d.W,
                         px + ((n * d.C + c) * d.H + d.H - 1 - h) * d.W);
  });
  return out;
}

Tensor random_crop(const Tensor& images, int64_t padding, Generator& gen) {
  const Dims d = dims_of(images, "random_crop");
  if (padding < 0) throw std::invalid_argument("random_crop: padding must be >= 0");
  Tensor out = zeros(images.shape());
  const float* src = images.data<float>();
  float* dst = out.data<float>();
  per_image(d.N, d.C * d.H * d.W, 2, gen, [&](int64_t n, const double* u) {
    // The window's top-left corner in padded coordinates, shifted back to the image's.
    const int64_t dy = pick(u[0], 0, 2 * padding) - padding, dx = pick(u[1], 0, 2 * padding) - padding;
    for (int64_t c = 0; c < d.C; ++c)
      for (int64_t h = 0; h < d.H; ++h) {
        const int64_t sh = h + dy;
        if (sh < 0 || sh >= d.H) continue;
        for (int64_t w = 0; w < d.W; ++w) {
          const int64_t sw = w + dx;
          if (sw >= 0 && sw < d.W)
            dst[((n * d.C + c) * d.H + h) * d.W + w] = src[((n * d.C + c) * d.H + sh) * d.W + sw];
        }
      }
  });
  return out;
}

Tensor random_erasing(const Tensor& images, Generator& gen, double p, double value) {
  const Dims d = dims_of(images, "random_erasing");
  if (!(p >= 0 && p <= 1)) throw std::invalid_argument("random_erasing: p must be in [0, 1]");
  Tensor out = images.detach().clone();
  float* px = out.data<float>();
  constexpr int kAttempts = 10;  // torchvision tries 10 boxes, then gives up
  per_image(d.N, d.C * d.H * d.W, 1 + 4 * kAttempts, gen, [&](int64_t n, const double* u) {
    if (u[0] >= p) return;
    for (int a = 0; a < kAttempts; ++a) {
      const double* v = u + 1 + 4 * a;
      const double area = (0.02 + v[0] * (0.33 - 0.02)) * static_cast<double>(d.H * d.W);
      const double ratio = std::exp(std::log(0.3) + v[1] * (std::log(3.3) - std::log(0.3)));
      const int64_t h = std::llround(std::sqrt(area * ratio)), w = std::llround(std::sqrt(area / ratio));
      if (h < 1 || w < 1 || h >= d.H || w >= d.W) continue;
      const int64_t y0 = pick(v[2], 0, d.H - h), x0 = pick(v[3], 0, d.W - w);
      for (int64_t c = 0; c < d.C; ++c)
        for (int64_t y = y0; y < y0 + h; ++y)
          std::fill(px + ((n * d.C + c) * d.H + y) * d.W + x0, px + ((n * d.C + c) * d.H + y) * d.W + x0 + w,
                    static_cast<float>(value));
      return;
    }
  });
  return out;
}

const std::vector<AugmentSpec::Choice>& AugmentSpec::choices() {
  static const std::vector<Choice> table = {
      {"flip", &AugmentSpec::flip, "horizontal flip, p 0.5"},
      {"vflip", &AugmentSpec::vflip, "vertical flip, p 0.5"},
      {"crop", &AugmentSpec::crop, "random crop after 4-pixel zero padding"},
      {"rotate", &AugmentSpec::rotate, "rotation by up to ±15°"},
      {"jitter", &AugmentSpec::jitter, "brightness and contrast ±0.2"},
      {"randaugment", &AugmentSpec::randaugment, "RandAugment, 2 ops at magnitude 9"},
  };
  return table;
}

std::string AugmentSpec::help() {
  std::string s;
  for (const Choice& c : choices()) s += (s.empty() ? "" : ", ") + std::string(c.name) + " (" + c.help + ")";
  return s;
}

AugmentSpec AugmentSpec::parse(const std::string& list, double erasing) {
  AugmentSpec spec;
  spec.erasing = erasing;
  for (std::size_t start = 0; start < list.size();) {
    const std::size_t end = std::min(list.find(',', start), list.size());
    const std::string name = list.substr(start, end - start);
    bool found = false;
    for (const Choice& c : choices())
      if (name == c.name) {
        spec.*c.flag = true;
        found = true;
      }
    if (!found) {
      std::string names;
      for (const Choice& c : choices()) names += (names.empty() ? "" : ", ") + std::string(c.name);
      throw std::invalid_argument("unknown augmentation '" + name + "' (expected one of " + names + ")");
    }
    start = end + 1;
  }
  return spec;
}

namespace {

// Every op but erasing, in apply's order.
Tensor apply_before_erasing(const AugmentSpec& s, const Tensor& images, Generator& gen) {
  Tensor x = images;
  if (s.randaugment) x = rand_augment(x, 2, 9, gen);
  if (s.rotate) x = random_rotation(x, 15, gen);
  if (s.jitter) x = color_jitter(x, 0.2, 0.2, gen);
  if (s.flip) x = random_hflip(x, gen);
  if (s.vflip) x = random_vflip(x, gen);
  if (s.crop) x = random_crop(x, s.crop_padding, gen);
  return x;
}

}  // namespace

Tensor AugmentSpec::apply(const Tensor& images, Generator& gen) const {
  Tensor x = apply_before_erasing(*this, images, gen);
  if (erasing > 0) x = random_erasing(x, gen, erasing);
  return x;
}

// Why un-normalise rather than give each op a value range: the ops, like torchvision's (which run
// on PIL or uint8 images before ToTensor and Normalize), are defined on pixels in [0, 1] — the
// solarize threshold 1 − m/30, posterize's 8-bit levels, the clamp to [0, 1], black as the fill.
// One exact round trip keeps all of them in those units instead of rewriting every constant per
// channel, and new ops stay correct without knowing about normalisation.
Tensor AugmentSpec::apply(const Tensor& images, Generator& gen, const Tensor& mean, const Tensor& std) const {
  if (!mean.defined() && !std.defined()) return apply(images, gen);
  const Dims d = dims_of(images, "AugmentSpec::apply");
  const Shape channel{1, d.C, 1, 1};
  if (!mean.defined() || !std.defined() || mean.shape() != channel || std.shape() != channel)
    throw std::invalid_argument("AugmentSpec::apply: mean and std must both be (1, " + std::to_string(d.C) +
                                ", 1, 1) for images " + to_string(images.shape()) + ", got " +
                                (mean.defined() ? to_string(mean.shape()) : "none") + " and " +
                                (std.defined() ? to_string(std.shape()) : "none"));
  NoGradGuard no_grad;
  Tensor x = images;
  // Flips only permute pixels, so they need no round trip (and stay bit-identical to apply()).
  if (randaugment || rotate || jitter || crop)
    x = ((apply_before_erasing(*this, (images * std + mean).detach(), gen) - mean) / std).detach();
  else x = apply_before_erasing(*this, images, gen);
  if (erasing > 0) x = random_erasing(x, gen, erasing);
  return x;
}

namespace {

// out(y, x) = in(A·(x − c) + c): the inverse affine map A (2×2, row-major) about the image centre,
// plus a shift (tx, ty) in pixels; bilinear interpolation, zero outside. One image, all channels.
void warp_affine(const float* in, float* out, int64_t C, int64_t H, int64_t W, const double A[4], double tx,
                 double ty) {
  const double cy = (static_cast<double>(H) - 1) / 2, cx = (static_cast<double>(W) - 1) / 2;
  for (int64_t y = 0; y < H; ++y)
    for (int64_t x = 0; x < W; ++x) {
      const double dx = static_cast<double>(x) - cx - tx, dy = static_cast<double>(y) - cy - ty;
      const double sx = A[0] * dx + A[1] * dy + cx, sy = A[2] * dx + A[3] * dy + cy;
      const double fx = std::floor(sx), fy = std::floor(sy);
      const auto x0 = static_cast<int64_t>(fx), y0 = static_cast<int64_t>(fy);
      const double ax = sx - fx, ay = sy - fy;
      for (int64_t c = 0; c < C; ++c) {
        const float* plane = in + c * H * W;
        auto at = [&](int64_t yy, int64_t xx) -> double {
          return (yy >= 0 && yy < H && xx >= 0 && xx < W) ? plane[yy * W + xx] : 0.0;
        };
        out[(c * H + y) * W + x] = static_cast<float>((1 - ay) * ((1 - ax) * at(y0, x0) + ax * at(y0, x0 + 1)) +
                                                      ay * ((1 - ax) * at(y0 + 1, x0) + ax * at(y0 + 1, x0 + 1)));
      }
    }
}

// Counter-clockwise on screen (y points down), as torchvision: the output pixel at offset (dx, dy)
// from the centre reads the input at (cos t·dx − sin t·dy, sin t·dx + cos t·dy).
void rotate_into(const float* in, float* out, int64_t C, int64_t H, int64_t W, double degrees) {
  const double t = degrees * M_PI / 180;
  const double A[4] = {std::cos(t), -std::sin(t), std::sin(t), std::cos(t)};
  warp_affine(in, out, C, H, W, A, 0, 0);
}

// Pointwise: f(x, image mean) on every value of one image, then clamped to [0, 1].
template <typename F>
void pointwise(float* img, int64_t n, F f) {
  double mean = 0;
  for (int64_t i = 0; i < n; ++i) mean += img[i];
  mean /= static_cast<double>(n);
  for (int64_t i = 0; i < n; ++i)
    img[i] = static_cast<float>(std::clamp(f(static_cast<double>(img[i]), mean), 0.0, 1.0));
}

}  // namespace

Tensor rotate(const Tensor& images, double degrees) {
  const Dims d = dims_of(images, "rotate");
  Tensor out = Tensor::empty(images.shape());
  const int64_t per = d.C * d.H * d.W;
  for (int64_t n = 0; n < d.N; ++n)
    rotate_into(images.data<float>() + n * per, out.data<float>() + n * per, d.C, d.H, d.W, degrees);
  return out;
}

Tensor random_rotation(const Tensor& images, double max_degrees, Generator& gen) {
  const Dims d = dims_of(images, "random_rotation");
  Tensor out = Tensor::empty(images.shape());
  const int64_t per = d.C * d.H * d.W;
  per_image(d.N, 20 * per, 1, gen, [&](int64_t n, const double* u) {
    rotate_into(images.data<float>() + n * per, out.data<float>() + n * per, d.C, d.H, d.W,
                (2 * u[0] - 1) * max_degrees);
  });
  return out;
}

Tensor color_jitter(const Tensor& images, double brightness, double contrast, Generator& gen) {
  const Dims d = dims_of(images, "color_jitter");
  if (brightness < 0 || contrast < 0 || brightness > 1 || contrast > 1)
    throw std::invalid_argument("color_jitter: brightness and contrast must be in [0, 1]");
  Tensor out = images.detach().clone();
  const int64_t per = d.C * d.H * d.W;
  per_image(d.N, 4 * per, 2, gen, [&](int64_t n, const double* u) {
    const double b = 1 + (2 * u[0] - 1) * brightness, c = 1 + (2 * u[1] - 1) * contrast;
    pointwise(out.data<float>() + n * per, per, [&](double x, double m) { return ((x - m) * c + m) * b; });
  });
  return out;
}

Tensor rand_augment(const Tensor& images, int num_ops, double magnitude, Generator& gen) {
  const Dims d = dims_of(images, "rand_augment");
  if (num_ops < 0 || !(magnitude >= 0 && magnitude <= 30))
    throw std::invalid_argument("rand_augment: num_ops must be >= 0 and magnitude in [0, 30]");
  const double m = magnitude / 30;
  Tensor out = images.detach().clone();
  const int64_t per = d.C * d.H * d.W;
  per_image(d.N, 20 * per * std::max(num_ops, 1), 2 * num_ops, gen, [&](int64_t n, const double* u) {
    std::vector<float> tmp(static_cast<std::size_t>(per));
    float* img = out.data<float>() + n * per;
    for (int k = 0; k < num_ops; ++k) {
      const int op = static_cast<int>(u[2 * k] * 11);
      const double sign = u[2 * k + 1] < 0.5 ? -1.0 : 1.0;
      std::copy(img, img + per, tmp.begin());
      switch (op) {
        case 0: break;  // identity
        case 1: rotate_into(tmp.data(), img, d.C, d.H, d.W, sign * 30 * m); break;
        case 2:
        case 3: {  // shear x / y
          const double s = sign * 0.3 * m;
          const double A[4] = {1, op == 2 ? -s : 0, op == 3 ? -s : 0, 1};
          warp_affine(tmp.data(), img, d.C, d.H, d.W, A, 0, 0);
          break;
        }
        case 4:
        case 5: {  // translate x / y
          const double A[4] = {1, 0, 0, 1};
          const double shift = sign * 0.45 * m * static_cast<double>(op == 4 ? d.W : d.H);
          warp_affine(tmp.data(), img, d.C, d.H, d.W, A, op == 4 ? shift : 0, op == 5 ? shift : 0);
          break;
        }
        case 6: pointwise(img, per, [&](double x, double) { return x * (1 + sign * 0.9 * m); }); break;
        case 7: pointwise(img, per, [&](double x, double mu) { return (x - mu) * (1 + sign * 0.9 * m) + mu; }); break;
        case 8: pointwise(img, per, [&](double x, double) { return x >= 1 - m ? 1 - x : x; }); break;  // solarize
        case 9: {  // posterize: keep the top bits of the 8-bit value
          const int bits = 8 - static_cast<int>(4 * m);
          const double levels = std::pow(2.0, bits);
          pointwise(img, per,
                    [&](double x, double) { return std::floor(x * 255.999 / (256 / levels)) * (256 / levels) / 255; });
          break;
        }
        default: {  // autocontrast: stretch the image's range to [0, 1]
          const auto [lo, hi] = std::minmax_element(img, img + per);
          const double a = *lo, span = *hi - *lo;
          if (span > 0) pointwise(img, per, [&](double x, double) { return (x - a) / span; });
        }
      }
    }
  });
  return out;
}

namespace {

void check_contexts(const Tensor& tokens, double p, const char* op) {
  if (tokens.dim() != 2 || tokens.dtype() != DType::Int64)
    throw std::invalid_argument(std::string(op) + ": expected int64 contexts (N, T), got " + to_string(tokens.dtype()) +
                                " " + to_string(tokens.shape()));
  if (!(p >= 0 && p <= 1))
    throw std::invalid_argument(std::string(op) + ": p must be in [0, 1], got " + std::to_string(p));
}

}  // namespace

Tensor mask_context(const Tensor& tokens, double p, Generator& gen, int64_t pad) {
  check_contexts(tokens, p, "mask_context");
  Tensor out = tokens.detach().clone();
  int64_t* t = out.data<int64_t>();
  for (int64_t i = 0; i < out.numel(); ++i)
    if (uniform(gen) < p) t[i] = pad;
  return out;
}

Tensor shuffle_context(const Tensor& tokens, double p, Generator& gen) {
  check_contexts(tokens, p, "shuffle_context");
  Tensor out = tokens.detach().clone();
  const int64_t N = out.size(0), T = out.size(1);
  int64_t* t = out.data<int64_t>();
  std::vector<double> u(static_cast<std::size_t>(T));
  for (int64_t n = 0; n < N; ++n) {
    for (double& v : u) v = uniform(gen);  // u[0] decides, u[1 … T−1] drive Fisher–Yates
    if (u[0] >= p) continue;
    int64_t* row = t + n * T;
    for (int64_t i = T - 1; i > 0; --i) std::swap(row[i], row[pick(u[static_cast<std::size_t>(i)], 0, i)]);
  }
  return out;
}

double sample_beta(double alpha, Generator& gen) {
  check_alpha(alpha, "sample_beta");
  const double a = sample_gamma(alpha, gen), b = sample_gamma(alpha, gen);
  return a / (a + b);
}

Mixed mixup(const Tensor& images, const Tensor& labels, int64_t K, double alpha, Generator& gen) {
  const Dims d = dims_of(images, "mixup");
  check_alpha(alpha, "mixup");
  const double lambda = sample_beta(alpha, gen);
  const std::vector<int64_t> perm = permutation(d.N, gen);
  NoGradGuard no_grad;
  const Tensor other = index_select(images, 0, tensor_i64(perm));
  return {(images * lambda + other * (1.0 - lambda)).detach(), soft_targets(labels, perm, K, lambda), lambda};
}

Mixed cutmix(const Tensor& images, const Tensor& labels, int64_t K, double alpha, Generator& gen) {
  const Dims d = dims_of(images, "cutmix");
  check_alpha(alpha, "cutmix");
  const double lambda = sample_beta(alpha, gen);
  const std::vector<int64_t> perm = permutation(d.N, gen);
  // A box of side √(1 − λ) times the image's, centred uniformly and clipped at the borders.
  const double cut = std::sqrt(1.0 - lambda);
  const int64_t bh = static_cast<int64_t>(static_cast<double>(d.H) * cut),
                bw = static_cast<int64_t>(static_cast<double>(d.W) * cut);
  const int64_t cy = randint(gen, 0, d.H - 1), cx = randint(gen, 0, d.W - 1);
  const int64_t y0 = std::clamp<int64_t>(cy - bh / 2, 0, d.H), y1 = std::clamp<int64_t>(cy + bh / 2, 0, d.H);
  const int64_t x0 = std::clamp<int64_t>(cx - bw / 2, 0, d.W), x1 = std::clamp<int64_t>(cx + bw / 2, 0, d.W);
  Tensor out = images.detach().clone();
  const float* src = images.data<float>();
  float* dst = out.data<float>();
  for (int64_t n = 0; n < d.N; ++n)
    for (int64_t c = 0; c < d.C; ++c)
      for (int64_t y = y0; y < y1; ++y)
        for (int64_t x = x0; x < x1; ++x)
          dst[((n * d.C + c) * d.H + y) * d.W + x] = src[((perm[n] * d.C + c) * d.H + y) * d.W + x];
  const double kept = 1.0 - static_cast<double>((y1 - y0) * (x1 - x0)) / static_cast<double>(d.H * d.W);
  return {out, soft_targets(labels, perm, K, kept), kept};
}

}  // namespace rg::data
