// Scalar types and the dispatch from a runtime dtype to a templated kernel.
#pragma once
#include <cstdint>
#include <stdexcept>
#include <string>
#include <type_traits>

namespace rg {

// float32 for training, float64 for gradient checks, int64 for indices and class targets.
enum class DType { Float32, Float64, Int64 };

std::string to_string(DType dt);
std::size_t element_size(DType dt);
inline bool is_floating(DType dt) { return dt != DType::Int64; }

template <typename T>
struct dtype_of;
template <>
struct dtype_of<float> {
  static constexpr DType value = DType::Float32;
};
template <>
struct dtype_of<double> {
  static constexpr DType value = DType::Float64;
};
template <>
struct dtype_of<int64_t> {
  static constexpr DType value = DType::Int64;
};

template <typename T>
struct type_tag {
  using type = T;
};

// Calls f(type_tag<T>{}) with T = float or double; kernels are written once as templates.
//   dispatch_float(x.dtype(), "exp", [&](auto tag) { using T = typename decltype(tag)::type; ... });
template <typename F>
decltype(auto) dispatch_float(DType dt, const char* op, F&& f) {
  switch (dt) {
    case DType::Float32: return f(type_tag<float>{});
    case DType::Float64: return f(type_tag<double>{});
    default: break;
  }
  throw std::invalid_argument(std::string(op) + ": expected a floating-point tensor, got " + to_string(dt));
}

template <typename F>
decltype(auto) dispatch_all(DType dt, F&& f) {
  switch (dt) {
    case DType::Float32: return f(type_tag<float>{});
    case DType::Float64: return f(type_tag<double>{});
    case DType::Int64: return f(type_tag<int64_t>{});
  }
  throw std::logic_error("unknown dtype");
}

}  // namespace rg
