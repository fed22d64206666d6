// report — gathers every experiment's claims (NAME.claims.tsv) into REPORT.md, and with --check
// verifies that each experiment wrote its CSV (the documented columns, finite numbers), its
// Markdown page and its PNG. `make experiments` and `make experiments-quick` run it last.
#include <CLI/CLI.hpp>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "regrad/regrad.h"

namespace fs = std::filesystem;

namespace {

struct Entry {
  const char* name;
  const char* session;  // the lecture session
  const char* header;   // the CSV's first line, as experiments/README.md documents it
};

// In the lecture's order.
const Entry kExperiments[] = {
    {"double_descent", "1", "part,size,seed,params,train_loss,test_loss,train_err,test_err"},
    {"l1_vs_l2", "1", "penalty,strength,seed,test_acc,zero_frac,l2_norm,l1_norm"},
    {"early_stopping", "1", "epoch,seed,train_loss,val_nll,val_acc,test_nll,test_acc"},
    {"augmentation", "1", "dataset,augmentation,split,seed,accuracy,nll"},
    {"mixup_cutmix", "1", "regime,method,seed,test_acc,test_nll,test_ece"},
    {"label_smoothing", "1", "noise,epsilon,seed,test_acc,test_nll,test_ece,confidence,logit_norm"},
    {"regularization_stack", "1", "weight_decay,randaugment,label_smoothing,seed,test_acc,test_nll,test_ece"},
    {"dropout", "2", "model,p,seed,train_acc,test_acc,gap,train_nll,test_nll,nll_gap,test_acc_no_eval"},
    {"batchnorm_modes", "2", "part,model,setting,x,metric,seed,value"},
    {"norm_vs_batch_size", "2", "norm,batch_size,seed,test_acc,test_nll,ms_per_step,diverged"},
    {"rmsnorm_cost", "2", "part,impl,rows,width,threads,seed,layernorm_ms,rmsnorm_ms,saving"},
    {"prenorm_vs_postnorm", "2",
     "placement,depth,warmup,lr,seed,val_nll,val_last_nll,diverged,grad_ratio_init,grad_ratio_100,ms_per_step"},
    {"norm_decision_table", "2", "row,norm,setting,metric,seed,value"},
};

std::string slurp(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

// Problems with one experiment's outputs ("" when none).
std::string check(const fs::path& dir, const Entry& e) {
  const fs::path csv = dir / (std::string(e.name) + ".csv");
  for (const char* ext : {".csv", ".md", ".png", ".claims.tsv"})
    if (!fs::exists(dir / (std::string(e.name) + ext)) || fs::file_size(dir / (std::string(e.name) + ext)) == 0)
      return std::string(e.name) + ext + " is missing or empty";
  if (slurp(dir / (std::string(e.name) + ".png")).rfind("\x89PNG", 0) != 0)
    return std::string(e.name) + ".png is not a PNG";
  std::istringstream in(slurp(csv));
  std::string line;
  std::getline(in, line);
  if (line != e.header) return csv.string() + ": header '" + line + "', documented '" + e.header + "'";
  const std::size_t columns = static_cast<std::size_t>(std::count(line.begin(), line.end(), ',')) + 1;
  std::size_t seed_col = 0;
  {
    std::istringstream h(line);
    std::string c;
    for (std::size_t i = 0; std::getline(h, c, ','); ++i)
      if (c == "seed") seed_col = i;
  }
  int rows = 0;
  while (std::getline(in, line)) {
    ++rows;
    std::vector<std::string> cells;
    std::istringstream ls(line);
    for (std::string c; std::getline(ls, c, ',');) cells.push_back(c);
    if (cells.size() != columns)
      return csv.string() + ": row " + std::to_string(rows) + " has " + std::to_string(cells.size()) + " cells";
    for (std::size_t i = seed_col + 1; i < cells.size(); ++i) {  // the metrics
      char* end = nullptr;
      const double v = std::strtod(cells[i].c_str(), &end);
      if (end == cells[i].c_str() || *end != '\0' || !std::isfinite(v))
        return csv.string() + ": row " + std::to_string(rows) + " has '" + cells[i] + "' in a metric column";
    }
  }
  if (rows == 0) return csv.string() + ": no rows";
  return "";
}

}  // namespace

int main(int argc, char** argv) {
  std::string dir = "experiments/results";
  bool check_all = false;
  std::vector<std::string> only;
  CLI::App app{"Gathers the experiments' claims into REPORT.md; --check verifies every experiment's outputs"};
  app.add_option("--out", dir, "the experiments' output directory")->capture_default_str();
  app.add_flag("--check", check_all,
               "fail unless every experiment wrote its CSV (documented columns, finite "
               "metrics), Markdown page and PNG");
  app.add_option("--experiments", only, "check only these (default: every experiment of the lecture)")->delimiter(',');
  CLI11_PARSE(app, argc, argv);

  int failures = 0;
  std::string md =
      "# The lecture's claims, measured\n\n"
      "One row per claim; each experiment's page has the tables, plots, seeds and exact command. "
      "Regenerate with `make experiments`.\n\n"
      "| session | claim | experiment | measured | verdict |\n|---|---|---|---|---|\n";
  for (const Entry& e : kExperiments) {
    const fs::path claims = fs::path(dir) / (std::string(e.name) + ".claims.tsv");
    const bool listed = only.empty() || std::find(only.begin(), only.end(), e.name) != only.end();
    if (check_all && listed) {
      const std::string problem = check(dir, e);
      std::printf("%-22s %s\n", e.name, problem.empty() ? "ok" : problem.c_str());
      failures += !problem.empty();
    }
    if (!fs::exists(claims)) continue;
    std::istringstream in(slurp(claims));
    for (std::string line; std::getline(in, line);) {
      std::vector<std::string> f;
      std::istringstream ls(line);
      for (std::string c; std::getline(ls, c, '\t');) f.push_back(c);
      if (f.size() != 3) continue;
      md += "| " + std::string(e.session) + " | " + f[0] + " | [" + e.name + "](" + e.name + ".md) | " + f[1] + " | " +
            f[2] + " |\n";
    }
  }
  rg::report::write_file(dir + "/REPORT.md", md);
  std::printf("wrote %s/REPORT.md\n", dir.c_str());
  if (check_all) std::printf("%d experiments with missing or malformed outputs\n", failures);
  return failures == 0 ? 0 : 1;
}
