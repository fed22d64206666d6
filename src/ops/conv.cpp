// conv2d by im2col + GEMM, batched over chunks of samples; average and max pooling.
// A chunk of nc samples n0 … n0+nc−1 is unrolled into one column matrix with L = nc·P columns
// (P = Ho·Wo, column m·P + oh·Wo + ow for sample n0 + m):
//   cols[(c·kh + i)·kw + j][m·P + oh·Wo + ow] = x_{n0+m}[c][oh·s − p + i][ow·s − p + j]
// so that one large GEMM per chunk does the work of nc small ones:
//   Y = W·cols                 (O, L), W viewed as (O, C·kh·kw);  y_{n0+m}[o] = Y[o][m·P … m·P+P) + b[o]
// Backward, with dY (O, L) gathered from dy in the same column order:
//   dW = Σ_chunks dY·colsᵀ     one partial per chunk, added in chunk order
//   dx_{n0+m} = col2im(Wᵀ·dY)[columns of m],   db = Σ dy
// The chunks depend on the shapes alone, never on the thread count; threads take whole chunks and
// every GEMM runs on one thread, so the results are the same bits at any thread count.
#include "regrad/ops/conv.h"

#include <algorithm>
#include <cstring>
#include <limits>
#include <memory>
#include <type_traits>
#include <vector>

#include "kernels.h"
#include "regrad/autograd/autograd.h"
#include "regrad/ops/reduce.h"
#include "regrad/tensor/factory.h"

namespace rg {
namespace {

using detail::gemm;

// At least kMinChunks chunks, so that up to that many threads share the work, and columns of at
// most about kColumnBytes per chunk, so that they stay in the last-level cache beside W and Y
// (measurements: docs/performance.md).
constexpr int64_t kMinChunks = 8;
constexpr int64_t kColumnBytes = int64_t{4} << 20;

struct Geometry {
  int64_t N, C, H, W, O, kh, kw, stride, pad, Ho, Wo;
  int64_t K() const { return C * kh * kw; }
  int64_t P() const { return Ho * Wo; }
  int64_t CHW() const { return C * H * W; }
  // Samples per chunk: as many equal chunks as the two bounds ask for (the last may be shorter).
  template <typename T>
  int64_t chunk() const {
    const int64_t bytes = N * K() * P() * static_cast<int64_t>(sizeof(T));
    const int64_t n_chunks = std::clamp<int64_t>(std::max(kMinChunks, (bytes + kColumnBytes - 1) / kColumnBytes), 1, N);
    return (N + n_chunks - 1) / n_chunks;
  }
};

// Row (c, i, j) of the columns for stride 1 with "same" padding (Ho = H, Wo = W): x's plane c
// shifted by (i − p)·W + (j − p) elements, with zeros where the shift leaves the image. One copy
// of the plane and a few zeros, instead of three calls per output row (docs/performance.md, *im2col*).
template <typename T>
void same_padding_row(const T* plane, T* row, int64_t i, int64_t j, const Geometry& g) {
  const int64_t n = g.H * g.W, di = i - g.pad, dj = j - g.pad, shift = di * g.W + dj;
  // row[k] = plane[k + shift] wherever 0 ≤ k + shift < n: this also fills the entries whose row
  // oh + di is outside the image but whose column wrapped into a neighbouring row …
  const int64_t k0 = std::clamp<int64_t>(-shift, 0, n), k1 = std::clamp<int64_t>(n - shift, k0, n);
  std::fill(row, row + k0, T(0));
  std::copy(plane + k0 + shift, plane + k1 + shift, row + k0);
  std::fill(row + k1, row + n, T(0));
  // … and those are exactly the entries whose column ow + dj is outside [0, W): zero them.
  const int64_t lo = std::max<int64_t>(0, -dj), hi = std::min(g.W, g.W - dj);  // the valid ow
  for (int64_t oh = 0; oh < g.H; ++oh) {
    for (int64_t ow = 0; ow < lo; ++ow) row[oh * g.W + ow] = T(0);
    for (int64_t ow = hi; ow < g.W; ++ow) row[oh * g.W + ow] = T(0);
  }
}

// Writes sample x's columns into cols, whose rows are `ld` apart:
// cols[(c·kh + i)·kw + j][oh·Wo + ow] = x[c][oh·s − p + i][ow·s − p + j] (0 outside the image).
// Stride 1 with "same" padding (the CNN's 3×3 convolutions with padding 1) takes
// same_padding_row. Otherwise, for each output row, the ow whose input column falls inside the
// image form one range [lo, hi): zeros outside it, a strided (for s = 1, contiguous) copy inside.
template <typename T>
void im2col(const T* x, T* cols, int64_t ld, const Geometry& g) {
  const bool same = g.stride == 1 && g.Ho == g.H && g.Wo == g.W && g.pad < g.H && g.pad < g.W;
  for (int64_t c = 0; c < g.C; ++c)
    for (int64_t i = 0; i < g.kh; ++i)
      for (int64_t j = 0; j < g.kw; ++j) {
        T* row = cols + ((c * g.kh + i) * g.kw + j) * ld;
        if (same) {
          same_padding_row(x + c * g.H * g.W, row, i, j, g);
          continue;
        }
        // w = ow·s − p + j ∈ [0, W)  ⇔  ow ∈ [ceil((p − j)/s), ceil((W + p − j)/s))
        const int64_t lo = std::clamp<int64_t>((g.pad - j + g.stride - 1) / g.stride, 0, g.Wo);
        const int64_t hi = std::clamp<int64_t>((g.W + g.pad - j + g.stride - 1) / g.stride, lo, g.Wo);
        for (int64_t oh = 0; oh < g.Ho; ++oh) {
          T* out = row + oh * g.Wo;
          const int64_t h = oh * g.stride - g.pad + i;
          if (h < 0 || h >= g.H) {
            std::fill(out, out + g.Wo, T(0));
            continue;
          }
          const T* in = x + (c * g.H + h) * g.W - g.pad + j;  // in[ow·s] = x[c][h][ow·s − p + j]
          std::fill(out, out + lo, T(0));
          if (g.stride == 1) std::copy(in + lo, in + hi, out + lo);  // a memcpy, not a strided loop
          else
            for (int64_t ow = lo; ow < hi; ++ow) out[ow] = in[ow * g.stride];
          std::fill(out + hi, out + g.Wo, T(0));
        }
      }
}

// The adjoint of im2col: every column entry adds back into the pixel it was read from.
template <typename T>
void col2im(const T* cols, int64_t ld, T* x, const Geometry& g) {
  std::fill(x, x + g.CHW(), T(0));
  for (int64_t c = 0; c < g.C; ++c)
    for (int64_t i = 0; i < g.kh; ++i)
      for (int64_t j = 0; j < g.kw; ++j) {
        const T* row = cols + ((c * g.kh + i) * g.kw + j) * ld;
        const int64_t lo = std::clamp<int64_t>((g.pad - j + g.stride - 1) / g.stride, 0, g.Wo);
        const int64_t hi = std::clamp<int64_t>((g.W + g.pad - j + g.stride - 1) / g.stride, lo, g.Wo);
        for (int64_t oh = 0; oh < g.Ho; ++oh) {
          const int64_t h = oh * g.stride - g.pad + i;
          if (h < 0 || h >= g.H) continue;
          T* out = x + (c * g.H + h) * g.W - g.pad + j;
          const T* in = row + oh * g.Wo;
          if (g.stride == 1) {  // contiguous: a vector loop, not a strided one
#pragma omp simd
            for (int64_t ow = lo; ow < hi; ++ow) out[ow] += in[ow];
          } else {
            for (int64_t ow = lo; ow < hi; ++ow) out[ow * g.stride] += in[ow];
          }
        }
      }
}

// Runs body(chunk, thread) for chunks 0 … n−1, shared out across threads, every GEMM on one
// thread: OpenBLAS's threaded GEMM does not give the same bits as its single-threaded one.
template <typename F>
void for_each_chunk(int64_t n, int team, F body) {
  if (team > 1) {
#pragma omp parallel for schedule(static) num_threads(team)
    for (int64_t c = 0; c < n; ++c) body(c, omp_get_thread_num());
    return;
  }
  detail::OneBlasThread one;  // one thread: OpenBLAS would still thread the GEMMs
  for (int64_t c = 0; c < n; ++c) body(c, 0);
}

// Threads for n chunks.
int team_size(int64_t n) {
  return static_cast<int>(std::min<int64_t>(n, omp_in_parallel() ? 1 : omp_get_max_threads()));
}

// One uninitialised scratch buffer per thread (no zero fill: every use writes before it reads).
template <typename T>
struct Scratch {
  std::vector<std::unique_ptr<T[]>> bufs;
  int64_t size;
  Scratch(int threads, int64_t size) : bufs(threads), size(size) {}
  T* get(int thread) {
    if (!bufs[thread]) bufs[thread].reset(new T[size]);
    return bufs[thread].get();
  }
};

}  // namespace

Tensor conv2d(const Tensor& input, const Tensor& weight, const Tensor& bias, int64_t stride, int64_t padding) {
  detail::check_same_dtype(input, weight, "conv2d");
  if (input.dim() != 4 || weight.dim() != 4 || input.shape()[1] != weight.shape()[1])
    throw std::invalid_argument("conv2d: input " + to_string(input.shape()) + " (N, C, H, W) and weight " +
                                to_string(weight.shape()) + " (O, C, kh, kw) do not match");
  if (stride <= 0 || padding < 0) throw std::invalid_argument("conv2d: stride must be positive and padding >= 0");
  Geometry g{input.shape()[0],
             input.shape()[1],
             input.shape()[2],
             input.shape()[3],
             weight.shape()[0],
             weight.shape()[2],
             weight.shape()[3],
             stride,
             padding,
             0,
             0};
  // Checked before dividing: (H + 2p − kh)/s rounds a small negative numerator up to 0.
  if (g.H + 2 * padding < g.kh || g.W + 2 * padding < g.kw)
    throw std::invalid_argument("conv2d: kernel " + to_string(Shape{g.kh, g.kw}) + " larger than padded input " +
                                to_string(input.shape()));
  g.Ho = (g.H + 2 * padding - g.kh) / stride + 1;
  g.Wo = (g.W + 2 * padding - g.kw) / stride + 1;
  if (bias.defined() && bias.shape() != Shape{g.O})
    throw std::invalid_argument("conv2d: bias " + to_string(bias.shape()) + " must have shape [" + std::to_string(g.O) +
                                "]");
  Tensor y = Tensor::empty({g.N, g.O, g.Ho, g.Wo}, input.dtype());
  if (g.N > 0)
    dispatch_float(input.dtype(), "conv2d", [&](auto tag) {
      using T = typename decltype(tag)::type;
      const T *x = input.data<T>(), *w = weight.data<T>(), *b = bias.defined() ? bias.data<T>() : nullptr;
      T* py = y.data<T>();
      const int64_t K = g.K(), P = g.P(), O = g.O, chunk = g.chunk<T>(), n_chunks = (g.N + chunk - 1) / chunk;
      const int team = team_size(n_chunks);
      Scratch<T> cols_buf(team, K * chunk * P), y_buf(team, O * chunk * P);
      for_each_chunk(n_chunks, team, [&](int64_t c, int t) {
        const int64_t n0 = c * chunk, nc = std::min(chunk, g.N - n0), L = nc * P;
        // A chunk of one sample: Y (O, P) is that sample's y, so the GEMM writes there.
        T *cols = cols_buf.get(t), *yc = nc == 1 ? py + n0 * O * P : y_buf.get(t);
        for (int64_t m = 0; m < nc; ++m) im2col(x + (n0 + m) * g.CHW(), cols + m * P, L, g);
        gemm(false, false, O, L, K, w, K, cols, L, T(0), yc, L);  // Y = W·cols
        for (int64_t m = 0; m < nc; ++m)
          for (int64_t o = 0; o < O; ++o) {  // y_{n0+m}[o] = Y[o][m·P … m·P+P) + b[o]
            const T bo = b ? b[o] : T(0);
            const T* src = yc + o * L + m * P;
            T* dst = py + ((n0 + m) * O + o) * P;  // src itself for one sample
#pragma omp simd
            for (int64_t p = 0; p < P; ++p) dst[p] = src[p] + bo;
          }
      });
    });
  if (!needs_grad(input, weight, bias)) return y;
  return record(
      "conv2d", y, {input, weight, bias},
      [input = input.detach(), weight = weight.detach(), need_dx = input.requires_grad(),
       need_dw = weight.requires_grad(), has_bias = bias.defined() && bias.requires_grad(), g](const Tensor& dy) {
        Tensor dx, dw, db;
        dispatch_float(dy.dtype(), "conv2d", [&](auto tag) {
          using T = typename decltype(tag)::type;
          const T *x = input.data<T>(), *w = weight.data<T>(), *pdy = dy.data<T>();
          if (need_dx) dx = Tensor::empty(input.shape(), input.dtype());
          if (g.N == 0) {  // an empty batch: no chunks, dW = 0
            if (need_dw) dw = zeros(weight.shape(), weight.dtype());
            return;
          }
          if (!need_dx && !need_dw) return;  // only db
          const int64_t K = g.K(), P = g.P(), O = g.O, chunk = g.chunk<T>(), n_chunks = (g.N + chunk - 1) / chunk;
          std::vector<T> dw_part(need_dw ? n_chunks * O * K : 0);  // dY·colsᵀ of each chunk
          const int team = team_size(n_chunks);
          Scratch<T> cols_buf(team, K * chunk * P), dy_buf(team, O * chunk * P);
          for_each_chunk(n_chunks, team, [&](int64_t c, int t) {
            const int64_t n0 = c * chunk, nc = std::min(chunk, g.N - n0), L = nc * P;
            T* cols = cols_buf.get(t);
            const T* dyc = pdy + n0 * O * P;  // one sample: dY (O, P) is dy's own
            if (nc > 1) {
              T* gathered = dy_buf.get(t);
              for (int64_t m = 0; m < nc; ++m)  // dY[o][m·P … m·P+P) = dy_{n0+m}[o]
                for (int64_t o = 0; o < O; ++o)
                  std::memcpy(gathered + o * L + m * P, pdy + ((n0 + m) * O + o) * P, P * sizeof(T));
              dyc = gathered;
            }
            if (need_dw) {
              for (int64_t m = 0; m < nc; ++m) im2col(x + (n0 + m) * g.CHW(), cols + m * P, L, g);
              gemm(false, true, O, K, L, dyc, L, cols, L, T(0), dw_part.data() + c * O * K, K);  // dY·colsᵀ
            }
            if (need_dx) {
              gemm(true, false, K, L, O, w, K, dyc, L, T(0), cols, L);  // Wᵀ·dY
              T* pdx = dx.data<T>();
              for (int64_t m = 0; m < nc; ++m) col2im(cols + m * P, L, pdx + (n0 + m) * g.CHW(), g);
            }
          });
          if (need_dw) {
            dw = Tensor::empty(weight.shape(), weight.dtype());
            T* pdw = dw.data<T>();
            std::copy(dw_part.begin(), dw_part.begin() + O * K, pdw);
            for (int64_t c = 1; c < n_chunks; ++c)
              for (int64_t i = 0; i < O * K; ++i) pdw[i] += dw_part[c * O * K + i];
          }
        });
        if (has_bias) db = sum(dy, {0, 2, 3});
        return Grads{dx, dw, db};
      });
}

// Output size of a k×k pooling window at `stride` over (N, C, H, W); checks the arguments.
static Shape pool_shape(const Tensor& input, int64_t k, int64_t stride, const char* op) {
  if (input.dim() != 4)
    throw std::invalid_argument(std::string(op) + ": expected (N, C, H, W), got " + to_string(input.shape()));
  if (k <= 0 || stride <= 0) throw std::invalid_argument(std::string(op) + ": kernel_size and stride must be positive");
  const int64_t H = input.shape()[2], W = input.shape()[3];
  if (H < k || W < k)
    throw std::invalid_argument(std::string(op) + ": kernel " + std::to_string(k) + " larger than input " +
                                to_string(input.shape()));
  return {input.shape()[0], input.shape()[1], (H - k) / stride + 1, (W - k) / stride + 1};
}

Tensor avg_pool2d(const Tensor& input, int64_t k, int64_t stride) {
  if (stride == 0) stride = k;
  const Shape os = pool_shape(input, k, stride, "avg_pool2d");
  const int64_t H = input.shape()[2], W = input.shape()[3], Ho = os[2], Wo = os[3], planes = os[0] * os[1];
  Tensor y = Tensor::empty(os, input.dtype());
  dispatch_float(input.dtype(), "avg_pool2d", [&](auto tag) {
    using T = typename decltype(tag)::type;
    const T* x = input.data<T>();
    T* py = y.data<T>();
    const T inv = T(1) / static_cast<T>(k * k);
    detail::parallel_for(planes, detail::grain_for(H * W), [&](int64_t p0, int64_t p1) {
      for (int64_t p = p0; p < p1; ++p)
        for (int64_t oh = 0; oh < Ho; ++oh)
          for (int64_t ow = 0; ow < Wo; ++ow) {
            T acc = 0;
            for (int64_t i = 0; i < k; ++i)
              for (int64_t j = 0; j < k; ++j) acc += x[(p * H + oh * stride + i) * W + ow * stride + j];
            py[(p * Ho + oh) * Wo + ow] = acc * inv;
          }
    });
  });
  if (!needs_grad(input)) return y;
  return record("avg_pool2d", y, {input}, [shape = input.shape(), k, stride, Ho, Wo, planes](const Tensor& dy) {
    Tensor dx = zeros(shape, dy.dtype());  // every element of a window gets g/k²
    dispatch_float(dy.dtype(), "avg_pool2d", [&](auto tag) {
      using T = typename decltype(tag)::type;
      const T* g = dy.data<T>();
      T* px = dx.data<T>();
      const int64_t H = shape[2], W = shape[3];
      const T inv = T(1) / static_cast<T>(k * k);
      for (int64_t p = 0; p < planes; ++p)
        for (int64_t oh = 0; oh < Ho; ++oh)
          for (int64_t ow = 0; ow < Wo; ++ow)
            for (int64_t i = 0; i < k; ++i)
              for (int64_t j = 0; j < k; ++j)
                px[(p * H + oh * stride + i) * W + ow * stride + j] += g[(p * Ho + oh) * Wo + ow] * inv;
    });
    return Grads{dx};
  });
}

// max_pool2d's 2×2, stride-2 windows in float, the CNN's pooling: a block of L windows of one output
// row at a time, in GCC's and Clang's vector types, so that each line below is one or two vector
// instructions on any target (AVX2, SSE, NEON, or scalar code where there is none) and the speed
// does not hang on what the auto-vectoriser makes of a loop (docs/performance.md: six scalar tries).
// A block reads the L pairs of each of the two input rows (2L floats from r0 and from r1), splits
// each into its even and odd columns, and keeps, as the scalar loop does, the first maximum in
// row-major order: the better of each row's pair, then the bottom row's only if it is greater.
namespace {

using f32x8 = float __attribute__((vector_size(32)));
using i32x8 = int32_t __attribute__((vector_size(32)));
using f32x4 = float __attribute__((vector_size(16)));
using i32x4 = int32_t __attribute__((vector_size(16)));

inline void split_even_odd(f32x8 a, f32x8 b, f32x8& even, f32x8& odd) {
  even = __builtin_shufflevector(a, b, 0, 2, 4, 6, 8, 10, 12, 14);
  odd = __builtin_shufflevector(a, b, 1, 3, 5, 7, 9, 11, 13, 15);
}
inline void split_even_odd(f32x4 a, f32x4 b, f32x4& even, f32x4& odd) {
  even = __builtin_shufflevector(a, b, 0, 2, 4, 6);
  odd = __builtin_shufflevector(a, b, 1, 3, 5, 7);
}

// Windows ow0 … ow0+L−1 of the output row whose input rows start at r0 and r1 = r0 + W; `top_left`
// is the in-plane index of r0[2·ow0]. Writes the maxima to y and their in-plane indices to arg.
template <typename F, typename I>
void max_pool_2x2_block(const float* r0, int64_t W, int32_t top_left, float* y, int32_t* arg) {
  constexpr int L = sizeof(F) / sizeof(float);
  F a0, a1, b0, b1, x00, x01, x10, x11;
  std::memcpy(&a0, r0, sizeof(F));  // memcpy: unaligned vector loads and stores
  std::memcpy(&a1, r0 + L, sizeof(F));
  std::memcpy(&b0, r0 + W, sizeof(F));
  std::memcpy(&b1, r0 + W + L, sizeof(F));
  split_even_odd(a0, a1, x00, x01);  // x_ij: window entry (i, j) of the L windows
  split_even_odd(b0, b1, x10, x11);
  I i00;
  for (int l = 0; l < L; ++l) i00[l] = top_left + 2 * l;
  const I right_top = x01 > x00, right_bottom = x11 > x10;  // −1 where true, 0 where false
  const F top = right_top ? x01 : x00, bottom = right_bottom ? x11 : x10;
  const I at_top = right_top ? i00 + 1 : i00, at_bottom = (right_bottom ? i00 + 1 : i00) + static_cast<int32_t>(W);
  const I take_bottom = bottom > top;
  const F best = take_bottom ? bottom : top;
  const I at = take_bottom ? at_bottom : at_top;
  std::memcpy(y, &best, sizeof(F));
  std::memcpy(arg, &at, sizeof(I));
}

// One plane's 2×2 windows by blocks of 8 (or, for rows of 4 to 7 windows, 4) along each output row;
// a row's last block starts at Wo − L and overlaps the one before, so no window is left to a scalar
// tail (the overlapped windows are written twice with the same values). False for rows under 4 windows.
bool max_pool_2x2_plane(const float* x, int64_t W, int64_t Ho, int64_t Wo, float* y, int32_t* arg) {
  auto rows = [&](auto block, int64_t L) {
    for (int64_t oh = 0; oh < Ho; ++oh)
      for (int64_t ow0 = 0; ow0 < Wo; ow0 += L) {
        const int64_t ow = std::min(ow0, Wo - L), top_left = 2 * oh * W + 2 * ow;
        block(x + top_left, W, static_cast<int32_t>(top_left), y + oh * Wo + ow, arg + oh * Wo + ow);
      }
  };
  if (Wo >= 8) rows(max_pool_2x2_block<f32x8, i32x8>, 8);
  else if (Wo >= 4) rows(max_pool_2x2_block<f32x4, i32x4>, 4);
  else return false;
  return true;
}

}  // namespace

Tensor max_pool2d(const Tensor& input, int64_t k, int64_t stride) {
  if (stride == 0) stride = k;
  const Shape os = pool_shape(input, k, stride, "max_pool2d");
  const int64_t N = input.shape()[0], C = input.shape()[1], H = input.shape()[2], W = input.shape()[3];
  const int64_t Ho = os[2], Wo = os[3], planes = N * C;
  if (H * W > std::numeric_limits<int32_t>::max())
    throw std::invalid_argument("max_pool2d: planes of more than 2^31 − 1 elements are not supported, got " +
                                to_string(input.shape()));
  Tensor y = Tensor::empty({N, C, Ho, Wo}, input.dtype());
  // The in-plane index of each window's max (every entry is written below, so not zeroed first).
  const std::shared_ptr<int32_t[]> arg(new int32_t[planes * Ho * Wo]);
  dispatch_float(input.dtype(), "max_pool2d", [&](auto tag) {
    using T = typename decltype(tag)::type;
    // In-plane index of the top-left element of window (oh, ow).
    const auto window_start = [W, stride](int64_t oh, int64_t ow) { return oh * stride * W + ow * stride; };
    detail::parallel_for(planes, detail::grain_for(H * W), [&](int64_t p0, int64_t p1) {
      for (int64_t p = p0; p < p1; ++p) {
        const T* x = input.data<T>() + p * H * W;
        T* py = y.data<T>() + p * Ho * Wo;
        int32_t* ap = arg.get() + p * Ho * Wo;
        bool done = false;
        if constexpr (std::is_same_v<T, float>)
          if (k == 2 && stride == 2) done = max_pool_2x2_plane(x, W, Ho, Wo, py, ap);
        if (!done)
          for (int64_t oh = 0; oh < Ho; ++oh)
            for (int64_t ow = 0; ow < Wo; ++ow) {
              const int64_t start = window_start(oh, ow);
              int64_t best = start;
              T bv = x[start];
              for (int64_t i = 0; i < k; ++i)
                for (int64_t j = 0; j < k; ++j) {
                  const int64_t idx = start + i * W + j;
                  const bool greater = x[idx] > bv;  // branch-free: a data-dependent branch mispredicts half the time
                  bv = greater ? x[idx] : bv;
                  best = greater ? idx : best;
                }
              py[oh * Wo + ow] = bv;
              ap[oh * Wo + ow] = static_cast<int32_t>(best);
            }
        // A NaN fails every comparison above, so a window holding one is done again here: as
        // PyTorch, its max is NaN, at the window's last NaN. The check is one vector pass over the
        // plane, which the loop above has just brought into cache.
        int nans = 0;
#pragma omp simd reduction(+ : nans)
        for (int64_t i = 0; i < H * W; ++i) nans += x[i] != x[i];
        if (nans == 0) continue;
        for (int64_t oh = 0; oh < Ho; ++oh)
          for (int64_t ow = 0; ow < Wo; ++ow) {
            const int64_t start = window_start(oh, ow), o = oh * Wo + ow;
            for (int64_t i = 0; i < k; ++i)
              for (int64_t j = 0; j < k; ++j)
                if (x[start + i * W + j] != x[start + i * W + j]) ap[o] = static_cast<int32_t>(start + i * W + j);
            py[o] = x[ap[o]];
          }
      }
    });
  });
  if (!needs_grad(input)) return y;
  return record("max_pool2d", y, {input},
                [arg, shape = input.shape(), planes, in = H * W, out = Ho * Wo](const Tensor& dy) {
                  Tensor dx = Tensor::empty(shape, dy.dtype());
                  dispatch_float(dy.dtype(), "max_pool2d", [&](auto tag) {
                    using T = typename decltype(tag)::type;
                    const T* g = dy.data<T>();
                    T* px = dx.data<T>();
                    const int32_t* ap = arg.get();
                    // A window lies in one plane, so planes are independent; windows may overlap within one.
                    // Each plane is zeroed just before its scatter, while it is in cache (not in a pass
                    // of its own over all of dx).
                    detail::parallel_for(planes, detail::grain_for(in), [&](int64_t p0, int64_t p1) {
                      for (int64_t p = p0; p < p1; ++p) {
                        std::fill(px + p * in, px + (p + 1) * in, T(0));
                        for (int64_t o = p * out; o < (p + 1) * out; ++o) px[p * in + ap[o]] += g[o];
                      }
                    });
                  });
                  return Grads{dx};
                });
}

}  // namespace rg
