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
                       "'\nset xlabel '" + xlabel + "'\nset ylabel '" + ylabel + "'\n" +
                       (log_y ? "set logscale y\n" : "") + "plot ";
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

static bool have_gnuplot() {
  if (std::system("command -v gnuplot >/dev/null 2>&1") == 0) return true;
  std::fprintf(stderr, "(no PNG: gnuplot is not installed; apt-get install gnuplot-nox)\n");
  return false;
}

static std::string quoted(const std::string& s) {
  std::string q = "'";
  for (char c : s) q += c == '\'' ? std::string("''") : std::string(1, c);
  return q + "'";
}

bool plot_png(const std::string& png_path, const std::vector<Plot>& panels, int cols, int width, int height) {
  if (panels.empty()) throw std::invalid_argument("plot_png: no panels for " + png_path);
  if (!have_gnuplot()) return false;
  const int ncols = cols > 0 ? cols : static_cast<int>(panels.size());
  const int nrows = (static_cast<int>(panels.size()) + ncols - 1) / ncols;
  std::string script = "set terminal pngcairo size " + std::to_string(width * ncols) + "," +
                       std::to_string(height * nrows) + " noenhanced font 'sans,10'\nset output " + quoted(png_path) +
                       "\nset multiplot layout " + std::to_string(nrows) + "," + std::to_string(ncols) + "\n";
  int block = 0;
  for (const Plot& p : panels) {
    script += "reset\nset grid\nset key top right\nset title " + quoted(p.title) + "\nset xlabel " + quoted(p.xlabel) +
              "\nset ylabel " + quoted(p.ylabel) + "\n" + (p.log_x ? "set logscale x\n" : "") +
              (p.log_y ? "set logscale y\n" : "");
    for (const std::string& g : p.gnuplot) script += g + "\n";
    std::string plot = "plot ";
    for (std::size_t i = 0; i < p.series.size(); ++i) {
      const Series& s = p.series[i];
      if (s.x.size() != s.y.size() || (!s.err.empty() && s.err.size() != s.y.size()))
        throw std::invalid_argument("plot_png: series '" + s.title + "' has " + std::to_string(s.x.size()) + " x, " +
                                    std::to_string(s.y.size()) + " y and " + std::to_string(s.err.size()) + " errors");
      const std::string name = "$d" + std::to_string(block++);
      script += name + " << EOD\n";
      for (std::size_t k = 0; k < s.x.size(); ++k) {
        script += fmt_g(s.x[k], 10);
        script += " ";
        script += fmt_g(s.y[k], 10);
        if (!s.err.empty()) {
          script += " ";
          script += fmt_g(s.err[k], 10);
        }
        script += "\n";
      }
      script += "EOD\n";
      plot += (i ? ", " : "") + name +
              (s.err.empty() ? " using 1:2 with linespoints" : " using 1:2:3 with yerrorlines") +
              " lw 2 pt 7 ps 0.6 title " + quoted(s.title);
    }
    script += (p.series.empty() ? "plot NaN notitle" : plot) + "\n";
  }
  script += "unset multiplot\n";
  const std::string script_path = png_path + ".gp";
  write_file(script_path, script);
  const int rc = std::system(("gnuplot " + quoted(script_path) + " 2>&1").c_str());
  std::filesystem::remove(script_path);
  if (rc != 0) std::fprintf(stderr, "(gnuplot failed to write %s)\n", png_path.c_str());
  return rc == 0;
}

}  // namespace rg::report
