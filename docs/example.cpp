// The README's example: a tiny MLP, one backward pass, gradients printed and checked.
// Built by `make` as build/example, so the README cannot drift from code that compiles.
#include <regrad/regrad.h>
#include <cstdio>
#include <iostream>

using namespace rg;

int main() {
  Generator gen(0);
  Tensor x = randn({5, 4}, gen), y = tensor_i64({0, 2, 1, 1, 0});  // 5 samples, 3 classes
  Tensor W1 = (randn({4, 8}, gen) * 0.5).detach().requires_grad_(), b1 = zeros({8}).requires_grad_();
  Tensor W2 = (randn({8, 3}, gen) * 0.5).detach().requires_grad_(), b2 = zeros({3}).requires_grad_();

  Tensor h = tanh(matmul(x, W1) + b1);
  h.retain_grad();  // keep an intermediate's gradient, as the notebook's cmp needs
  Tensor logits = matmul(h, W2) + b2;
  Tensor loss = cross_entropy(logits, y);
  loss.backward();

  std::printf("loss = %.4f\n", loss.item());
  std::cout << "dL/db2 = " << b2.grad() << "\n";
  // By hand: dlogits = (softmax − onehot)/N, and db2 = Σ_rows dlogits.
  Tensor onehot = zeros({5, 3});
  for (int64_t i = 0; i < 5; ++i) onehot.set({i, static_cast<int64_t>(y.at({i}))}, 1.0);
  Tensor dlogits = (softmax(logits.detach(), 1) - onehot) / 5.0;
  std::cout << cmp("db2", sum(dlogits, {0}), b2.grad()).line() << "\n";
  std::cout << cmp("dh", matmul(dlogits, W2.detach().t()), h.grad()).line() << "\n";
}
