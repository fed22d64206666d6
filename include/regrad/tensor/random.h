// Seeded, counter-based random numbers (Philox4x32-10, Salmon et al. 2011).
//
// Element i of a draw is a pure function of (seed, offset + i), so a tensor filled in parallel has
// the same values whatever the thread count, and the same seed always gives the same numbers.
#pragma once
#include <cstdint>

namespace rg {

// Philox4x32-10: four 32-bit outputs from a 128-bit counter and a 64-bit key.
struct Philox4x32 {
  static void block(uint64_t key, uint64_t counter_hi, uint64_t counter_lo, uint32_t out[4]);
};

class Generator {
 public:
  explicit Generator(uint64_t seed = 0) : seed_(seed) {}
  uint64_t seed() const { return seed_; }
  uint64_t offset() const { return offset_; }
  // Reserves `n` counters and returns the first; callers evaluate counters [first, first+n).
  uint64_t advance(uint64_t n) {
    uint64_t first = offset_;
    offset_ += n;
    return first;
  }
  void manual_seed(uint64_t seed) {
    seed_ = seed;
    offset_ = 0;
  }
  void set_offset(uint64_t offset) { offset_ = offset; }  // resume a stream (checkpoints)

  // Stateless draws at an explicit counter: uniform in [0, 1) and standard normal.
  static double uniform_at(uint64_t seed, uint64_t counter);
  static double normal_at(uint64_t seed, uint64_t counter);

 private:
  uint64_t seed_;
  uint64_t offset_ = 0;
};

// The process-wide generator used when a factory is given none.
Generator& default_generator();
void manual_seed(uint64_t seed);

}  // namespace rg
