// regrad train: one model on one dataset, the regularizers switchable by flags.
#include <omp.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <sstream>

#include "commands.h"
#include "regrad/regrad.h"

namespace regrad_cli {

using namespace rg;

CLI::App* add_train_command(CLI::App& app, TrainOptions& o) {
  auto* cmd = app.add_subcommand("train", "Train a model; prints progress, per-epoch validation and a final "
                                          "'test_acc= test_nll= test_ece=' line");
  cmd->add_option("--model", o.model, "mlp (784-512-512-10), cnn (2 conv blocks), resnet-small or transformer-char")
      ->check(CLI::IsMember({"mlp", "cnn", "resnet-small", "transformer-char"}))->capture_default_str();
  cmd->add_option("--dataset", o.dataset,
                  "fashion-mnist, cifar10 (binary batches), image-folder (root/class/*.png) or words (character level)")
      ->check(CLI::IsMember({"fashion-mnist", "cifar10", "image-folder", "words"}))->capture_default_str();
  cmd->add_option("--block-size", o.block_size, "words: context length")->check(CLI::Range(1, 64))->capture_default_str();
  cmd->add_option("--embed", o.embed, "transformer-char: embedding width")->check(CLI::PositiveNumber)->capture_default_str();
  cmd->add_option("--heads", o.heads, "transformer-char: attention heads")->check(CLI::PositiveNumber)->capture_default_str();
  cmd->add_option("--layers", o.layers, "transformer-char: blocks")->check(CLI::PositiveNumber)->capture_default_str();
  cmd->add_option("--placement", o.placement, "transformer-char: norm placement, pre or post")
      ->check(CLI::IsMember({"pre", "post"}))->capture_default_str();
  cmd->add_option("--train-subset", o.train_subset, "train on the first N training examples only (0: all)")
      ->capture_default_str();
  cmd->add_option("--data-dir", o.data_dir, std::string("dataset directory (default ") + data::kFashionMnistDir +
                                                "; required for cifar10 and image-folder)");
  cmd->add_option("--image-size", o.image_size, "image-folder: images resized to this size")->capture_default_str();
  cmd->add_option("--test-fraction", o.test_fraction, "image-folder: share held out as the test set")
      ->check(CLI::Range(0.05, 0.5))->capture_default_str();
  cmd->add_option("--epochs", o.epochs, "epochs")->check(CLI::PositiveNumber)->capture_default_str();
  cmd->add_option("--batch-size", o.batch_size, "mini-batch size")->check(CLI::PositiveNumber)->capture_default_str();
  cmd->add_option("--lr", o.lr, "peak learning rate")->check(CLI::PositiveNumber)->capture_default_str();
  cmd->add_option("--optimizer", o.optimizer, "sgd (momentum, coupled L2) or adamw (decoupled decay)")
      ->check(CLI::IsMember({"sgd", "adamw"}))->capture_default_str();
  cmd->add_option("--momentum", o.momentum, "SGD momentum")->capture_default_str();
  cmd->add_option("--weight-decay", o.weight_decay, "L2 (sgd) or decoupled (adamw) weight decay")->capture_default_str();
  cmd->add_option("--l1", o.l1, "L1 penalty, applied as a proximal soft-threshold step")->capture_default_str();
  cmd->add_option("--schedule", o.schedule, "cosine (with --warmup steps) or const")
      ->check(CLI::IsMember({"cosine", "const"}))->capture_default_str();
  cmd->add_option("--warmup", o.warmup, "linear warmup steps")->capture_default_str();
  cmd->add_option("--dropout", o.dropout, "drop probability p of the Dropout layers (0 removes them)")
      ->check(CLI::Range(0.0, 1.0))->capture_default_str();
  cmd->add_option("--norm", o.norm, "bn, gn, ln, rms or none (transformer-char: ln or rms)")->check(CLI::IsMember({"bn", "gn", "ln", "rms", "none"}))
      ->capture_default_str();
  cmd->add_option("--label-smoothing", o.label_smoothing, "label smoothing epsilon")->check(CLI::Range(0.0, 1.0))
      ->capture_default_str();
  cmd->add_option("--augment", o.augment, "per-batch augmentation: flip, crop (4-pixel padding), or flip,crop");
  cmd->add_option("--random-erasing", o.random_erasing, "random erasing probability")->check(CLI::Range(0.0, 1.0));
  cmd->add_option("--mixup", o.mixup, "Mixup alpha (0: off); targets become soft")->check(CLI::NonNegativeNumber);
  cmd->add_option("--cutmix", o.cutmix, "CutMix alpha (0: off; with --mixup, each batch picks one at random)")
      ->check(CLI::NonNegativeNumber);
  cmd->add_option("--max-grad-norm", o.max_grad_norm, "clip the gradient norm (0: off)")->capture_default_str();
  cmd->add_option("--val-size", o.val_size, "training images held out for validation")->capture_default_str();
  cmd->add_option("--patience", o.patience, "early stopping: epochs without a better val loss (0: off)")->capture_default_str();
  cmd->add_option("--seed", o.seed, "seed for the split, initialisation, shuffling and dropout")->capture_default_str();
  cmd->add_option("--threads", o.threads, "OpenMP threads (0: OMP_NUM_THREADS or all cores)")->capture_default_str();
  cmd->add_option("--log", o.log, "per-epoch CSV log (default experiments/results/train_<model>.csv)");
  cmd->add_option("--checkpoint", o.checkpoint, "write the best model here (atomically)");
  cmd->add_option("--save-state", o.save_state, "after every epoch, write the full training state here (atomically)");
  cmd->add_option("--resume", o.resume, "continue from a --save-state file: the same numbers as an uninterrupted run")
      ->check(CLI::ExistingFile);
  return cmd;
}

// The full training state: model, optimizer buffers, random streams, progress and the best model
// so far, each group under its own name prefix.
static train::NamedTensors training_state(nn::Module& model, const optim::Optimizer& opt, const Generator& aug_gen,
                                          int64_t epoch, int64_t step, double best_val, int64_t best_epoch,
                                          int64_t since_best, const train::NamedTensors& best) {
  train::NamedTensors s;
  for (const auto& [n, t] : train::state_dict(model)) s.emplace_back("model." + n, t);
  for (const auto& [n, t] : opt.state()) s.emplace_back("optim." + n, t);
  for (const auto& [n, t] : best) s.emplace_back("best." + n, t);
  s.emplace_back("meta.progress", tensor_i64({epoch, step, best_epoch, since_best,
                                              static_cast<int64_t>(default_generator().offset()),
                                              static_cast<int64_t>(aug_gen.offset())}));
  s.emplace_back("meta.best_val", scalar_tensor(best_val, DType::Float64));
  return s;
}

// The tensors of `state` under `prefix`, with the prefix removed.
static train::NamedTensors with_prefix(const train::NamedTensors& state, const std::string& prefix) {
  train::NamedTensors out;
  for (const auto& [n, t] : state)
    if (n.rfind(prefix, 0) == 0) out.emplace_back(n.substr(prefix.size()), t);
  return out;
}

static const Tensor& find_tensor(const train::NamedTensors& state, const std::string& name, const std::string& file) {
  for (const auto& [n, t] : state)
    if (n == name) return t;
  throw std::runtime_error(file + ": not a training state (no '" + name + "'); was it written by --save-state?");
}

static void check_finite(double loss, int64_t epoch, int64_t step) {
  if (!std::isfinite(loss))
    throw std::runtime_error("the loss became " + std::string(std::isnan(loss) ? "NaN" : "infinite") + " at epoch " +
                             std::to_string(epoch) + ", step " + std::to_string(step) +
                             "; stopping (try a smaller --lr or --max-grad-norm)");
}

// The train / validation / test tensors, ready for the loaders.
struct Splits {
  Tensor x_train, y_train, x_val, y_val, x_test, y_test;
  int64_t classes = 10;
  bool images = true;
  std::string source;
};

// Images are normalised per channel with the training set's mean and std, and --val-size training
// images are held out by a seeded shuffle. The word list is split 80/10/10 by words (seeded) into
// (block_size context → next character) pairs.
static Splits load_splits(const TrainOptions& o) {
  Splits s;
  if (o.dataset == "words") {
    s.source = o.data_dir.empty() ? data::kDefaultWordsPath : o.data_dir;
    std::vector<std::string> words = data::load_words(s.source);
    Generator gen(o.seed + 29);
    data::shuffle(words, gen);
    const std::size_t n1 = words.size() * 8 / 10, n2 = words.size() * 9 / 10;
    auto part = [&](std::size_t a, std::size_t b) {
      return data::char_contexts(std::vector<std::string>(words.begin() + a, words.begin() + b), o.block_size);
    };
    const data::CharDataset tr = part(0, n1), va = part(n1, n2), te = part(n2, words.size());
    s = {tr.X, tr.Y, va.X, va.Y, te.X, te.Y, data::kVocab, false, s.source};
  } else {
    s.source = o.data_dir.empty() ? data::kFashionMnistDir : o.data_dir;
    data::ImageDataset train_all, test;
    if (o.dataset == "fashion-mnist") {
      train_all = data::load_fashion_mnist(s.source, true);
      test = data::load_fashion_mnist(s.source, false);
    } else if (o.data_dir.empty()) {
      throw std::invalid_argument("--data-dir is required for --dataset " + o.dataset);
    } else if (o.dataset == "cifar10") {
      train_all = data::load_cifar10(s.source, true);
      test = data::load_cifar10(s.source, false);
    } else {  // an image folder, split into train and test by a seeded shuffle
      const data::ImageFolder folder = data::load_image_folder(s.source, o.image_size);
      s.classes = static_cast<int64_t>(folder.classes.size());
      const int64_t n = folder.data.images.size(0), n_test = std::max<int64_t>(1, static_cast<int64_t>(o.test_fraction * n));
      const data::Batch all = data::DataLoader(folder.data.images, folder.data.labels, n, true, false, o.seed + 23).batch(0);
      test = {slice(all.x, 0, 0, n_test), slice(all.y, 0, 0, n_test)};
      train_all = {slice(all.x, 0, n_test, n), slice(all.y, 0, n_test, n)};
    }
    const Tensor mean = rg::mean(train_all.images, {0, 2, 3}, true).detach();
    const Tensor std = rg::sqrt(var(train_all.images, {0, 2, 3}, false, true) + 1e-12).detach();
    auto normalise = [&](const Tensor& x) { return ((x - mean) / std).detach(); };
    const int64_t n_all = train_all.images.size(0);
    if (o.val_size < 0 || o.val_size >= n_all)
      throw std::invalid_argument("--val-size must be in [0, " + std::to_string(n_all) + ")");
    const data::Batch shuffled = data::DataLoader(train_all.images, train_all.labels, n_all, true, false, o.seed + 17).batch(0);
    const int64_t n_train = n_all - o.val_size;
    s.x_train = normalise(slice(shuffled.x, 0, 0, n_train));
    s.y_train = slice(shuffled.y, 0, 0, n_train);
    s.x_val = normalise(slice(shuffled.x, 0, n_train, n_all));
    s.y_val = slice(shuffled.y, 0, n_train, n_all);
    s.x_test = normalise(test.images);
    s.y_test = test.labels;
  }
  if (o.train_subset > 0 && o.train_subset < s.x_train.size(0)) {  // a quick run on the first examples
    s.x_train = slice(s.x_train, 0, 0, o.train_subset);
    s.y_train = slice(s.y_train, 0, 0, o.train_subset);
  }
  return s;
}

int run_train(const TrainOptions& o) {
  if (o.threads > 0) omp_set_num_threads(static_cast<int>(o.threads));
  const data::AugmentSpec augment = data::AugmentSpec::parse(o.augment, o.random_erasing);
  if (o.dataset == "words" && (!o.augment.empty() || o.random_erasing > 0 || o.mixup > 0 || o.cutmix > 0))
    throw std::invalid_argument("augmentation, Mixup and CutMix apply to images, not to --dataset words");
  Generator aug_gen(o.seed + 99);
  manual_seed(o.seed);  // Dropout draws its masks from the default generator
  std::printf("regrad train: %s on %s, %s, lr %g, weight decay %g, l1 %g, dropout %g, norm %s, label smoothing %g, "
              "augment '%s', erasing %g, mixup %g, cutmix %g, seed %llu, %d threads\n",
              o.model.c_str(), o.dataset.c_str(), o.optimizer.c_str(), o.lr, o.weight_decay, o.l1, o.dropout,
              o.norm.c_str(), o.label_smoothing, o.augment.c_str(), o.random_erasing, o.mixup, o.cutmix,
              static_cast<unsigned long long>(o.seed), omp_get_max_threads());

  const Splits d = load_splits(o);
  data::DataLoader train_loader(d.x_train, d.y_train, o.batch_size, true, true, o.seed);
  data::DataLoader val_loader(d.x_val, d.y_val, 1000, false);
  data::DataLoader test_loader(d.x_test, d.y_test, 1000, false);
  std::printf("data: %lld train, %lld val, %lld test %s from %s\n", static_cast<long long>(d.x_train.size(0)),
              static_cast<long long>(d.x_val.size(0)), static_cast<long long>(d.x_test.size(0)),
              d.images ? "images" : "contexts", d.source.c_str());

  std::shared_ptr<nn::Module> model;
  if (o.model == "transformer-char") {
    if (o.dataset != "words") throw std::invalid_argument("--model transformer-char trains on --dataset words");
    model = std::make_shared<train::CharTransformer>(d.classes, o.block_size, o.embed, o.heads, o.layers,
                                                     nn::parse_placement(o.placement), o.norm, o.seed);
  } else {
    if (!d.images) throw std::invalid_argument("--dataset words needs --model transformer-char");
    model = train::make_model(o.model, o.norm, o.dropout, o.seed, d.x_train.size(1), d.x_train.size(2), d.classes);
  }
  const std::vector<Tensor> params = model->parameters();
  int64_t count = 0;
  for (const Tensor& p : params) count += p.numel();
  std::printf("model: %lld parameters\n", static_cast<long long>(count));
  std::unique_ptr<optim::Optimizer> opt;
  if (o.optimizer == "sgd") opt = std::make_unique<optim::SGD>(params, o.lr, o.momentum, o.weight_decay);
  else opt = std::make_unique<optim::AdamW>(params, o.lr, 0.9, 0.999, 1e-8, o.weight_decay);

  report::Table log{{"epoch", "train_loss", "train_acc", "val_nll", "val_acc", "val_ece", "lr", "seconds", "images_per_s"}, {}};
  const std::string log_path = o.log.empty() ? "experiments/results/train_" + o.model + ".csv" : o.log;
  const int64_t steps_per_epoch = train_loader.size(), total = steps_per_epoch * o.epochs;
  double best_val = INFINITY;
  int64_t best_epoch = 0, since_best = 0, step = 0, first_epoch = 1;
  train::NamedTensors best_state;
  if (!o.resume.empty()) {
    const train::NamedTensors state = train::load_checkpoint(o.resume);
    const std::vector<double> progress = find_tensor(state, "meta.progress", o.resume).tolist();
    train::load_state_dict(*model, with_prefix(state, "model."));
    opt->load_state(with_prefix(state, "optim."));
    best_state = with_prefix(state, "best.");
    first_epoch = static_cast<int64_t>(progress[0]) + 1;
    step = static_cast<int64_t>(progress[1]);
    best_epoch = static_cast<int64_t>(progress[2]);
    since_best = static_cast<int64_t>(progress[3]);
    default_generator().set_offset(static_cast<uint64_t>(progress[4]));
    aug_gen.set_offset(static_cast<uint64_t>(progress[5]));
    best_val = find_tensor(state, "meta.best_val", o.resume).item();
    if (std::filesystem::exists(log_path)) {  // keep the earlier epochs' rows
      std::istringstream in(read_file(log_path));
      std::string line;
      std::getline(in, line);  // header
      while (std::getline(in, line)) {
        std::vector<std::string> cells;
        std::istringstream ls(line);
        for (std::string cell; std::getline(ls, cell, ',');) cells.push_back(cell);
        if (cells.size() == log.columns.size() && std::stoll(cells[0]) < first_epoch) log.add(cells);
      }
    }
    std::printf("resumed from %s after epoch %lld (step %lld)\n", o.resume.c_str(),
                static_cast<long long>(first_epoch - 1), static_cast<long long>(step));
  }
  const auto t_start = std::chrono::steady_clock::now();
  for (int64_t epoch = first_epoch; epoch <= o.epochs; ++epoch) {
    train_loader.set_epoch(epoch);
    model->train();
    const auto t_epoch = std::chrono::steady_clock::now();
    double loss_sum = 0, correct = 0;
    int64_t seen = 0;
    for (int64_t b = 0; b < steps_per_epoch; ++b, ++step) {
      opt->lr = o.schedule == "cosine" ? optim::warmup_cosine_lr(step, o.warmup, total, o.lr) : o.lr;
      data::Batch batch = train_loader.batch(b);
      if (d.images) batch.x = augment.apply(batch.x, aug_gen);
      Tensor target = batch.y;  // class indices, or soft targets after Mixup/CutMix
      if (o.mixup > 0 || o.cutmix > 0) {
        const bool use_cutmix = o.cutmix > 0 && (o.mixup == 0 || Generator::uniform_at(aug_gen.seed(), aug_gen.advance(1)) < 0.5);
        const data::Mixed m = use_cutmix ? data::cutmix(batch.x, batch.y, d.classes, o.cutmix, aug_gen)
                                         : data::mixup(batch.x, batch.y, d.classes, o.mixup, aug_gen);
        batch.x = m.images;
        target = m.targets;
      }
      const Tensor logits = (*model)(batch.x);
      const Tensor loss = cross_entropy(logits, target, Reduction::Mean, o.label_smoothing);
      const double l = loss.item();
      check_finite(l, epoch, b);
      opt->zero_grad();
      loss.backward();
      if (o.max_grad_norm > 0) optim::clip_grad_norm_(params, o.max_grad_norm);
      opt->step();
      if (o.l1 > 0) optim::l1_proximal_(params, opt->lr, o.l1);
      const int64_t n = batch.x.size(0);
      loss_sum += l * static_cast<double>(n);
      correct += static_cast<double>(train::count_correct(logits.detach(), batch.y));
      seen += n;
      if ((b + 1) % std::max<int64_t>(1, steps_per_epoch / 5) == 0 || b + 1 == steps_per_epoch) {
        const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t_epoch).count();
        std::printf("  epoch %lld/%lld [%4lld/%lld] loss %.4f acc %.4f  %.0f img/s  lr %.4g\n",
                    static_cast<long long>(epoch), static_cast<long long>(o.epochs), static_cast<long long>(b + 1),
                    static_cast<long long>(steps_per_epoch), loss_sum / static_cast<double>(seen),
                    correct / static_cast<double>(seen), static_cast<double>(seen) / secs, opt->lr);
        std::fflush(stdout);
      }
    }
    const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t_epoch).count();
    const train::Metrics val = train::evaluate(*model, val_loader);
    std::printf("epoch %lld: train loss %.4f acc %.4f | val nll %.4f acc %.4f ece %.4f | %.1f s, %.0f img/s\n",
                static_cast<long long>(epoch), loss_sum / static_cast<double>(seen), correct / static_cast<double>(seen),
                val.nll, val.accuracy, val.ece, secs, static_cast<double>(seen) / secs);
    log.add({std::to_string(epoch), report::fmt(loss_sum / static_cast<double>(seen)),
             report::fmt(correct / static_cast<double>(seen)), report::fmt(val.nll), report::fmt(val.accuracy),
             report::fmt(val.ece), report::fmt_g(opt->lr), report::fmt(secs, 2), report::fmt(static_cast<double>(seen) / secs, 0)});
    report::write_file(log_path, log.csv());
    if (val.nll < best_val || o.val_size == 0) {  // early stopping keeps the best model by val loss
      best_val = val.nll;
      best_epoch = epoch;
      since_best = 0;
      best_state.clear();
      for (const auto& [name, t] : train::state_dict(*model)) best_state.emplace_back(name, t.detach().clone());
      if (!o.checkpoint.empty()) train::save_checkpoint(o.checkpoint, best_state);
    } else if (o.patience > 0 && ++since_best >= o.patience) {
      std::printf("early stopping: no better val loss for %lld epochs\n", static_cast<long long>(o.patience));
      break;
    }
    if (!o.save_state.empty())
      train::save_checkpoint(o.save_state, training_state(*model, *opt, aug_gen, epoch, step, best_val, best_epoch,
                                                          since_best, best_state));
  }
  train::load_state_dict(*model, best_state);
  const train::Metrics t = train::evaluate(*model, test_loader);
  const double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - t_start).count();
  std::printf("best epoch %lld (val nll %.4f); wall %.1f s; log %s\n", static_cast<long long>(best_epoch), best_val, wall,
              log_path.c_str());
  std::printf("test_acc=%.4f test_nll=%.4f test_ece=%.4f\n", t.accuracy, t.nll, t.ece);
  return 0;
}

}  // namespace regrad_cli
