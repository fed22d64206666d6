// conv2d by im2col + GEMM, and max pooling. Per sample n (parallel over the batch; GEMMs inside
// a parallel region run single-threaded in OpenMP OpenBLAS):
//   cols_n = im2col(x_n)               (C·kh·kw, Ho·Wo)
//   y_n    = W·cols_n + b              W viewed as (O, C·kh·kw)
// Backward: dW = Σ_n dy_n·cols_nᵀ, db = Σ dy, dx_n = col2im(Wᵀ·dy_n).
#include "regrad/ops/conv.h"

#include <cblas.h>

#include <algorithm>
#include <cstring>
#include <limits>
#include <vector>

#include "kernels.h"
#include "regrad/autograd/autograd.h"
#include "regrad/ops/reduce.h"
#include "regrad/tensor/factory.h"

namespace rg {
namespace {

struct Geometry {
  int64_t N, C, H, W, O, kh, kw, stride, pad, Ho, Wo;
  int64_t K() const { return C * kh * kw; }
  int64_t P() const { return Ho * Wo; }
};

void gemm(bool ta, bool tb, int64_t M, int64_t N, int64_t K, const float* A, const float* B, float* C, float beta) {
  cblas_sgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans, M, N, K, 1.0f, A,
              ta ? M : K, B, tb ? K : N, beta, C, N);
}
void gemm(bool ta, bool tb, int64_t M, int64_t N, int64_t K, const double* A, const double* B, double* C, double beta) {
  cblas_dgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans, M, N, K, 1.0, A,
              ta ? M : K, B, tb ? K : N, beta, C, N);
}

// cols[(c·kh + i)·kw + j][oh·Wo + ow] = x[c][oh·s − p + i][ow·s − p + j] (0 outside the image).
// For each output row, the ow whose input column falls inside the image form one range
// [lo, hi): zeros outside it, a strided (for s = 1, contiguous) copy inside.
template <typename T>
void im2col(const T* x, T* cols, const Geometry& g) {
  for (int64_t c = 0; c < g.C; ++c)
    for (int64_t i = 0; i < g.kh; ++i)
      for (int64_t j = 0; j < g.kw; ++j) {
        T* row = cols + ((c * g.kh + i) * g.kw + j) * g.P();
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
          for (int64_t ow = lo; ow < hi; ++ow) out[ow] = in[ow * g.stride];
          std::fill(out + hi, out + g.Wo, T(0));
        }
      }
}

// The adjoint of im2col: every column entry adds back into the pixel it was read from.
template <typename T>
void col2im(const T* cols, T* x, const Geometry& g) {
  std::fill(x, x + g.C * g.H * g.W, T(0));
  for (int64_t c = 0; c < g.C; ++c)
    for (int64_t i = 0; i < g.kh; ++i)
      for (int64_t j = 0; j < g.kw; ++j) {
        const T* row = cols + ((c * g.kh + i) * g.kw + j) * g.P();
        for (int64_t oh = 0; oh < g.Ho; ++oh) {
          const int64_t h = oh * g.stride - g.pad + i;
          if (h < 0 || h >= g.H) continue;
          for (int64_t ow = 0; ow < g.Wo; ++ow) {
            const int64_t w = ow * g.stride - g.pad + j;
            if (w >= 0 && w < g.W) x[(c * g.H + h) * g.W + w] += row[oh * g.Wo + ow];
          }
        }
      }
}

int num_threads() { return omp_in_parallel() ? 1 : omp_get_max_threads(); }

}  // namespace

Tensor conv2d(const Tensor& input, const Tensor& weight, const Tensor& bias, int64_t stride, int64_t padding) {
  detail::check_same_dtype(input, weight, "conv2d");
  if (input.dim() != 4 || weight.dim() != 4 || input.shape()[1] != weight.shape()[1])
    throw std::invalid_argument("conv2d: input " + to_string(input.shape()) + " (N, C, H, W) and weight " +
                                to_string(weight.shape()) + " (O, C, kh, kw) do not match");
  if (stride <= 0 || padding < 0) throw std::invalid_argument("conv2d: stride must be positive and padding >= 0");
  Geometry g{input.shape()[0], input.shape()[1], input.shape()[2], input.shape()[3], weight.shape()[0],
             weight.shape()[2], weight.shape()[3], stride, padding, 0, 0};
  g.Ho = (g.H + 2 * padding - g.kh) / stride + 1;
  g.Wo = (g.W + 2 * padding - g.kw) / stride + 1;
  if (g.Ho <= 0 || g.Wo <= 0)
    throw std::invalid_argument("conv2d: kernel " + to_string(Shape{g.kh, g.kw}) + " larger than padded input " +
                                to_string(input.shape()));
  if (bias.defined() && bias.shape() != Shape{g.O})
    throw std::invalid_argument("conv2d: bias " + to_string(bias.shape()) + " must have shape [" + std::to_string(g.O) + "]");
  Tensor y = Tensor::empty({g.N, g.O, g.Ho, g.Wo}, input.dtype());
  dispatch_float(input.dtype(), "conv2d", [&](auto tag) {
    using T = typename decltype(tag)::type;
    const T *x = input.data<T>(), *w = weight.data<T>(), *b = bias.defined() ? bias.data<T>() : nullptr;
    T* py = y.data<T>();
#pragma omp parallel num_threads(num_threads())
    {
      std::vector<T> cols(g.K() * g.P());
#pragma omp for schedule(static)
      for (int64_t n = 0; n < g.N; ++n) {
        im2col(x + n * g.C * g.H * g.W, cols.data(), g);
        T* yn = py + n * g.O * g.P();
        gemm(false, false, g.O, g.P(), g.K(), w, cols.data(), yn, T(0));
        if (b)
          for (int64_t o = 0; o < g.O; ++o)
            for (int64_t p = 0; p < g.P(); ++p) yn[o * g.P() + p] += b[o];
      }
    }
  });
  return record("conv2d", y, {input, weight, bias}, [input, weight, has_bias = bias.defined(), g](const Tensor& dy) {
    Tensor dx, dw, db;
    dispatch_float(dy.dtype(), "conv2d", [&](auto tag) {
      using T = typename decltype(tag)::type;
      const T *x = input.data<T>(), *w = weight.data<T>(), *pdy = dy.data<T>();
      const bool need_dx = input.requires_grad(), need_dw = weight.requires_grad();
      if (need_dx) dx = Tensor::empty(input.shape(), input.dtype());
      const int threads = num_threads();
      // Each thread sums dW over its samples; the per-thread sums are added in thread order.
      std::vector<std::vector<T>> dw_part(threads);
#pragma omp parallel num_threads(threads)
      {
        std::vector<T> cols(g.K() * g.P());
        std::vector<T>& part = dw_part[omp_get_thread_num()];
        if (need_dw) part.assign(weight.numel(), T(0));
#pragma omp for schedule(static)
        for (int64_t n = 0; n < g.N; ++n) {
          const T* dyn = pdy + n * g.O * g.P();
          if (need_dw) {
            im2col(x + n * g.C * g.H * g.W, cols.data(), g);
            gemm(false, true, g.O, g.K(), g.P(), dyn, cols.data(), part.data(), T(1));  // += dy_n·colsᵀ
          }
          if (need_dx) {
            gemm(true, false, g.K(), g.P(), g.O, w, dyn, cols.data(), T(0));  // Wᵀ·dy_n
            col2im(cols.data(), dx.data<T>() + n * g.C * g.H * g.W, g);
          }
        }
      }
      if (need_dw) {
        dw = zeros(weight.shape(), weight.dtype());
        for (const auto& part : dw_part)
          for (int64_t i = 0; i < static_cast<int64_t>(part.size()); ++i) dw.data<T>()[i] += part[i];
      }
    });
    if (has_bias) db = sum(dy, {0, 2, 3});
    return Grads{dx, dw, db};
  });
}

// Output size of a k×k pooling window at `stride` over (N, C, H, W); checks the arguments.
static Shape pool_shape(const Tensor& input, int64_t k, int64_t stride, const char* op) {
  if (input.dim() != 4) throw std::invalid_argument(std::string(op) + ": expected (N, C, H, W), got " + to_string(input.shape()));
  if (k <= 0 || stride <= 0) throw std::invalid_argument(std::string(op) + ": kernel_size and stride must be positive");
  const int64_t H = input.shape()[2], W = input.shape()[3];
  if (H < k || W < k)
    throw std::invalid_argument(std::string(op) + ": kernel " + std::to_string(k) + " larger than input " + to_string(input.shape()));
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

Tensor max_pool2d(const Tensor& input, int64_t k, int64_t stride) {
  if (stride == 0) stride = k;
  const Shape os = pool_shape(input, k, stride, "max_pool2d");
  const int64_t N = input.shape()[0], C = input.shape()[1], H = input.shape()[2], W = input.shape()[3];
  const int64_t Ho = os[2], Wo = os[3];
  Tensor y = Tensor::empty({N, C, Ho, Wo}, input.dtype());
  auto arg = std::make_shared<std::vector<int64_t>>(N * C * Ho * Wo);  // flat input index of each max
  dispatch_float(input.dtype(), "max_pool2d", [&](auto tag) {
    using T = typename decltype(tag)::type;
    const T* x = input.data<T>();
    T* py = y.data<T>();
    int64_t* ap = arg->data();
    detail::parallel_for(N * C, detail::grain_for(H * W), [&](int64_t p0, int64_t p1) {
      for (int64_t p = p0; p < p1; ++p)
        for (int64_t oh = 0; oh < Ho; ++oh)
          for (int64_t ow = 0; ow < Wo; ++ow) {
            const int64_t start = (p * H + oh * stride) * W + ow * stride;
            int64_t best = start;
            T bv = x[start];
            for (int64_t i = 0; i < k; ++i)
              for (int64_t j = 0; j < k; ++j) {
                const int64_t idx = start + i * W + j;
                const bool greater = x[idx] > bv;  // branch-free: a data-dependent branch mispredicts half the time
                bv = greater ? x[idx] : bv;
                best = greater ? idx : best;
              }
            const int64_t o = (p * Ho + oh) * Wo + ow;
            py[o] = bv;
            ap[o] = best;
          }
    });
  });
  return record("max_pool2d", y, {input}, [arg, shape = input.shape()](const Tensor& dy) {
    Tensor dx = zeros(shape, dy.dtype());
    dispatch_float(dy.dtype(), "max_pool2d", [&](auto tag) {
      using T = typename decltype(tag)::type;
      const T* g = dy.data<T>();
      T* px = dx.data<T>();
      for (std::size_t o = 0; o < arg->size(); ++o) px[(*arg)[o]] += g[o];  // windows may overlap
    });
    return Grads{dx};
  });
}

}  // namespace rg
