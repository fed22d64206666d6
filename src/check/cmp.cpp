#include "regrad/check/cmp.h"

#include <cmath>
#include <cstdio>

namespace rg {

std::string CmpResult::line() const {
  char buf[256];
  std::snprintf(buf, sizeof buf, "%-16s| exact: %-5s | approximate: %-5s | maxdiff: %.3g", name.c_str(),
                exact ? "True" : "False", approximate ? "True" : "False", maxdiff);
  return buf;
}

CmpResult cmp(const std::string& name, const Tensor& a, const Tensor& b, double rtol, double atol) {
  if (a.shape() != b.shape())
    throw std::invalid_argument("cmp(" + name + "): shapes " + to_string(a.shape()) + " and " + to_string(b.shape()) +
                                " differ");
  const std::vector<double> va = a.tolist(), vb = b.tolist();
  CmpResult r;
  r.name = name;
  r.exact = a.dtype() == b.dtype();
  r.approximate = true;
  for (std::size_t i = 0; i < va.size(); ++i) {
    const double d = std::abs(va[i] - vb[i]);
    if (!(va[i] == vb[i])) r.exact = false;
    if (!(d <= atol + rtol * std::abs(vb[i]))) r.approximate = false;
    if (d > r.maxdiff || std::isnan(d)) r.maxdiff = std::isnan(d) ? NAN : d;
  }
  return r;
}

}  // namespace rg
