// Tensor: a shape, a dtype and a handle on shared contiguous row-major storage.
//
// Copies of a Tensor are handles to the same data (as in PyTorch). reshape/view share storage;
// every other op writes a fresh contiguous result. A tensor with requires_grad records, through
// grad_fn, the op that produced it, so that backward() can walk the graph in reverse.
//
// This header is the bottom layer: its definitions (src/tensor/) use nothing above it. The members
// that need a higher layer are declared here for the method syntax and defined there: backward()
// in the autograd engine (src/autograd/engine.cpp), printing with grad_fn in src/autograd/print.cpp,
// to()/clone() and the method forms of ops in src/ops/tensor_methods.cpp.
#pragma once
#include <cstdint>
#include <iosfwd>
#include <memory>
#include <string>
#include <vector>

#include "regrad/tensor/dtype.h"
#include "regrad/tensor/shape.h"

namespace rg {

struct Node;  // autograd/autograd.h

// Tells glibc to keep freed large blocks on the heap instead of returning them to the system, so
// that the next tensor of the same size reuses warm pages (a fresh 16 MiB activation would otherwise
// fault in ~4,000 pages, several ms), and turns on the buffer cache. A process-wide choice, so the
// library never makes it on its own: programs that train (regrad, the experiments, the bench) call
// it first thing.
void keep_freed_memory();

// The buffer cache: while on, a freed tensor buffer is kept (up to 1 GiB in all) and handed to the
// next tensor of the same size, instead of going through malloc and free each time (a training
// step allocates the same sizes every step). Turning it off frees what it holds.
void set_buffer_cache(bool on);
std::size_t cached_buffer_bytes();

// A 64-byte aligned, uninitialised buffer.
struct Storage {
  explicit Storage(std::size_t nbytes);
  ~Storage();
  Storage(const Storage&) = delete;
  Storage& operator=(const Storage&) = delete;
  void* data = nullptr;
  std::size_t nbytes = 0;
};

struct TensorImpl {
  std::shared_ptr<Storage> storage;
  int64_t offset = 0;  // in elements
  Shape shape;
  DType dtype = DType::Float32;
  bool requires_grad = false;
  bool retains_grad = false;
  std::shared_ptr<TensorImpl> grad;  // accumulated by backward()
  std::shared_ptr<Node> grad_fn;     // null for leaves
};

class Tensor {
 public:
  Tensor() = default;
  explicit Tensor(std::shared_ptr<TensorImpl> impl) : impl_(std::move(impl)) {}
  // A new contiguous tensor with uninitialised contents.
  static Tensor empty(const Shape& shape, DType dtype = DType::Float32);

  bool defined() const { return impl_ != nullptr; }
  const Shape& shape() const { return impl().shape; }
  int64_t dim() const { return static_cast<int64_t>(impl().shape.size()); }
  int64_t size(int64_t d) const;
  int64_t numel() const { return rg::numel(impl().shape); }
  DType dtype() const { return impl().dtype; }

  // Typed access to the elements; throws if T does not match dtype().
  template <typename T>
  T* data();
  template <typename T>
  const T* data() const;
  void* raw_data() const;

  // Element access by multi-index (negative indices count from the end).
  double at(const std::vector<int64_t>& index) const;
  void set(const std::vector<int64_t>& index, double value);
  double item() const;                 // the value of a one-element tensor
  std::vector<double> tolist() const;  // flattened values, converted to double

  // ---- autograd ----
  bool requires_grad() const { return impl().requires_grad; }
  Tensor& requires_grad_(bool on = true);
  bool is_leaf() const { return impl().grad_fn == nullptr; }
  Tensor grad() const;    // undefined Tensor when no gradient has been accumulated
  void zero_grad();       // drops the gradient (`p.grad = None`; Module and Optimizer can also zero it)
  Tensor& retain_grad();  // keep grad() of a non-leaf after backward()
  // Reverse-mode sweep from this tensor. A one-element tensor may omit `gradient` (seeded with 1).
  void backward(const Tensor& gradient = Tensor(), bool retain_graph = false) const;
  Tensor detach() const;  // same storage, no history
  const std::shared_ptr<Node>& grad_fn() const { return impl().grad_fn; }

  // ---- conversions and copies ----
  Tensor to(DType dtype) const;  // differentiable between float types
  Tensor clone() const;          // differentiable copy

  // ---- in-place (no autograd; refuse tensors that need grad while grad mode is on: grad_mode.h) ----
  Tensor& fill_(double value);
  Tensor& zero_() { return fill_(0.0); }
  Tensor& copy_(const Tensor& src);                       // same shape, any dtype
  Tensor& add_(const Tensor& other, double alpha = 1.0);  // this += alpha * other (same shape)
  Tensor& mul_(double factor);

  // ---- method forms of common ops (see ops/*.h) ----
  Tensor reshape(const Shape& shape) const;
  Tensor view(const Shape& shape) const { return reshape(shape); }
  Tensor transpose(int64_t d0, int64_t d1) const;
  Tensor permute(const std::vector<int64_t>& dims) const;
  Tensor t() const { return transpose(0, 1); }
  Tensor sum() const;
  Tensor sum(const std::vector<int64_t>& dims, bool keepdim = false) const;
  Tensor mean() const;
  Tensor mean(const std::vector<int64_t>& dims, bool keepdim = false) const;
  Tensor exp() const;
  Tensor log() const;
  Tensor tanh() const;
  Tensor relu() const;
  Tensor sqrt() const;
  Tensor pow(double exponent) const;
  Tensor matmul(const Tensor& other) const;

  TensorImpl& impl() const;
  const std::shared_ptr<TensorImpl>& impl_ptr() const { return impl_; }
  bool same(const Tensor& other) const { return impl_ == other.impl_; }

 private:
  std::shared_ptr<TensorImpl> impl_;
};

// Module::zero_grad and Optimizer::zero_grad (PyTorch 1.13's): fills each gradient with zeros in
// place, or with set_to_none drops it; a tensor without a gradient is left without one.
void zero_grads(const std::vector<Tensor>& tensors, bool set_to_none);

std::ostream& operator<<(std::ostream& os, const Tensor& t);
std::string to_string(const Tensor& t);

}  // namespace rg
