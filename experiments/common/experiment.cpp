#include "common/experiment.h"

#include <omp.h>

#include <cmath>
#include <cstdarg>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>

namespace rx {

using namespace rg;

Experiment::Experiment(std::string name, const std::string& description, int argc, char** argv, int64_t default_seeds,
                       const std::function<void(CLI::App&)>& add_options)
    : name_(std::move(name)), start_(std::chrono::steady_clock::now()), load_at_start_(load_average()) {
  keep_freed_memory();
  args_.seeds = default_seeds;
  CLI::App app{description, name_};
  app.add_flag("--quick", args_.quick, "a small, fast version (CI runs it); writes to runs/quick unless --out");
  app.add_option("--seeds", args_.seeds, "number of seeds (0, 1, …)")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  app.add_option("--threads", args_.threads, "OpenMP threads; the same seed and thread count give the same numbers")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  app.add_option("--out", args_.out, "output directory (default experiments/results, or runs/quick with --quick)");
  if (add_options) add_options(app);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    std::exit(app.exit(e) == 0 ? 0 : 2);
  }
  if (args_.out.empty()) args_.out = args_.quick ? "runs/quick" : "experiments/results";
  std::filesystem::create_directories(args_.out);
  omp_set_num_threads(args_.threads);
  command_ = "build/experiments/" + name_;
  for (int i = 1; i < argc; ++i) command_ += std::string(" ") + argv[i];
  log("%s: %s mode, %lld seeds, %d threads, results in %s/", name_.c_str(), args_.quick ? "quick" : "full",
      static_cast<long long>(args_.seeds), args_.threads, args_.out.c_str());
}

std::string machine() {
  std::ifstream in("/proc/cpuinfo");
  std::string line, model = "unknown CPU", family;
  while (std::getline(in, line) && !line.empty()) {  // the first processor's lines
    const std::size_t colon = line.find(':');
    if (colon == std::string::npos || colon + 2 > line.size()) continue;
    if (line.rfind("model name", 0) == 0) model = line.substr(colon + 2);
    if (line.rfind("cpu family", 0) == 0) family = ", family " + line.substr(colon + 2);
  }
  return model + family + " (" + std::to_string(omp_get_num_procs()) + " cores), OpenBLAS " + blas_kernels() +
         " kernels";
}

double load_average() {
  std::ifstream in("/proc/loadavg");
  double load = 0;
  return in >> load ? load : 0;
}

namespace {
std::string load_text(double load) {
  char b[32];
  std::snprintf(b, sizeof b, "%.1f", load);
  return b;
}
}  // namespace

std::vector<uint64_t> Experiment::seeds() const {
  std::vector<uint64_t> s;
  for (int64_t i = 0; i < args_.seeds; ++i) s.push_back(static_cast<uint64_t>(i));
  return s;
}

double Experiment::seconds() const {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
}

void Experiment::log(const char* fmt, ...) const {
  std::fprintf(stderr, "[%6.1f s] ", seconds());
  va_list ap;
  va_start(ap, fmt);
  std::vfprintf(stderr, fmt, ap);
  va_end(ap);
  std::fputc('\n', stderr);
  std::fflush(stderr);
}

// ---- results ----

Results::Results(std::vector<std::string> config_columns, std::vector<std::string> metric_columns)
    : config_cols_(std::move(config_columns)), metric_cols_(std::move(metric_columns)) {}

void Results::add(const std::vector<std::string>& config, uint64_t seed, const std::vector<double>& metrics) {
  if (config.size() != config_cols_.size() || metrics.size() != metric_cols_.size())
    throw std::invalid_argument("Results::add: " + std::to_string(config.size()) + " config cells and " +
                                std::to_string(metrics.size()) + " metrics for " + std::to_string(config_cols_.size()) +
                                " and " + std::to_string(metric_cols_.size()) + " columns");
  rows_.push_back({config, seed, metrics});
}

std::string Results::csv() const {
  std::string out;
  for (const auto& c : config_cols_) out += c + ",";
  out += "seed";
  for (const auto& m : metric_cols_) out += "," + m;
  out += "\n";
  for (const Row& r : rows_) {
    for (const auto& c : r.config) {
      out += c;
      out += ",";
    }
    out += std::to_string(r.seed);
    for (double v : r.metrics) {
      out += ",";  // one append at a time: GCC 12's -Wrestrict misfires on "," + std::string&&
      out += report::fmt_g(v, 6);
    }
    out += "\n";
  }
  return out;
}

Results Results::load(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw std::runtime_error(path + ": cannot be read");
  auto split = [](const std::string& line) {
    std::vector<std::string> cells;
    std::istringstream ls(line);
    for (std::string c; std::getline(ls, c, ',');) cells.push_back(c);
    return cells;
  };
  std::string line;
  std::getline(in, line);
  const std::vector<std::string> header = split(line);
  const auto seed_at = std::find(header.begin(), header.end(), "seed");
  if (seed_at == header.end()) throw std::runtime_error(path + ": no 'seed' column in the header '" + line + "'");
  Results r({header.begin(), seed_at}, {seed_at + 1, header.end()});
  const std::size_t nc = r.config_cols_.size();
  for (int n = 2; std::getline(in, line); ++n) {
    const std::vector<std::string> cells = split(line);
    if (cells.size() != header.size())
      throw std::runtime_error(path + ":" + std::to_string(n) + ": " + std::to_string(cells.size()) + " cells, " +
                               std::to_string(header.size()) + " columns");
    try {
      std::vector<double> metrics;
      for (std::size_t i = nc + 1; i < cells.size(); ++i) metrics.push_back(std::stod(cells[i]));
      r.add({cells.begin(), cells.begin() + static_cast<std::ptrdiff_t>(nc)}, std::stoull(cells[nc]), metrics);
    } catch (const std::logic_error&) {
      throw std::runtime_error(path + ":" + std::to_string(n) + ": a seed or metric is not a number: '" + line + "'");
    }
  }
  return r;
}

std::size_t Results::config_index(const std::string& c) const {
  for (std::size_t i = 0; i < config_cols_.size(); ++i)
    if (config_cols_[i] == c) return i;
  throw std::invalid_argument("Results: no configuration column '" + c + "'");
}

std::size_t Results::metric_index(const std::string& m) const {
  for (std::size_t i = 0; i < metric_cols_.size(); ++i)
    if (metric_cols_[i] == m) return i;
  throw std::invalid_argument("Results: no metric '" + m + "'");
}

std::vector<double> Results::values(const std::map<std::string, std::string>& where, const std::string& metric) const {
  const std::size_t m = metric_index(metric);
  std::vector<std::pair<std::size_t, std::string>> conds;
  for (const auto& [c, v] : where) conds.emplace_back(config_index(c), v);
  std::vector<double> out;
  for (const Row& r : rows_) {
    bool ok = true;
    for (const auto& [i, v] : conds) ok = ok && r.config[i] == v;
    if (ok) out.push_back(r.metrics[m]);
  }
  return out;
}

std::vector<std::string> Results::levels(const std::string& column) const {
  const std::size_t c = config_index(column);
  std::vector<std::string> out;
  for (const Row& r : rows_)
    if (std::find(out.begin(), out.end(), r.config[c]) == out.end()) out.push_back(r.config[c]);
  return out;
}

std::string Results::summary_markdown(const std::vector<std::string>& metrics, int precision,
                                      const std::vector<std::string>& percent) const {
  std::vector<std::vector<std::string>> configs;
  for (const Row& r : rows_)
    if (std::find(configs.begin(), configs.end(), r.config) == configs.end()) configs.push_back(r.config);
  std::string out = "|";
  for (const auto& c : config_cols_) out += " " + c + " |";
  out += " seeds |";
  for (const auto& m : metrics)
    out += " " + m + (std::find(percent.begin(), percent.end(), m) != percent.end() ? " (%)" : "") + " |";
  out += "\n|";
  for (std::size_t i = 0; i < config_cols_.size() + metrics.size() + 1; ++i) out += "---|";
  out += "\n";
  for (const auto& cfg : configs) {
    std::map<std::string, std::string> where;
    for (std::size_t i = 0; i < cfg.size(); ++i) where[config_cols_[i]] = cfg[i];
    out += "|";
    for (const auto& c : cfg) out += " " + c + " |";
    out += " " + std::to_string(values(where, metric_cols_.front()).size()) + " |";
    for (const auto& m : metrics) {
      const bool pct = std::find(percent.begin(), percent.end(), m) != percent.end();
      out += " " + mean_std(values(where, m), pct ? std::max(precision - 2, 1) : precision, pct ? 100.0 : 1.0) + " |";
    }
    out += "\n";
  }
  return out;
}

double mean(const std::vector<double>& v) {
  if (v.empty()) return NAN;
  double s = 0;
  for (double x : v) s += x;
  return s / static_cast<double>(v.size());
}

double stddev(const std::vector<double>& v) {
  if (v.size() < 2) return 0.0;
  const double m = mean(v);
  double s = 0;
  for (double x : v) s += (x - m) * (x - m);
  return std::sqrt(s / static_cast<double>(v.size() - 1));
}

std::vector<double> paired_diff(const std::vector<double>& a, const std::vector<double>& b) {
  std::vector<double> d;
  for (std::size_t i = 0; i < a.size() && i < b.size(); ++i) d.push_back(a[i] - b[i]);
  return d;
}

bool significant_gain(const std::vector<double>& d) { return d.size() >= 2 && mean(d) > 0 && mean(d) > 2 * stddev(d); }
bool significant_loss(const std::vector<double>& d) { return d.size() >= 2 && mean(d) < 0 && -mean(d) > 2 * stddev(d); }

std::string mean_std(const std::vector<double>& v, int precision, double scale) {
  if (v.empty()) return "–";
  std::vector<double> s;
  for (double x : v) s.push_back(x * scale);
  if (s.size() == 1) return report::fmt(s[0], precision);
  return report::fmt(mean(s), precision) + " ± " + report::fmt(stddev(s), precision);
}

// ---- the page ----

void write_page(const Experiment& e, const std::string& title, const std::string& quote, const std::string& body,
                const std::vector<Claim>& claims) {
  std::string md = "# " + title + "\n\n";
  md += "> " + quote + "\n>\n> — the lecture\n\n";
  md += body;
  if (md.back() != '\n') md += "\n";
  md += "\n## Verdict\n\n";
  std::string tsv;
  for (const Claim& c : claims) {
    md += "- **" + c.verdict + "** — " + c.claim + ": " + c.measured + "\n";
    tsv += c.claim + "\t" + c.measured + "\t" + c.verdict + "\n";
  }
  char wall[64];
  std::snprintf(wall, sizeof wall, "%.0f s", e.seconds());
  md += "\nWall time: " + std::string(wall) + " on " + std::to_string(e.args().threads) +
        (e.args().threads == 1 ? " thread (" : " threads (") + (e.quick() ? "quick" : "full") + " mode) on " +
        machine() + ", load average " + load_text(e.load_at_start()) + " at the start and " +
        load_text(load_average()) + " at the end. Command:\n\n```sh\n" + e.command() + "\n```\n\n";
  md += "Results in long form (one row per run): [`" + e.name() + ".csv`](" + e.name() + ".csv).\n";
  report::write_file(e.path(".md"), md);
  report::write_file(e.path(".claims.tsv"), tsv);
}

// ---- data and training ----

std::shared_ptr<nn::Module> image_model(const data::Splits& d, const std::string& model, const std::string& norm,
                                        uint64_t seed) {
  train::ModelOptions m;
  m.model = model;
  m.norm = norm;
  m.dropout = 0.0;
  m.seed = seed;
  return train::make_model(m, d.x_train, d.classes);
}

data::Splits image_splits(const std::string& dataset, int64_t n_train, int64_t n_val, uint64_t seed, int64_t n_test) {
  data::SplitOptions o;
  o.dataset = dataset;
  o.val_size = n_val;
  o.train_subset = n_train;
  o.seed = seed;
  data::Splits s = data::load_splits(o);
  if (n_test > 0 && n_test < s.x_test.size(0)) {
    s.x_test = slice(s.x_test, 0, 0, n_test);
    s.y_test = slice(s.y_test, 0, 0, n_test);
  }
  return s;
}

train::FitOptions quiet_fit(uint64_t seed) {
  train::FitOptions o;
  o.progress = nullptr;
  o.step_progress = false;
  o.seed = seed;
  return o;
}

}  // namespace rx
