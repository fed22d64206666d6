#include "regrad/tensor/factory.h"

#include <cmath>

#include "parallel.h"

namespace rg {

Tensor full(const Shape& shape, double value, DType dtype) {
  Tensor t = Tensor::empty(shape, dtype);
  t.fill_(value);
  return t;
}
Tensor zeros(const Shape& shape, DType dtype) { return full(shape, 0.0, dtype); }
Tensor ones(const Shape& shape, DType dtype) { return full(shape, 1.0, dtype); }
Tensor zeros_like(const Tensor& t) { return zeros(t.shape(), t.dtype()); }
Tensor ones_like(const Tensor& t) { return ones(t.shape(), t.dtype()); }
Tensor scalar_tensor(double value, DType dtype) { return full({}, value, dtype); }

Tensor arange(double start, double end, double step, DType dtype) {
  if (step == 0.0 || !std::isfinite(start) || !std::isfinite(end) || !std::isfinite(step))
    throw std::invalid_argument("arange: step must be non-zero and bounds finite");
  const int64_t n = std::max<int64_t>(0, static_cast<int64_t>(std::ceil((end - start) / step)));
  Tensor t = Tensor::empty({n}, dtype);
  dispatch_all(dtype, [&](auto tag) {
    using T = typename decltype(tag)::type;
    T* p = t.data<T>();
    for (int64_t i = 0; i < n; ++i) p[i] = static_cast<T>(start + static_cast<double>(i) * step);
  });
  return t;
}
Tensor arange(int64_t end, DType dtype) { return arange(0.0, static_cast<double>(end), 1.0, dtype); }

// Fills t[i] = draw(seed, first + i) in parallel; element i's value does not depend on threads.
template <typename Draw>
static Tensor fill_random(const Shape& shape, Generator& gen, DType dtype, Draw draw) {
  Tensor t = Tensor::empty(shape, dtype);
  const uint64_t first = gen.advance(static_cast<uint64_t>(t.numel()));
  const uint64_t seed = gen.seed();
  dispatch_all(dtype, [&](auto tag) {
    using T = typename decltype(tag)::type;
    T* p = t.data<T>();
    detail::parallel_for(t.numel(), 4096, [&](int64_t b, int64_t e) {
      for (int64_t i = b; i < e; ++i) p[i] = static_cast<T>(draw(seed, first + static_cast<uint64_t>(i)));
    });
  });
  return t;
}

Tensor randn(const Shape& shape, Generator& gen, DType dtype) {
  return fill_random(shape, gen, dtype, [](uint64_t s, uint64_t c) { return Generator::normal_at(s, c); });
}
Tensor rand(const Shape& shape, Generator& gen, DType dtype) {
  return fill_random(shape, gen, dtype, [](uint64_t s, uint64_t c) { return Generator::uniform_at(s, c); });
}
Tensor randn(const Shape& shape, DType dtype) { return randn(shape, default_generator(), dtype); }
Tensor rand(const Shape& shape, DType dtype) { return rand(shape, default_generator(), dtype); }

Tensor bernoulli(const Shape& shape, double p, Generator& gen, DType dtype) {
  if (!(p >= 0.0 && p <= 1.0)) throw std::invalid_argument("bernoulli: p must be in [0, 1], got " + std::to_string(p));
  return fill_random(shape, gen, dtype,
                     [p](uint64_t s, uint64_t c) { return Generator::uniform_at(s, c) < p ? 1.0 : 0.0; });
}

Tensor randint(int64_t low, int64_t high, const Shape& shape, Generator& gen) {
  if (high <= low)
    throw std::invalid_argument("randint: empty range [" + std::to_string(low) + ", " + std::to_string(high) + ")");
  const double span = static_cast<double>(high - low);
  return fill_random(shape, gen, DType::Int64, [=](uint64_t s, uint64_t c) {
    return static_cast<double>(low + static_cast<int64_t>(Generator::uniform_at(s, c) * span));
  });
}

Tensor tensor(const std::vector<double>& values, const Shape& shape, DType dtype) {
  const Shape s = shape.empty() ? Shape{static_cast<int64_t>(values.size())} : shape;
  if (numel(s) != static_cast<int64_t>(values.size()))
    throw std::invalid_argument("tensor: " + std::to_string(values.size()) + " values do not fill shape " +
                                to_string(s));
  Tensor t = Tensor::empty(s, dtype);
  dispatch_all(dtype, [&](auto tag) {
    using T = typename decltype(tag)::type;
    T* p = t.data<T>();
    for (std::size_t i = 0; i < values.size(); ++i) p[i] = static_cast<T>(values[i]);
  });
  return t;
}

Tensor tensor(std::initializer_list<double> values, DType dtype) {
  return tensor(std::vector<double>(values), {}, dtype);
}

Tensor tensor_i64(const std::vector<int64_t>& values, const Shape& shape) {
  const Shape s = shape.empty() ? Shape{static_cast<int64_t>(values.size())} : shape;
  if (numel(s) != static_cast<int64_t>(values.size()))
    throw std::invalid_argument("tensor_i64: " + std::to_string(values.size()) + " values do not fill shape " +
                                to_string(s));
  Tensor t = Tensor::empty(s, DType::Int64);
  std::copy(values.begin(), values.end(), t.data<int64_t>());
  return t;
}

}  // namespace rg
