#include "regrad/train/fit.h"

#include <chrono>
#include <cmath>
#include <filesystem>
#include <sstream>
#include <stdexcept>

#include "regrad/autograd/autograd.h"
#include "regrad/data/loader.h"
#include "regrad/functional/cross_entropy.h"
#include "regrad/tensor/factory.h"
#include "regrad/tensor/file_io.h"
#include "regrad/train/report.h"

namespace rg::train {

namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

// The whole training state, each group under its own name prefix: model, optimizer buffers, the
// best model so far, progress counters and the random streams' offsets.
struct Progress {
  int64_t epoch = 0, step = 0, best_epoch = 0, since_best = 0;
  double best_val = INFINITY;
};

NamedTensors training_state(nn::Module& model, const optim::Optimizer& opt, const Generator& aug_gen, const Progress& p,
                            const NamedTensors& best) {
  NamedTensors s;
  for (const auto& [n, t] : model.state_dict()) s.emplace_back("model." + n, t);
  for (const auto& [n, t] : opt.state()) s.emplace_back("optim." + n, t);
  for (const auto& [n, t] : best) s.emplace_back("best." + n, t);
  s.emplace_back("meta.progress", tensor_i64({p.epoch, p.step, p.best_epoch, p.since_best,
                                              static_cast<int64_t>(default_generator().offset()),
                                              static_cast<int64_t>(aug_gen.offset())}));
  s.emplace_back("meta.best_val", scalar_tensor(p.best_val, DType::Float64));
  return s;
}

NamedTensors with_prefix(const NamedTensors& state, const std::string& prefix) {
  NamedTensors out;
  for (const auto& [n, t] : state)
    if (n.rfind(prefix, 0) == 0) out.emplace_back(n.substr(prefix.size()), t);
  return out;
}

const Tensor& find_tensor(const NamedTensors& state, const std::string& name, const std::string& file) {
  for (const auto& [n, t] : state)
    if (n == name) return t;
  throw std::runtime_error(file + ": not a training state (no '" + name + "'); was it written by save_state?");
}

// Restores a training state written by training_state; returns the progress it recorded.
Progress restore(const std::string& path, nn::Module& model, optim::Optimizer& opt, Generator& aug_gen,
                 NamedTensors& best) {
  const NamedTensors state = load_checkpoint(path);
  const std::vector<double> v = find_tensor(state, "meta.progress", path).tolist();
  if (v.size() != 6)
    throw std::runtime_error(path + ": 'meta.progress' has " + std::to_string(v.size()) + " values, expected 6");
  model.load_state_dict(with_prefix(state, "model."));
  opt.load_state(with_prefix(state, "optim."));
  best = with_prefix(state, "best.");
  default_generator().set_offset(static_cast<uint64_t>(v[4]));
  aug_gen.set_offset(static_cast<uint64_t>(v[5]));
  Progress p;
  p.epoch = static_cast<int64_t>(v[0]);
  p.step = static_cast<int64_t>(v[1]);
  p.best_epoch = static_cast<int64_t>(v[2]);
  p.since_best = static_cast<int64_t>(v[3]);
  p.best_val = find_tensor(state, "meta.best_val", path).item();
  return p;
}

report::Table epoch_log() {
  return {{"epoch", "train_loss", "train_acc", "val_nll", "val_acc", "val_ece", "lr", "seconds", "images_per_s",
           "val_last_nll"},
          {}};
}

// The rows of an existing per-epoch CSV for epochs before `first_epoch` (a resumed run keeps them).
void keep_earlier_rows(const std::string& path, int64_t first_epoch, report::Table& log) {
  if (path.empty() || !std::filesystem::exists(path)) return;
  std::istringstream in(read_file(path));
  std::string line;
  std::getline(in, line);  // header
  while (std::getline(in, line)) {
    std::vector<std::string> cells;
    std::istringstream ls(line);
    for (std::string cell; std::getline(ls, cell, ',');) cells.push_back(cell);
    if (cells.size() == log.columns.size() && std::stoll(cells[0]) < first_epoch) log.add(cells);
  }
}

void say(const FitOptions& o, const char* fmt, auto... args) {
  if (!o.progress) return;
  std::fprintf(o.progress, fmt, args...);
  std::fflush(o.progress);
}

}  // namespace

std::unique_ptr<optim::Optimizer> make_optimizer(const std::vector<Tensor>& params, const FitOptions& o) {
  if (o.optimizer == "sgd") return std::make_unique<optim::SGD>(params, o.lr, o.momentum, o.weight_decay);
  if (o.optimizer == "adamw") return std::make_unique<optim::AdamW>(params, o.lr, 0.9, 0.999, 1e-8, o.weight_decay);
  throw std::invalid_argument("unknown optimizer '" + o.optimizer + "' (expected sgd or adamw)");
}

FitResult fit(nn::Module& model, const data::Splits& d, const FitOptions& o) {
  if (o.epochs <= 0 || o.batch_size <= 0) throw std::invalid_argument("fit: epochs and batch_size must be positive");
  if (o.schedule != "cosine" && o.schedule != "const")
    throw std::invalid_argument("fit: unknown schedule '" + o.schedule + "' (expected cosine or const)");
  if (!d.images && (o.augment.any() || o.mixup > 0 || o.cutmix > 0))
    throw std::invalid_argument("fit: augmentation, Mixup and CutMix apply to images, not to character contexts");
  Generator aug_gen(o.seed + 99);
  manual_seed(o.seed);  // Dropout draws its masks from the default generator
  data::DataLoader train_loader(d.x_train, d.y_train, o.batch_size, true, true, o.seed);
  const data::DataLoader val_loader(d.x_val, d.y_val, o.eval_batch_size, false);
  const std::vector<Tensor> params = model.parameters();
  const std::unique_ptr<optim::Optimizer> opt = make_optimizer(params, o);
  const int64_t steps_per_epoch = train_loader.size(), total = steps_per_epoch * o.epochs;
  if (steps_per_epoch == 0)
    throw std::invalid_argument("fit: batch_size " + std::to_string(o.batch_size) + " is larger than the " +
                                std::to_string(d.x_train.size(0)) + " training examples (batches are full)");

  FitResult result;
  Progress p;
  NamedTensors best_state;
  report::Table log = epoch_log();
  if (!o.resume.empty()) {
    p = restore(o.resume, model, *opt, aug_gen, best_state);
    keep_earlier_rows(o.log_csv, p.epoch + 1, log);
    say(o, "resumed from %s after epoch %lld (step %lld)\n", o.resume.c_str(), static_cast<long long>(p.epoch),
        static_cast<long long>(p.step));
  }
  const bool validate = d.x_val.size(0) > 0;
  const auto t_start = Clock::now();
  result.stop_reason = "epochs";
  for (int64_t epoch = p.epoch + 1; epoch <= o.epochs; ++epoch) {
    train_loader.set_epoch(epoch);
    model.train();
    const auto t_epoch = Clock::now();
    double loss_sum = 0, correct = 0;
    int64_t seen = 0, targets_seen = 0;
    for (int64_t b = 0; b < steps_per_epoch; ++b, ++p.step) {
      opt->lr = o.schedule == "cosine" ? optim::warmup_cosine_lr(p.step, o.warmup, total, o.lr) : o.lr;
      data::Batch batch = train_loader.batch(b);
      if (d.images) batch.x = o.augment.apply(batch.x, aug_gen, d.mean, d.std);  // raw-pixel ops on normalised data
      if (o.transform_inputs) {
        const Shape shape = batch.x.shape();
        batch.x = o.transform_inputs(batch.x, aug_gen);
        if (batch.x.shape() != shape)
          throw std::invalid_argument("fit: transform_inputs returned " + to_string(batch.x.shape()) +
                                      " for a batch of " + to_string(shape));
      }
      Tensor target = batch.y;  // class indices, or soft targets after Mixup/CutMix
      if (o.mixup > 0 || o.cutmix > 0) {
        const bool use_cutmix =
            o.cutmix > 0 && (o.mixup == 0 || Generator::uniform_at(aug_gen.seed(), aug_gen.advance(1)) < 0.5);
        const data::Mixed m = use_cutmix ? data::cutmix(batch.x, batch.y, d.classes, o.cutmix, aug_gen)
                                         : data::mixup(batch.x, batch.y, d.classes, o.mixup, aug_gen);
        batch.x = m.images;
        target = m.targets;
      }
      const Tensor logits = model(batch.x);
      if (!is_floating(target.dtype()) && logits.dim() != target.dim() + 1)
        throw std::invalid_argument("fit: the model's logits " + to_string(logits.shape()) +
                                    " do not fit the targets " + to_string(target.shape()) +
                                    " (a character Transformer's ModelOptions::objective "
                                    "and data::SplitOptions::objective must be the same)");
      const Tensor loss = cross_entropy(logits, target, Reduction::Mean, o.label_smoothing);
      const double l = loss.item();
      if (!std::isfinite(l)) {
        result.diverged = true;
        result.stop_reason = "the loss became " + std::string(std::isnan(l) ? "NaN" : "infinite") + " at epoch " +
                             std::to_string(epoch) + ", step " + std::to_string(b);
        break;
      }
      opt->zero_grad(/*set_to_none=*/true);  // PyTorch 2's default: step() skips a parameter left without one
      loss.backward();
      if (o.after_backward) o.after_backward(p.step, l, model);
      if (o.max_grad_norm > 0) optim::clip_grad_norm_(params, o.max_grad_norm);
      opt->step();
      if (o.l1 > 0) optim::l1_proximal_(params, opt->lr, o.l1);
      const int64_t n_targets = count_targets(target);  // the loss is their mean (per position for (N, T))
      loss_sum += l * static_cast<double>(n_targets);
      correct += static_cast<double>(count_correct(logits.detach(), batch.y));
      targets_seen += n_targets;
      seen += batch.x.size(0);
      if (o.step_progress && ((b + 1) % std::max<int64_t>(1, steps_per_epoch / 5) == 0 || b + 1 == steps_per_epoch))
        say(o, "  epoch %lld/%lld [%4lld/%lld] loss %.4f acc %.4f  %.0f img/s  lr %.4g\n",
            static_cast<long long>(epoch), static_cast<long long>(o.epochs), static_cast<long long>(b + 1),
            static_cast<long long>(steps_per_epoch), loss_sum / static_cast<double>(targets_seen),
            correct / static_cast<double>(targets_seen), static_cast<double>(seen) / seconds_since(t_epoch), opt->lr);
    }
    if (result.diverged) break;
    EpochRecord r;
    r.epoch = epoch;
    r.train_loss = loss_sum / static_cast<double>(targets_seen);
    r.train_acc = correct / static_cast<double>(targets_seen);
    r.seconds = seconds_since(t_epoch);
    r.images_per_s = static_cast<double>(seen) / r.seconds;
    r.lr = opt->lr;
    if (validate) r.val = evaluate(model, val_loader);
    say(o, "epoch %lld: train loss %.4f acc %.4f | val nll %.4f acc %.4f ece %.4f | %.1f s, %.0f img/s\n",
        static_cast<long long>(epoch), r.train_loss, r.train_acc, r.val.nll, r.val.accuracy, r.val.ece, r.seconds,
        r.images_per_s);
    if (validate && d.y_val.dim() == 2 && !is_floating(d.y_val.dtype()))
      say(o, "  val nll of the last position alone (the 'last' objective's measure): %.4f\n", r.val.last_nll);
    result.history.push_back(r);
    log.add({std::to_string(epoch), report::fmt(r.train_loss), report::fmt(r.train_acc), report::fmt(r.val.nll),
             report::fmt(r.val.accuracy), report::fmt(r.val.ece), report::fmt_g(r.lr), report::fmt(r.seconds, 2),
             report::fmt(r.images_per_s, 0), report::fmt(r.val.last_nll)});
    if (!o.log_csv.empty()) report::write_file(o.log_csv, log.csv());
    p.epoch = epoch;
    bool stop = false;
    if (!validate || r.val.nll < p.best_val) {  // without validation, the last epoch is the best
      p.best_val = validate ? r.val.nll : 0.0;
      p.best_epoch = epoch;
      p.since_best = 0;
      if (o.keep_best || !o.checkpoint.empty()) {
        best_state.clear();
        for (const auto& [name, t] : model.state_dict()) best_state.emplace_back(name, t.detach().clone());
      }
      if (!o.checkpoint.empty()) save_checkpoint(o.checkpoint, best_state);
    } else if (o.patience > 0 && ++p.since_best >= o.patience) {
      say(o, "early stopping: no better val loss for %lld epochs\n", static_cast<long long>(o.patience));
      result.stop_reason = "early stopping";
      stop = true;
    }
    if (!o.save_state.empty()) save_checkpoint(o.save_state, training_state(model, *opt, aug_gen, p, best_state));
    if (!stop && o.on_epoch && !o.on_epoch(r, model)) {
      result.stop_reason = "callback";
      stop = true;
    }
    if (stop) break;
  }
  if (o.keep_best && !best_state.empty() && !result.diverged) model.load_state_dict(best_state);
  result.best_epoch = p.best_epoch;
  result.best_val_nll = p.best_val;
  result.steps = p.step;
  if (o.evaluate_test && !result.diverged)
    result.test = evaluate(model, data::DataLoader(d.x_test, d.y_test, o.eval_batch_size, false));
  result.seconds = seconds_since(t_start);
  return result;
}

}  // namespace rg::train
