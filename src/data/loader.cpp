#include "regrad/data/loader.h"

#include "regrad/data/shuffle.h"

#include <numeric>
#include <stdexcept>

#include "regrad/ops/index.h"
#include "regrad/tensor/factory.h"
#include "regrad/tensor/random.h"

namespace rg::data {

DataLoader::DataLoader(Tensor x, Tensor y, int64_t batch_size, bool shuffle, bool drop_last, uint64_t seed)
    : x_(std::move(x)),
      y_(std::move(y)),
      batch_size_(batch_size),
      shuffle_(shuffle),
      drop_last_(drop_last),
      seed_(seed) {
  if (batch_size <= 0) throw std::invalid_argument("DataLoader: batch_size must be positive");
  if (x_.dim() == 0 || y_.dim() == 0 || x_.size(0) != y_.size(0))
    throw std::invalid_argument("DataLoader: inputs " + to_string(x_.shape()) + " and targets " +
                                to_string(y_.shape()) + " must have the same first dimension");
  set_epoch(0);
}

void DataLoader::set_epoch(int64_t epoch) {
  order_.resize(static_cast<std::size_t>(x_.size(0)));
  std::iota(order_.begin(), order_.end(), 0);
  if (!shuffle_) return;
  Generator gen(seed_ * 1000003ull + static_cast<uint64_t>(epoch));
  shuffle(order_, gen);
}

int64_t DataLoader::size() const {
  const int64_t n = x_.size(0);
  return drop_last_ ? n / batch_size_ : (n + batch_size_ - 1) / batch_size_;
}

Batch DataLoader::batch(int64_t b) const {
  if (b < 0 || b >= size())
    throw std::out_of_range("DataLoader: batch " + std::to_string(b) + " of " + std::to_string(size()));
  const int64_t lo = b * batch_size_, hi = std::min<int64_t>(lo + batch_size_, x_.size(0));
  const Tensor idx = tensor_i64(std::vector<int64_t>(order_.begin() + lo, order_.begin() + hi));
  return {index_select(x_, 0, idx), index_select(y_, 0, idx)};
}

}  // namespace rg::data
