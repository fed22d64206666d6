// What every lecture experiment shares: its command line (--quick, --seeds, --threads, --out),
// progress on stderr, long-form results (one row per run: configuration, seed, metrics), mean ± std
// tables over seeds, and the Markdown page with the claim, the tables, the verdict, the wall time
// and the exact command. The training itself is rg::train::fit; nothing here trains.
#pragma once
#include <CLI/CLI.hpp>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "regrad/regrad.h"

namespace rx {

struct Args {
  bool quick = false;  // a small version for CI (minutes for all experiments together)
  int64_t seeds = 3;   // seeds 0 … seeds−1
  int threads = 1;     // OpenMP threads (results are reproducible for a given count); small models
                       // gain little from a second thread, and experiments may run side by side
  std::string out;     // output directory
};

class Experiment {
 public:
  // Parses the shared flags plus those `add_options` registers; prints usage and exits on bad ones.
  Experiment(std::string name, const std::string& description, int argc, char** argv, int64_t default_seeds = 3,
             const std::function<void(CLI::App&)>& add_options = {});
  const std::string& name() const { return name_; }
  const Args& args() const { return args_; }
  bool quick() const { return args_.quick; }
  std::vector<uint64_t> seeds() const;
  std::string path(const std::string& suffix) const { return args_.out + "/" + name_ + suffix; }  // path(".csv")
  const std::string& command() const { return command_; }
  double seconds() const;
  double load_at_start() const { return load_at_start_; }  // the 1-minute load average, from /proc/loadavg
  // A progress line on stderr, prefixed with the elapsed time.
  void log(const char* fmt, ...) const __attribute__((format(printf, 2, 3)));

 private:
  std::string name_, command_;
  Args args_;
  std::chrono::steady_clock::time_point start_;
  double load_at_start_ = 0;
};

// "AMD EPYC 9B45 (2 cores)": the CPU's model name and the cores this process may use.
std::string machine();
// The 1-minute load average (0 where /proc/loadavg cannot be read): other work on the machine
// slows every timing, so pages state it beside their wall time.
double load_average();

// Long-form results: one row per run. Configuration cells are strings, metrics doubles.
class Results {
 public:
  Results(std::vector<std::string> config_columns, std::vector<std::string> metric_columns);
  // Reads a CSV that csv() wrote (configuration columns, `seed`, metrics); std::runtime_error naming
  // the file and the line when it cannot be read or has another form.
  static Results load(const std::string& path);
  void add(const std::vector<std::string>& config, uint64_t seed, const std::vector<double>& metrics);
  std::string csv() const;  // config columns, seed, metrics (full precision, %.6g)
  // The metric's values over seeds for every row whose configuration matches `config` in the
  // given columns (column name → value).
  std::vector<double> values(const std::map<std::string, std::string>& where, const std::string& metric) const;
  // Distinct values of a configuration column, in first-seen order.
  std::vector<std::string> levels(const std::string& column) const;
  // One Markdown row per distinct configuration: the config cells, then "mean ± std" of each
  // metric (std over seeds, n − 1; just the mean for a single seed), `precision` decimals; metrics
  // whose name is in `percent` are shown ×100.
  std::string summary_markdown(const std::vector<std::string>& metrics, int precision = 4,
                               const std::vector<std::string>& percent = {}) const;
  std::size_t size() const { return rows_.size(); }

 private:
  struct Row {
    std::vector<std::string> config;
    uint64_t seed;
    std::vector<double> metrics;
  };
  std::size_t config_index(const std::string& c) const;
  std::size_t metric_index(const std::string& m) const;
  std::vector<std::string> config_cols_, metric_cols_;
  std::vector<Row> rows_;
};

double mean(const std::vector<double>& v);
double stddev(const std::vector<double>& v);  // sample standard deviation (n − 1); 0 for n < 2
std::string mean_std(const std::vector<double>& v, int precision = 4, double scale = 1.0);

// Paired by seed: d[i] = a[i] − b[i] over the seeds both lists have.
std::vector<double> paired_diff(const std::vector<double>& a, const std::vector<double>& b);
// The rule behind every verdict: a paired difference is significant when its mean is more than
// twice its standard deviation over seeds — never from fewer than two seeds.
bool significant_gain(const std::vector<double>& d);  // mean > 0, significant
bool significant_loss(const std::vector<double>& d);  // mean < 0, significant

// A lecture claim as REPORT.md lists it.
struct Claim {
  std::string claim;     // the lecture's words
  std::string measured;  // the numbers, one sentence
  std::string verdict;   // "reproduced", "partly reproduced", "not reproduced" or "not measured here"
};

// Writes NAME.md: a title, the lecture's claim quoted, the body (tables and notes, Markdown), one
// verdict line per claim, the wall time and the exact command; and NAME.claims.tsv, which the
// report program gathers into REPORT.md.
void write_page(const Experiment& e, const std::string& title, const std::string& quote, const std::string& body,
                const std::vector<Claim>& claims);

// Expected calibration error etc. live in rg::train; the Fashion-MNIST splits of the experiments:
// a seeded training subset of `n_train` images, `n_val` validation images and the full test set
// (`n_test` > 0: its first n_test images), normalised as regrad train does.
rg::data::Splits image_splits(const std::string& dataset, int64_t n_train, int64_t n_val, uint64_t seed,
                              int64_t n_test = 0);

// The image model `model` ("mlp", "cnn", …) with `norm` and no dropout, initialised from `seed`,
// sized for `d`: train::make_model as the experiments call it.
std::shared_ptr<rg::nn::Module> image_model(const rg::data::Splits& d, const std::string& model,
                                            const std::string& norm, uint64_t seed);

// fit options for an experiment: silent (progress goes through Experiment::log), seeded.
rg::train::FitOptions quiet_fit(uint64_t seed);

}  // namespace rx
