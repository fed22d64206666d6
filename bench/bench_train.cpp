// make bench, training part: images/s of the reference models' training step (forward, loss,
// backward, SGD step), regrad vs PyTorch at the same thread count (bench/bench_torch_train.py),
// and the step's time against the time of its GEMMs alone (cblas_sgemm on the same shapes); then
// the character Transformer's step (2 and 6 pre-norm blocks, embed 64, 4 heads, context 8, batch
// 128, every position's next character, AdamW), the model of the pre-/post-norm and RMSNorm
// experiments, against the same model in PyTorch and against its GEMMs alone. Section "small": the MLP and CNN steps at
// batch 2 and 8 (the norm-vs-batch-size experiment's regime, where per-op overhead sets the time), and notebook 6b's
// training loop with its hand-written backward (experiments/bn_by_hand) against the same loop in PyTorch
// (bench/bench_torch_bn_by_hand.py).
#include <cblas.h>

#include <cmath>
#include <cstdio>
#include <map>
#include <string>

#include "bench_table.h"
#include "bench_util.h"
#include "bn_by_hand/bn_by_hand.h"
#include "regrad/regrad.h"

using namespace rg;

namespace {

// PyTorch's ms/step per name ("mlp-128", "cnn-8", "transformer-2", "bn_by_hand-64", …) from one of
// the bench scripts, for the names in `only` (comma-separated).
std::map<std::string, double> torch_step_ms(const std::string& script, int threads, const std::string& only) {
  std::map<std::string, double> out;
  for (const std::string& line : bench::run_torch_script(script, threads, "--only " + only)) {
    char name[64];
    double ms;
    if (std::sscanf(line.c_str(), "%63[^,],%lf", name, &ms) == 2) out[name] = ms;
  }
  return out;
}

double torch_or_nan(const std::map<std::string, double>& torch, const std::string& name) {
  const auto it = torch.find(name);
  return it == torch.end() ? NAN : it->second;
}

// One row-major cblas_sgemm: C (M×N) = op(A) (M×K) · op(B) (K×N).
struct Gemm {
  bool ta, tb;
  int64_t M, N, K;
};

// The GEMMs of one training step of `model` on inputs shaped like x, read off the layers' shapes
// (a forward pass without grad gives each layer's input and output):
//   Linear in→out on a batch B: y = x·Wᵀ (B×out×in), dW = dyᵀ·x (out×in×B), dx = dy·W (B×in×out);
//   Conv2d C→O, k×k, output Ho×Wo, as a batched im2col conv with cols (C·k·k × B·Ho·Wo):
//   y = W·cols (O × B·Ho·Wo × C·k·k), dW = dy·colsᵀ (O × C·k·k × B·Ho·Wo), dcols = Wᵀ·dy
//   (C·k·k × B·Ho·Wo × O). The first layer's input needs no gradient, so it has no dx / dcols GEMM.
// im2col and col2im are not included: this is the GEMM floor of the step.
// A Linear in→out on B rows: y = x·Wᵀ, dW = dyᵀ·x and, when its input needs a gradient, dx = dy·W.
void add_linear_gemms(std::vector<Gemm>& gemms, int64_t B, int64_t out, int64_t in, bool with_dx) {
  gemms.push_back({false, true, B, out, in});
  gemms.push_back({true, false, out, in, B});
  if (with_dx) gemms.push_back({false, false, B, in, out});
}

std::vector<Gemm> step_gemms(const std::string& model, const Tensor& x) {
  auto net = train::make_model(model, "bn", 0.1, 0);
  NoGradGuard no_grad;
  std::vector<Gemm> gemms;
  Tensor h = x;
  bool first = true;
  for (std::size_t i = 0; i < net->size(); ++i) {
    nn::Module& m = *(*net)[i];
    const Tensor y = m(h);
    const int64_t B = h.size(0);
    if (const auto* lin = dynamic_cast<const nn::Linear*>(&m)) {
      add_linear_gemms(gemms, B, lin->out_features, lin->in_features, !first);
      first = false;
    } else if (const auto* conv = dynamic_cast<const nn::Conv2d*>(&m)) {
      const int64_t O = y.size(1), BP = B * y.size(2) * y.size(3), K = conv->weight.numel() / O;
      gemms.push_back({false, false, O, BP, K});
      gemms.push_back({false, true, O, K, BP});
      if (!first) gemms.push_back({true, false, K, BP, O});
      first = false;
    }
    h = y;
  }
  return gemms;
}

double gemms_ms(const std::vector<Gemm>& gemms, int reps) {
  Generator g(0);
  std::vector<Tensor> a, b, c;
  for (const Gemm& m : gemms) {
    a.push_back(randn({m.M * m.K}, g));
    b.push_back(randn({m.K * m.N}, g));
    c.push_back(randn({m.M * m.N}, g));
  }
  return bench::median_ms(
      [&] {
        for (std::size_t k = 0; k < gemms.size(); ++k) {
          const Gemm& m = gemms[k];
          cblas_sgemm(CblasRowMajor, m.ta ? CblasTrans : CblasNoTrans, m.tb ? CblasTrans : CblasNoTrans, m.M, m.N, m.K,
                      1.0f, a[k].data<float>(), m.ta ? m.M : m.K, b[k].data<float>(), m.tb ? m.K : m.N, 0.0f,
                      c[k].data<float>(), m.N);
        }
      },
      reps);
}

Tensor step_input(int64_t batch) {
  Generator g(1);
  return randn({batch, 1, 28, 28}, g);
}

double step_ms(const std::string& model, int64_t batch, int reps) {
  manual_seed(0);
  auto net = train::make_model(model, "bn", 0.1, 0);
  optim::SGD opt(net->parameters(), 0.01, 0.9, 5e-4);
  Generator g(2);
  const Tensor x = step_input(batch), y = randint(0, 10, {batch}, g);
  return bench::median_ms(
      [&] {
        const Tensor loss = cross_entropy((*net)(x), y, Reduction::Mean, 0.1);
        opt.zero_grad(/*set_to_none=*/true);
        loss.backward();
        opt.step();
      },
      reps);
}

// The character Transformer's training step: 128 contexts of 8 characters (27 symbols), every
// position predicting the next one, AdamW.
constexpr int64_t kContexts = 128, kBlock = 8, kSymbols = 27;

std::shared_ptr<nn::Module> transformer(int64_t layers, const Tensor& x) {
  train::ModelOptions m;
  m.model = "transformer-char";
  m.layers = layers;
  m.objective = "all";
  return train::make_model(m, x, kSymbols);
}

// The GEMMs of the Transformer's step. Each Linear (weight out×in, read off the parameters) on
// B·T rows: forward and both gradients, as in step_gemms.
std::vector<Gemm> transformer_linear_gemms(int64_t layers) {
  Generator g(1);
  auto net = transformer(layers, randint(0, kSymbols, {kContexts, kBlock}, g));
  const int64_t rows = kContexts * kBlock;
  std::vector<Gemm> gemms;
  for (const auto& [name, p] : net->named_parameters()) {
    if (p.dim() != 2 || name.rfind("tok.", 0) == 0 || name.rfind("pos.", 0) == 0) continue;  // embeddings
    add_linear_gemms(gemms, rows, p.size(0), p.size(1), true);
  }
  return gemms;
}

// Attention's GEMMs, as causal_attention runs them for heads longer than 32 or wider than 16 (the
// others run as loops, src/functional/attention.cpp): per block and (sequence, head) pair, on the
// head's columns inside one packed (B, T, 3C) buffer (row stride 3C), T×T scores, head width D:
// S = q·kᵀ, y = A·v, and backward dv = Aᵀ·dy, dA = dy·vᵀ, dq = dS·k, dk = dSᵀ·q.
double attention_gemms_ms(int64_t layers, int reps) {
  const train::ModelOptions defaults;
  const int64_t T = kBlock, C = defaults.embed, H = defaults.heads, D = C / H, ld = 3 * C;
  Generator g(0);
  const Tensor qkv = randn({kContexts, T, ld}, g), dy = randn({kContexts, T, C}, g);
  Tensor dqkv = randn({kContexts, T, ld}, g), y = randn({kContexts, T, C}, g), a = randn({T, T}, g),
         ds = randn({T, T}, g);
  float *pa = a.data<float>(), *pds = ds.data<float>();
  const auto sgemm = [](bool ta, bool tb, int64_t M, int64_t N, int64_t K, const float* A, int64_t lda, const float* B,
                        int64_t ldb, float* Cm, int64_t ldc) {
    cblas_sgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans, M, N, K, 1.0f, A, lda, B,
                ldb, 0.0f, Cm, ldc);
  };
  return bench::median_ms(
      [&] {
        for (int64_t l = 0; l < layers; ++l)
          for (int64_t b = 0; b < kContexts; ++b)
            for (int64_t h = 0; h < H; ++h) {
              const float* q = qkv.data<float>() + b * T * ld + h * D;
              const float* gy = dy.data<float>() + b * T * C + h * D;
              float* dq = dqkv.data<float>() + b * T * ld + h * D;
              sgemm(false, true, T, T, D, q, ld, q + C, ld, pa, T);                                        // S
              sgemm(false, false, T, D, T, pa, T, q + 2 * C, ld, y.data<float>() + b * T * C + h * D, C);  // y
              sgemm(true, false, T, D, T, pa, T, gy, C, dq + 2 * C, ld);                                   // dv
              sgemm(false, true, T, T, D, gy, C, q + 2 * C, ld, pds, T);                                   // dA
              sgemm(false, false, T, D, T, pds, T, q + C, ld, dq, ld);                                     // dq
              sgemm(true, false, T, D, T, pds, T, q, ld, dq + C, ld);                                      // dk
            }
      },
      reps);
}

double transformer_step_ms(int64_t layers) {
  Generator g(1);
  const Tensor x = randint(0, kSymbols, {kContexts, kBlock}, g), y = randint(0, kSymbols, {kContexts, kBlock}, g);
  auto net = transformer(layers, x);
  optim::AdamW opt(net->parameters(), 1e-3);
  return bench::median_ms(
      [&] {
        const Tensor loss = cross_entropy((*net)(x), y);
        opt.zero_grad(/*set_to_none=*/true);
        loss.backward();
        opt.step();
      },
      21);
}

// The MLP and CNN steps at `batch`: regrad against PyTorch and against the step's GEMMs.
void model_rows(bench::Table& table, const std::string& section, bool with_torch,
                const std::map<std::string, double>& torch, int threads, const std::string& model, int64_t batch,
                int reps) {
  double ms = 1e30;
  for (int round = 0; round < 3; ++round) ms = std::min(ms, step_ms(model, batch, reps));
  const double gemm = gemms_ms(step_gemms(model, step_input(batch)), reps);
  const std::string key = model + "-" + std::to_string(batch), shape = "batch " + std::to_string(batch);
  const double t = torch_or_nan(torch, key);
  std::printf("%s step, batch %lld, %d thread(s): %.3f ms, GEMMs alone %.3f ms (%.2f), torch %.3f ms (%.2fx)\n",
              model.c_str(), static_cast<long long>(batch), threads, ms, gemm, ms / gemm, t, t / ms);
  if (with_torch)
    table.add(section, model + " step", shape, threads, ms, "torch", t, bench::Ratio::BaselineOverRegrad, "images/s",
              static_cast<double>(batch));
  table.add(section, model + " step", shape, threads, ms, "GEMMs", gemm, bench::Ratio::RegradOverBaseline, "images/s",
            static_cast<double>(batch));
}

// Notebook 6b's training loop (experiments/bn_by_hand: forward atom by atom, the hand-written
// backward, SGD, running statistics, the loss read back each step) on random contexts; ms per step.
constexpr int64_t kBnByHandBatch = 32;
double bn_by_hand_step_ms(int64_t hidden) {
  Generator g(3);
  const data::CharDataset d{randint(0, bnh::kVocab, {200000, bnh::kBlock}, g), randint(0, bnh::kVocab, {200000}, g)};
  bnh::Params p = bnh::init_params(42, DType::Float32, hidden);
  bnh::Running running = bnh::initial_running(p);
  constexpr int64_t steps = 50, never = int64_t{1} << 40;
  return bench::median_ms(
             [&] { bnh::train(p, running, d, steps, 0.1, never, 7, /*manual=*/true, never, kBnByHandBatch); }, 11) /
         steps;
}

}  // namespace

void bench_train(bench::Table& table, const std::vector<int>& thread_counts, bool with_torch) {
  std::printf("\n== training step (forward, label-smoothed loss, backward, SGD), float32\n");
  for (int threads : thread_counts) {
    omp_set_num_threads(threads);
    const auto torch =
        with_torch ? torch_step_ms("bench_torch_train.py", threads, "mlp-128,cnn-64,transformer-2,transformer-6")
                   : std::map<std::string, double>{};
    model_rows(table, "train", with_torch, torch, threads, "mlp", 128, 51);
    model_rows(table, "train", with_torch, torch, threads, "cnn", 64, 11);
    for (int64_t layers : {2, 6}) {
      double ms = 1e30;
      for (int round = 0; round < 3; ++round) ms = std::min(ms, transformer_step_ms(layers));
      // The step's GEMMs are its Linear layers'; attention's 8×16 heads run as loops, not GEMMs
      // (causal_attention), so their GEMM time is printed beside it, not counted in it.
      const double gemm = gemms_ms(transformer_linear_gemms(layers), 21),
                   attention_as_gemms = attention_gemms_ms(layers, 21);
      const std::string name = "transformer-" + std::to_string(layers);
      const double t = torch_or_nan(torch, name);
      std::printf(
          "char transformer, %lld blocks, %d thread(s): %.3f ms, its Linear GEMMs alone %.3f ms (%.2f), torch %.3f "
          "ms (%.2fx); attention as cblas_sgemm calls would take %.3f ms\n",
          static_cast<long long>(layers), threads, ms, gemm, ms / gemm, t, t / ms, attention_as_gemms);
      const std::string row = "char transformer step, " + std::to_string(layers) + " blocks (AdamW)";
      if (with_torch)
        table.add("train", row, "batch 128", threads, ms, "torch", t, bench::Ratio::BaselineOverRegrad, "images/s",
                  128.0);
      table.add("train", row, "batch 128", threads, ms, "GEMMs", gemm, bench::Ratio::RegradOverBaseline, "images/s",
                128.0);
    }
  }
}

void bench_small(bench::Table& table, const std::vector<int>& thread_counts, bool with_torch) {
  std::printf("\n== small batches: MLP and CNN steps at batch 2 and 8; notebook 6b's manual-backward loop\n");
  for (int threads : thread_counts) {
    omp_set_num_threads(threads);
    const auto torch = with_torch ? torch_step_ms("bench_torch_train.py", threads, "mlp-2,mlp-8,cnn-2,cnn-8")
                                  : std::map<std::string, double>{};
    for (const std::string model : {"mlp", "cnn"})
      for (int64_t batch : {2, 8}) model_rows(table, "small", with_torch, torch, threads, model, batch, 101);
    const auto torch_bnh = with_torch
                               ? torch_step_ms("bench_torch_bn_by_hand.py", threads, "bn_by_hand-64,bn_by_hand-200")
                               : std::map<std::string, double>{};
    for (int64_t hidden : {64, 200}) {
      double ms = 1e30;
      for (int round = 0; round < 3; ++round) ms = std::min(ms, bn_by_hand_step_ms(hidden));
      const std::string key = "bn_by_hand-" + std::to_string(hidden);
      const double t = torch_or_nan(torch_bnh, key);
      std::printf(
          "bn_by_hand manual-backward step, hidden %lld, %d thread(s): %.4f ms (%.0f steps/s), torch %.4f ms "
          "(%.2fx)\n",
          static_cast<long long>(hidden), threads, ms, 1e3 / ms, t, t / ms);
      table.add("small", "bn_by_hand manual-backward training step (notebook 6b)",
                "batch " + std::to_string(kBnByHandBatch) + ", hidden " + std::to_string(hidden), threads, ms,
                with_torch ? "torch" : "", t, with_torch ? bench::Ratio::BaselineOverRegrad : bench::Ratio::None,
                "steps/s", 1.0);
    }
  }
}
