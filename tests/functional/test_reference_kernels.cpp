// The reference kernels (src/functional/reference/): the fast kernels agree with them on many
// shapes (every output of run_op to 1e-12 in float64), and their backward passes agree with
// central differences of their forward passes. Their agreement with PyTorch is in
// test_reference.cpp.
#include <algorithm>
#include <functional>
#include <map>
#include <sstream>

#include "../test_util.h"
#include "regrad/check/op_runner.h"
#include "regrad/functional/reference.h"

using namespace rg;

namespace {

// float64: both sides are exact to a few ulps, so they agree to 1e-12 relative to max(1, |value|)
// (cmp's allclose with atol = rtol = 1e-12); a summed loss of 17 rows can reach 10⁴.
constexpr double kTol = 1e-12;

struct Tally {
  int cases = 0, tensors = 0;
  double worst = 0, worst_scaled = 0;  // max abs diff; and divided by max(1, max |value|)
  std::string worst_case;
};

// Runs `r` through the fast and the reference kernels and compares every output.
void compare_fast_and_reference(OpRequest r, const std::string& label, Tally& tally) {
  r.reference = false;
  const auto fast = run_op(r);
  r.reference = true;
  const auto ref = run_op(r);
  INFO(label);
  CHECK(fast.size() == ref.size());
  for (const auto& [name, t] : fast) {
    REQUIRE_MESSAGE(ref.count(name), "the reference path produced no ", name);
    CHECK(t.dtype() == DType::Float64);
    CHECK(ref.at(name).dtype() == DType::Float64);
    const CmpResult c = cmp(name, t, ref.at(name), kTol, kTol);
    CHECK_MESSAGE(c.approximate, c.line());
    double magnitude = 1;
    for (double v : ref.at(name).tolist()) magnitude = std::max(magnitude, std::abs(v));
    tally.worst = rg::test::worst_of(tally.worst, c.maxdiff);
    if (c.maxdiff / magnitude >= tally.worst_scaled) {
      tally.worst_scaled = c.maxdiff / magnitude;
      tally.worst_case = label + " " + name;
    }
    ++tally.tensors;
  }
  ++tally.cases;
}

std::string str(const Shape& s) { return to_string(s); }
std::string str(double v) {
  std::ostringstream ss;
  ss << v;
  return ss.str();
}

}  // namespace

TEST_CASE("fast kernels match the reference kernels in float64, on many shapes") {
  Generator gen(2026);
  const auto r = [&](const Shape& s) { return randn(s, gen, DType::Float64) * 2.0 + 0.5; };
  const auto positive = [&](const Shape& s) { return rand(s, gen, DType::Float64) + 0.5; };
  const auto request = [&](const char* op, const Shape& s) {
    OpRequest q;
    q.op = op;
    q.inputs["x"] = r(s);
    q.inputs["grad_out"] = randn(s, gen, DType::Float64);
    return q;
  };
  std::map<std::string, Tally> tally;

  // BatchNorm: one column, prime sizes, the fast kernel's 64-row blocks (S = 1) and S > 1.
  const std::vector<Shape> bn_shapes = {{2, 1},       {3, 7},       {64, 13},     {65, 3},     {130, 5},
                                        {257, 1},     {4, 1, 17},   {5, 3, 1},    {3, 5, 2},   {7, 3, 31},
                                        {2, 3, 5, 7}, {3, 1, 4, 4}, {1, 2, 3, 3}, {2, 4, 8, 8}};
  for (const Shape& s : bn_shapes) {
    const int64_t C = s[1];
    for (int affine = 0; affine < 4; ++affine)  // none, weight and bias, weight only, bias only
      for (const char* mode : {"train", "train tracked", "eval"}) {
        OpRequest q = request("batch_norm", s);
        if (affine == 1 || affine == 2) q.inputs["weight"] = r({C});
        if (affine == 1 || affine == 3) q.inputs["bias"] = r({C});
        if (std::string(mode) != "train") q.inputs["running_mean"] = r({C}), q.inputs["running_var"] = positive({C});
        q.eval = std::string(mode) == "eval";
        if (affine == 2) q.momentum = 0.25, q.eps = 1e-3;
        compare_fast_and_reference(q, "batch_norm " + str(s) + " affine " + std::to_string(affine) + " " + mode,
                                   tally["batch_norm"]);
      }
  }

  // LayerNorm and RMSNorm: rows of 1 to 257 elements, and normalized shapes of two dims.
  std::vector<std::pair<Shape, Shape>> row_shapes = {{{2, 3, 4, 5}, {4, 5}}, {{3, 1, 7}, {1, 7}}, {{4, 6}, {4, 6}}};
  for (int64_t D : {1, 2, 3, 7, 31, 64, 257})
    for (int64_t rows : {1, 5, 33}) row_shapes.push_back({{rows, D}, {D}});
  for (const auto& [s, ns] : row_shapes)
    for (int affine = 0; affine < 4; ++affine) {  // none, weight and bias, weight only, bias only
      const std::string label = str(s) + " over " + str(ns) + " affine " + std::to_string(affine);
      OpRequest q = request("layer_norm", s);
      q.normalized_shape = ns;
      if (affine == 1 || affine == 2) q.inputs["weight"] = r(ns);
      if (affine == 1 || affine == 3) q.inputs["bias"] = r(ns);
      compare_fast_and_reference(q, "layer_norm " + label, tally["layer_norm"]);
      if (affine == 3) continue;  // RMSNorm has no bias
      q.op = "rms_norm";
      q.inputs.erase("bias");
      if (affine == 2) q.eps = 1e-6;  // else the dtype's epsilon
      compare_fast_and_reference(q, "rms_norm " + label, tally["rms_norm"]);
    }

  // GroupNorm: spatial sizes on both sides of the fast kernel's run-length switch (S ≥ 64: loops
  // per channel; below: parameters repeated over whole groups), every group count.
  const std::vector<std::pair<Shape, std::vector<int64_t>>> gn_shapes = {
      {{3, 1, 5}, {1}},           {{2, 1, 70}, {1}},           {{2, 6}, {1, 2, 3, 6}},
      {{3, 6, 5}, {1, 2, 3, 6}},  {{2, 6, 63}, {1, 2, 3, 6}},  {{2, 6, 8, 8}, {1, 2, 3, 6}},
      {{1, 6, 67}, {1, 2, 3, 6}}, {{2, 6, 11, 13}, {1, 3, 6}}, {{3, 7, 16}, {1, 7}},
      {{2, 7, 65}, {1, 7}}};
  for (const auto& [s, groups] : gn_shapes)
    for (int64_t G : groups)
      for (int affine = 0; affine < 4; ++affine) {  // none, weight and bias, weight only, bias only
        OpRequest q = request("group_norm", s);
        q.groups = G;
        if (affine == 1 || affine == 2) q.inputs["weight"] = r({s[1]});
        if (affine == 1 || affine == 3) q.inputs["bias"] = r({s[1]});
        compare_fast_and_reference(
            q, "group_norm " + str(s) + " G " + std::to_string(G) + " affine " + std::to_string(affine),
            tally["group_norm"]);
      }

  // Dropout: word boundaries of the 32-bit mask (31, 32, 33), p from 0 to 1, two seeds, a given
  // mask, and eval.
  for (const Shape& s : std::vector<Shape>{{1}, {31}, {32}, {33}, {7, 13}, {1000}, {4097}})
    for (double p : {0.0, 0.1, 0.5, 0.9, 1.0}) {
      const std::string label = "dropout " + str(s) + " p " + str(p);
      OpRequest q = request("dropout", s);
      q.p = p;
      for (uint64_t seed : {0, 12345}) {
        q.seed = seed;
        compare_fast_and_reference(q, label + " seed " + std::to_string(seed), tally["dropout"]);
      }
      q.eval = true;
      compare_fast_and_reference(q, label + " eval", tally["dropout"]);
      q.eval = false;
      q.inputs["mask"] = bernoulli(s, 0.7, gen, DType::Float64);
      compare_fast_and_reference(q, label + " given mask", tally["dropout"]);
    }

  // Cross-entropy: one class to 101, smoothing 0, 0.1 and 1, every reduction, hard targets and
  // soft ones (probabilities, and positive rows that do not sum to 1).
  for (int64_t N : {1, 3, 17})
    for (int64_t K : {1, 2, 10, 101})
      for (double eps : {0.0, 0.1, 1.0})
        for (const char* reduction : {"mean", "sum", "none"})
          for (const char* kind : {"hard", "soft", "unnormalized"}) {
            OpRequest q;
            q.op = "cross_entropy";
            q.inputs["x"] = r({N, K});
            const std::string k = kind;
            q.inputs["target"] = k == "hard"   ? randint(0, K, {N}, gen)
                                 : k == "soft" ? softmax(randn({N, K}, gen, DType::Float64), 1)
                                               : rand({N, K}, gen, DType::Float64);
            q.label_smoothing = eps;
            q.reduction = reduction;
            q.inputs["grad_out"] =
                std::string(reduction) == "none" ? randn({N}, gen, DType::Float64) : scalar_tensor(1.7, DType::Float64);
            compare_fast_and_reference(
                q, "cross_entropy " + str({N, K}) + " " + kind + " eps " + str(eps) + " " + reduction,
                tally["cross_entropy"]);
            // Per-class weights, and for class indices some targets ignored.
            q.inputs["class_weight"] = rand({K}, gen, DType::Float64) + 0.5;
            if (k == "hard" && N >= 3 && K >= 10) {  // (all ignored: a mean over nothing, NaN)
              q.ignore_index = 0;
              q.inputs["target"] = randint(0, K, {N}, gen);
            }
            compare_fast_and_reference(q,
                                       "cross_entropy " + str({N, K}) + " " + kind + " weighted eps " + str(eps) + " " +
                                           reduction + (q.ignore_index ? " ignore 0" : ""),
                                       tally["cross_entropy"]);
          }

  int cases = 0, tensors = 0;
  for (const auto& [op, t] : tally) {
    MESSAGE("fast vs reference, ", op, ": ", t.cases, " cases, ", t.tensors, " tensors; worst max abs diff ", t.worst,
            ", relative to max(1, |value|) ", t.worst_scaled, " (", t.worst_case, ")");
    cases += t.cases;
    tensors += t.tensors;
  }
  MESSAGE("fast vs reference, all: ", cases, " cases, ", tensors, " tensors compared to ", kTol);
}

TEST_CASE("reference dropout: the fast kernel's mask after earlier draws, and a drop rate of p") {
  // A generator that has already drawn: the mask starts at its offset.
  Generator gen(99);
  const Tensor x = randn({1000}, gen, DType::Float64);
  const std::vector<double> xv = x.tolist();
  for (double p : {0.2, 0.7}) {
    const uint64_t first = gen.offset();
    const std::vector<double> fast = dropout(x, p, true, gen).tolist();
    CHECK(gen.offset() > first);
    std::vector<uint8_t> mask(xv.size());
    std::vector<double> ref(xv.size());
    reference::dropout_mask(mask.data(), static_cast<int64_t>(xv.size()), p, gen.seed(), first);
    reference::dropout_forward(ref.data(), xv.data(), mask.data(), static_cast<int64_t>(xv.size()), p);
    CHECK(fast == ref);
  }
  // p is the drop probability: of n draws, about n·p are dropped (4 standard deviations).
  const int64_t n = 200000;
  std::vector<uint8_t> mask(n);
  for (double p : {0.1, 0.5, 0.9}) {
    reference::dropout_mask(mask.data(), n, p, 7, 0);
    double kept = 0;
    for (uint8_t m : mask) kept += m;
    CHECK(std::abs(kept / n - (1 - p)) < 4 * std::sqrt(p * (1 - p) / n));
  }
  reference::dropout_mask(mask.data(), n, 1.0, 7, 0);
  CHECK(std::count(mask.begin(), mask.end(), 1) == 0);
  reference::dropout_mask(mask.data(), n, 0.0, 7, 0);
  CHECK(std::count(mask.begin(), mask.end(), 1) == n);
}

// ---- finite differences ----

namespace {

using Arrays = std::vector<std::vector<double>>;

struct FdResult {
  int64_t checked = 0;
  double max_abs_err = 0, worst_ratio = 0;  // ratio: |analytic − numeric| / (atol + rtol·|numeric|)
};

// Central differences of L = Σ v·f(inputs) for every element of every input with an analytic
// gradient (grads[k] empty: input k is not checked), at gradcheck's defaults: h = 1e-6, pass
// when |analytic − numeric| ≤ 1e-5 + 1e-3·|numeric|.
FdResult finite_differences(Arrays inputs, const std::function<std::vector<double>(const Arrays&)>& f,
                            const std::vector<double>& v, const Arrays& grads) {
  const double h = 1e-6, atol = 1e-5, rtol = 1e-3;
  const auto L = [&] {
    const std::vector<double> y = f(inputs);
    double s = 0;
    for (std::size_t i = 0; i < y.size(); ++i) s += v[i] * y[i];
    return s;
  };
  FdResult res;
  for (std::size_t k = 0; k < inputs.size(); ++k)
    for (std::size_t j = 0; j < grads[k].size(); ++j) {
      const double saved = inputs[k][j];
      inputs[k][j] = saved + h;
      const double up = L();
      inputs[k][j] = saved - h;
      const double down = L();
      inputs[k][j] = saved;
      const double numeric = (up - down) / (2 * h), err = std::abs(grads[k][j] - numeric);
      res.max_abs_err = rg::test::worst_of(res.max_abs_err, err);
      res.worst_ratio = rg::test::worst_of(res.worst_ratio, err / (atol + rtol * std::abs(numeric)));
      ++res.checked;
    }
  return res;
}

std::vector<double> random_values(Generator& gen, int64_t n, double scale = 1.0, double offset = 0.0) {
  return (randn({n}, gen, DType::Float64) * scale + offset).tolist();
}

const double* ptr(const std::vector<double>& v) { return v.empty() ? nullptr : v.data(); }
double* ptr(std::vector<double>& v) { return v.empty() ? nullptr : v.data(); }

}  // namespace

TEST_CASE("reference kernels: backward passes agree with central differences in float64") {
  Generator gen(5);
  FdResult all;
  const auto check = [&](const std::string& name, const FdResult& r) {
    INFO(name);
    CHECK(r.checked > 0);
    CHECK_MESSAGE(r.worst_ratio <= 1.0, "max_abs_err ", r.max_abs_err, ", worst ratio ", r.worst_ratio);
    all.checked += r.checked;
    all.max_abs_err = rg::test::worst_of(all.max_abs_err, r.max_abs_err);
    all.worst_ratio = rg::test::worst_of(all.worst_ratio, r.worst_ratio);
  };
  const auto rand_vec = [&](int64_t n) { return random_values(gen, n, 1.5, 0.3); };

  // BatchNorm: inputs x, weight, bias; train (S = 1 and S > 1, with and without affine) and eval.
  for (auto [N, C, S, affine, training] : std::vector<std::tuple<int64_t, int64_t, int64_t, bool, bool>>{
           {6, 3, 1, true, true}, {3, 2, 5, true, true}, {5, 2, 1, false, true}, {4, 3, 2, true, false}}) {
    const std::vector<double> rm = rand_vec(C), rv = random_values(gen, C, 0.1, 1.0), v = rand_vec(N * C * S);
    const auto fwd = [&, N = N, C = C, S = S, training = training](const Arrays& in) {
      std::vector<double> y(N * C * S), mean(C), rstd(C), rm_copy = rm, rv_copy = rv;
      reference::batch_norm_forward(y.data(), mean.data(), rstd.data(), training ? nullptr : rm_copy.data(),
                                    training ? nullptr : rv_copy.data(), in[0].data(), ptr(in[1]), ptr(in[2]), N, C, S,
                                    training, 0.1, 1e-5);
      return y;
    };
    const Arrays in = {rand_vec(N * C * S), affine ? rand_vec(C) : std::vector<double>{},
                       affine ? rand_vec(C) : std::vector<double>{}};
    std::vector<double> y(N * C * S), mean(C), rstd(C), rm_copy = rm, rv_copy = rv, dx(N * C * S);
    reference::batch_norm_forward(y.data(), mean.data(), rstd.data(), rm_copy.data(), rv_copy.data(), in[0].data(),
                                  ptr(in[1]), ptr(in[2]), N, C, S, training, 0.1, 1e-5);
    Arrays grads = {dx, std::vector<double>(in[1].size()), std::vector<double>(in[2].size())};
    reference::batch_norm_backward(grads[0].data(), ptr(grads[1]), ptr(grads[2]), v.data(), in[0].data(), ptr(in[1]),
                                   mean.data(), rstd.data(), training, N, C, S);
    check("batch_norm", finite_differences(in, fwd, v, grads));
  }

  // LayerNorm: affine, bias only (PyTorch adds it), none.
  for (int affine = 0; affine < 3; ++affine) {
    const int64_t rows = 4, D = 7;
    const Arrays in = {rand_vec(rows * D), affine == 0 ? rand_vec(D) : std::vector<double>{},
                       affine <= 1 ? rand_vec(D) : std::vector<double>{}};
    const std::vector<double> v = rand_vec(rows * D);
    const auto fwd = [&](const Arrays& a) {
      std::vector<double> y(rows * D), mean(rows), rstd(rows);
      reference::layer_norm_forward(y.data(), mean.data(), rstd.data(), a[0].data(), ptr(a[1]), ptr(a[2]), rows, D,
                                    1e-5);
      return y;
    };
    std::vector<double> y(rows * D), mean(rows), rstd(rows);
    reference::layer_norm_forward(y.data(), mean.data(), rstd.data(), in[0].data(), ptr(in[1]), ptr(in[2]), rows, D,
                                  1e-5);
    Arrays grads = {std::vector<double>(rows * D), std::vector<double>(in[1].size()),
                    std::vector<double>(in[2].size())};
    reference::layer_norm_backward(grads[0].data(), ptr(grads[1]), ptr(grads[2]), v.data(), in[0].data(), ptr(in[1]),
                                   mean.data(), rstd.data(), rows, D);
    check("layer_norm", finite_differences(in, fwd, v, grads));
  }

  // RMSNorm: with and without weight.
  for (bool affine : {true, false}) {
    const int64_t rows = 3, D = 6;
    const Arrays in = {rand_vec(rows * D), affine ? rand_vec(D) : std::vector<double>{}};
    const std::vector<double> v = rand_vec(rows * D);
    const auto fwd = [&](const Arrays& a) {
      std::vector<double> y(rows * D), rstd(rows);
      reference::rms_norm_forward(y.data(), rstd.data(), a[0].data(), ptr(a[1]), rows, D, 1e-6);
      return y;
    };
    std::vector<double> y(rows * D), rstd(rows);
    reference::rms_norm_forward(y.data(), rstd.data(), in[0].data(), ptr(in[1]), rows, D, 1e-6);
    Arrays grads = {std::vector<double>(rows * D), std::vector<double>(in[1].size())};
    reference::rms_norm_backward(grads[0].data(), ptr(grads[1]), v.data(), in[0].data(), ptr(in[1]), rstd.data(), rows,
                                 D);
    check("rms_norm", finite_differences(in, fwd, v, grads));
  }

  // GroupNorm: affine with short and long channels, and bias only.
  for (auto [N, C, S, G, affine] : std::vector<std::tuple<int64_t, int64_t, int64_t, int64_t, int>>{
           {2, 6, 5, 3, 0}, {2, 4, 70, 2, 0}, {2, 4, 3, 2, 1}}) {
    const int64_t n = N * C * S;
    const Arrays in = {rand_vec(n), affine == 0 ? rand_vec(C) : std::vector<double>{}, rand_vec(C)};
    const std::vector<double> v = rand_vec(n);
    const auto fwd = [&, N = N, C = C, S = S, G = G](const Arrays& a) {
      std::vector<double> y(N * C * S), mean(N * G), rstd(N * G);
      reference::group_norm_forward(y.data(), mean.data(), rstd.data(), a[0].data(), ptr(a[1]), ptr(a[2]), N, C, S, G,
                                    1e-5);
      return y;
    };
    std::vector<double> y(n), mean(N * G), rstd(N * G);
    reference::group_norm_forward(y.data(), mean.data(), rstd.data(), in[0].data(), ptr(in[1]), ptr(in[2]), N, C, S, G,
                                  1e-5);
    Arrays grads = {std::vector<double>(n), std::vector<double>(in[1].size()), std::vector<double>(C)};
    reference::group_norm_backward(grads[0].data(), ptr(grads[1]), grads[2].data(), v.data(), in[0].data(), ptr(in[1]),
                                   mean.data(), rstd.data(), N, C, S, G);
    check("group_norm", finite_differences(in, fwd, v, grads));
  }

  {  // Dropout, a fixed mask.
    const int64_t n = 50;
    const double p = 0.3;
    std::vector<uint8_t> mask(n);
    reference::dropout_mask(mask.data(), n, p, 3, 0);
    const Arrays in = {rand_vec(n)};
    const std::vector<double> v = rand_vec(n);
    const auto fwd = [&](const Arrays& a) {
      std::vector<double> y(n);
      reference::dropout_forward(y.data(), a[0].data(), mask.data(), n, p);
      return y;
    };
    Arrays grads = {std::vector<double>(n)};
    reference::dropout_backward(grads[0].data(), v.data(), mask.data(), n, p);
    check("dropout", finite_differences(in, fwd, v, grads));
  }

  // Cross-entropy per row: hard targets with class weights, ignored rows and smoothing; soft
  // targets with weights (the logits' and the targets' gradients); plain hard targets.
  for (int kind = 0; kind < 3; ++kind) {
    const int64_t N = 6, K = 5;
    const std::vector<int64_t> target = {1, -100, 4, 0, -100, 2};
    const std::vector<double> probs = (softmax(randn({N, K}, gen, DType::Float64), 1)).tolist();
    const std::vector<double> w = kind < 2 ? random_values(gen, K, 0.2, 1.0) : std::vector<double>{};
    const int64_t* t = kind == 1 ? nullptr : target.data();
    const double* q = kind == 1 ? probs.data() : nullptr;
    const double eps = kind == 2 ? 0.0 : 0.2;
    std::vector<int64_t> plain = {1, 3, 4, 0, 2, 2};
    if (kind == 2) t = plain.data();
    const Arrays in = {rand_vec(N * K), q ? probs : std::vector<double>{}};
    const std::vector<double> v = rand_vec(N);
    const auto fwd = [&](const Arrays& a) {
      std::vector<double> loss(N), lse(N);
      reference::cross_entropy_forward(loss.data(), lse.data(), a[0].data(), t, q ? a[1].data() : nullptr, ptr(w), N, K,
                                       eps);
      return loss;
    };
    std::vector<double> loss(N), lse(N);
    reference::cross_entropy_forward(loss.data(), lse.data(), in[0].data(), t, q, ptr(w), N, K, eps);
    Arrays grads = {std::vector<double>(N * K), std::vector<double>(in[1].size())};
    reference::cross_entropy_backward(grads[0].data(), ptr(grads[1]), v.data(), in[0].data(), lse.data(), t, q, ptr(w),
                                      N, K, eps);
    check("cross_entropy", finite_differences(in, fwd, v, grads));
  }
  MESSAGE("reference kernels vs central differences: ", all.checked, " elements, max abs err ", all.max_abs_err,
          ", worst |err|/(atol + rtol·|numeric|) ", all.worst_ratio);
}
