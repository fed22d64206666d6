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
  if (checked == 0) s << " nothing checked (no input requires grad)";
  if (worst_input >= 0) {
    s << " worst=input " << worst_input << " " << to_string(Shape(worst_index));
    if (worst_output >= 0) s << " output " << worst_output;
    s << " analytic=" << analytic << " numeric=" << numeric;
  }
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

namespace {

// The running comparison: the worst ratio |analytic − numeric| / (atol + rtol·|numeric|) so far.
struct Tally {
  const GradcheckOptions& opts;
  GradcheckResult& r;
  double worst_ratio = -1;
  void add(double analytic, double numeric, int input, const Shape& shape, int64_t i, int64_t output) {
    const double err = std::abs(analytic - numeric);
    const double ratio = err / (opts.atol + opts.rtol * std::abs(numeric));
    r.max_abs_err = std::max(r.max_abs_err, err);
    ++r.checked;
    if (ratio > worst_ratio || std::isnan(ratio)) {
      worst_ratio = std::isnan(ratio) ? INFINITY : ratio;
      r.worst_input = input;
      r.worst_index = unravel(i, shape);
      r.worst_output = output;
      r.analytic = analytic;
      r.numeric = numeric;
    }
  }
};

}  // namespace

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
  const auto evaluate = [&]() {
    NoGradGuard no_grad;
    return f(leaves).tolist();
  };
  GradcheckResult r;
  Tally tally{opts, r};
  if (opts.full_jacobian) {
    // Analytic rows: ∂f_j/∂(every input) by one backward with the upstream gradient e_j.
    const Tensor out0 = f(leaves);
    if (out0.dtype() != DType::Float64) throw std::invalid_argument("gradcheck: f must return a float64 tensor");
    const int64_t m = out0.numel();
    std::vector<std::vector<std::vector<double>>> rows(leaves.size());  // [input][output j][element i]
    for (int64_t j = 0; j < m; ++j) {
      for (Tensor x : leaves)
        if (x.defined() && x.requires_grad()) x.zero_grad();
      const Tensor out = j == 0 ? out0 : f(leaves);
      if (out.requires_grad()) {
        Tensor e = zeros(out.shape(), DType::Float64);
        e.data<double>()[j] = 1.0;
        out.backward(e);
      }
      for (std::size_t n = 0; n < leaves.size(); ++n) {
        const Tensor& x = leaves[n];
        if (!x.defined() || !x.requires_grad()) continue;
        rows[n].push_back(x.grad().defined() ? x.grad().tolist() : std::vector<double>(x.numel(), 0.0));
      }
    }
    // Numeric columns: ∂f/∂x_i by central differences, compared entry by entry.
    for (std::size_t n = 0; n < leaves.size(); ++n) {
      Tensor x = leaves[n];
      if (!x.defined() || !x.requires_grad()) continue;
      double* p = x.data<double>();
      for (int64_t i = 0; i < x.numel(); ++i) {
        const double saved = p[i];
        p[i] = saved + opts.eps;
        const std::vector<double> fp = evaluate();
        p[i] = saved - opts.eps;
        const std::vector<double> fm = evaluate();
        p[i] = saved;
        for (int64_t j = 0; j < m; ++j)
          tally.add(rows[n][j][i], (fp[j] - fm[j]) / (2 * opts.eps), static_cast<int>(n), x.shape(), i, j);
      }
    }
  } else {
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
        tally.add(grad.defined() ? grad.data<double>()[i] : 0.0, (fp - fm) / (2 * opts.eps), static_cast<int>(n),
                  x.shape(), i, -1);
      }
    }
  }
  r.ok = r.checked > 0 && tally.worst_ratio <= 1.0;
  return r;
}

}  // namespace rg
