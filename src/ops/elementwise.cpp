// Elementwise ops. Each forward is a kernel call; each backward, written beside it, maps the
// output gradient g to the inputs' gradients (dy/dx from the usual calculus), summed back over
// broadcast dimensions with sum_to.
#include "regrad/ops/elementwise.h"

#include <cmath>

#include "kernels.h"
#include "regrad/autograd/autograd.h"
#include "regrad/ops/reduce.h"
#include "regrad/tensor/factory.h"
#include "vmath.h"

namespace rg {

using detail::broadcast_zip;
using detail::map;
using detail::zip;

// Runs a binary kernel f(a, b) with broadcasting; `op` names the op in errors.
template <typename F>
static Tensor binary(const Tensor& a, const Tensor& b, const char* op, F f) {
  detail::check_same_dtype(a, b, op);
  const Shape out = broadcast_shapes(a.shape(), b.shape(), op);
  return dispatch_float(a.dtype(), op, [&](auto tag) {
    using T = typename decltype(tag)::type;
    return broadcast_zip<T>(a, b, out, [f](T x, T y) { return f(x, y); });
  });
}

template <typename F>
static Tensor unary(const Tensor& x, const char* op, F f) {
  return dispatch_float(x.dtype(), op, [&](auto tag) {
    using T = typename decltype(tag)::type;
    return map<T>(x, [f](T v) { return f(v); });
  });
}

// g ⊙ h(v) elementwise, for unary backward passes: dL/dx = dL/dy · dy/dx.
template <typename F>
static Tensor chain(const Tensor& g, const Tensor& v, const char* op, F dydx) {
  return dispatch_float(g.dtype(), op, [&](auto tag) {
    using T = typename decltype(tag)::type;
    return zip<T>(g, v, [dydx](T gi, T vi) { return gi * dydx(vi); });
  });
}

// ---- binary, broadcasting ----

Tensor add(const Tensor& a, const Tensor& b) {
  Tensor y = binary(a, b, "add", [](auto x, auto z) { return x + z; });
  if (!needs_grad(a, b)) return y;
  return record(
      "add", y, {a, b},
      [sa = a.shape(), sb = b.shape(), na = a.requires_grad(), nb = b.requires_grad()](const Tensor& g) {
        return Grads{na ? sum_to(g, sa) : Tensor(), nb ? sum_to(g, sb) : Tensor()};  // ∂(a+b)/∂a = ∂(a+b)/∂b = 1
      });
}

Tensor sub(const Tensor& a, const Tensor& b) {
  Tensor y = binary(a, b, "sub", [](auto x, auto z) { return x - z; });
  if (!needs_grad(a, b)) return y;
  return record("sub", y, {a, b},
                [sa = a.shape(), sb = b.shape(), na = a.requires_grad(), nb = b.requires_grad()](const Tensor& g) {
                  return Grads{na ? sum_to(g, sa) : Tensor(), nb ? sum_to(neg(g), sb) : Tensor()};
                });
}

Tensor mul(const Tensor& a, const Tensor& b) {
  Tensor y = binary(a, b, "mul", [](auto x, auto z) { return x * z; });
  if (!needs_grad(a, b)) return y;
  return record("mul", y, {a, b},
                [a = a.detach(), b = b.detach(), na = a.requires_grad(), nb = b.requires_grad()](const Tensor& g) {
                  // ∂(ab)/∂a = b, ∂(ab)/∂b = a
                  return Grads{na ? sum_to(g * b, a.shape()) : Tensor(), nb ? sum_to(g * a, b.shape()) : Tensor()};
                });
}

Tensor div(const Tensor& a, const Tensor& b) {
  Tensor y = binary(a, b, "div", [](auto x, auto z) { return x / z; });
  if (!needs_grad(a, b)) return y;
  return record("div", y, {a, b},
                [a = a.detach(), b = b.detach(), na = a.requires_grad(), nb = b.requires_grad()](const Tensor& g) {
                  // ∂(a/b)/∂a = 1/b, ∂(a/b)/∂b = −a/b², computed as −(a/b)/b (PyTorch's form): b² alone
                  // overflows or underflows where the quotient does not (a = 1e30, b = 1e20 in float).
                  return Grads{na ? sum_to(g / b, a.shape()) : Tensor(),
                               nb ? sum_to(neg(g * ((a / b) / b)), b.shape()) : Tensor()};
                });
}

Tensor pow(const Tensor& a, const Tensor& b) {
  Tensor y = binary(a, b, "pow", [](auto x, auto z) { return std::pow(x, z); });
  if (!needs_grad(a, b)) return y;
  return record(
      "pow", y, {a, b},
      [a = a.detach(), b = b.detach(), na = a.requires_grad(), nb = b.requires_grad()](const Tensor& g) {
        // ∂(a^b)/∂a = b·a^(b−1); ∂(a^b)/∂b = a^b·log a. As PyTorch, the first is 0 where b = 0
        // and the second 0 where a = 0 and b ≥ 0 (a^b is then constant in that variable), not
        // the NaN of 0·0^(−1) or 0·log 0.
        Tensor ga, gb;
        if (na)
          ga = sum_to(g * binary(a, b, "pow", [](auto x, auto z) { return z == 0 ? 0 : z * std::pow(x, z - 1); }),
                      a.shape());
        if (nb)
          gb = sum_to(g * binary(a, b, "pow",
                                 [](auto x, auto z) { return x == 0 && z >= 0 ? 0 : std::pow(x, z) * std::log(x); }),
                      b.shape());
        return Grads{ga, gb};
      });
}

// ---- with a scalar ----

Tensor add(const Tensor& a, double s) {
  Tensor y = unary(a, "add", [s](auto x) { return x + static_cast<decltype(x)>(s); });
  if (!needs_grad(a)) return y;
  return record("add_scalar", y, {a}, [](const Tensor& g) { return Grads{g}; });
}

Tensor mul(const Tensor& a, double s) {
  Tensor y = unary(a, "mul", [s](auto x) { return x * static_cast<decltype(x)>(s); });
  if (!needs_grad(a)) return y;
  return record("mul_scalar", y, {a}, [s](const Tensor& g) { return Grads{mul(g, s)}; });
}

// x^e, with the exponents that formulas use most as plain arithmetic, as PyTorch does: x·x is
// exact where std::pow may be off by an ulp, and a libm call per element was most of the time of
// notebook 6b's training step (pow(bndiff, 2), pow(var + ε, −0.5), …). e is the same for every
// element, so the compiler hoists the tests out of the loop.
template <typename T>
static T power(T x, double e) {
  if (e == 2.0) return x * x;
  if (e == 3.0) return x * x * x;
  if (e == 1.0) return x;
  if (e == 0.0) return T(1);
  if (e == -1.0) return T(1) / x;
  if (e == -2.0) return T(1) / (x * x);
  if (e == 0.5) return std::sqrt(x);
  if (e == -0.5) return T(1) / std::sqrt(x);
  return std::pow(x, static_cast<T>(e));
}

Tensor pow(const Tensor& a, double e) {
  Tensor y = unary(a, "pow", [e](auto x) { return power(x, e); });
  if (!needs_grad(a)) return y;
  return record("pow_scalar", y, {a}, [a = a.detach(), e](const Tensor& g) {
    // d(x^e)/dx = e·x^(e−1); for e = 0, 0 everywhere, as PyTorch (not 0·0^(−1) = NaN at x = 0).
    if (e == 0.0) return Grads{zeros(a.shape(), g.dtype())};
    return Grads{chain(g, a, "pow", [e](auto x) { return static_cast<decltype(x)>(e) * power(x, e - 1.0); })};
  });
}

Tensor rsub(double s, const Tensor& b) {
  Tensor y = unary(b, "rsub", [s](auto x) { return static_cast<decltype(x)>(s) - x; });
  if (!needs_grad(b)) return y;
  return record("rsub", y, {b}, [](const Tensor& g) { return Grads{neg(g)}; });
}

Tensor rdiv(double s, const Tensor& b) {
  Tensor y = unary(b, "rdiv", [s](auto x) { return static_cast<decltype(x)>(s) / x; });
  if (!needs_grad(b)) return y;
  return record("rdiv", y, {b}, [b = b.detach(), s](const Tensor& g) {
    return Grads{chain(g, b, "rdiv", [s](auto x) { return -static_cast<decltype(x)>(s) / (x * x); })};
  });
}

// ---- unary ----

Tensor neg(const Tensor& x) {
  Tensor y = unary(x, "neg", [](auto v) { return -v; });
  if (!needs_grad(x)) return y;
  return record("neg", y, {x}, [](const Tensor& g) { return Grads{neg(g)}; });
}

Tensor exp(const Tensor& x) {
  Tensor y = unary(x, "exp", [](auto v) { return detail::vexp_full(v); });  // float: vectorised, ≤ 2 ulp
  if (!needs_grad(x)) return y;
  return record("exp", y, {x}, [y = y.detach()](const Tensor& g) { return Grads{g * y}; });  // (eˣ)' = eˣ
}

Tensor log(const Tensor& x) {
  Tensor y = unary(x, "log", [](auto v) { return std::log(v); });
  if (!needs_grad(x)) return y;
  return record("log", y, {x}, [x = x.detach()](const Tensor& g) { return Grads{g / x}; });  // (ln x)' = 1/x
}

Tensor sqrt(const Tensor& x) {
  Tensor y = unary(x, "sqrt", [](auto v) { return std::sqrt(v); });
  if (!needs_grad(x)) return y;
  return record("sqrt", y, {x}, [y = y.detach()](const Tensor& g) {
    return Grads{chain(g, y, "sqrt", [](auto s) { return static_cast<decltype(s)>(0.5) / s; })};  // 1/(2√x)
  });
}

Tensor rsqrt(const Tensor& x) {
  Tensor y = unary(x, "rsqrt", [](auto v) { return static_cast<decltype(v)>(1) / std::sqrt(v); });
  if (!needs_grad(x)) return y;
  return record("rsqrt", y, {x}, [y = y.detach()](const Tensor& g) {
    return Grads{
        chain(g, y, "rsqrt", [](auto r) { return static_cast<decltype(r)>(-0.5) * r * r * r; })};  // −x^(−3/2)/2
  });
}

Tensor tanh(const Tensor& x) {
  Tensor y = unary(x, "tanh", [](auto v) { return detail::vtanh(v); });  // float: vectorised, ≤ 2 ulp
  if (!needs_grad(x)) return y;
  return record("tanh", y, {x}, [y = y.detach()](const Tensor& g) {
    return Grads{chain(g, y, "tanh", [](auto t) { return 1 - t * t; })};  // 1 − tanh²
  });
}

Tensor relu(const Tensor& x) {
  // As PyTorch: NaN stays NaN (and −0 stays −0); the gradient passes where y is not ≤ 0 (NaN included)
  // and is set to 0, not multiplied by 0, elsewhere (threshold_backward).
  Tensor y = unary(x, "relu", [](auto v) { return v < 0 ? decltype(v)(0) : v; });
  if (!needs_grad(x)) return y;
  return record("relu", y, {x}, [y = y.detach()](const Tensor& g) {
    return Grads{dispatch_float(g.dtype(), "relu", [&](auto tag) {
      using T = typename decltype(tag)::type;
      return detail::zip<T>(g, y, [](T gi, T t) { return t <= 0 ? T(0) : gi; });
    })};
  });
}

Tensor sigmoid(const Tensor& x) {
  Tensor y = unary(x, "sigmoid", [](auto v) { return detail::vsigmoid(v); });  // float: vectorised, ≤ 3 ulp
  if (!needs_grad(x)) return y;
  return record("sigmoid", y, {x}, [y = y.detach()](const Tensor& g) {
    return Grads{chain(g, y, "sigmoid", [](auto s) { return s * (1 - s); })};  // σ(1 − σ)
  });
}

Tensor abs(const Tensor& x) {
  Tensor y = unary(x, "abs", [](auto v) { return std::abs(v); });
  if (!needs_grad(x)) return y;
  return record("abs", y, {x}, [x = x.detach()](const Tensor& g) {
    return Grads{chain(g, x, "abs", [](auto v) {
      using T = decltype(v);
      return v > 0 ? T(1) : v < 0 ? T(-1) : T(0);
    })};
  });
}

Tensor gelu(const Tensor& x) {
  // x·Φ(x), Φ(x) = ½(1 + erf(x/√2)); float: vectorised, see src/ops/vmath.h for its accuracy.
  if (!needs_grad(x)) return unary(x, "gelu", [](auto v) { return detail::vgelu(v); });
  // For the backward pass the forward keeps Φ(x), most of GELU's arithmetic (its erf takes two
  // polynomials, an exp and a division), so the backward computes only φ(x), one exp.
  Tensor y = Tensor::empty(x.shape(), x.dtype()), cdf = Tensor::empty(x.shape(), x.dtype());
  dispatch_float(x.dtype(), "gelu", [&](auto tag) {
    using T = typename decltype(tag)::type;
    detail::parallel_for(x.numel(), detail::kGrain,
                         [&, px = x.data<T>(), py = y.data<T>(), pc = cdf.data<T>()](int64_t b, int64_t e) {
#pragma omp simd
                           for (int64_t i = b; i < e; ++i) {
                             pc[i] = detail::normal_cdf(px[i]);
                             py[i] = px[i] * pc[i];
                           }
                         });
  });
  return record("gelu", y, {x}, [x = x.detach(), cdf](const Tensor& g) {
    Tensor dx = Tensor::empty(x.shape(), x.dtype());
    dispatch_float(x.dtype(), "gelu", [&](auto tag) {
      using T = typename decltype(tag)::type;
      detail::parallel_for(
          x.numel(), detail::kGrain,
          [&, px = x.data<T>(), pc = cdf.data<T>(), pg = g.data<T>(), pd = dx.data<T>()](int64_t b, int64_t e) {
#pragma omp simd
            for (int64_t i = b; i < e; ++i) pd[i] = pg[i] * detail::vgelu_grad_from_cdf(px[i], pc[i]);  // Φ + x·φ
          });
    });
    return Grads{dx};
  });
}

// ---- operators ----

Tensor operator+(const Tensor& a, const Tensor& b) { return add(a, b); }
Tensor operator-(const Tensor& a, const Tensor& b) { return sub(a, b); }
Tensor operator*(const Tensor& a, const Tensor& b) { return mul(a, b); }
Tensor operator/(const Tensor& a, const Tensor& b) { return div(a, b); }
Tensor operator-(const Tensor& x) { return neg(x); }
Tensor operator+(const Tensor& a, double b) { return add(a, b); }
Tensor operator+(double a, const Tensor& b) { return add(b, a); }
Tensor operator-(const Tensor& a, double b) { return add(a, -b); }
Tensor operator-(double a, const Tensor& b) { return rsub(a, b); }
Tensor operator*(const Tensor& a, double b) { return mul(a, b); }
Tensor operator*(double a, const Tensor& b) { return mul(b, a); }
Tensor operator/(const Tensor& a, double b) { return mul(a, 1.0 / b); }
Tensor operator/(double a, const Tensor& b) { return rdiv(a, b); }

}  // namespace rg
