// DataLoader: seeded shuffling and batching of (inputs, targets) tensors along dim 0.
#pragma once
#include <cstdint>
#include <vector>

#include "regrad/tensor/tensor.h"

namespace rg::data {

struct Batch {
  Tensor x, y;
};

class DataLoader {
 public:
  // With shuffle, epoch e's order is a permutation drawn from (seed, e): the same for any thread
  // count and resumable at any epoch. PyTorch's defaults: no shuffle, the last short batch kept.
  DataLoader(Tensor x, Tensor y, int64_t batch_size, bool shuffle = false, bool drop_last = false, uint64_t seed = 0);
  void set_epoch(int64_t epoch);
  int64_t size() const;  // batches per epoch
  Batch batch(int64_t b) const;

 private:
  Tensor x_, y_;
  int64_t batch_size_;
  bool shuffle_, drop_last_;
  uint64_t seed_;
  std::vector<int64_t> order_;
};

}  // namespace rg::data
