#include "bench_table.h"

#include <algorithm>
#include <cmath>

namespace bench {

Summary summarize(const std::vector<double>& samples) {
  std::vector<double> v;
  for (double s : samples)
    if (std::isfinite(s)) v.push_back(s);
  if (v.empty()) return {NAN, NAN, NAN, 0};
  std::sort(v.begin(), v.end());
  const std::size_t n = v.size();
  const double median = n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
  return {median, v.front(), v.back(), static_cast<int>(n)};
}

std::string ratio_label(const Row& r) {
  switch (r.kind) {
    case Ratio::BaselineOverRegrad: return r.baseline + "/regrad";
    case Ratio::RegradOverBaseline: return "regrad/" + r.baseline;
    case Ratio::None: break;
  }
  return "";
}

void Table::add(const std::string& section, const std::string& name, const std::string& shape, int threads,
                double regrad_ms, const std::string& baseline, double baseline_ms, Ratio kind,
                const std::string& rate_unit, double work) {
  auto it = std::find_if(rows_.begin(), rows_.end(), [&](const Row& r) {
    return r.section == section && r.name == name && r.shape == shape && r.threads == threads && r.baseline == baseline;
  });
  if (it == rows_.end()) {
    rows_.push_back({section, name, shape, threads, baseline, kind, rate_unit, work, {}, {}, {}});
    it = rows_.end() - 1;
  }
  it->regrad_ms.push_back(regrad_ms);
  it->baseline_ms.push_back(baseline_ms);
  double ratio = NAN;
  if (std::isfinite(regrad_ms) && std::isfinite(baseline_ms) && regrad_ms > 0 && baseline_ms > 0)
    ratio = kind == Ratio::BaselineOverRegrad   ? baseline_ms / regrad_ms
            : kind == Ratio::RegradOverBaseline ? regrad_ms / baseline_ms
                                                : NAN;
  it->ratio.push_back(ratio);
}

const Row* Table::find(const std::string& section, const std::string& name, const std::string& shape, int threads,
                       const std::string& baseline) const {
  for (const Row& r : rows_)
    if (r.section == section && r.name == name && r.shape == shape && r.threads == threads && r.baseline == baseline)
      return &r;
  return nullptr;
}

namespace {

std::string fmt(double v, const char* f) {
  char buf[64];
  std::snprintf(buf, sizeof buf, f, v);
  return buf;
}

// "median" or "median (min–max)" when there was more than one run.
std::string cell(const Summary& s, const char* f) {
  if (s.n == 0) return "n/a";
  std::string out = fmt(s.median, f);
  if (s.n > 1) out += " (" + fmt(s.min, f) + "–" + fmt(s.max, f) + ")";
  return out;
}

// Rates are work / time: their median is the rate of the median time, their range the other way round.
Summary rate_of(const Row& r) {
  const Summary t = summarize(r.regrad_ms);
  if (r.work <= 0 || t.n == 0) return {NAN, NAN, NAN, 0};
  return {r.work / t.median * 1e3, r.work / t.max * 1e3, r.work / t.min * 1e3, t.n};
}

const char* rate_format(double v) { return v >= 100 ? "%.0f" : "%.1f"; }

std::string csv_field(const std::string& s) {
  if (s.find_first_of(",\"\n") == std::string::npos) return s;
  std::string out = "\"";
  for (char c : s) out += c == '"' ? std::string("\"\"") : std::string(1, c);
  return out + "\"";
}

std::string num(double v, const char* f) { return std::isfinite(v) ? fmt(v, f) : ""; }

}  // namespace

std::string Table::markdown(const std::string& preamble) const {
  std::string out = preamble;
  std::vector<std::string> sections;
  for (const Row& r : rows_)
    if (std::find(sections.begin(), sections.end(), r.section) == sections.end()) sections.push_back(r.section);
  for (const std::string& s : sections) {
    out += "\n### " + s +
           "\n\n| name | shape | thr | regrad ms | rate | baseline | baseline ms | ratio | ratio is |\n"
           "|---|---|---|---|---|---|---|---|---|\n";
    for (const Row& r : rows_) {
      if (r.section != s) continue;
      const Summary rate = rate_of(r);
      const std::string rate_col = rate.n ? cell(rate, rate_format(rate.median)) + " " + r.rate_unit : "";
      const bool has_ratio = r.kind != Ratio::None;
      out += "| " + r.name + " | " + r.shape + " | " + std::to_string(r.threads) + " | " +
             cell(summarize(r.regrad_ms), "%.3f") + " | " + rate_col + " | " + r.baseline + " | " +
             (has_ratio ? cell(summarize(r.baseline_ms), "%.3f") : "") + " | " +
             (has_ratio ? cell(summarize(r.ratio), "%.2f") : "") + " | " + ratio_label(r) + " |\n";
    }
  }
  return out;
}

std::string Table::csv() const {
  std::string out =
      "section,name,shape,threads,regrad_ms,regrad_ms_min,regrad_ms_max,baseline,baseline_ms,baseline_ms_min,"
      "baseline_ms_max,ratio_is,ratio,ratio_min,ratio_max,rate,rate_unit,runs\n";
  for (const Row& r : rows_) {
    const Summary t = summarize(r.regrad_ms), b = summarize(r.baseline_ms), q = summarize(r.ratio), rate = rate_of(r);
    const bool range = t.n > 1;
    out += csv_field(r.section) + "," + csv_field(r.name) + "," + csv_field(r.shape) + "," + std::to_string(r.threads) +
           "," + num(t.median, "%.4f") + "," + (range ? num(t.min, "%.4f") : "") + "," +
           (range ? num(t.max, "%.4f") : "") + "," + csv_field(r.baseline) + "," + num(b.median, "%.4f") + "," +
           (b.n > 1 ? num(b.min, "%.4f") : "") + "," + (b.n > 1 ? num(b.max, "%.4f") : "") + "," +
           csv_field(ratio_label(r)) + "," + num(q.median, "%.4f") + "," + (q.n > 1 ? num(q.min, "%.4f") : "") + "," +
           (q.n > 1 ? num(q.max, "%.4f") : "") + "," + num(rate.median, "%.4g") + "," + csv_field(r.rate_unit) + "," +
           std::to_string(t.n) + "\n";
  }
  return out;
}

}  // namespace bench
