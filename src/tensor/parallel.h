// Internal: OpenMP helpers shared by the kernels.
#pragma once
#include <omp.h>

#include <cstdint>

namespace rg::detail {

// Below this many elements of work a loop runs on one thread: waking the other threads for a
// region costs microseconds, more than small loops take (measured: docs/performance.md).
constexpr int64_t kGrain = 1 << 15;

// The grain, in items, for a loop whose items each cost about `work_per_item` elements.
inline int64_t grain_for(int64_t work_per_item) { return kGrain / (work_per_item > 1 ? work_per_item : 1) + 1; }

// Calls f(begin, end) on contiguous, statically scheduled chunks of [0, n): thread t always gets
// the same chunk for the same thread count, so results are reproducible.
template <typename F>
void parallel_for(int64_t n, int64_t grain, F&& f) {
  if (n <= 0) return;
  if (n <= grain || omp_get_max_threads() == 1 || omp_in_parallel()) {
    f(int64_t{0}, n);
    return;
  }
#pragma omp parallel
  {
    const int64_t nt = omp_get_num_threads(), tid = omp_get_thread_num();
    const int64_t chunk = (n + nt - 1) / nt;
    const int64_t b = tid * chunk, e = b + chunk < n ? b + chunk : n;
    if (b < e) f(b, e);
  }
}

}  // namespace rg::detail
