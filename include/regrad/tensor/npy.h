// NumPy's .npy format (version 1.0 to 3.0, little-endian, C order), so tensors move to and from
// NumPy and PyTorch: np.save / np.load on the other side.
#pragma once
#include <string>

#include "regrad/tensor/tensor.h"

namespace rg {

// Writes float32 ('<f4'), float64 ('<f8') or int64 ('<i8'), via a temporary file and a rename.
void save_npy(const std::string& path, const Tensor& t);
// Reads '<f4', '<f8', '<i8' (and '<i4', '|u1', '|b1', widened to int64). Throws std::runtime_error
// naming the file and what is wrong: bad magic, unsupported dtype, Fortran order, truncated data.
Tensor load_npy(const std::string& path);
// The same from bytes already in memory (`name` is used in error messages).
Tensor parse_npy(const std::string& bytes, const std::string& name);

}  // namespace rg
