// early_stopping — "if val loss starts rising, stop; every serious script checkpoints on val loss".
// A wide MLP with no other regularization (no norm, no dropout, no weight decay, constant lr) on a
// 2,000-image Fashion-MNIST subset for 100 epochs; per epoch: train loss, validation NLL and
// accuracy, and the test metrics of the model at that epoch, so that the checkpoint chosen by
// validation NLL can be compared with the last epoch's model.
#include "common/experiment.h"

using namespace rg;

int main(int argc, char** argv) {
  rx::Experiment e("early_stopping", "Early stopping: the best-by-validation checkpoint against the last epoch", argc,
                   argv);
  const int64_t n_train = e.quick() ? 500 : 2000, epochs = e.quick() ? 8 : 100, n_val = e.quick() ? 500 : 5000;
  const int64_t n_test = e.quick() ? 1000 : 0;
  rx::Results res({"epoch"}, {"train_loss", "val_nll", "val_acc", "test_nll", "test_acc"});
  struct Run {
    int64_t best_epoch;
    train::Metrics best, last;
  };
  std::vector<Run> runs;
  for (uint64_t seed : e.seeds()) {
    const data::Splits d = rx::image_splits("fashion-mnist", n_train, n_val, seed, n_test);
    auto model = rx::image_model(d, "mlp", "none", seed);
    train::FitOptions o = rx::quiet_fit(seed);
    o.epochs = epochs;
    o.batch_size = 100;
    o.lr = 0.05;
    o.momentum = 0.9;
    o.weight_decay = 0.0;
    o.schedule = "const";
    o.keep_best = false;
    o.evaluate_test = false;
    const data::DataLoader test(d.x_test, d.y_test, 1000, false);
    Run run{0, {}, {}};
    double best_val = INFINITY;
    o.on_epoch = [&](const train::EpochRecord& r, nn::Module& net) {
      const train::Metrics t = train::evaluate(net, test);
      res.add({std::to_string(r.epoch)}, seed, {r.train_loss, r.val.nll, r.val.accuracy, t.nll, t.accuracy});
      if (r.val.nll < best_val) best_val = r.val.nll, run.best_epoch = r.epoch, run.best = t;
      run.last = t;
      if (r.epoch % 10 == 0 || r.epoch == epochs)
        e.log("seed %llu epoch %lld: train %.4f val %.4f (best epoch %lld)", static_cast<unsigned long long>(seed),
              static_cast<long long>(r.epoch), r.train_loss, r.val.nll, static_cast<long long>(run.best_epoch));
      return true;
    };
    train::fit(*model, d, o);
    runs.push_back(run);
  }
  report::write_file(e.path(".csv"), res.csv());

  // The plot: mean train and validation loss per epoch over seeds, the mean best epoch marked.
  report::Plot p{"Wide MLP on " + std::to_string(n_train) + " Fashion-MNIST images, no regularization",
                 "epoch",
                 "loss (NLL)",
                 false,
                 true,
                 {},
                 {}};
  report::Series tr{"train loss", {}, {}, {}}, va{"validation NLL", {}, {}, {}};
  for (int64_t ep = 1; ep <= epochs; ++ep) {
    const std::map<std::string, std::string> w{{"epoch", std::to_string(ep)}};
    tr.x.push_back(static_cast<double>(ep));
    tr.y.push_back(rx::mean(res.values(w, "train_loss")));
    va.x.push_back(static_cast<double>(ep));
    va.y.push_back(rx::mean(res.values(w, "val_nll")));
  }
  p.series = {tr, va};
  std::vector<double> best_epochs, best_acc, last_acc, best_nll, last_nll;
  for (const Run& r : runs) {
    best_epochs.push_back(static_cast<double>(r.best_epoch));
    best_acc.push_back(r.best.accuracy);
    last_acc.push_back(r.last.accuracy);
    best_nll.push_back(r.best.nll);
    last_nll.push_back(r.last.nll);
    p.gnuplot.push_back("set arrow from " + std::to_string(r.best_epoch) + ", graph 0 to " +
                        std::to_string(r.best_epoch) + ", graph 1 nohead dt 2 lc rgb 'gray'");
  }
  report::plot_png(e.path(".png"), {p});

  std::string body =
      "A 784-512-512-10 ReLU MLP (no normalization, no dropout, no weight decay; SGD, momentum 0.9, "
      "constant lr 0.05, batch 100) trained for " +
      std::to_string(epochs) + " epochs on " + std::to_string(n_train) + " Fashion-MNIST training images; " +
      std::to_string(n_val) + " held-out validation images pick the checkpoint. Test set: " +
      (n_test > 0 ? std::to_string(n_test) + " images" : std::string("all 10,000 images")) + ".\n\n";
  body += "![train and validation loss per epoch; dashed: each seed's best epoch](early_stopping.png)\n\n";
  body += "| model | epoch | test accuracy (%) | test NLL |\n|---|---|---|---|\n";
  body += "| best validation NLL (early stopping) | " + rx::mean_std(best_epochs, 1) + " | " +
          rx::mean_std(best_acc, 2, 100) + " | " + rx::mean_std(best_nll) + " |\n";
  body += "| last epoch | " + std::to_string(epochs) + " | " + rx::mean_std(last_acc, 2, 100) + " | " +
          rx::mean_std(last_nll) + " |\n\n";
  body += "Mean ± standard deviation over " + std::to_string(runs.size()) + " seeds (split, initialisation, order).\n";

  // Verdicts: does validation NLL rise after its minimum, and does the checkpoint beat the last epoch?
  std::vector<double> dnll, dacc;
  for (std::size_t i = 0; i < runs.size(); ++i)
    dnll.push_back(last_nll[i] - best_nll[i]), dacc.push_back(best_acc[i] - last_acc[i]);
  const bool nll_better = rx::significant_gain(dnll);
  const bool acc_better = rx::significant_gain(dacc);
  const bool acc_worse = rx::significant_loss(dacc);
  std::vector<rx::Claim> claims;
  claims.push_back(
      {"validation loss reaches a minimum, then rises while training loss keeps falling",
       "best validation epoch " + rx::mean_std(best_epochs, 1) + " of " + std::to_string(epochs) +
           "; final validation NLL " + rx::mean_std(res.values({{"epoch", std::to_string(epochs)}}, "val_nll")) +
           " against train loss " + rx::mean_std(res.values({{"epoch", std::to_string(epochs)}}, "train_loss")),
       rx::mean(best_epochs) < 0.5 * static_cast<double>(epochs) ? "reproduced" : "not reproduced"});
  claims.push_back({"the checkpoint chosen on validation loss beats the last epoch",
                    "test NLL " + rx::mean_std(best_nll) + " against " + rx::mean_std(last_nll) + ", accuracy " +
                        rx::mean_std(best_acc, 2, 100) + " % against " + rx::mean_std(last_acc, 2, 100) + " %",
                    nll_better ? (acc_better  ? "reproduced"
                                  : acc_worse ? "partly reproduced (NLL yes; accuracy is higher at the last epoch)"
                                              : "partly reproduced (NLL yes; accuracy not significantly different)")
                               : "not reproduced"});
  rx::write_page(e, "Early stopping: checkpoint on validation loss",
                 "If val loss starts rising, stop. Every serious training script checkpoints on val loss.", body,
                 claims);
  e.log("done: %s", e.path(".md").c_str());
  return 0;
}
