// regrad: the command line. Subcommands:
//   regrad gradcheck [--seed S] [--op NAME]   finite-difference check of every primitive op, as a table
#include <CLI/CLI.hpp>
#include <cstdio>
#include <iostream>

#include "regrad/check/op_cases.h"

namespace {

int run_gradcheck(uint64_t seed, const std::string& only) {
  const auto cases = rg::op_cases(seed);
  std::printf("Gradient check: analytic backward vs central differences in float64\n");
  std::printf("(eps 1e-6, pass when |analytic - numeric| <= 1e-5 + 1e-3*|numeric| everywhere; random upstream gradient)\n\n");
  std::printf("%-14s %-44s %8s  %s\n", "op", "case", "elements", "result");
  int failed = 0, ran = 0;
  for (const auto& c : cases) {
    if (!only.empty() && c.op != only) continue;
    const rg::GradcheckResult r = rg::gradcheck(c.fn, c.inputs);
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

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"regrad: a teaching tensor and reverse-mode autograd engine"};
  app.require_subcommand(1);
  uint64_t seed = 0;
  std::string op;
  auto* gc = app.add_subcommand("gradcheck", "Check every primitive op's backward against finite differences");
  gc->add_option("--seed", seed, "seed for the random inputs and upstream gradients")->capture_default_str();
  gc->add_option("--op", op, "check only this op (e.g. matmul)");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const int rc = app.exit(e);
    return rc == 0 ? 0 : 2;
  }
  try {
    if (*gc) return run_gradcheck(seed, op);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "regrad: %s\n", e.what());
    return 2;
  }
  return 0;
}
