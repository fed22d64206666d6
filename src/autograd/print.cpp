// Printing a tensor in PyTorch's manner, with its grad_fn: defined in the autograd layer because
// it names the node that produced the tensor.
#include <iomanip>
#include <ostream>
#include <sstream>

#include "regrad/autograd/autograd.h"

namespace rg {

static void print_values(std::ostream& os, const Tensor& t, const std::vector<double>& v, int64_t dim, int64_t& pos,
                         int indent) {
  const int64_t n = t.shape()[dim];
  const bool last = dim == t.dim() - 1;
  const int64_t stride = numel(Shape(t.shape().begin() + dim + 1, t.shape().end()));
  const int64_t edge = 3;  // summarise long dimensions as first 3, …, last 3
  const bool summarise = n > 2 * edge + 1 && t.numel() > 1000;
  os << '[';
  for (int64_t i = 0; i < n; ++i) {
    if (summarise && i == edge) {
      os << (last ? "..., " : "...,\n" + std::string(indent + 1, ' '));
      pos += (n - 2 * edge) * stride;
      i = n - edge - 1;
      continue;
    }
    if (last) {
      if (t.dtype() == DType::Int64) os << static_cast<int64_t>(v[pos]);
      else os << std::setprecision(4) << std::fixed << v[pos];
      ++pos;
    } else {
      print_values(os, t, v, dim + 1, pos, indent + 1);
    }
    if (i + 1 < n) os << (last ? ", " : ",\n" + std::string(indent + 1, ' '));
  }
  os << ']';
}

std::ostream& operator<<(std::ostream& os, const Tensor& t) {
  if (!t.defined()) return os << "tensor(undefined)";
  std::ostringstream s;
  s << "tensor(";
  const std::vector<double> v = t.tolist();
  int64_t pos = 0;
  if (t.dim() == 0) {
    if (t.dtype() == DType::Int64) s << static_cast<int64_t>(v[0]);
    else s << std::setprecision(4) << std::fixed << v[0];
  } else {
    print_values(s, t, v, 0, pos, 7);
  }
  if (t.dtype() != DType::Float32) s << ", dtype=" << to_string(t.dtype());
  if (t.grad_fn()) s << ", grad_fn=<" << t.grad_fn()->name << ">";
  else if (t.requires_grad()) s << ", requires_grad=True";
  s << ')';
  return os << s.str();
}

std::string to_string(const Tensor& t) {
  std::ostringstream s;
  s << t;
  return s.str();
}

}  // namespace rg
