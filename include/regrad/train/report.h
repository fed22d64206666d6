// Writing results: CSV tables, Markdown tables and PNG plots (gnuplot, Debian's gnuplot-nox).
// Files are written to a temporary name and renamed, so a crash never leaves half a file.
#pragma once
#include <string>
#include <vector>

namespace rg::report {

struct Table {
  std::vector<std::string> columns;
  std::vector<std::vector<std::string>> rows;
  void add(std::vector<std::string> row);  // must have one cell per column
  std::string csv() const;
  std::string markdown() const;
};

// "%.4f"-style formatting without iostream boilerplate; fmt_g is "%.3g" (small differences).
std::string fmt(double value, int precision = 4);
std::string fmt_g(double value, int significant = 3);

// Writes `text` to `path` with write_file_atomic (a crash never leaves half a file).
void write_file(const std::string& path, const std::string& text);

// Plots columns of a CSV (x = column x_col, one line per y column, 1-based gnuplot numbering)
// into a PNG. Returns false, and prints why, when gnuplot is not installed or fails.
bool plot_png(const std::string& csv_path, const std::string& png_path, const std::string& title,
              const std::string& xlabel, const std::string& ylabel, int x_col, const std::vector<int>& y_cols,
              bool log_y = false);

// Line plots with gnuplot, several panels side by side in one PNG. Each series is drawn with
// lines and points, and with error bars where `err` is given (one per point).
struct Series {
  std::string title;
  std::vector<double> x, y, err;
};
struct Plot {
  std::string title, xlabel, ylabel;
  bool log_x = false, log_y = false;
  std::vector<Series> series;
  std::vector<std::string> gnuplot;  // extra commands for this panel ("set arrow from …", "set yrange […]")
};
// Returns false, and prints why, when gnuplot is not installed or fails. Panels are laid out in
// `cols` columns (0: all in one row); width and height are per panel, in pixels.
bool plot_png(const std::string& png_path, const std::vector<Plot>& panels, int cols = 0, int width = 640,
              int height = 420);

}  // namespace rg::report
