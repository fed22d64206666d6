// PyTorch reference values (tests/reference/make_reference.py, Debian's python3-torch): every case
// folder's inputs run through run_op, every output compared with PyTorch's, once with the fast
// kernels and once with the plain reference kernels (src/functional/reference/). The script
// enumerates each layer's optional-argument combinations; the counts below are what it writes,
// exactly, so a lost or extra case fails here.
#include <filesystem>
#include <fstream>

#include "../test_util.h"
#include "regrad/check/op_runner.h"

using namespace rg;
namespace fs = std::filesystem;

// Tolerances by dtype: float32 results differ from PyTorch's by a few ulps of O(1) values
// (summation order); float64 ones agree to rounding.
static double tolerance(DType dt) { return dt == DType::Float32 ? 1e-5 : 1e-12; }

// atol: a case's own tolerance, where args.txt gives one (make_reference.py says why).
static OpRequest load_case(const fs::path& dir, std::optional<double>& atol) {
  OpRequest r;
  std::ifstream args(dir / "args.txt");
  REQUIRE_MESSAGE(args, "missing ", (dir / "args.txt").string());
  std::string line;
  while (std::getline(args, line)) {
    const auto eq = line.find('=');
    if (eq == std::string::npos) continue;
    const std::string key = line.substr(0, eq), value = line.substr(eq + 1);
    if (key == "op") r.op = value;
    else if (key == "eval") r.eval = value == "1";
    else if (key == "eps") r.eps = std::stod(value);
    else if (key == "momentum") r.momentum = std::stod(value);
    else if (key == "p") r.p = std::stod(value);
    else if (key == "label_smoothing") r.label_smoothing = std::stod(value);
    else if (key == "groups") r.groups = std::stoll(value);
    else if (key == "reduction") r.reduction = value;
    else if (key == "ignore_index") r.ignore_index = std::stoll(value);
    else if (key == "atol") atol = std::stod(value);
    else if (key == "normalized_shape") {
      std::istringstream ss(value);
      for (int64_t d; ss >> d;) r.normalized_shape.push_back(d);
    }
  }
  for (const auto& f : fs::directory_iterator(dir))
    if (f.path().extension() == ".npy") r.inputs[f.path().stem().string()] = load_npy(f.path().string());
  return r;
}

struct Counts {
  int cases = 0, tensors = 0, skipped = 0;
};

// The reference cross-entropy takes (N, K) logits only; its (K) and (N, K, d…) cases are skipped
// (counted).
static Counts compare_with_pytorch(bool reference) {
  const fs::path root = fs::path(REGRAD_SOURCE_DIR) / "tests/reference/data";
  REQUIRE(fs::is_directory(root));
  Counts n;
  double worst[2] = {0, 0}, worst_own = 0;  // by dtype; the cases with their own tolerance
  std::vector<fs::path> dirs;
  for (const auto& d : fs::directory_iterator(root))
    if (d.is_directory()) dirs.push_back(d.path());
  std::sort(dirs.begin(), dirs.end());
  for (const fs::path& dir : dirs) {
    std::optional<double> atol;
    OpRequest r = load_case(dir, atol);
    r.reference = reference;
    if (reference && r.op == "cross_entropy" && r.inputs.at("x").dim() != 2) {
      ++n.skipped;
      continue;
    }
    const auto out = run_op(r);
    ++n.cases;
    int produced = 0;
    for (const auto& f : fs::directory_iterator(dir / "expected")) {
      const std::string name = f.path().stem().string();
      const Tensor expected = load_npy(f.path().string());
      INFO(dir.filename().string(), " ", name, reference ? " (reference kernel)" : " (fast kernel)");
      REQUIRE_MESSAGE(out.count(name), "regrad produced no ", name);
      ++produced;
      const Tensor got = out.at(name);
      CHECK(got.dtype() == expected.dtype());
      const CmpResult c = cmp(name, got, expected, 0, atol.value_or(tolerance(expected.dtype())));
      CHECK_MESSAGE(c.approximate, c.line());
      double& w = atol ? worst_own : worst[expected.dtype() == DType::Float64];
      w = std::max(w, c.maxdiff);
      ++n.tensors;
    }
    // Nothing regrad computes goes unchecked: every output it returns has a PyTorch value.
    CHECK_MESSAGE(produced == static_cast<int>(out.size()), dir.filename().string(), ": ", out.size(), " outputs, ",
                  produced, " with a reference");
  }
  MESSAGE("PyTorch reference, ", std::string(reference ? "reference" : "fast"), " kernels: ", n.cases, " cases, ",
          n.tensors, " tensors compared (", n.skipped, " skipped); worst max abs diff float32 ", worst[0], ", float64 ",
          worst[1], "; cases with their own tolerance ", worst_own);
  return n;
}

TEST_CASE("fused layers match PyTorch's reference values") {
  const Counts n = compare_with_pytorch(false);
  CHECK(n.cases == 320);
  CHECK(n.tensors == 902);
}

TEST_CASE("reference kernels match PyTorch's reference values") {
  const Counts n = compare_with_pytorch(true);
  CHECK(n.cases + n.skipped == 320);
  CHECK(n.skipped == 76);
  CHECK(n.tensors == 724);
}
