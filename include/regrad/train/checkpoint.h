// Checkpoints: named tensors in one binary file, written so that a crash at any instant leaves
// either the old file or the new one, never half of one.
//
// Format (little-endian):
//   magic "RGCKPT" + 2 bytes {0, 1}, u32 version (1), u32 tensor count,
//   per tensor: u32 name length, name bytes, u8 dtype (0 float32, 1 float64, 2 int64), u8 ndim,
//               i64 dims[ndim], raw data,
//   u32 CRC-32 (zlib) of every byte before it.
// Written with write_file_atomic: a temporary file, fsync, rename, fsync of the directory.
#pragma once
#include <string>
#include <utility>
#include <vector>

#include "regrad/nn/module.h"

namespace rg::train {

using nn::NamedTensors;

void save_checkpoint(const std::string& path, const NamedTensors& tensors);
// Throws std::runtime_error naming the file: empty, bad magic, unsupported version, truncated,
// checksum mismatch, trailing bytes.
NamedTensors load_checkpoint(const std::string& path);
NamedTensors parse_checkpoint(const std::string& bytes, const std::string& name);

}  // namespace rg::train
