// lstsq: copy A and B into LAPACK's column-major layout (B padded to max(m, n) rows, where dgelsd
// writes the n-row solution), query the workspace, solve, copy the solution back row-major.
#include "regrad/ops/lstsq.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <stdexcept>
#include <string>
#include <vector>

#include "regrad/autograd/autograd.h"

// Debian's libopenblas ships LAPACK without lapacke.h: the Fortran symbol, 32-bit integers (LP64).
extern "C" void dgelsd_(const int* m, const int* n, const int* nrhs, double* a, const int* lda, double* b,
                        const int* ldb, double* s, const double* rcond, int* rank, double* work, const int* lwork,
                        int* iwork, int* info);

namespace rg {

LstsqResult lstsq(const Tensor& a, const Tensor& b, double rcond) {
  if (!a.defined() || !b.defined()) throw std::invalid_argument("lstsq: undefined tensor");
  if (!is_floating(a.dtype()) || !is_floating(b.dtype()))
    throw std::invalid_argument("lstsq: expected floating-point A and B, got " + to_string(a.dtype()) + " and " +
                                to_string(b.dtype()));
  if (a.dim() != 2 || (b.dim() != 1 && b.dim() != 2) || b.shape()[0] != a.shape()[0])
    throw std::invalid_argument("lstsq: A must be (m, n) and B (m) or (m, k), got A " + to_string(a.shape()) +
                                " and B " + to_string(b.shape()));
  const int64_t m = a.shape()[0], n = a.shape()[1], k = b.dim() == 2 ? b.shape()[1] : 1;
  const int64_t limit = std::numeric_limits<int>::max();
  if (m == 0 || n == 0 || k == 0 || m * n > limit || std::max(m, n) * k > limit)
    throw std::invalid_argument("lstsq: A " + to_string(a.shape()) + " and B " + to_string(b.shape()) +
                                " must be non-empty and fit LAPACK's 32-bit sizes");
  NoGradGuard no_grad;
  const std::vector<double> av = a.detach().tolist(), bv = b.detach().tolist();  // row-major, as double
  for (double v : av)
    if (!std::isfinite(v)) throw std::invalid_argument("lstsq: A " + to_string(a.shape()) + " has a non-finite entry");
  for (double v : bv)
    if (!std::isfinite(v)) throw std::invalid_argument("lstsq: B " + to_string(b.shape()) + " has a non-finite entry");

  const int M = static_cast<int>(m), N = static_cast<int>(n), K = static_cast<int>(k);
  const int lda = M, ldb = std::max(M, N);
  std::vector<double> ac(static_cast<std::size_t>(m * n)), bc(static_cast<std::size_t>(ldb) * k, 0.0);
  for (int64_t i = 0; i < m; ++i)
    for (int64_t j = 0; j < n; ++j) ac[j * m + i] = av[i * n + j];
  for (int64_t i = 0; i < m; ++i)
    for (int64_t j = 0; j < k; ++j) bc[j * ldb + i] = bv[i * k + j];
  std::vector<double> s(static_cast<std::size_t>(std::min(m, n)));
  const double eps =
      a.dtype() == DType::Float32 ? std::numeric_limits<float>::epsilon() : std::numeric_limits<double>::epsilon();
  const double rc = rcond < 0 ? eps * static_cast<double>(std::max(m, n)) : rcond;
  int rank = 0, info = 0, lwork = -1, iwork_query = 0;
  double work_query = 0;
  dgelsd_(&M, &N, &K, ac.data(), &lda, bc.data(), &ldb, s.data(), &rc, &rank, &work_query, &lwork, &iwork_query, &info);
  if (info != 0) throw std::runtime_error("lstsq: dgelsd workspace query failed (info " + std::to_string(info) + ")");
  lwork = static_cast<int>(work_query);
  std::vector<double> work(static_cast<std::size_t>(std::max(lwork, 1)));
  std::vector<int> iwork(static_cast<std::size_t>(std::max(iwork_query, 1)));
  dgelsd_(&M, &N, &K, ac.data(), &lda, bc.data(), &ldb, s.data(), &rc, &rank, work.data(), &lwork, iwork.data(), &info);
  if (info > 0)
    throw std::runtime_error("lstsq: the SVD of A " + to_string(a.shape()) + " did not converge (" +
                             std::to_string(info) + " off-diagonal elements)");
  if (info < 0) throw std::runtime_error("lstsq: dgelsd rejected argument " + std::to_string(-info));

  LstsqResult r;
  r.rank = rank;
  r.solution = Tensor::empty(b.dim() == 2 ? Shape{n, k} : Shape{n}, DType::Float64);
  double* x = r.solution.data<double>();
  for (int64_t i = 0; i < n; ++i)
    for (int64_t j = 0; j < k; ++j) x[i * k + j] = bc[j * ldb + i];
  if (a.dtype() != DType::Float64) r.solution = r.solution.to(a.dtype());
  r.singular_values = Tensor::empty({static_cast<int64_t>(s.size())}, DType::Float64);
  std::copy(s.begin(), s.end(), r.singular_values.data<double>());
  return r;
}

}  // namespace rg
