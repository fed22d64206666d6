// The bench's results: every figure is regrad's time beside a baseline timed in the same run (PyTorch
// at the same thread count, the same GEMMs in cblas_sgemm, a memory triad). With --repeat N each
// measurement is taken N times; the table shows medians and the run-to-run range (min–max) of
// regrad's time, the baseline's time and their ratio, each ratio formed within one run.
#pragma once
#include <cstdio>
#include <string>
#include <vector>

namespace bench {

// Which way a row's ratio is formed; each row keeps the direction its target is stated in.
enum class Ratio {
  BaselineOverRegrad,  // a speed-up (vs PyTorch) or a fraction of a bound (of the memory triad): higher is better
  RegradOverBaseline,  // an overhead over a floor (step / its GEMMs): lower is better
  None,                // a baseline itself (the triads): no ratio
};

struct Row {
  std::string section, name, shape;
  int threads = 0;
  std::string baseline;  // "torch", "GEMMs", "cblas_sgemm", "DRAM triad", …
  Ratio kind = Ratio::None;
  std::string rate_unit;                              // "images/s", "GB/s", … ("" for none)
  double work = 0;                                    // rate = work / seconds, in rate_unit
  std::vector<double> regrad_ms, baseline_ms, ratio;  // one entry per run (NaN: no baseline that run)
};

class Table {
 public:
  // Records one run of a measurement; the row is found by (section, name, shape, threads, baseline),
  // so a repeat adds a sample to the row of the first run. baseline_ms NaN: not measured (no torch).
  void add(const std::string& section, const std::string& name, const std::string& shape, int threads, double regrad_ms,
           const std::string& baseline, double baseline_ms, Ratio kind, const std::string& rate_unit = "",
           double work = 0);
  const Row* find(const std::string& section, const std::string& name, const std::string& shape, int threads,
                  const std::string& baseline) const;
  // The sections' tables in Markdown (a header line per section) and one CSV row per row.
  std::string markdown(const std::string& preamble) const;
  std::string csv() const;
  bool empty() const { return rows_.empty(); }

 private:
  std::vector<Row> rows_;
};

// Median and range of the finite samples (NaN when there are none).
struct Summary {
  double median, min, max;
  int n;
};
Summary summarize(const std::vector<double>& samples);

// "Ratio column" text: "torch/regrad", "regrad/GEMMs".
std::string ratio_label(const Row& r);

}  // namespace bench
