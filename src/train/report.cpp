#include "regrad/train/report.h"

#include "regrad/tensor/file_io.h"

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <stdexcept>

namespace rg::report {

void Table::add(std::vector<std::string> row) {
  if (row.size() != columns.size())
    throw std::invalid_argument("Table::add: " + std::to_string(row.size()) + " cells for " +
                                std::to_string(columns.size()) + " columns");
  rows.push_back(std::move(row));
}

std::string Table::csv() const {
  auto line = [](const std::vector<std::string>& cells) {
    std::string s;
    for (std::size_t i = 0; i < cells.size(); ++i) s += (i ? "," : "") + cells[i];
    return s + "\n";
  };
  std::string out = line(columns);
  for (const auto& r : rows) out += line(r);
  return out;
}

std::string Table::markdown() const {
  auto line = [](const std::vector<std::string>& cells) {
    std::string s = "|";
    for (const auto& c : cells) s += " " + c + " |";
    return s + "\n";
  };
  std::string out = line(columns) + "|";
  for (std::size_t i = 0; i < columns.size(); ++i) out += "---|";
  out += "\n";
  for (const auto& r : rows) out += line(r);
  return out;
}

std::string fmt(double value, int precision) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", precision, value);
  return buf;
}

std::string fmt_g(double value, int significant) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*g", significant, value);
  return buf;
}

void write_file(const std::string& path, const std::string& text) { write_file_atomic(path, text); }

bool plot_png(const std::string& csv_path, const std::string& png_path, const std::string& title,
              const std::string& xlabel, const std::string& ylabel, int x_col, const std::vector<int>& y_cols,
              bool log_y) {
  if (std::system("command -v gnuplot >/dev/null 2>&1") != 0) {
    std::printf("(no PNG: gnuplot is not installed; apt-get install gnuplot-nox)\n");
    return false;
  }
  std::string script = "set terminal pngcairo size 900,540 noenhanced\nset output '" + png_path + "'\n" +
                       "set datafile separator ','\nset key autotitle columnhead\nset grid\n" + "set title '" + title +
                       "'\nset xlabel '" + xlabel + "'\nset ylabel '" + ylabel + "'\n" + (log_y ? "set logscale y\n" : "") +
                       "plot ";
  for (std::size_t i = 0; i < y_cols.size(); ++i)
    script += (i ? ", " : "") + std::string("'") + csv_path + "' using " + std::to_string(x_col) + ":" +
              std::to_string(y_cols[i]) + " with lines lw 2";
  script += "\n";
  const std::string script_path = png_path + ".gp";
  write_file(script_path, script);
  const int rc = std::system(("gnuplot '" + script_path + "' 2>&1").c_str());
  std::filesystem::remove(script_path);
  if (rc != 0) std::printf("(gnuplot failed to write %s)\n", png_path.c_str());
  return rc == 0;
}

}  // namespace rg::report
