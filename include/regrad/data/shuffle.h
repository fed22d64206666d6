// A seeded Fisher–Yates shuffle, shared by every shuffle in regrad (word lists, DataLoader epochs).
#pragma once
#include <utility>
#include <vector>

#include "regrad/tensor/random.h"

namespace rg::data {

// Reserves v.size() counters of gen; walking i from the end, element i swaps with element
// ⌊u_i·(i + 1)⌋, where u_i is the uniform at counter first + i.
template <typename T>
void shuffle(std::vector<T>& v, Generator& gen) {
  const uint64_t first = gen.advance(v.size());
  for (std::size_t i = v.size(); i-- > 1;) {
    const auto j = static_cast<std::size_t>(Generator::uniform_at(gen.seed(), first + i) * static_cast<double>(i + 1));
    std::swap(v[i], v[j]);
  }
}

}  // namespace rg::data
