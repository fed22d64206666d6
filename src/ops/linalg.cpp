// matmul through OpenBLAS. The 2-D and batched products call GEMM directly; every other case of
// torch.matmul is reduced to them with reshape/expand, whose backward passes come for free.
#include "regrad/ops/linalg.h"

#include "kernels.h"
#include "regrad/autograd/autograd.h"
#include "regrad/ops/reduce.h"
#include "regrad/ops/shape_ops.h"

namespace rg {

using detail::gemm;

// (B, M, K)·(B, K, N) → (B, M, N), or 2-D when both are 2-D.
static Tensor bmm(const Tensor& a, const Tensor& b) {
  const int64_t nb = a.dim() == 3 ? a.shape()[0] : 1;
  const int64_t M = a.shape()[a.dim() - 2], K = a.shape()[a.dim() - 1], N = b.shape()[b.dim() - 1];
  Shape shape = a.dim() == 3 ? Shape{nb, M, N} : Shape{M, N};
  Tensor y = Tensor::empty(shape, a.dtype());
  dispatch_float(a.dtype(), "matmul", [&](auto tag) {
    using T = typename decltype(tag)::type;
    for (int64_t i = 0; i < nb; ++i)
      gemm(false, false, M, N, K, a.data<T>() + i * M * K, b.data<T>() + i * K * N, y.data<T>() + i * M * N);
  });
  if (!needs_grad(a, b)) return y;
  return record("matmul", y, {a, b},
                [a = a.detach(), b = b.detach(), need_a = a.requires_grad(), need_b = b.requires_grad(), nb, M, N,
                 K](const Tensor& g) {
                  // C = A·B  ⇒  dA = dC·Bᵀ (M×K), dB = Aᵀ·dC (K×N), per batch entry.
                  Tensor ga, gb;
                  if (need_a) ga = Tensor::empty(a.shape(), a.dtype());
                  if (need_b) gb = Tensor::empty(b.shape(), b.dtype());
                  dispatch_float(g.dtype(), "matmul", [&](auto tag) {
                    using T = typename decltype(tag)::type;
                    for (int64_t i = 0; i < nb; ++i) {
                      const T* pg = g.data<T>() + i * M * N;
                      if (ga.defined())
                        gemm(false, true, M, K, N, pg, b.data<T>() + i * K * N, ga.data<T>() + i * M * K);
                      if (gb.defined())
                        gemm(true, false, K, N, M, a.data<T>() + i * M * K, pg, gb.data<T>() + i * K * N);
                    }
                  });
                  return Grads{ga, gb};
                });
}

Tensor matmul(const Tensor& a, const Tensor& b) {
  detail::check_same_dtype(a, b, "matmul");
  if (a.dim() == 0 || b.dim() == 0)
    throw std::invalid_argument("matmul: both operands need at least 1 dim, got shapes " + to_string(a.shape()) +
                                " and " + to_string(b.shape()));
  if (a.dim() == 1 && b.dim() == 1) {  // the dot product, 0-d (torch.matmul)
    if (a.numel() != b.numel())
      throw std::invalid_argument("matmul: vectors " + to_string(a.shape()) + " and " + to_string(b.shape()) +
                                  " differ in length");
    return reshape(matmul(unsqueeze(a, 0), unsqueeze(b, 1)), {});
  }
  if (a.dim() == 1) return squeeze(matmul(unsqueeze(a, 0), b), -2);
  if (b.dim() == 1) return squeeze(matmul(a, unsqueeze(b, 1)), -1);
  const int64_t K = a.shape().back();
  if (b.shape()[b.dim() - 2] != K)
    throw std::invalid_argument("matmul: shapes " + to_string(a.shape()) + " and " + to_string(b.shape()) +
                                " cannot be multiplied (" + std::to_string(K) +
                                " != " + std::to_string(b.shape()[b.dim() - 2]) + ")");
  const int64_t M = a.shape()[a.dim() - 2], N = b.shape().back();
  if (a.dim() == 2 && b.dim() == 2) return bmm(a, b);
  if (b.dim() == 2) {  // (..., M, K)·(K, N): one GEMM over all rows
    Shape out(a.shape().begin(), a.shape().end() - 1);
    out.push_back(N);
    return reshape(bmm(reshape(a, {-1, K}), b), out);
  }
  // Broadcast the batch dims, flatten them, and run one GEMM per batch entry.
  const Shape ba(a.shape().begin(), a.shape().end() - 2), bb(b.shape().begin(), b.shape().end() - 2);
  Shape batch = broadcast_shapes(ba, bb, "matmul");
  Shape sa = batch, sb = batch, out = batch;
  sa.insert(sa.end(), {M, K});
  sb.insert(sb.end(), {K, N});
  out.insert(out.end(), {M, N});
  const int64_t nb = numel(batch);
  return reshape(bmm(reshape(expand(a, sa), {nb, M, K}), reshape(expand(b, sb), {nb, K, N})), out);
}

Tensor linear(const Tensor& x, const Tensor& weight, const Tensor& bias) {
  detail::check_same_dtype(x, weight, "linear");
  if (weight.dim() != 2 || x.dim() < 1 || x.shape().back() != weight.shape()[1])
    throw std::invalid_argument("linear: input " + to_string(x.shape()) + " and weight " + to_string(weight.shape()) +
                                " do not match (weight must be (out, in) with in = the input's last dim)");
  const int64_t in = weight.shape()[1], out = weight.shape()[0];
  const int64_t rows = numel(Shape(x.shape().begin(), x.shape().end() - 1));  // 0 elements when in = 0 too
  if (bias.defined() && bias.shape() != Shape{out})
    throw std::invalid_argument("linear: bias " + to_string(bias.shape()) + " must have shape [" + std::to_string(out) +
                                "]");
  Shape shape = x.shape();
  shape.back() = out;
  Tensor y = Tensor::empty(shape, x.dtype());
  dispatch_float(x.dtype(), "linear", [&](auto tag) {
    using T = typename decltype(tag)::type;
    gemm(false, true, rows, out, in, x.data<T>(), weight.data<T>(), y.data<T>());  // Y = X·Wᵀ
    if (bias.defined()) {
      T* py = y.data<T>();
      const T* pb = bias.data<T>();
      detail::parallel_for(rows, detail::grain_for(out), [&](int64_t r0, int64_t r1) {
        for (int64_t r = r0; r < r1; ++r)
#pragma omp simd
          for (int64_t j = 0; j < out; ++j) py[r * out + j] += pb[j];
      });
    }
  });
  if (!needs_grad(x, weight, bias)) return y;
  return record("linear", y, {x, weight, bias},
                [x = x.detach(), weight = weight.detach(), need_x = x.requires_grad(), need_w = weight.requires_grad(),
                 need_b = bias.defined() && bias.requires_grad(), rows, in, out](const Tensor& g) {
                  Tensor gx, gw, gb;
                  dispatch_float(g.dtype(), "linear", [&](auto tag) {
                    using T = typename decltype(tag)::type;
                    if (need_x) {  // dX = dY·W
                      gx = Tensor::empty(x.shape(), x.dtype());
                      gemm(false, false, rows, in, out, g.data<T>(), weight.data<T>(), gx.data<T>());
                    }
                    if (need_w) {  // dW = dYᵀ·X
                      gw = Tensor::empty(weight.shape(), weight.dtype());
                      gemm(true, false, out, in, rows, g.data<T>(), x.data<T>(), gw.data<T>());
                    }
                  });
                  if (need_b) gb = sum(g.reshape({rows, out}), {0});  // db = Σ_rows dY
                  return Grads{gx, gw, gb};
                });
}

std::string blas_kernels() {
  const char* name = openblas_get_corename();
  return name ? name : "unknown";
}

}  // namespace rg
