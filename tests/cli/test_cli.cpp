// The command line as a user meets it: exit codes, usage on bad arguments, files written.
#include <unistd.h>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>

#include <stb_image_write.h>

#include "../test_util.h"

using rg::test::contains;
namespace fs = std::filesystem;

// Files of this test run only (test_util.h): runs side by side on one machine never share one.
static std::string tmp(const std::string& name) { return rg::test::tmp_path("cli/" + name); }

struct Run {
  int rc;
  std::string out;
};

static Run run(const std::string& args) {
  const std::string cmd = std::string(REGRAD_CLI) + " " + args + " 2>&1";
  FILE* p = popen(cmd.c_str(), "r");
  REQUIRE(p);
  std::string out;
  char buf[4096];
  while (std::size_t n = fread(buf, 1, sizeof buf, p)) out.append(buf, n);
  const int status = pclose(p);
  return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, out};
}

static const std::string ref = std::string(REGRAD_SOURCE_DIR) + "/tests/reference/data/";

// The number after `key` (e.g. "test_acc=") in a run's output; NaN when absent.
static double metric(const std::string& out, const std::string& key) {
  const auto at = out.rfind(key);
  return at == std::string::npos ? NAN : std::strtod(out.c_str() + at + key.size(), nullptr);
}

TEST_CASE("regrad --help and bad subcommands") {
  Run r = run("--help");
  CHECK(r.rc == 0);
  for (const char* line : {"Check every primitive op's backward", "Run one fused layer forward and backward"})
    CHECK(contains(r.out, line));  // the gradcheck and op subcommands' descriptions
  r = run("frobnicate");
  CHECK(r.rc == 2);
  r = run("");
  CHECK(r.rc == 2);
  CHECK(contains(r.out, "subcommand is required"));
}

TEST_CASE("regrad gradcheck checks one op and rejects unknown ones") {
  Run r = run("gradcheck --op layer_norm");
  CHECK(r.rc == 0);
  CHECK(contains(r.out, "3 cases, 3 passed, 0 failed"));
  r = run("gradcheck --op nosuch");
  CHECK(r.rc == 2);
  CHECK(contains(r.out, "no op named 'nosuch'"));
}

TEST_CASE("regrad op writes outputs in the input's dtype") {
  const std::string d = ref + "gn_3x6x5_g3_wb_f64/", out = tmp("cli_gn");
  fs::remove_all(out);
  const Run r = run("op group_norm --x " + d + "x.npy --weight " + d + "weight.npy --bias " + d +
                    "bias.npy --grad-out " + d + "grad_out.npy --groups 3 --eps 1e-05 --out " + out);
  CHECK(r.rc == 0);
  for (const char* f : {"y", "dx", "dweight", "dbias"}) {
    const rg::Tensor got = rg::load_npy(out + "/" + f + ".npy");
    CHECK(got.dtype() == rg::DType::Float64);
    CHECK(rg::cmp(f, got, rg::load_npy(d + "expected/" + f + ".npy"), 0, 1e-12).approximate);
  }
  fs::remove_all(out);
}

TEST_CASE("regrad op --reference runs the reference kernels, class weights and ignored targets included") {
  const std::string out = tmp("cli_reference");
  const auto matches = [&](const std::string& d, std::initializer_list<const char*> names) {
    for (const char* f : names) {
      const rg::Tensor got = rg::load_npy(out + "/" + f + ".npy");
      INFO(d, f);
      CHECK(got.dtype() == rg::DType::Float64);
      CHECK(rg::cmp(f, got, rg::load_npy(d + "expected/" + f + ".npy"), 0, 1e-12).approximate);
    }
  };
  fs::remove_all(out);
  std::string d = ref + "bn_3x2x5x3_train_tracked_wb_f64/";
  Run r = run("op batch_norm --reference --x " + d + "x.npy --weight " + d + "weight.npy --bias " + d +
              "bias.npy --running-mean " + d + "running_mean.npy --running-var " + d + "running_var.npy --grad-out " +
              d + "grad_out.npy --out " + out);
  CHECK(r.rc == 0);
  matches(d, {"y", "dx", "dweight", "dbias", "running_mean", "running_var"});
  // PyTorch's cross_entropy with class weights and ignored (-100) targets, and probability targets
  // with class weights and their gradient.
  d = ref + "ce_5x7_mean_ls015_ignore_weight_f64/";
  fs::remove_all(out);
  r = run("op cross_entropy --reference --x " + d + "x.npy --target " + d + "target.npy --class-weight " + d +
          "class_weight.npy --grad-out " + d + "grad_out.npy --label-smoothing 0.15 --out " + out);
  CHECK(r.rc == 0);
  matches(d, {"y", "dx"});
  CHECK(!fs::exists(out + "/dweight.npy"));  // class weights are constants, as in PyTorch
  d = ref + "ce_5x7_none_ls015_probs_weight_f64/";
  r = run("op cross_entropy --reference --x " + d + "x.npy --target " + d + "target.npy --class-weight " + d +
          "class_weight.npy --grad-out " + d + "grad_out.npy --label-smoothing 0.15 --reduction none --out " + out);
  CHECK(r.rc == 0);
  matches(d, {"y", "dx", "dtarget"});
  // The reference path checks its arguments as the fast one does.
  d = ref + "gn_2x6x63_g2_wb_f64/";
  r = run("op group_norm --reference --x " + d + "x.npy --weight " + d + "weight.npy --grad-out " + d +
          "grad_out.npy --groups 4 --out " + out);
  CHECK(r.rc == 2);
  CHECK(contains(r.out, "num_groups 4 must be positive and divide the number of channels 6"));
  r = run("op layer_norm --reference --x " + d + "x.npy --weight " + d + "weight.npy --grad-out " + d +
          "grad_out.npy --out " + out);
  CHECK(r.rc == 2);
  CHECK(contains(r.out, "weight has shape [6], expected [63]"));
  fs::remove_all(out);
}

TEST_CASE("regrad op cross_entropy takes --class-weight and --ignore-index") {
  const std::string d = ref + "ce_3x5x4_mean_ls015_ignore_weight_f64/", out = tmp("cli_ce");
  fs::remove_all(out);
  Run r = run("op cross_entropy --x " + d + "x.npy --target " + d + "target.npy --class-weight " + d +
              "class_weight.npy --ignore-index 2 --label-smoothing 0.15 --grad-out " + d + "grad_out.npy --out " + out);
  CHECK(r.rc == 0);
  for (const char* f : {"y", "dx"})
    CHECK(rg::cmp(f, rg::load_npy(out + "/" + f + ".npy"), rg::load_npy(d + "expected/" + f + ".npy"), 0, 1e-12)
              .approximate);
  // Without --ignore-index the target's 2s are classes: a different loss.
  r = run("op cross_entropy --x " + d + "x.npy --target " + d + "target.npy --class-weight " + d +
          "class_weight.npy --label-smoothing 0.15 --grad-out " + d + "grad_out.npy --out " + out);
  CHECK(r.rc == 0);
  CHECK(!rg::cmp("y", rg::load_npy(out + "/y.npy"), rg::load_npy(d + "expected/y.npy"), 0, 1e-6).approximate);
  const std::string p = ref + "ce_5x7_sum_ls0_probs_f64/";
  r = run("op cross_entropy --x " + p + "x.npy --target " + p + "target.npy --reduction sum --grad-out " + p +
          "grad_out.npy --out " + out);
  CHECK(r.rc == 0);
  CHECK(rg::cmp("dtarget", rg::load_npy(out + "/dtarget.npy"), rg::load_npy(p + "expected/dtarget.npy"), 0, 1e-12)
            .approximate);
  fs::remove_all(out);
}

TEST_CASE("regrad op: bad files and arguments give a clear message and exit code 2") {
  const std::string d = ref + "bn_5x3x7_train_wb_f32/";
  Run r = run("op batch_norm --x /nonexistent.npy --grad-out " + d + "grad_out.npy --out /tmp/x");
  CHECK(r.rc == 2);
  CHECK(contains(r.out, "/nonexistent.npy"));
  r = run("op batch_norm --x " + d + "x.npy --out /tmp/x");
  CHECK(r.rc == 2);
  CHECK(contains(r.out, "--grad-out is required"));
  r = run("op softmax --x " + d + "x.npy --grad-out " + d + "grad_out.npy --out /tmp/x");
  CHECK(r.rc == 2);
  CHECK(contains(r.out, "unknown op 'softmax'"));
  r = run("op group_norm --x " + d + "x.npy --grad-out " + d + "grad_out.npy --out /tmp/x");
  CHECK(r.rc == 2);
  CHECK(contains(r.out, "missing argument --groups"));
  r = run("op batch_norm --x " + d + "x.npy --grad-out " + d + "weight.npy --out /tmp/x");
  CHECK(r.rc == 2);
  CHECK(contains(r.out, "grad_out is float32 [3], expected float32 [5, 3, 7]"));
  r = run("op batch_norm --x " + d + "args.txt --grad-out " + d + "grad_out.npy --out /tmp/x");
  CHECK(r.rc == 2);
  CHECK(contains(r.out, "args.txt: not a valid .npy file: bad magic"));
  r = run("op dropout --x " + d + "x.npy --grad-out " + d + "grad_out.npy --p 2 --seed 1 --out /tmp/x");
  CHECK(r.rc == 2);
  CHECK(contains(r.out, "must be in [0, 1]"));
  r = run("op batch_norm --x " + d + "x.npy --grad-out " + d + "grad_out.npy --eps abc --out /tmp/x");
  CHECK(r.rc == 2);
}

TEST_CASE("regrad train: a short real run prints the final metrics line; bad flags print usage") {
  const Run r = run("train --epochs 1 --val-size 50000 --batch-size 500 --log " + tmp("train_test.csv") + " --seed 3");
  CHECK(r.rc == 0);
  // 10,000 images, one epoch: 0.78 on the development machine; an untrained model gets ~0.1.
  CHECK(metric(r.out, "test_acc=") > 0.6);
  CHECK(contains(r.out, "img/s"));
  // The OpenBLAS kernels it ran (the same environment picks the same ones in this process).
  CHECK(contains(r.out, ", OpenBLAS kernels " + rg::blas_kernels() + "\n"));
  CHECK(fs::exists(tmp("train_test.csv")));
  fs::remove(tmp("train_test.csv"));
  Run bad = run("train --model resnet");
  CHECK(bad.rc == 2);
  CHECK(contains(bad.out, "resnet"));
  bad = run("train --epochs zero");
  CHECK(bad.rc == 2);
  bad = run("train --data-dir /nonexistent --epochs 1");
  CHECK(bad.rc == 2);
  CHECK(contains(bad.out, "/nonexistent/train-images-idx3-ubyte.gz: cannot open"));
  // A learning rate that blows up stops with a message naming the step.
  bad = run("train --epochs 1 --val-size 55000 --batch-size 250 --lr 1e30 --norm none --schedule const --log " +
            tmp("nan.csv"));
  CHECK(bad.rc == 1);
  CHECK(contains(bad.out, "at epoch 1, step"));
  fs::remove(tmp("nan.csv"));
}

TEST_CASE("regrad train: augmentation, Mixup and CutMix flags run; unknown augmentations are refused") {
  const Run r =
      run("train --epochs 1 --val-size 55000 --batch-size 250 --augment flip,crop --random-erasing 0.25 "
          "--mixup 0.2 --cutmix 1.0 --log " +
          tmp("aug.csv"));
  CHECK(r.rc == 0);
  CHECK(contains(r.out, "augment 'flip,crop', erasing 0.25, mixup 0.2, cutmix 1"));
  CHECK(metric(r.out, "test_acc=") > 0.45);  // 5,000 augmented images, one epoch: 0.63; untrained ~0.1
  fs::remove(tmp("aug.csv"));
  const Run bad = run("train --augment blur --epochs 1");
  CHECK(bad.rc == 2);
  CHECK(contains(bad.out, "unknown augmentation 'blur'"));
}

TEST_CASE("regrad augment writes a grid; bad arguments give a clear error") {
  const std::string out = tmp("aug_grid.png");
  Run r = run("augment --n 4 --augment flip,crop --erasing 0.5 --cutmix 1.0 --out " + out);
  CHECK(r.rc == 0);
  CHECK(contains(r.out, "CutMix lambda"));
  CHECK(fs::file_size(out) > 100);
  fs::remove(out);
  r = run("augment --dataset cifar10 --out " + out);
  CHECK(r.rc == 2);
  CHECK(contains(r.out, "--data-dir is required for cifar10"));
  r = run("augment --augment blur --out " + out);
  CHECK(r.rc == 2);
  CHECK(contains(r.out, "unknown augmentation 'blur'"));
}

TEST_CASE("regrad train --resume continues exactly like an uninterrupted run") {
  const std::string flags =
      " --val-size 55000 --batch-size 500 --dropout 0.2 --augment flip --schedule const "
      "--optimizer adamw --lr 0.002 --seed 5";
  const Run whole =
      run("train --epochs 3" + flags + " --log " + tmp("whole.csv") + " --checkpoint " + tmp("best.ckpt"));
  const Run first =
      run("train --epochs 1" + flags + " --log " + tmp("part.csv") + " --save-state " + tmp("state.ckpt"));
  const Run rest = run("train --epochs 3" + flags + " --log " + tmp("part.csv") + " --resume " + tmp("state.ckpt"));
  REQUIRE(whole.rc == 0);
  REQUIRE(first.rc == 0);
  REQUIRE(rest.rc == 0);
  CHECK(contains(rest.out, "resumed from " + tmp("state.ckpt") + " after epoch 1"));
  auto final_line = [](const std::string& out) { return out.substr(out.find("test_acc=")); };
  CHECK(final_line(rest.out) == final_line(whole.out));
  // A best-model checkpoint is not a training state: refused with a message.
  const Run bad = run("train --epochs 3" + flags + " --log " + tmp("bad.csv") + " --resume " + tmp("best.ckpt"));
  CHECK(bad.rc == 2);
  CHECK(contains(bad.out, "not a training state"));
  for (const std::string& f : {tmp("whole.csv"), tmp("part.csv"), tmp("bad.csv"), tmp("best.ckpt"), tmp("state.ckpt")})
    fs::remove(f);
}

TEST_CASE("regrad train reads CIFAR-10 binaries and image folders") {
  const std::string cifar = tmp("cli_cifar");
  fs::create_directories(cifar);
  auto batch = [](int records, int seed) {
    std::string b;
    for (int r = 0; r < records; ++r) {
      b += static_cast<char>((r + seed) % 10);
      for (int k = 0; k < 3072; ++k) b += static_cast<char>((k * 7 + r * 13 + seed) % 256);
    }
    return b;
  };
  for (int k = 1; k <= 5; ++k)
    std::ofstream(cifar + "/data_batch_" + std::to_string(k) + ".bin", std::ios::binary) << batch(20, k);
  std::ofstream(cifar + "/test_batch.bin", std::ios::binary) << batch(10, 9);
  Run r = run("train --dataset cifar10 --data-dir " + cifar +
              " --val-size 20 --batch-size 16 --epochs 1 --model cnn "
              "--augment flip,crop,rotate,jitter,randaugment --log " +
              tmp("cifar.csv"));
  CHECK(r.rc == 0);
  CHECK(contains(r.out, "80 train, 20 val, 10 test images"));
  fs::remove_all(cifar);

  const std::string folder = tmp("cli_folder");
  for (const char* cls : {"circle", "square"}) {
    fs::create_directories(folder + "/" + cls);
    for (int k = 0; k < 6; ++k) {
      std::vector<unsigned char> px(12 * 12 * 3, static_cast<unsigned char>(cls[0] == 'c' ? 40 + k : 200 - k));
      stbi_write_png((folder + "/" + cls + "/" + std::to_string(k) + ".png").c_str(), 12, 12, 3, px.data(), 36);
    }
  }
  r = run("train --dataset image-folder --data-dir " + folder +
          " --image-size 8 --val-size 2 --batch-size 4 --epochs 2 "
          "--log " +
          tmp("folder.csv"));
  CHECK(r.rc == 0);
  CHECK(contains(r.out, "test_acc="));
  r = run("train --dataset image-folder --epochs 1");
  CHECK(r.rc == 2);
  CHECK(contains(r.out, "a data directory is required"));
  fs::remove_all(folder);
  fs::remove(tmp("cifar.csv"));
  fs::remove(tmp("folder.csv"));
}

TEST_CASE("regrad train: a character-level Transformer on the word list, pre- or post-norm") {
  const std::string log = (fs::temp_directory_path() / ("regrad_words_" + std::to_string(getpid()) + ".csv")).string();
  for (const char* placement : {"pre", "post"}) {
    const Run r = run(std::string("train --dataset words --model transformer-char --norm ln --placement ") + placement +
                      " --block-size 6 --embed 16 --heads 2 --layers 1 --epochs 1 --train-subset 3000 --batch-size 100"
                      " --optimizer adamw --lr 0.003 --log " +
                      log);
    CHECK(r.rc == 0);
    CHECK(contains(r.out, "contexts from /usr/share/dict/words (objective all: every position's next character)"));
    CHECK(contains(r.out, "val nll of the last position alone"));
    // Next letter of 27 at every position: 0.11 and NLL 3.14 after this epoch (pre-norm); untrained about
    // 0.02 and 3.56 (ln 27 = 3.30).
    CHECK(metric(r.out, "test_acc=") > 0.07);
    CHECK(metric(r.out, "test_nll=") < 3.2);
  }
  // The defaults work for the word list: transformer-char with LayerNorm, and --val-size is honoured.
  const Run d =
      run("train --dataset words --block-size 4 --embed 8 --heads 2 --layers 1 --epochs 1 --train-subset 500 "
          "--val-size 300 --batch-size 100 --optimizer adamw --lr 0.003 --log " +
          log);
  CHECK(d.rc == 0);
  CHECK(contains(d.out, "regrad train: transformer-char"));
  CHECK(contains(d.out, "data: 500 train, 300 val,"));
  // The older objective: only the last position's next character.
  const Run l =
      run("train --dataset words --model transformer-char --objective last --block-size 6 --embed 16 --heads 2 "
          "--layers 1 --epochs 1 --train-subset 3000 --batch-size 100 --optimizer adamw --lr 0.003 --log " +
          log);
  CHECK(l.rc == 0);
  CHECK(contains(l.out, "(objective last: the last position's next character)"));
  CHECK(!contains(l.out, "val nll of the last position alone"));
  CHECK(metric(l.out, "test_acc=") > 0.07);
  CHECK(metric(l.out, "test_nll=") < 3.2);
  CHECK(contains(rg::read_file(log), "val_last_nll"));  // the per-epoch log's last column
  Run bad = run("train --dataset words --model mlp --epochs 1");
  CHECK(bad.rc == 2);
  CHECK(contains(bad.out, "character contexts need transformer-char"));
  bad = run("train --dataset words --model transformer-char --norm ln --augment flip --epochs 1");
  CHECK(bad.rc == 2);
  CHECK(contains(bad.out, "apply to images"));
  bad = run("train --model transformer-char --epochs 1");
  CHECK(bad.rc == 2);
  CHECK(contains(bad.out, "transformer-char needs int64 character contexts"));
  bad = run("train --dataset words --objective first --epochs 1");
  CHECK(bad.rc == 2);
  CHECK(contains(bad.out, "--objective"));
  fs::remove(log);
}
