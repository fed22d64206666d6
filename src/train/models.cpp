#include "regrad/train/models.h"

#include <stdexcept>

#include "regrad/nn/dropout.h"
#include "regrad/nn/normalization.h"

namespace rg::train {

// The normalization layer for `features` channels at spatial size hw×hw (hw = 0: a flat vector).
static std::shared_ptr<nn::Module> norm_layer(const std::string& norm, int64_t features, int64_t hw, int64_t groups) {
  if (norm == "bn") {
    if (hw == 0) return std::make_shared<nn::BatchNorm1d>(features);
    return std::make_shared<nn::BatchNorm2d>(features);
  }
  if (norm == "gn") return std::make_shared<nn::GroupNorm>(groups, features);
  const Shape shape = hw == 0 ? Shape{features} : Shape{features, hw, hw};
  if (norm == "ln") return std::make_shared<nn::LayerNorm>(shape);
  if (norm == "rms") return std::make_shared<nn::RMSNorm>(shape, 1e-5);
  if (norm == "none") return nullptr;
  throw std::invalid_argument("unknown norm '" + norm + "' (expected bn, gn, ln, rms or none)");
}

std::shared_ptr<nn::Sequential> make_model(const std::string& model, const std::string& norm, double dropout,
                                           uint64_t seed, int64_t channels, int64_t size, int64_t classes) {
  if (channels <= 0 || size < 4 || classes < 2)
    throw std::invalid_argument("make_model: need channels > 0, size >= 4 and at least 2 classes");
  Generator gen(seed);
  auto net = std::make_shared<nn::Sequential>();
  auto add_norm = [&](int64_t features, int64_t hw, int64_t groups) {
    if (auto n = norm_layer(norm, features, hw, groups)) net->add(n);
  };
  if (model == "mlp") {
    net->add(std::make_shared<nn::Flatten>());
    int64_t in = channels * size * size;
    for (int k = 0; k < 2; ++k) {
      net->add(std::make_shared<nn::Linear>(in, 512, true, gen));
      add_norm(512, 0, 32);
      net->add(std::make_shared<nn::ReLU>());
      if (dropout > 0) net->add(std::make_shared<nn::Dropout>(dropout));
      in = 512;
    }
    net->add(std::make_shared<nn::Linear>(512, classes, true, gen));
  } else if (model == "cnn") {
    int64_t in = channels, hw = size;
    for (int64_t out : {32, 64}) {
      net->add(std::make_shared<nn::Conv2d>(in, out, 3, 1, 1, true, gen));
      add_norm(out, hw, 8);
      net->add(std::make_shared<nn::ReLU>());
      net->add(std::make_shared<nn::MaxPool2d>(2));
      in = out;
      hw /= 2;
    }
    net->add(std::make_shared<nn::Flatten>());
    net->add(std::make_shared<nn::Linear>(64 * hw * hw, 128, true, gen));
    net->add(std::make_shared<nn::ReLU>());
    if (dropout > 0) net->add(std::make_shared<nn::Dropout>(dropout));
    net->add(std::make_shared<nn::Linear>(128, classes, true, gen));
  } else {
    throw std::invalid_argument("unknown model '" + model + "' (expected mlp or cnn)");
  }
  return net;
}

}  // namespace rg::train
