#include "regrad/tensor/tensor.h"

#include <malloc.h>

#include <atomic>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <unordered_map>
#include <vector>

#include "parallel.h"
#include "regrad/tensor/grad_mode.h"

namespace rg {

static thread_local bool g_grad_enabled = true;
bool grad_enabled() { return g_grad_enabled; }
void set_grad_enabled(bool on) { g_grad_enabled = on; }

namespace {

// Freed tensor buffers, by size, handed to the next tensor of the same size. A training step
// allocates the same sizes every step, and glibc's malloc of a block above 1 KiB first sorts its
// lists of small freed chunks (perf of notebook 6b's step: a quarter of its time in malloc and
// free). Holds at most kMaxBytes; a buffer beyond that is freed.
struct BufferCache {
  static constexpr std::size_t kMaxBytes = std::size_t{1} << 30;
  std::mutex mutex;
  std::unordered_map<std::size_t, std::vector<void*>> free;
  std::size_t bytes = 0;
  std::atomic<bool> on{false};
};

BufferCache& buffer_cache() {
  static BufferCache* cache = new BufferCache;  // never destroyed: a static tensor may outlive it
  return *cache;
}

}  // namespace

// glibc serves blocks above 128 KiB by mmap and unmaps them on free; these two thresholds keep
// them on the heap, untrimmed. The buffer cache keeps tensors' buffers for reuse.
void keep_freed_memory() {
  mallopt(M_MMAP_THRESHOLD, 1 << 30);
  mallopt(M_TRIM_THRESHOLD, 1 << 30);
  set_buffer_cache(true);
}

void set_buffer_cache(bool on) {
  BufferCache& cache = buffer_cache();
  std::lock_guard<std::mutex> lock(cache.mutex);
  cache.on = on;
  if (on) return;
  for (auto& [size, buffers] : cache.free)
    for (void* p : buffers) std::free(p);
  cache.free.clear();
  cache.bytes = 0;
}

std::size_t cached_buffer_bytes() {
  BufferCache& cache = buffer_cache();
  std::lock_guard<std::mutex> lock(cache.mutex);
  return cache.bytes;
}

// The bytes actually allocated for n: a whole number of 64-byte lines, at least one.
static std::size_t allocated_bytes(std::size_t n) { return n ? (n + 63) / 64 * 64 : 64; }

Storage::Storage(std::size_t n) : nbytes(n) {
  const std::size_t rounded = allocated_bytes(n);
  BufferCache& cache = buffer_cache();
  if (cache.on) {
    std::lock_guard<std::mutex> lock(cache.mutex);
    auto it = cache.free.find(rounded);
    if (it != cache.free.end() && !it->second.empty()) {
      data = it->second.back();
      it->second.pop_back();
      cache.bytes -= rounded;
      return;
    }
  }
  data = std::aligned_alloc(64, rounded);
  if (!data) throw std::bad_alloc();
}

Storage::~Storage() {
  const std::size_t rounded = allocated_bytes(nbytes);
  BufferCache& cache = buffer_cache();
  if (cache.on) {
    std::lock_guard<std::mutex> lock(cache.mutex);
    if (cache.on && cache.bytes + rounded <= BufferCache::kMaxBytes) {
      cache.free[rounded].push_back(data);
      cache.bytes += rounded;
      return;
    }
  }
  std::free(data);
}

Tensor Tensor::empty(const Shape& shape, DType dtype) {
  for (int64_t d : shape)
    if (d < 0) throw std::invalid_argument("empty: negative size in shape " + to_string(shape));
  const std::optional<std::size_t> bytes = byte_size(shape, element_size(dtype));
  if (!bytes) throw std::invalid_argument("empty: shape " + to_string(shape) + " has more bytes than fit in int64");
  auto impl = std::make_shared<TensorImpl>();
  impl->shape = shape;
  impl->dtype = dtype;
  impl->storage = std::make_shared<Storage>(*bytes);
  return Tensor(std::move(impl));
}

TensorImpl& Tensor::impl() const {
  if (!impl_) throw std::logic_error("use of an undefined Tensor");
  return *impl_;
}

int64_t Tensor::size(int64_t d) const { return shape()[wrap_dim(d, dim(), "size")]; }

void* Tensor::raw_data() const {
  return static_cast<char*>(impl().storage->data) + impl().offset * static_cast<int64_t>(element_size(dtype()));
}

template <typename T>
T* Tensor::data() {
  if (dtype() != dtype_of<T>::value)
    throw std::invalid_argument("data<" + to_string(dtype_of<T>::value) + ">() on a " + to_string(dtype()) + " tensor");
  return static_cast<T*>(raw_data());
}
template <typename T>
const T* Tensor::data() const {
  return const_cast<Tensor*>(this)->data<T>();
}
template float* Tensor::data<float>();
template double* Tensor::data<double>();
template int64_t* Tensor::data<int64_t>();
template const float* Tensor::data<float>() const;
template const double* Tensor::data<double>() const;
template const int64_t* Tensor::data<int64_t>() const;

static int64_t flat_index(const Tensor& t, const std::vector<int64_t>& index) {
  if (static_cast<int64_t>(index.size()) != t.dim())
    throw std::invalid_argument("at: index " + to_string(Shape(index)) + " has " + std::to_string(index.size()) +
                                " entries for a tensor of shape " + to_string(t.shape()));
  int64_t flat = 0;
  for (int64_t d = 0; d < t.dim(); ++d) {
    int64_t i = index[d] < 0 ? index[d] + t.shape()[d] : index[d];
    if (i < 0 || i >= t.shape()[d])
      throw std::out_of_range("at: index " + to_string(Shape(index)) + " out of range for shape " +
                              to_string(t.shape()));
    flat = flat * t.shape()[d] + i;
  }
  return flat;
}

double Tensor::at(const std::vector<int64_t>& index) const {
  const int64_t i = flat_index(*this, index);
  return dispatch_all(dtype(), [&](auto tag) { return static_cast<double>(data<typename decltype(tag)::type>()[i]); });
}

void Tensor::set(const std::vector<int64_t>& index, double value) {
  const int64_t i = flat_index(*this, index);
  dispatch_all(dtype(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    data<T>()[i] = static_cast<T>(value);
  });
}

double Tensor::item() const {
  if (numel() != 1)
    throw std::invalid_argument("item: tensor of shape " + to_string(shape()) + " has " + std::to_string(numel()) +
                                " elements, expected 1");
  return dispatch_all(dtype(), [&](auto tag) { return static_cast<double>(data<typename decltype(tag)::type>()[0]); });
}

std::vector<double> Tensor::tolist() const {
  std::vector<double> out(static_cast<std::size_t>(numel()));
  dispatch_all(dtype(), [&](auto tag) {
    const auto* p = data<typename decltype(tag)::type>();
    for (std::size_t i = 0; i < out.size(); ++i) out[i] = static_cast<double>(p[i]);
  });
  return out;
}

// ---- autograd accessors ----

Tensor& Tensor::requires_grad_(bool on) {
  if (on && !is_floating(dtype())) throw std::invalid_argument("requires_grad_: only float tensors can require grad");
  if (!on && !is_leaf()) throw std::invalid_argument("requires_grad_(false) on a non-leaf tensor; use detach()");
  impl().requires_grad = on;
  return *this;
}

Tensor Tensor::grad() const { return impl().grad ? Tensor(impl().grad) : Tensor(); }
void Tensor::zero_grad() { impl().grad.reset(); }

void zero_grads(const std::vector<Tensor>& tensors, bool set_to_none) {
  for (Tensor t : tensors) {
    if (set_to_none) t.zero_grad();
    else if (t.grad().defined()) t.grad().zero_();
  }
}

Tensor& Tensor::retain_grad() {
  if (!requires_grad()) throw std::invalid_argument("retain_grad on a tensor that does not require grad");
  impl().retains_grad = true;
  return *this;
}

Tensor Tensor::detach() const {
  auto impl2 = std::make_shared<TensorImpl>();
  impl2->storage = impl().storage;
  impl2->offset = impl().offset;
  impl2->shape = impl().shape;
  impl2->dtype = impl().dtype;
  return Tensor(std::move(impl2));
}

// ---- in-place ----

static void check_inplace(const Tensor& t, const char* op) {
  if (grad_enabled() && t.requires_grad())
    throw std::invalid_argument(std::string(op) +
                                ": in-place change of a tensor that requires grad (use NoGradGuard for updates)");
}

Tensor& Tensor::fill_(double value) {
  check_inplace(*this, "fill_");
  dispatch_all(dtype(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    T* p = data<T>();
    const T v = static_cast<T>(value);
    detail::parallel_for(numel(), detail::kGrain, [&](int64_t b, int64_t e) {
      for (int64_t i = b; i < e; ++i) p[i] = v;
    });
  });
  return *this;
}

Tensor& Tensor::copy_(const Tensor& src) {
  check_inplace(*this, "copy_");
  if (src.shape() != shape())
    throw std::invalid_argument("copy_: source shape " + to_string(src.shape()) + " differs from destination shape " +
                                to_string(shape()));
  dispatch_all(dtype(), [&](auto dst_tag) {
    using D = typename decltype(dst_tag)::type;
    dispatch_all(src.dtype(), [&](auto src_tag) {
      using S = typename decltype(src_tag)::type;
      D* d = data<D>();
      const S* s = src.data<S>();
      detail::parallel_for(numel(), detail::kGrain, [&](int64_t b, int64_t e) {
        for (int64_t i = b; i < e; ++i) d[i] = static_cast<D>(s[i]);
      });
    });
  });
  return *this;
}

Tensor& Tensor::add_(const Tensor& other, double alpha) {
  check_inplace(*this, "add_");
  if (other.shape() != shape() || other.dtype() != dtype())
    throw std::invalid_argument("add_: shapes/dtypes " + to_string(shape()) + " " + to_string(dtype()) + " and " +
                                to_string(other.shape()) + " " + to_string(other.dtype()) + " differ");
  dispatch_float(dtype(), "add_", [&](auto tag) {
    using T = typename decltype(tag)::type;
    T* d = data<T>();
    const T* s = other.data<T>();
    const T a = static_cast<T>(alpha);
    detail::parallel_for(numel(), detail::kGrain, [&](int64_t b, int64_t e) {
      for (int64_t i = b; i < e; ++i) d[i] += a * s[i];
    });
  });
  return *this;
}

Tensor& Tensor::mul_(double factor) {
  check_inplace(*this, "mul_");
  dispatch_float(dtype(), "mul_", [&](auto tag) {
    using T = typename decltype(tag)::type;
    T* d = data<T>();
    const T f = static_cast<T>(factor);
    detail::parallel_for(numel(), detail::kGrain, [&](int64_t b, int64_t e) {
      for (int64_t i = b; i < e; ++i) d[i] *= f;
    });
  });
  return *this;
}

}  // namespace rg
