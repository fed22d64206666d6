// torch.optim's own trajectories (tests/reference/make_reference.py writes tests/reference/optim):
// SGD with momentum, dampening, Nesterov and weight decay, AdamW, a parameter without a gradient
// for the first steps, clip_grad_norm_ before each step. Each step's parameters and each clipping
// norm are compared with PyTorch's.
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>

#include "../test_util.h"

using namespace rg;
namespace fs = std::filesystem;

// Row t of a stacked (steps, *shape) array, as a fresh tensor of `shape`.
static Tensor step_slice(const Tensor& stacked, int64_t t) {
  Shape shape(stacked.shape().begin() + 1, stacked.shape().end());
  Tensor out = Tensor::empty(shape, stacked.dtype());
  const std::size_t bytes = static_cast<std::size_t>(out.numel()) * element_size(out.dtype());
  std::memcpy(out.raw_data(), static_cast<const char*>(stacked.raw_data()) + t * bytes, bytes);
  return out;
}

static std::map<std::string, std::string> read_args(const fs::path& file) {
  std::map<std::string, std::string> args;
  std::ifstream in(file);
  REQUIRE_MESSAGE(in, "missing ", file.string());
  for (std::string line; std::getline(in, line);)
    if (const auto eq = line.find('='); eq != std::string::npos) args[line.substr(0, eq)] = line.substr(eq + 1);
  return args;
}

TEST_CASE("optimizers and clip_grad_norm_ follow torch.optim step by step") {
  const fs::path root = fs::path(REGRAD_SOURCE_DIR) / "tests/reference/optim";
  REQUIRE(fs::is_directory(root));
  std::vector<fs::path> dirs;
  for (const auto& d : fs::directory_iterator(root))
    if (d.is_directory()) dirs.push_back(d.path());
  std::sort(dirs.begin(), dirs.end());
  int cases = 0, tensors = 0, clipped = 0;
  for (const fs::path& dir : dirs) {
    auto args = read_args(dir / "args.txt");
    const auto num = [&](const char* key, double def) { return args.count(key) ? std::stod(args[key]) : def; };
    const int64_t steps = std::stoll(args.at("steps")), n = std::stoll(args.at("params"));
    const double max_norm = num("max_norm", 0);
    std::vector<Tensor> params, grads, expected;
    for (int64_t i = 0; i < n; ++i) {
      const std::string k = std::to_string(i);
      params.push_back(load_npy((dir / ("param" + k + ".npy")).string()).requires_grad_());
      grads.push_back(load_npy((dir / ("grad" + k + ".npy")).string()));
      expected.push_back(load_npy((dir / "expected" / ("param" + k + ".npy")).string()));
    }
    const Tensor has_grad = load_npy((dir / "has_grad.npy").string());
    const Tensor norms = max_norm > 0 ? load_npy((dir / "expected/norm.npy").string()) : Tensor();
    std::unique_ptr<optim::Optimizer> opt;
    if (args.at("optimizer") == "sgd")
      opt = std::make_unique<optim::SGD>(params, num("lr", 0), num("momentum", 0), num("weight_decay", 0),
                                         args.count("nesterov") && args["nesterov"] == "1", num("dampening", 0));
    else
      opt = std::make_unique<optim::AdamW>(params, num("lr", 1e-3), num("beta1", 0.9), num("beta2", 0.999),
                                           num("eps", 1e-8), num("weight_decay", 1e-2));
    const DType dt = params[0].dtype();
    // float64 agrees to rounding over a few steps; float32 to a few ulps of O(1) values.
    const double tol = dt == DType::Float64 ? 1e-12 : 2e-6;
    for (int64_t t = 0; t < steps; ++t) {
      for (int64_t i = 0; i < n; ++i) {
        params[i].zero_grad();
        if (has_grad.at({t, i}) != 0) params[i].impl().grad = step_slice(grads[i], t).impl_ptr();
      }
      INFO(dir.filename().string(), " step ", t);
      if (max_norm > 0) {
        const double norm = optim::clip_grad_norm_(params, max_norm), ref = norms.at({t});
        CHECK_MESSAGE(std::abs(norm - ref) <= tol * std::max(1.0, std::abs(ref)), "norm ", norm, " vs torch ", ref);
        ++clipped;
      }
      opt->step();
      for (int64_t i = 0; i < n; ++i) {
        const CmpResult c = cmp("param" + std::to_string(i), params[i], step_slice(expected[i], t), 0, tol);
        CHECK_MESSAGE(c.approximate, c.line());
        ++tensors;
      }
    }
    ++cases;
  }
  // make_reference.py's counts exactly: 14 scenarios in float32 and float64, 5 steps of 3 params,
  // 3 of the scenarios clip.
  CHECK(cases == 28);
  CHECK(tensors == 28 * 5 * 3);
  CHECK(clipped == 3 * 2 * 5);
  MESSAGE("torch.optim reference: ", cases, " cases, ", tensors, " parameter values and ", clipped,
          " clipping norms compared");
}
