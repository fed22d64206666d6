// The fused layers and conv2d give bit-identical outputs and gradients whatever the thread count:
// their reductions add fixed blocks in a fixed order (row_norm.h, batch_norm.cpp, cross_entropy.cpp,
// conv.cpp's chunks).
// Sizes are well above the parallel grain, so 2 and 4 threads really split the work.
#include <omp.h>

#include <functional>

#include "../test_util.h"

using namespace rg;

namespace {

using V = const std::vector<Tensor>&;

// Output and every input gradient of `fn` at `threads` threads, same inputs, same upstream gradient.
std::vector<Tensor> run_at(int threads, const std::vector<Tensor>& inputs, const TensorFn& fn) {
  const int saved = omp_get_max_threads();
  omp_set_num_threads(threads);
  std::vector<Tensor> leaves;
  for (const Tensor& t : inputs) leaves.push_back(t.detach().clone().requires_grad_());
  const Tensor y = fn(leaves);
  Generator gen(3);
  y.backward(y.numel() == 1 ? ones(y.shape(), y.dtype()) : randn(y.shape(), gen, y.dtype()));
  omp_set_num_threads(saved);
  std::vector<Tensor> out{y.detach()};
  for (const Tensor& t : leaves) out.push_back(t.grad());
  return out;
}

void check_thread_independent(const char* name, const std::vector<Tensor>& inputs, const TensorFn& fn) {
  INFO(std::string(name));
  const std::vector<Tensor> one = run_at(1, inputs, fn);
  for (int threads : {2, 4}) {
    const std::vector<Tensor> many = run_at(threads, inputs, fn);
    for (std::size_t i = 0; i < one.size(); ++i) {
      const CmpResult c = cmp(i == 0 ? "y" : "grad", one[i], many[i]);
      CHECK_MESSAGE(c.exact, c.line(), " at ", threads, " threads, tensor ", i);
    }
  }
}

}  // namespace

TEST_CASE("fused layers: the same bits at 1, 2 and 4 threads") {
  Generator gen(11);
  const auto r = [&](const Shape& s) { return randn(s, gen) * 1.5 + 0.3; };
  check_thread_independent("batch_norm (N, C)", {r({2048, 64}), r({64}), r({64})},
                           [](V x) { return batch_norm(x[0], Tensor(), Tensor(), x[1], x[2], true); });
  check_thread_independent("batch_norm (N, C, L)", {r({64, 16, 100}), r({16}), r({16})},
                           [](V x) { return batch_norm(x[0], Tensor(), Tensor(), x[1], x[2], true); });
  check_thread_independent("layer_norm", {r({700, 256}), r({256}), r({256})},
                           [](V x) { return layer_norm(x[0], {256}, x[1], x[2]); });
  check_thread_independent("rms_norm", {r({700, 256}), r({256})}, [](V x) { return rms_norm(x[0], {256}, x[1]); });
  check_thread_independent("group_norm, short channels", {r({300, 32, 16}), r({32}), r({32})},
                           [](V x) { return group_norm(x[0], 8, x[1], x[2]); });
  check_thread_independent("group_norm, long channels", {r({40, 16, 10, 10}), r({16}), r({16})},
                           [](V x) { return group_norm(x[0], 4, x[1], x[2]); });
  const Tensor target = randint(0, 300, {600}, gen);
  check_thread_independent("cross_entropy, smoothed", {r({600, 300})},
                           [target](V x) { return cross_entropy(x[0], target, Reduction::Mean, 0.1); });
  // (N, K, T) logits with class weights and ignored positions: the transposed-rows path.
  Tensor seq = randint(0, 65, {16, 128}, gen);
  for (int64_t i = 0; i < seq.numel(); i += 7) seq.data<int64_t>()[i] = -100;
  const Tensor cw = rand({65}, gen) + 0.5;
  check_thread_independent("cross_entropy (N, K, T), weight, ignore_index", {r({16, 65, 128})},
                           [seq, cw](V x) { return cross_entropy(x[0], seq, {.weight = cw, .label_smoothing = 0.1}); });
  const Tensor probs = softmax(randn({600, 50}, gen), 1);
  check_thread_independent("cross_entropy, probabilities", {r({600, 50}), probs},
                           [](V x) { return cross_entropy(x[0], x[1], Reduction::Sum, 0.2); });
}

TEST_CASE("conv2d: the same bits at 1, 2 and 4 threads") {
  Generator gen(12);
  // The CNN's second convolution: 226 KB of columns per sample, so 8 chunks of 5 samples.
  check_thread_independent("conv2d, 8 chunks",
                           {randn({40, 32, 14, 14}, gen), randn({64, 32, 3, 3}, gen), randn({64}, gen)},
                           [](V x) { return conv2d(x[0], x[1], x[2], 1, 1); });
  // The first, with a batch of 3: 3 chunks of one sample, fewer than the threads.
  check_thread_independent("conv2d, 3 chunks of 1",
                           {randn({3, 1, 28, 28}, gen), randn({32, 1, 3, 3}, gen), randn({32}, gen)},
                           [](V x) { return conv2d(x[0], x[1], x[2], 1, 1); });
  // One sample: one chunk, its GEMMs kept on one thread.
  check_thread_independent("conv2d, 1 sample",
                           {randn({1, 32, 14, 14}, gen), randn({64, 32, 3, 3}, gen), randn({64}, gen)},
                           [](V x) { return conv2d(x[0], x[1], x[2], 1, 1); });
  check_thread_independent("conv2d, stride 2", {randn({16, 8, 15, 15}, gen), randn({16, 8, 3, 3}, gen)},
                           [](V x) { return conv2d(x[0], x[1], Tensor(), 2, 1); });
}

TEST_CASE("causal_attention: the same bits at 1, 2 and 4 threads") {
  Generator gen(13);
  check_thread_independent("causal_attention, 512 heads", {randn({128, 8, 192}, gen)},
                           [](V x) { return causal_attention(x[0], 4); });
  check_thread_independent("causal_attention, 4 heads of 40×32", {randn({2, 40, 192}, gen)},
                           [](V x) { return causal_attention(x[0], 2); });
  // One head of 160×320: too little to share out, and a GEMM large enough for OpenBLAS to thread.
  check_thread_independent("causal_attention, one head of 160×320", {randn({1, 160, 960}, gen)},
                           [](V x) { return causal_attention(x[0], 1); });
}
