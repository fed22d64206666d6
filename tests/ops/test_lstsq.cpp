// lstsq (LAPACK dgelsd): closed-form systems on both sides of p = n, a rank-deficient one, and
// PyTorch's torch.linalg.lstsq(driver="gelsd") on two dense systems.
#include <cmath>

#include "../test_util.h"

using namespace rg;
using rg::test::check_values;
using rg::test::contains;
using rg::test::invalid_argument_message;

TEST_CASE("lstsq: overdetermined (p < n) gives the normal-equations solution") {
  // A = [[1,0],[0,1],[1,1]], b = (1,2,4): AᵀA = [[2,1],[1,2]], Aᵀb = (5,6) ⇒ x = (4/3, 7/3),
  // which leaves the residual (−1/3, −1/3, 1/3) (orthogonal to A's columns).
  const Tensor a = tensor({1, 0, 0, 1, 1, 1}, {3, 2}, DType::Float64), b = tensor({1, 2, 4}, {3}, DType::Float64);
  const LstsqResult r = lstsq(a, b);
  CHECK(r.solution.shape() == Shape{2});
  CHECK(r.rank == 2);
  check_values(r.solution, {4.0 / 3, 7.0 / 3}, 1e-14);
  // σ² are the eigenvalues of AᵀA: 3 and 1.
  check_values(r.singular_values, {std::sqrt(3.0), 1.0}, 1e-14);
}

TEST_CASE("lstsq: underdetermined (p > n) gives the minimum-norm interpolant") {
  // A = [[1,0,1],[0,1,1]], b = (1,2): x = Aᵀ(AAᵀ)⁻¹b = Aᵀ·(0,1) = (0,1,1). It solves A·x = b and is
  // orthogonal to A's null space (1,1,−1), so no other solution is shorter.
  const Tensor a = tensor({1, 0, 1, 0, 1, 1}, {2, 3}, DType::Float64), b = tensor({1, 2}, {2}, DType::Float64);
  const LstsqResult r = lstsq(a, b);
  CHECK(r.rank == 2);
  check_values(r.solution, {0, 1, 1}, 1e-14);
  // Float32 in, float32 out (solved in float64).
  const LstsqResult f = lstsq(a.to(DType::Float32), b.to(DType::Float32));
  CHECK(f.solution.dtype() == DType::Float32);
  check_values(f.solution, {0, 1, 1}, 1e-6);
}

TEST_CASE("lstsq: rank-deficient A gives the pseudo-inverse solution and its rank") {
  // A = [[1,2],[2,4]] has rank 1 with row space (1,2); b = (1,2) ⇒ x = t·(1,2) with 5t = 1.
  const Tensor a = tensor({1, 2, 2, 4}, {2, 2}, DType::Float64), b = tensor({1, 2}, {2, 1}, DType::Float64);
  const LstsqResult r = lstsq(a, b);
  CHECK(r.rank == 1);
  CHECK(r.solution.shape() == Shape{2, 1});
  check_values(r.solution, {0.2, 0.4}, 1e-14);
  // A tiny second singular value counts as zero below rcond·σ_max, and as a direction above it.
  const Tensor a2 = tensor({1, 0, 0, 1e-10}, {2, 2}, DType::Float64), b2 = tensor({1, 1}, {2}, DType::Float64);
  CHECK(lstsq(a2, b2).rank == 2);
  check_values(lstsq(a2, b2).solution, {1, 1e10}, 1e-3);
  const LstsqResult cut = lstsq(a2, b2, 1e-8);
  CHECK(cut.rank == 1);
  check_values(cut.solution, {1, 0}, 1e-14);
}

TEST_CASE("lstsq agrees with torch.linalg.lstsq(driver='gelsd') with several right-hand sides") {
  // A[i][j] = sin(7i + 3j + 1), B[i][j] = cos(5i + 2j), float64; values from PyTorch 1.13:
  //   torch.linalg.lstsq(A, B, driver='gelsd').solution (equal to pinv(A) @ B within 1e-15).
  auto make = [](int64_t m, int64_t n, int64_t k) {
    std::vector<double> av, bv;
    for (int64_t i = 0; i < m; ++i)
      for (int64_t j = 0; j < n; ++j) av.push_back(std::sin(7.0 * i + 3.0 * j + 1));
    for (int64_t i = 0; i < m; ++i)
      for (int64_t j = 0; j < k; ++j) bv.push_back(std::cos(5.0 * i + 2.0 * j));
    return std::pair{tensor(av, {m, n}, DType::Float64), tensor(bv, {m, k}, DType::Float64)};
  };
  const auto [a1, b1] = make(4, 6, 2);  // p > n
  check_values(lstsq(a1, b1).solution,
               {1.1186949085476185, -0.08414322057540781, -0.6788883624733839, 0.014475587585448525, 0.2254938612084071,
                0.055481774388454794, 0.23241390122181282, -0.12432866827074648, -0.6856698978388704,
                0.19068712301227494, 1.125202206788739, -0.25322897369021025},
               1e-12);
  const auto [a2, b2] = make(6, 4, 2);  // p < n
  check_values(lstsq(a2, b2).solution,
               {1.1176852274896825, 0.24721113600690683, -0.3062628476576227, -0.1768921575026244, -0.5112893851526173,
                0.103032681263218, 1.3186081574427169, -0.027111005207797773},
               1e-12);
}

TEST_CASE("lstsq names the shapes of a bad system") {
  CHECK(contains(invalid_argument_message([] {
                   lstsq(zeros({3, 2}, DType::Float64), zeros({4}, DType::Float64));
                 }),
                 "A [3, 2] and B [4]"));
  CHECK(contains(invalid_argument_message([] { lstsq(zeros({3}, DType::Float64), zeros({3}, DType::Float64)); }),
                 "A must be (m, n)"));
  CHECK(contains(invalid_argument_message([] {
                   lstsq(zeros({2, 2}, DType::Int64), zeros({2}, DType::Int64));
                 }),
                 "floating-point"));
  CHECK(contains(invalid_argument_message([] {
                   lstsq(tensor({1, NAN}, {1, 2}, DType::Float64), tensor({1}, {1}, DType::Float64));
                 }),
                 "non-finite"));
}

TEST_CASE("lstsq's default rcond is the eps of A's dtype: a float32 singular value of 1e-9 counts as zero") {
  // torch, float32: lstsq(diag(1, 1e-9), [1, 1], driver='gelsd') has rank 1 and solution [1, 0].
  const Tensor a = tensor({1.0, 0.0, 0.0, 1e-9}).reshape({2, 2}), b = tensor({1.0, 1.0});
  const LstsqResult r = lstsq(a, b);
  CHECK(r.rank == 1);
  check_values(r.solution, {1.0, 0.0}, 1e-7);
  // The same system in float64 keeps both singular values (eps 2.2e-16·2 < 1e-9).
  const LstsqResult r64 =
      lstsq(tensor({1.0, 0.0, 0.0, 1e-9}, DType::Float64).reshape({2, 2}), tensor({1.0, 1.0}, DType::Float64));
  CHECK(r64.rank == 2);
  CHECK(std::abs(r64.solution.at({0}) - 1.0) < 1e-12);
  CHECK(std::abs(r64.solution.at({1}) / 1e9 - 1.0) < 1e-9);
}
