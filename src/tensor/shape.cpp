#include "regrad/tensor/shape.h"

#include <cstdint>
#include <stdexcept>

#include "regrad/tensor/dtype.h"

namespace rg {

std::string to_string(DType dt) {
  switch (dt) {
    case DType::Float32: return "float32";
    case DType::Float64: return "float64";
    case DType::Int64: return "int64";
  }
  return "?";
}

std::size_t element_size(DType dt) { return dt == DType::Float32 ? 4 : 8; }

std::string to_string(const Shape& s) {
  std::string out = "[";
  for (std::size_t i = 0; i < s.size(); ++i) out += (i ? ", " : "") + std::to_string(s[i]);
  return out + "]";
}

// A shape whose nonzero sizes multiply past int64 is an error, not undefined behaviour: file
// headers declare shapes (found by make fuzz on .npy and checkpoint headers). Checking the
// nonzero sizes also bounds every partial product in contiguous_strides.
int64_t numel(const Shape& s) {
  int64_t n = 1;
  bool empty = false;
  for (int64_t d : s) {
    if (d == 0) {
      empty = true;
      continue;
    }
    if (__builtin_mul_overflow(n, d, &n))
      throw std::invalid_argument("shape " + to_string(s) + " has more elements than fit in int64");
  }
  return empty ? 0 : n;
}

std::optional<std::size_t> byte_size(const Shape& s, std::size_t element_bytes) {
  int64_t n;
  try {
    n = numel(s);
  } catch (const std::invalid_argument&) {
    return std::nullopt;
  }
  if (element_bytes == 0 || static_cast<uint64_t>(n) > static_cast<uint64_t>(INT64_MAX) / element_bytes)
    return std::nullopt;
  return static_cast<std::size_t>(n) * element_bytes;
}

std::vector<int64_t> contiguous_strides(const Shape& s) {
  numel(s);  // throws on overflow
  std::vector<int64_t> st(s.size());
  int64_t acc = 1;
  for (std::size_t i = s.size(); i-- > 0;) {
    st[i] = acc;
    acc *= s[i];
  }
  return st;
}

int64_t wrap_dim(int64_t dim, int64_t ndim, const char* op) {
  const int64_t lo = ndim == 0 ? -1 : -ndim, hi = ndim == 0 ? 0 : ndim - 1;
  if (dim < lo || dim > hi)
    throw std::invalid_argument(std::string(op) + ": dimension " + std::to_string(dim) + " out of range for a " +
                                std::to_string(ndim) + "-d tensor (expected [" + std::to_string(lo) + ", " +
                                std::to_string(hi) + "])");
  return dim < 0 ? dim + (ndim == 0 ? 1 : ndim) : dim;
}

Shape broadcast_shapes(const Shape& a, const Shape& b, const char* op) {
  const std::size_t n = std::max(a.size(), b.size());
  Shape out(n);
  for (std::size_t i = 0; i < n; ++i) {
    const int64_t da = i < n - a.size() ? 1 : a[i - (n - a.size())];
    const int64_t db = i < n - b.size() ? 1 : b[i - (n - b.size())];
    if (da != db && da != 1 && db != 1)
      throw std::invalid_argument(std::string(op) + ": shapes " + to_string(a) + " and " + to_string(b) +
                                  " cannot be broadcast (dimension " + std::to_string(i) + ": " + std::to_string(da) +
                                  " vs " + std::to_string(db) + ")");
    out[i] = da == 1 ? db : da;
  }
  return out;
}

}  // namespace rg
