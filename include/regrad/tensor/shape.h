// Shapes: sizes of a contiguous row-major tensor, and the broadcasting rule.
#pragma once
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace rg {

using Shape = std::vector<int64_t>;

std::string to_string(const Shape& s);  // "[2, 3]"
int64_t numel(const Shape& s);          // product of sizes (1 for a 0-d shape); throws
                                        // std::invalid_argument past int64
// Bytes of a contiguous tensor of shape `s` with `element_bytes`-byte elements, or nullopt when
// they do not fit in int64 (a shape read from a file can claim anything).
std::optional<std::size_t> byte_size(const Shape& s, std::size_t element_bytes);
std::vector<int64_t> contiguous_strides(const Shape& s);

// Wraps a possibly negative dimension index into [0, ndim); throws naming the op when out of range.
int64_t wrap_dim(int64_t dim, int64_t ndim, const char* op);

// NumPy/PyTorch broadcasting: align trailing dims, sizes must match or be 1.
// Throws std::invalid_argument naming both shapes.
Shape broadcast_shapes(const Shape& a, const Shape& b, const char* op);

}  // namespace rg
