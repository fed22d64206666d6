// IDX files (MNIST / Fashion-MNIST), gzip-compressed or not, read through zlib.
// Format: 2 zero bytes, a type byte (0x08 = unsigned byte), the number of dims, then each dim as a
// big-endian uint32, then the data.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "regrad/tensor/tensor.h"

namespace rg::data {

inline constexpr const char* kFashionMnistDir = "/usr/share/datasets/fashion-mnist";
// The repository's 10,000 MNIST digits (data/README.md), relative to the repository root, where
// the experiments run.
inline constexpr const char* kMnistDir = "data/mnist";

struct IdxArray {
  std::vector<int64_t> dims;
  std::vector<uint8_t> data;
};

// Throws std::runtime_error naming the file: missing, empty, bad magic, unsupported type,
// truncated or trailing data.
IdxArray parse_idx(const std::string& bytes, const std::string& name);
IdxArray read_idx(const std::string& path);  // .gz or plain
std::string read_gz_or_plain(const std::string& path);

// images float32 (N, 1, 28, 28) scaled to [0, 1]; labels int64 (N).
struct ImageDataset {
  Tensor images, labels;
};
// Reads {train,t10k}-{images-idx3,labels-idx1}-ubyte.gz from `dir` and checks they agree.
ImageDataset load_fashion_mnist(const std::string& dir, bool train);
extern const char* const kFashionMnistClasses[10];
// Reads {train,test}-{images-idx3,labels-idx1}-ubyte.gz from `dir` (data/make_mnist.py writes
// them): 8,000 training and 2,000 test digits, split stratified by class.
ImageDataset load_mnist_digits(const std::string& dir, bool train);

}  // namespace rg::data
