#include "regrad/nn/normalization.h"

#include "regrad/functional/normalization.h"
#include "regrad/tensor/factory.h"

namespace rg::nn {

BatchNorm::BatchNorm(int64_t num_features, double eps, std::optional<double> momentum, bool affine,
                     bool track_running_stats, DType dtype, int min_dim, int max_dim, const char* name)
    : num_features(num_features),
      eps(eps),
      momentum(momentum),
      affine(affine),
      track_running_stats(track_running_stats),
      min_dim_(min_dim),
      max_dim_(max_dim),
      name_(name) {
  if (num_features <= 0) throw std::invalid_argument(std::string(name) + ": num_features must be positive");
  if (affine) {
    weight = ones({num_features}, dtype);
    bias = zeros({num_features}, dtype);
  }
  if (track_running_stats) {
    running_mean = zeros({num_features}, dtype);
    running_var = ones({num_features}, dtype);
    num_batches_tracked = scalar_tensor(0, DType::Int64);
  }
  register_parameter("weight", &weight);
  register_parameter("bias", &bias);
  register_buffer("running_mean", &running_mean);
  register_buffer("running_var", &running_var);
  register_buffer("num_batches_tracked", &num_batches_tracked);
}

void BatchNorm::reset_running_stats() {
  if (!track_running_stats) return;
  num_batches_tracked.zero_();
  running_mean.zero_();
  running_var.fill_(1.0);
}

Tensor BatchNorm::forward(const Tensor& input) {
  if (input.dim() < min_dim_ || input.dim() > max_dim_)
    throw std::invalid_argument(std::string(name_) + ": expected " +
                                (min_dim_ == max_dim_
                                     ? std::to_string(min_dim_) + "D"
                                     : std::to_string(min_dim_) + "D or " + std::to_string(max_dim_) + "D") +
                                " input, got shape " + to_string(input.shape()));
  if (input.shape()[1] != num_features)
    throw std::invalid_argument(std::string(name_) + ": expected " + std::to_string(num_features) +
                                " channels (dim 1), got input of shape " + to_string(input.shape()));
  double factor = momentum.value_or(0.0);
  if (is_training() && track_running_stats) {
    const int64_t seen = ++num_batches_tracked.data<int64_t>()[0];
    if (!momentum) factor = 1.0 / static_cast<double>(seen);  // cumulative moving average
  }
  // Batch statistics in training, and always when no running statistics are kept.
  const bool use_batch_stats = is_training() || !track_running_stats;
  return batch_norm(input, running_mean, running_var, weight, bias, use_batch_stats, factor, eps);
}

LayerNorm::LayerNorm(Shape shape, double eps, bool elementwise_affine, DType dtype)
    : normalized_shape(std::move(shape)), eps(eps) {
  if (elementwise_affine) {
    weight = ones(normalized_shape, dtype);
    bias = zeros(normalized_shape, dtype);
  }
  register_parameter("weight", &weight);
  register_parameter("bias", &bias);
}

Tensor LayerNorm::forward(const Tensor& input) { return layer_norm(input, normalized_shape, weight, bias, eps); }

RMSNorm::RMSNorm(Shape shape, std::optional<double> eps, bool elementwise_affine, DType dtype)
    : normalized_shape(std::move(shape)), eps(eps) {
  if (elementwise_affine) weight = ones(normalized_shape, dtype);
  register_parameter("weight", &weight);
}

Tensor RMSNorm::forward(const Tensor& input) { return rms_norm(input, normalized_shape, weight, eps); }

GroupNorm::GroupNorm(int64_t num_groups, int64_t num_channels, double eps, bool affine, DType dtype)
    : num_groups(num_groups), num_channels(num_channels), eps(eps) {
  if (num_groups <= 0 || num_channels % num_groups != 0)
    throw std::invalid_argument("GroupNorm: num_channels " + std::to_string(num_channels) +
                                " must be divisible by num_groups " + std::to_string(num_groups));
  if (affine) {
    weight = ones({num_channels}, dtype);
    bias = zeros({num_channels}, dtype);
  }
  register_parameter("weight", &weight);
  register_parameter("bias", &bias);
}

Tensor GroupNorm::forward(const Tensor& input) {
  if (input.dim() < 2 || input.shape()[1] != num_channels)
    throw std::invalid_argument("GroupNorm: expected input (N, " + std::to_string(num_channels) + ", *), got shape " +
                                to_string(input.shape()));
  return group_norm(input, num_groups, weight, bias, eps);
}

std::shared_ptr<Module> make_norm(const std::string& norm, int64_t channels, const Shape& spatial, int64_t groups,
                                  DType dtype) {
  Shape shape{channels};
  shape.insert(shape.end(), spatial.begin(), spatial.end());
  if (norm == "bn") {
    if (spatial.empty()) return std::make_shared<BatchNorm1d>(channels, 1e-5, 0.1, true, true, dtype);
    if (spatial.size() == 2) return std::make_shared<BatchNorm2d>(channels, 1e-5, 0.1, true, true, dtype);
    throw std::invalid_argument("make_norm: bn takes no or two spatial dims, got " + to_string(spatial));
  }
  if (norm == "gn") {
    if (groups <= 0) throw std::invalid_argument("make_norm: gn needs a positive number of groups");
    return std::make_shared<GroupNorm>(groups, channels, 1e-5, true, dtype);
  }
  if (norm == "ln") return std::make_shared<LayerNorm>(shape, 1e-5, true, dtype);
  if (norm == "rms") return std::make_shared<RMSNorm>(shape, 1e-5, true, dtype);
  if (norm == "none") return nullptr;
  throw std::invalid_argument("unknown norm '" + norm + "' (expected bn, gn, ln, rms or none)");
}

}  // namespace rg::nn
