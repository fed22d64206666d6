// regrad_bench [core] [layers] [train] [small] [--threads 1,2] [--repeat N] [--no-torch] [--out DIR]:
// what `make bench` runs. The table goes to stdout and to DIR/bench.md and DIR/bench.csv.
#include <cblas.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "bench_table.h"
#include "bench_util.h"
#include "regrad/tensor/tensor.h"

void bench_core(bench::Table& table);
void bench_layers(bench::Table& table, const std::vector<int>& thread_counts, bool with_torch);
void print_layers_verdict(const bench::Table& table, const std::vector<int>& thread_counts);
void bench_train(bench::Table& table, const std::vector<int>& thread_counts, bool with_torch);
void bench_small(bench::Table& table, const std::vector<int>& thread_counts, bool with_torch);

namespace {

std::string cpu_model() {
  std::ifstream in("/proc/cpuinfo");
  for (std::string line; std::getline(in, line);)
    if (line.rfind("model name", 0) == 0) {
      const auto colon = line.find(':');
      return colon == std::string::npos ? line : line.substr(line.find_first_not_of(' ', colon + 1));
    }
  return "unknown CPU";
}

std::string utc_now() {
  const std::time_t t = std::time(nullptr);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%d %H:%M UTC", std::gmtime(&t));
  return buf;
}

bool write_file(const std::string& path, const std::string& text) {
  std::ofstream out(path);
  out << text;
  return static_cast<bool>(out);
}

}  // namespace

int main(int argc, char** argv) {
  rg::keep_freed_memory();
  bool core = false, layers = false, training = false, small = false, torch = true;
  std::vector<int> threads{1, 2};
  int repeat = 1;
  std::string out_dir = REGRAD_BENCH_OUT;
  const auto usage = [] {
    std::fprintf(
        stderr,
        "usage: regrad_bench [core] [layers] [train] [small] [--threads 1,2] [--repeat N] [--no-torch] [--out DIR]\n"
        "  core    matmul against cblas_sgemm, an elementwise chain against the STREAM triad\n"
        "  layers  fused layers: bandwidth and PyTorch ratios at each thread count\n"
        "  train   training steps of the reference MLP, CNN and character Transformer against PyTorch\n"
        "          and (MLP, CNN) against their GEMMs alone\n"
        "  small   the MLP and CNN steps at batch 2 and 8, and notebook 6b's manual-backward training\n"
        "          loop, against PyTorch\n"
        "  (no section named: all four)\n"
        "  --repeat N  run every section N times; the table shows medians and min-max ranges\n"
        "  --out DIR   where bench.md and bench.csv are written (default " REGRAD_BENCH_OUT
        ")\n"
        "environment: REGRAD_BENCH_PYTHON, the interpreter whose torch is the baseline\n"
        "  (default /usr/bin/python3, Debian's python3-torch); OMP_WAIT_POLICY applies to both sides\n");
  };
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    const bool has_value = i + 1 < argc;
    if (a == "core") core = true;
    else if (a == "layers") layers = true;
    else if (a == "train") training = true;
    else if (a == "small") small = true;
    else if (a == "--no-torch") torch = false;
    else if (a == "--threads" && has_value) {
      threads.clear();
      std::stringstream ss(argv[++i]);
      for (std::string t; std::getline(ss, t, ',');) threads.push_back(std::stoi(t));
    } else if (a == "--repeat" && has_value) {
      repeat = std::atoi(argv[++i]);
      if (repeat < 1) {
        std::fprintf(stderr, "regrad_bench: --repeat needs a positive count, got '%s'\n", argv[i]);
        return 2;
      }
    } else if (a == "--out" && has_value) {
      out_dir = argv[++i];
    } else {
      usage();
      return a == "--help" || a == "-h" ? 0 : 2;
    }
  }
  if (!core && !layers && !training && !small) core = layers = training = small = true;
  std::string torch_line = "not run (--no-torch)";
  if (torch && (layers || training || small)) {
    const std::string v = bench::torch_version();
    torch_line = v.empty() ? "none (no torch for this interpreter; REGRAD_BENCH_PYTHON picks another)" : v;
    std::printf("PyTorch baseline: %s\n", torch_line.c_str());
  }
  const int default_threads = omp_get_max_threads();
  bench::Table table;
  for (int run = 0; run < repeat; ++run) {
    if (repeat > 1) std::printf("\n==== run %d of %d\n", run + 1, repeat);
    if (core) {
      omp_set_num_threads(default_threads);
      bench_core(table);
    }
    if (layers) bench_layers(table, threads, torch);
    if (training) bench_train(table, threads, torch);
    if (small) bench_small(table, threads, torch);
  }
  const char* wait = std::getenv("OMP_WAIT_POLICY");
  std::string preamble = "## regrad bench, " + utc_now() + "\n\n" + cpu_model() + "; " + openblas_get_config() +
                         "; PyTorch baseline: " + torch_line + "; OMP_WAIT_POLICY " +
                         (wait ? std::string(wait) : "unset (libgomp spins, then sleeps)") + ", for both.\n";
  preamble += repeat > 1 ? "Each cell: the median of " + std::to_string(repeat) +
                               " runs and, in brackets, the range (min-max) over the runs; each ratio is formed "
                               "within one run, then its median and range are taken.\n"
                         : "One run (regrad_bench --repeat N gives medians and ranges over N runs).\n";
  preamble +=
      "Ratios: torch/regrad is the speed-up over PyTorch at the same thread count; <triad>/regrad is the "
      "fraction of the memory triad's bandwidth (the baseline time is the triad's time for the same bytes); "
      "regrad/GEMMs is the step's time over the time of its GEMMs alone (cblas_sgemm, im2col excluded).\n";
  const std::string md = table.markdown(preamble);
  std::printf("\n%s\n", md.c_str());
  if (layers) print_layers_verdict(table, threads);
  const std::string md_path = out_dir + "/bench.md", csv_path = out_dir + "/bench.csv";
  std::error_code made;
  std::filesystem::create_directories(out_dir, made);  // --out may name a folder that does not exist yet
  if (!write_file(md_path, md) || !write_file(csv_path, table.csv())) {
    std::fprintf(stderr, "regrad_bench: cannot write %s and %s\n", md_path.c_str(), csv_path.c_str());
    return 1;
  }
  std::printf("wrote %s and %s\n", md_path.c_str(), csv_path.c_str());
  return 0;
}
