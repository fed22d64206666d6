#include "regrad/check/gradcheck.h"

#include <cmath>
#include <sstream>

#include "regrad/autograd/autograd.h"
#include "regrad/ops/elementwise.h"
#include "regrad/ops/reduce.h"
#include "regrad/tensor/factory.h"

namespace rg {

std::string GradcheckResult::summary() const {
  std::ostringstream s;
  s << (ok ? "ok  " : "FAIL") << " max_abs_err=" << std::scientific;
  s.precision(2);
  s << max_abs_err;
  if (worst_input >= 0)
    s << " worst=input " << worst_input << " " << to_string(Shape(worst_index)) << " analytic=" << analytic
      << " numeric=" << numeric;
  return s.str();
}

static std::vector<int64_t> unravel(int64_t flat, const Shape& shape) {
  std::vector<int64_t> idx(shape.size());
  for (std::size_t d = shape.size(); d-- > 0;) {
    idx[d] = flat % shape[d];
    flat /= shape[d];
  }
  return idx;
}

GradcheckResult gradcheck(const TensorFn& f, const std::vector<Tensor>& inputs, const GradcheckOptions& opts) {
  for (const Tensor& t : inputs)
    if (t.defined() && t.requires_grad() && t.dtype() != DType::Float64)
      throw std::invalid_argument("gradcheck: inputs that require grad must be float64 (got " + to_string(t.dtype()) +
                                  "): finite differences in float32 are too coarse to check anything");
  // Fresh leaves, so the caller's tensors keep no gradient and no history.
  std::vector<Tensor> leaves;
  for (const Tensor& t : inputs) {
    if (!t.defined() || !t.requires_grad()) {
      leaves.push_back(t);
      continue;
    }
    Tensor c = t.detach().clone();
    c.requires_grad_(true);
    leaves.push_back(c);
  }
  const Tensor out = f(leaves);
  if (out.dtype() != DType::Float64) throw std::invalid_argument("gradcheck: f must return a float64 tensor");
  Generator gen(opts.seed + 0x9e3779b97f4a7c15ull);
  const Tensor v = randn(out.shape(), gen, DType::Float64);  // random upstream gradient
  if (out.requires_grad()) out.backward(v);

  // Σ v·f(x): the scalar whose gradient both sides compute.
  auto objective = [&]() {
    NoGradGuard no_grad;
    return sum(f(leaves) * v).item();
  };

  GradcheckResult r;
  double worst_ratio = -1;
  for (std::size_t n = 0; n < leaves.size(); ++n) {
    Tensor x = leaves[n];
    if (!x.defined() || !x.requires_grad()) continue;
    const Tensor grad = x.grad();
    double* p = x.data<double>();
    for (int64_t i = 0; i < x.numel(); ++i) {
      const double saved = p[i];
      p[i] = saved + opts.eps;
      const double fp = objective();
      p[i] = saved - opts.eps;
      const double fm = objective();
      p[i] = saved;
      const double numeric = (fp - fm) / (2 * opts.eps);
      const double analytic = grad.defined() ? grad.data<double>()[i] : 0.0;
      const double err = std::abs(analytic - numeric);
      const double ratio = err / (opts.atol + opts.rtol * std::abs(numeric));
      r.max_abs_err = std::max(r.max_abs_err, err);
      ++r.checked;
      if (ratio > worst_ratio || std::isnan(ratio)) {
        worst_ratio = std::isnan(ratio) ? INFINITY : ratio;
        r.worst_input = static_cast<int>(n);
        r.worst_index = unravel(i, x.shape());
        r.analytic = analytic;
        r.numeric = numeric;
      }
    }
  }
  r.ok = worst_ratio <= 1.0;
  return r;
}

}  // namespace rg
