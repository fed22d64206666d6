// Normalization modules, as torch.nn: same constructor arguments and defaults.
#pragma once
#include <memory>
#include <optional>
#include <string>

#include "regrad/nn/module.h"

namespace rg::nn {

// Shared by BatchNorm1d and BatchNorm2d. In training, normalises with batch statistics and
// updates running_mean/running_var (unbiased) with `momentum`; momentum = nullopt uses the
// cumulative average 1/num_batches_tracked. In eval, uses the running statistics — unless
// track_running_stats is false, in which case batch statistics are used in both modes.
// `momentum` may be changed after construction, as in PyTorch: recalibrating the statistics over
// a data set is reset_running_stats(), momentum = nullopt, then forward passes in train mode.
class BatchNorm : public Module {
 public:
  Tensor weight, bias;               // (C), ones and zeros; undefined when !affine
  Tensor running_mean, running_var;  // (C), zeros and ones; undefined when not tracked
  // 0-d int64, the training batches seen (momentum = nullopt averages over them); a buffer, so
  // state_dict() saves it as PyTorch does; undefined when not tracked.
  Tensor num_batches_tracked;
  const int64_t num_features;
  const double eps;
  std::optional<double> momentum;
  const bool affine, track_running_stats;
  Tensor forward(const Tensor& input) override;
  // running_mean ← 0, running_var ← 1, num_batches_tracked ← 0 (weight and bias untouched).
  void reset_running_stats();

 protected:
  BatchNorm(int64_t num_features, double eps, std::optional<double> momentum, bool affine, bool track_running_stats,
            DType dtype, int min_dim, int max_dim, const char* name);

 private:
  const int min_dim_, max_dim_;
  const char* name_;
};

// Input (N, C) or (N, C, L).
class BatchNorm1d : public BatchNorm {
 public:
  explicit BatchNorm1d(int64_t num_features, double eps = 1e-5, std::optional<double> momentum = 0.1,
                       bool affine = true, bool track_running_stats = true, DType dtype = DType::Float32)
      : BatchNorm(num_features, eps, momentum, affine, track_running_stats, dtype, 2, 3, "BatchNorm1d") {}
};

// Input (N, C, H, W).
class BatchNorm2d : public BatchNorm {
 public:
  explicit BatchNorm2d(int64_t num_features, double eps = 1e-5, std::optional<double> momentum = 0.1,
                       bool affine = true, bool track_running_stats = true, DType dtype = DType::Float32)
      : BatchNorm(num_features, eps, momentum, affine, track_running_stats, dtype, 4, 4, "BatchNorm2d") {}
};

class LayerNorm : public Module {
 public:
  explicit LayerNorm(Shape normalized_shape, double eps = 1e-5, bool elementwise_affine = true,
                     DType dtype = DType::Float32);
  Tensor weight, bias;
  const Shape normalized_shape;
  const double eps;
  Tensor forward(const Tensor& input) override;
};

class RMSNorm : public Module {
 public:
  explicit RMSNorm(Shape normalized_shape, std::optional<double> eps = std::nullopt, bool elementwise_affine = true,
                   DType dtype = DType::Float32);
  Tensor weight;
  const Shape normalized_shape;
  const std::optional<double> eps;
  Tensor forward(const Tensor& input) override;
};

class GroupNorm : public Module {
 public:
  GroupNorm(int64_t num_groups, int64_t num_channels, double eps = 1e-5, bool affine = true,
            DType dtype = DType::Float32);
  Tensor weight, bias;
  const int64_t num_groups, num_channels;
  const double eps;
  Tensor forward(const Tensor& input) override;
};

// The normalization layer named by `norm` for `channels` features, followed by `spatial` dims
// (empty for a flat (N, C) vector or a Transformer's last dim):
//   "bn"   BatchNorm1d (no spatial dims) or BatchNorm2d (two)
//   "gn"   GroupNorm(groups, channels)
//   "ln"   LayerNorm over (channels, *spatial)
//   "rms"  RMSNorm over (channels, *spatial), eps 1e-5
//   "none" nullptr (no layer)
// Every layer's defaults are PyTorch's; RMSNorm's eps is fixed at LayerNorm's so that the two
// differ only in centering. Throws on an unknown name, or on "gn" without groups.
std::shared_ptr<Module> make_norm(const std::string& norm, int64_t channels, const Shape& spatial = {},
                                  int64_t groups = 0, DType dtype = DType::Float32);

}  // namespace rg::nn
