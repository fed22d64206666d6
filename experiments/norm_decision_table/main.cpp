// norm_decision_table — the lecture's "which norm for which model" table beside the evidence that
// norm_vs_batch_size, prenorm_vs_postnorm and rmsnorm_cost measured. Trains nothing: it reads those
// experiments' long-form CSVs from the same --out directory (run them first; `make experiments`
// runs them in order), gathers the per-seed numbers each row rests on into one long-form CSV, and
// writes one Markdown table with every cell linked to its experiment. A source that is missing is
// reported as such in its row, never invented.
#include <filesystem>
#include <optional>

#include "common/experiment.h"

using namespace rg;

namespace {

// A source experiment's results, or nothing when its CSV is not in the output directory.
std::optional<rx::Results> load(const rx::Experiment& e, const std::string& name, const std::string& suffix = "") {
  const std::string path = e.args().out + "/" + name + suffix + ".csv";
  if (!std::filesystem::exists(path)) return std::nullopt;
  return rx::Results::load(path);
}

std::string link(const std::string& name) { return "[" + name + "](" + name + ".md)"; }

bool significant(const std::vector<double>& d) { return rx::significant_gain(d) || rx::significant_loss(d); }

}  // namespace

int main(int argc, char** argv) {
  rx::Experiment e("norm_decision_table",
                   "The lecture's norm decision table beside the evidence measured here "
                   "(reads the results of norm_vs_batch_size, prenorm_vs_postnorm and rmsnorm_cost)",
                   argc, argv);
  rx::Results ev({"row", "norm", "setting", "metric"}, {"value"});
  struct Row {
    std::string model, lecture, evidence, verdict;
  };
  std::vector<Row> rows;
  report::Plot cnn{"CNN on Fashion-MNIST (norm_vs_batch_size)", "batch size", "test accuracy (%)", true, false, {}, {}};
  report::Plot tfm{
      "Character Transformer by depth (prenorm_vs_postnorm)", "depth (blocks)", "validation NLL", true, false, {}, {}};
  report::Plot rms{"LayerNorm vs RMSNorm (rmsnorm_cost)", "seed", "best validation NLL", false, false, {}, {}};

  // CNN rows: test accuracy per norm and batch size.
  if (auto nb = load(e, "norm_vs_batch_size")) {
    const std::vector<std::string> norms{"bn", "gn", "ln", "none"};
    const std::map<std::string, std::string> names{
        {"bn", "BatchNorm"}, {"gn", "GroupNorm"}, {"ln", "LayerNorm"}, {"none", "no norm"}};
    for (const std::string& n : norms) {
      report::Series s{names.at(n), {}, {}, {}};
      for (const std::string& b : nb->levels("batch_size")) {
        const auto v = nb->values({{"norm", n}, {"batch_size", b}}, "test_acc");
        for (std::size_t i = 0; i < v.size(); ++i)
          ev.add({std::stoi(b) >= 32 ? "cnn" : "small-batch cnn", n, "B=" + b, "test_acc"}, i, {v[i]});
        s.x.push_back(std::stod(b)), s.y.push_back(100 * rx::mean(v)), s.err.push_back(100 * rx::stddev(v));
      }
      cnn.series.push_back(s);
    }
    // CNN: BatchNorm against the best other norm at the large batch sizes.
    std::string large, small;
    int bn_ok = 0, large_n = 0, gn_wins = 0, small_n = 0;
    for (const std::string& b : nb->levels("batch_size")) {
      const auto bn = nb->values({{"norm", "bn"}, {"batch_size", b}}, "test_acc");
      const auto gn = nb->values({{"norm", "gn"}, {"batch_size", b}}, "test_acc");
      const auto ln = nb->values({{"norm", "ln"}, {"batch_size", b}}, "test_acc");
      const auto other = rx::mean(gn) >= rx::mean(ln) ? gn : ln;
      const std::string other_name = rx::mean(gn) >= rx::mean(ln) ? "GN" : "LN";
      const auto d = rx::paired_diff(bn, other);
      const std::string cell = "B = " + b + ": BN − " + other_name + " = " + rx::mean_std(d, 2, 100) + " points";
      if (std::stoi(b) >= 32) {
        large += (large.empty() ? "" : "; ") + cell;
        ++large_n;
        bn_ok += !(significant(d) && rx::mean(d) < 0);  // BN not significantly worse than the best other norm
      } else {
        small += (small.empty() ? "" : "; ") + cell;
        ++small_n;
        gn_wins += significant(d) && rx::mean(d) < 0;  // GN/LN significantly better than BN
      }
    }
    rows.push_back({"CNN, batch ≥ 32", "BatchNorm", large + " (" + link("norm_vs_batch_size") + ")",
                    bn_ok == large_n ? "reproduced (BatchNorm at least as good as GN/LN)" : "not reproduced"});
    rows.push_back({"small-batch CNN (batch < 32)", "GroupNorm", small + " (" + link("norm_vs_batch_size") + ")",
                    gn_wins == small_n ? "reproduced"
                    : gn_wins > 0      ? "partly reproduced"
                                       : "not reproduced (BatchNorm as good or better at every small batch)"});
  } else {
    rows.push_back(
        {"CNN, batch ≥ 32", "BatchNorm", "norm_vs_batch_size.csv not found: run it first", "not measured here"});
    rows.push_back({"small-batch CNN (batch < 32)", "GroupNorm", "norm_vs_batch_size.csv not found: run it first",
                    "not measured here"});
  }

  // Transformer row: pre- against post-norm (LayerNorm) at depth, the lower peak learning rate, no warmup.
  if (auto pp = load(e, "prenorm_vs_postnorm")) {
    const std::string lr = pp->levels("lr").front();
    std::string cells;
    bool pre_better_deep = false, pre_never_worse = true;
    for (const std::string& depth : pp->levels("depth")) {
      const auto pre = pp->values({{"placement", "pre"}, {"depth", depth}, {"warmup", "0"}, {"lr", lr}}, "val_nll");
      const auto post = pp->values({{"placement", "post"}, {"depth", depth}, {"warmup", "0"}, {"lr", lr}}, "val_nll");
      for (std::size_t i = 0; i < pre.size(); ++i)
        ev.add({"transformer", "ln pre", "depth=" + depth, "val_nll"}, i, {pre[i]});
      for (std::size_t i = 0; i < post.size(); ++i)
        ev.add({"transformer", "ln post", "depth=" + depth, "val_nll"}, i, {post[i]});
      const auto d = rx::paired_diff(post, pre);  // > 0: pre-norm better
      cells += (cells.empty() ? "" : "; ") + ("depth " + depth + ": post − pre = " + rx::mean_std(d, 3) + " nats");
      if (depth == pp->levels("depth").back()) pre_better_deep = significant(d) && rx::mean(d) > 0;
      pre_never_worse = pre_never_worse && !(significant(d) && rx::mean(d) < -0.02);
    }
    for (const std::string placement : {"pre", "post"}) {
      report::Series s{placement + "-norm, no warmup, lr " + lr, {}, {}, {}};
      for (const std::string& depth : pp->levels("depth")) {
        const auto v = pp->values({{"placement", placement}, {"depth", depth}, {"warmup", "0"}, {"lr", lr}}, "val_nll");
        s.x.push_back(std::stod(depth)), s.y.push_back(rx::mean(v)), s.err.push_back(rx::stddev(v));
      }
      tfm.series.push_back(s);
    }
    rows.push_back(
        {"Transformer", "LayerNorm, pre-norm",
         "validation NLL without warmup, peak lr " + lr + ": " + cells + " (" + link("prenorm_vs_postnorm") + ")",
         pre_better_deep && pre_never_worse ? "reproduced (pre-norm better at the largest depth, never worse)"
         : pre_better_deep                  ? "partly reproduced (pre-norm better at the largest depth)"
                                            : "not reproduced"});
  } else {
    rows.push_back(
        {"Transformer", "LayerNorm, pre-norm", "prenorm_vs_postnorm.csv not found: run it first", "not measured here"});
  }

  // LLM row: RMSNorm against LayerNorm, cost and convergence (a character Transformer stands in for an LLM).
  auto rc = load(e, "rmsnorm_cost");
  auto rt = load(e, "rmsnorm_cost", "_training");
  if (rc && rt) {
    const auto saving = rc->values({{"part", "fwd+bwd"}, {"impl", "regrad"}}, "saving");
    double lo = 1, hi = -1;
    for (double s : saving) lo = std::min(lo, s), hi = std::max(hi, s);
    const auto ln = rt->values({{"norm", "ln"}}, "val_nll"), rm = rt->values({{"norm", "rms"}}, "val_nll");
    for (std::size_t i = 0; i < ln.size(); ++i) ev.add({"llm", "ln pre", "char transformer", "val_nll"}, i, {ln[i]});
    for (std::size_t i = 0; i < rm.size(); ++i) ev.add({"llm", "rms pre", "char transformer", "val_nll"}, i, {rm[i]});
    for (std::size_t i = 0; i < saving.size(); ++i)
      ev.add({"llm", "rms pre", "kernel case " + std::to_string(i), "fwd+bwd saving"}, 0, {saving[i]});
    const auto d = rx::paired_diff(rm, ln);
    char cost[160];
    std::snprintf(cost, sizeof cost, "fwd+bwd %.0f–%.0f %% cheaper than LayerNorm over %zu shape × thread cases",
                  100 * lo, 100 * hi, saving.size());
    const bool cheaper = lo > 0, no_worse = !(significant(d) && rx::mean(d) > 0);
    rows.push_back({"LLM (a character Transformer stands in)", "RMSNorm, pre-norm",
                    std::string(cost) + "; best validation NLL RMSNorm − LayerNorm = " + rx::mean_std(d, 4) +
                        " nats (" + link("rmsnorm_cost") + ")",
                    cheaper && no_worse ? "reproduced (cheaper, no worse)"
                    : no_worse          ? "partly reproduced (no worse, not cheaper everywhere)"
                                        : "not reproduced"});
    for (const std::string norm : {"ln", "rms"}) {
      report::Series s{norm == "ln" ? "LayerNorm" : "RMSNorm", {}, {}, {}};
      const auto v = norm == "ln" ? ln : rm;
      for (std::size_t i = 0; i < v.size(); ++i) s.x.push_back(static_cast<double>(i)), s.y.push_back(v[i]);
      rms.series.push_back(s);
    }
  } else {
    rows.push_back({"LLM", "RMSNorm, pre-norm", "rmsnorm_cost.csv / rmsnorm_cost_training.csv not found: run it first",
                    "not measured here"});
  }
  rows.push_back({"RNN", "LayerNorm", "no recurrent network is built in regrad", "not measured here"});

  report::write_file(e.path(".csv"), ev.csv());
  std::vector<report::Plot> panels;
  for (const report::Plot& p : {cnn, tfm, rms})
    if (!p.series.empty()) panels.push_back(p);
  if (panels.empty()) panels.push_back({"no source results found", "", "", false, false, {{"none", {0}, {0}, {}}}, {}});
  report::plot_png(e.path(".png"), panels, 0, 560, 420);

  std::string body =
      "The lecture's table, one row per model, beside what this repository's experiments measured "
      "(each cell links to the experiment's page, where the setup, all seeds and the exact command "
      "are). Differences are paired by seed, mean ± std; \"significant\" means more than 2 std away "
      "from 0.\n\n| model | the lecture's choice | measured here | verdict |\n|---|---|---|---|\n";
  for (const Row& r : rows)
    body += "| " + r.model + " | " + r.lecture + " | " + r.evidence + " | " + r.verdict + " |\n";
  body +=
      "\n![the evidence: CNN accuracy by batch size and norm; pre- and post-norm by depth; LayerNorm against "
      "RMSNorm](norm_decision_table.png)\n\nThe numbers each row rests on, per seed: "
      "[`norm_decision_table.csv`](norm_decision_table.csv).\n";
  std::vector<rx::Claim> claims;
  for (const Row& r : rows) claims.push_back({r.model + " → " + r.lecture, r.evidence, r.verdict});
  rx::write_page(e, "Which norm for which model: the lecture's table, measured",
                 "CNN → BatchNorm; small-batch CNN → GroupNorm; Transformer → LayerNorm (pre-norm); LLM → RMSNorm "
                 "(pre-norm); RNN → LayerNorm.",
                 body, claims);
  e.log("done: %s", e.path(".md").c_str());
  return 0;
}
