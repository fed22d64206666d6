// Creating tensors: constants, ranges, random draws and values from C++ containers.
#pragma once
#include <initializer_list>
#include <vector>

#include "regrad/tensor/random.h"
#include "regrad/tensor/tensor.h"

namespace rg {

Tensor zeros(const Shape& shape, DType dtype = DType::Float32);
Tensor ones(const Shape& shape, DType dtype = DType::Float32);
Tensor full(const Shape& shape, double value, DType dtype = DType::Float32);
Tensor zeros_like(const Tensor& t);
Tensor ones_like(const Tensor& t);
Tensor scalar_tensor(double value, DType dtype = DType::Float32);  // 0-d
// [start, end) in steps of `step`, as torch.arange.
Tensor arange(double start, double end, double step = 1.0, DType dtype = DType::Float32);
Tensor arange(int64_t end, DType dtype = DType::Int64);

// Random draws from a seeded generator (the default one when omitted).
Tensor randn(const Shape& shape, Generator& gen, DType dtype = DType::Float32);
Tensor rand(const Shape& shape, Generator& gen, DType dtype = DType::Float32);
Tensor randn(const Shape& shape, DType dtype = DType::Float32);
Tensor rand(const Shape& shape, DType dtype = DType::Float32);
// Each element is 1 with probability p, else 0.
Tensor bernoulli(const Shape& shape, double p, Generator& gen, DType dtype = DType::Float32);
// Uniform integers in [low, high), int64.
Tensor randint(int64_t low, int64_t high, const Shape& shape, Generator& gen);

// From values; the shape defaults to 1-D.
Tensor tensor(const std::vector<double>& values, const Shape& shape = {}, DType dtype = DType::Float32);
Tensor tensor(std::initializer_list<double> values, DType dtype = DType::Float32);
Tensor tensor_i64(const std::vector<int64_t>& values, const Shape& shape = {});

}  // namespace rg
