// regrad: the command line. Subcommands:
//   regrad gradcheck [--seed S] [--op NAME] [--full]   finite-difference check of every op, as a table
//   regrad op NAME --x x.npy --grad-out g.npy --out DIR [...]   one fused layer forward + backward
//                                                (--reference: the plain reference kernels)
//   regrad train [--model mlp|cnn ...]           train on Fashion-MNIST (src/cli/train.cpp)
//   regrad augment [--augment flip,crop ...]      a PNG grid of augmented images (src/cli/augment.cpp)
#include <CLI/CLI.hpp>
#include <cstdio>
#include <filesystem>
#include <iostream>

#include "commands.h"
#include "regrad/check/op_cases.h"
#include "regrad/check/op_runner.h"
#include "regrad/tensor/npy.h"

namespace {

int run_gradcheck(uint64_t seed, const std::string& only, bool full) {
  const auto cases = rg::op_cases(seed);
  std::printf("Gradient check: analytic backward vs central differences in float64\n");
  std::printf(
      "(eps 1e-6 unless the case says, pass when |analytic - numeric| <= 1e-5 + 1e-3*|numeric| everywhere; %s)\n\n",
      full ? "every Jacobian entry" : "random upstream gradient");
  std::printf("%-14s %-44s %8s  %s\n", "op", "case", full ? "entries" : "elements", "result");
  int failed = 0, ran = 0;
  for (const auto& c : cases) {
    if (!only.empty() && c.op != only) continue;
    rg::GradcheckOptions opts;
    opts.seed = seed;
    opts.eps = c.eps;
    opts.full_jacobian = full;
    const rg::GradcheckResult r = rg::gradcheck(c.fn, c.inputs, opts);
    std::printf("%-14s %-44s %8lld  %s\n", c.op.c_str(), c.detail.c_str(), static_cast<long long>(r.checked),
                r.summary().c_str());
    failed += !r.ok;
    ++ran;
  }
  if (ran == 0) {
    std::fprintf(stderr, "regrad gradcheck: no op named '%s'\n", only.c_str());
    return 2;
  }
  std::printf("\n%d cases, %d passed, %d failed\n", ran, ran - failed, failed);
  return failed ? 1 : 0;
}

struct OpOptions {
  rg::OpRequest request;
  std::map<std::string, std::string> files;  // input name → .npy path
  std::string out;
  double eps = 0, momentum = 0, p = 0, label_smoothing = 0;
  uint64_t seed = 0;
  int64_t groups = 0, ignore_index = -100;
};

void add_op_command(CLI::App& app, OpOptions& o) {
  auto* cmd =
      app.add_subcommand("op", std::string("Run one fused layer forward and backward on .npy arrays.\n"
                                           "Writes y.npy, dx.npy and, where the op has them, dweight.npy, "
                                           "dbias.npy, dtarget.npy, running_mean.npy, running_var.npy into --out, "
                                           "in x's dtype."));
  cmd->add_option("name", o.request.op, std::string("the op: ") + rg::kOpNames)->required();
  for (const char* name :
       {"x", "weight", "bias", "running-mean", "running-var", "target", "class-weight", "mask", "grad-out"}) {
    std::string key = name;
    std::replace(key.begin(), key.end(), '-', '_');
    auto* opt = cmd->add_option(std::string("--") + name, o.files[key], std::string(name) + " as .npy")
                    ->check(CLI::ExistingFile);
    if (key == "x" || key == "grad_out") opt->required();
  }
  cmd->add_option("--out", o.out, "output directory (created if missing)")->required();
  cmd->add_flag("--eval", o.request.eval, "evaluation mode (batch_norm: running statistics; dropout: identity)");
  cmd->add_option("--eps", o.eps, "epsilon added to the variance (default 1e-5; rms_norm: dtype's machine epsilon)");
  cmd->add_option("--momentum", o.momentum, "batch_norm running-statistics momentum (default 0.1)");
  cmd->add_option("--p", o.p, "dropout: drop probability");
  cmd->add_option("--seed", o.seed, "dropout: seed of the mask when no --mask is given");
  cmd->add_option("--groups", o.groups, "group_norm: number of groups");
  cmd->add_option("--normalized-shape", o.request.normalized_shape,
                  "layer_norm/rms_norm: trailing dims (default: last dim)")
      ->expected(1, 8);
  cmd->add_option("--label-smoothing", o.label_smoothing, "cross_entropy: label smoothing in [0, 1] (default 0)");
  cmd->add_option("--reduction", o.request.reduction, "cross_entropy: mean | sum | none (default mean)");
  cmd->add_option("--ignore-index", o.ignore_index, "cross_entropy: class index that adds no loss (default -100)");
  cmd->add_flag("--reference", o.request.reference,
                "run the plain reference kernels (src/functional/reference/) instead of the fast ones, in double; "
                "outputs in x's dtype");
  cmd->callback([&o, cmd] {
    auto set = [cmd](const char* flag, auto value, auto& field) {
      if (cmd->count(flag)) field = value;
    };
    set("--eps", o.eps, o.request.eps);
    set("--momentum", o.momentum, o.request.momentum);
    set("--p", o.p, o.request.p);
    set("--seed", o.seed, o.request.seed);
    set("--groups", o.groups, o.request.groups);
    set("--label-smoothing", o.label_smoothing, o.request.label_smoothing);
    set("--ignore-index", o.ignore_index, o.request.ignore_index);
  });
}

int run_op_command(OpOptions& o) {
  for (const auto& [name, path] : o.files)
    if (!path.empty()) o.request.inputs[name] = rg::load_npy(path);
  const auto outputs = rg::run_op(o.request);
  std::filesystem::create_directories(o.out);
  for (const auto& [name, t] : outputs) {
    const std::string path = (std::filesystem::path(o.out) / (name + ".npy")).string();
    rg::save_npy(path, t);
    std::printf("wrote %s %s %s\n", path.c_str(), rg::to_string(t.dtype()).c_str(), rg::to_string(t.shape()).c_str());
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  rg::keep_freed_memory();
  CLI::App app{"regrad: a teaching tensor and reverse-mode autograd engine"};
  app.require_subcommand(1);
  uint64_t seed = 0;
  std::string op;
  auto* gc = app.add_subcommand("gradcheck", "Check every primitive op's backward against finite differences");
  gc->add_option("--seed", seed, "seed for the random inputs and upstream gradients")->capture_default_str();
  gc->add_option("--op", op, "check only this op (e.g. matmul)");
  bool full = false;
  gc->add_flag("--full", full,
               "compare every Jacobian entry (one backward per output element) instead of a projection");
  OpOptions op_options;
  add_op_command(app, op_options);
  regrad_cli::TrainOptions train_options;
  auto* train_cmd = regrad_cli::add_train_command(app, train_options);
  regrad_cli::AugmentOptions augment_options;
  auto* augment_cmd = regrad_cli::add_augment_command(app, augment_options);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const int rc = app.exit(e);
    return rc == 0 ? 0 : 2;
  }
  try {
    if (*gc) return run_gradcheck(seed, op, full);
    if (op_options.request.op.size()) return run_op_command(op_options);
    if (*train_cmd) return regrad_cli::run_train(train_options);
    if (*augment_cmd) return regrad_cli::run_augment(augment_options);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "regrad: %s\n", e.what());
    return 2;
  }
  return 0;
}
