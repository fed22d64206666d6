// make bench, training part: images/s of the reference models' training step (forward, loss,
// backward, SGD step), regrad vs PyTorch at the same thread count (bench/bench_torch_train.py),
// and the step's time against the time of its GEMMs alone (cblas_sgemm on the same shapes); then
// the character Transformer's step (2 and 6 pre-norm blocks, embed 64, 4 heads, context 8, batch
// 128, every position's next character, AdamW), the model of the pre-/post-norm and RMSNorm
// experiments, against the same model in PyTorch.
#include <cblas.h>

#include <cstdio>
#include <map>
#include <string>

#include "bench_util.h"
#include "regrad/regrad.h"

using namespace rg;

namespace {

// PyTorch's ms/step for "mlp" and "cnn", from bench/bench_torch_train.py.
std::map<std::string, double> torch_step_ms(int threads) {
  std::map<std::string, double> out;
  for (const std::string& line : bench::run_torch_script("bench_torch_train.py", threads)) {
    char name[64];
    double ms;
    if (std::sscanf(line.c_str(), "%63[^,],%lf", name, &ms) == 2) out[name] = ms;
  }
  return out;
}

// The MLP step's GEMMs: forward X·Wᵀ for 784→512→512→10, backward dW = dYᵀ·X for each layer and
// dX = dY·W for the two upper layers (the input needs no gradient).
double mlp_gemm_ms(int64_t batch) {
  Generator g(0);
  struct Layer { int64_t in, out; };
  const Layer layers[] = {{784, 512}, {512, 512}, {512, 10}};
  std::vector<Tensor> bufs;
  for (const auto& l : layers) {
    bufs.push_back(randn({batch, l.in}, g));
    bufs.push_back(randn({l.out, l.in}, g));
    bufs.push_back(randn({batch, l.out}, g));
    bufs.push_back(randn({l.out, l.in}, g));
  }
  return bench::median_ms([&] {
    for (int k = 0; k < 3; ++k) {
      const Layer& l = layers[k];
      float *x = bufs[4 * k].data<float>(), *w = bufs[4 * k + 1].data<float>(), *y = bufs[4 * k + 2].data<float>(),
            *dw = bufs[4 * k + 3].data<float>();
      cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, batch, l.out, l.in, 1, x, l.in, w, l.in, 0, y, l.out);
      cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, l.out, l.in, batch, 1, y, l.out, x, l.in, 0, dw, l.in);
      if (k > 0)
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, batch, l.in, l.out, 1, y, l.out, w, l.in, 0, x, l.in);
    }
  }, 51);
}

double step_ms(const std::string& model, int64_t batch) {
  manual_seed(0);
  auto net = train::make_model(model, "bn", 0.1, 0);
  optim::SGD opt(net->parameters(), 0.01, 0.9, 5e-4);
  Generator g(1);
  const Tensor x = randn({batch, 1, 28, 28}, g), y = randint(0, 10, {batch}, g);
  return bench::median_ms([&] {
    const Tensor loss = cross_entropy((*net)(x), y, Reduction::Mean, 0.1);
    opt.zero_grad();
    loss.backward();
    opt.step();
  }, model == "mlp" ? 51 : 11);
}

// The character Transformer's training step: 128 contexts of 8 characters (27 symbols), every
// position predicting the next one, AdamW.
double transformer_step_ms(int64_t layers) {
  Generator g(1);
  const Tensor x = randint(0, 27, {128, 8}, g), y = randint(0, 27, {128, 8}, g);
  train::ModelOptions m;
  m.model = "transformer-char";
  m.layers = layers;
  m.objective = "all";
  auto net = train::make_model(m, x, 27);
  optim::AdamW opt(net->parameters(), 1e-3);
  return bench::median_ms([&] {
    const Tensor loss = cross_entropy((*net)(x), y);
    opt.zero_grad();
    loss.backward();
    opt.step();
  }, 21);
}

}  // namespace

void bench_train(const std::vector<int>& thread_counts, bool with_torch) {
  std::printf("\n== training step (forward, label-smoothed loss, backward, SGD), float32\n");
  std::printf("| model | batch | thr | regrad ms/step | images/s | GEMMs alone ms | step/GEMMs | torch ms/step | vs torch |\n");
  std::printf("|---|---|---|---|---|---|---|---|---|\n");
  for (int threads : thread_counts) {
    omp_set_num_threads(threads);
    const auto torch = with_torch ? torch_step_ms(threads) : std::map<std::string, double>{};
    for (const auto& [model, batch] : {std::pair<std::string, int64_t>{"mlp", 128}, {"cnn", 64}}) {
      double ms = 1e30;
      for (int round = 0; round < 3; ++round) ms = std::min(ms, step_ms(model, batch));
      const double gemm = model == "mlp" ? mlp_gemm_ms(batch) : 0;
      char gemm_col[32] = "n/a", ratio_col[32] = "n/a", torch_col[32] = "n/a", vs_col[32] = "n/a";
      if (gemm > 0) {
        std::snprintf(gemm_col, sizeof gemm_col, "%.3f", gemm);
        std::snprintf(ratio_col, sizeof ratio_col, "%.2f", ms / gemm);
      }
      if (torch.count(model)) {
        std::snprintf(torch_col, sizeof torch_col, "%.3f", torch.at(model));
        std::snprintf(vs_col, sizeof vs_col, "%.2fx", torch.at(model) / ms);
      }
      std::printf("| %s | %lld | %d | %.3f | %.0f | %s | %s | %s | %s |\n", model.c_str(), static_cast<long long>(batch),
                  threads, ms, 1000.0 * static_cast<double>(batch) / ms, gemm_col, ratio_col, torch_col, vs_col);
    }
    for (int64_t layers : {2, 6}) {
      double ms = 1e30;
      for (int round = 0; round < 3; ++round) ms = std::min(ms, transformer_step_ms(layers));
      const std::string name = "transformer-" + std::to_string(layers);
      char torch_col[32] = "n/a", vs_col[32] = "n/a";
      if (torch.count(name)) {
        std::snprintf(torch_col, sizeof torch_col, "%.3f", torch.at(name));
        std::snprintf(vs_col, sizeof vs_col, "%.2fx", torch.at(name) / ms);
      }
      std::printf("| char transformer, %lld blocks (AdamW) | 128 | %d | %.3f | %.0f | n/a | n/a | %s | %s |\n",
                  static_cast<long long>(layers), threads, ms, 128000.0 / ms, torch_col, vs_col);
    }
  }
}
