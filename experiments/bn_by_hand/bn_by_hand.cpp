// The exercises of notebook 6b. Each backward line is the chain rule for one forward line,
// read bottom-up; docs/derivations.md#batchnorm derives exercise 2.
#include "bn_by_hand.h"

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <stdexcept>

namespace bnh {

using namespace rg;

// ---- data and parameters ----

Data load_data(const std::string& words_path, uint64_t seed) {
  data::WordSplits s = data::split_words(data::load_words(words_path), kBlock, seed);
  return {std::move(s.train), std::move(s.val), std::move(s.test)};
}

std::vector<std::pair<std::string, Tensor*>> Params::named() {
  return {{"C", &C}, {"W1", &W1}, {"b1", &b1}, {"W2", &W2}, {"b2", &b2}, {"bngain", &bngain}, {"bnbias", &bnbias}};
}

Params init_params(uint64_t seed, DType dt, int64_t hidden) {
  if (hidden < 1)
    throw std::invalid_argument("init_params: hidden width must be positive, got " + std::to_string(hidden));
  Generator g(seed);
  Params p;
  p.C = randn({kVocab, kEmbed}, g, dt);
  p.W1 = randn({kEmbed * kBlock, hidden}, g, dt) * ((5.0 / 3.0) / std::sqrt(double(kEmbed * kBlock)));
  p.b1 = randn({hidden}, g, dt) * 0.1;  // useless before BatchNorm; kept, as in makemore, for the exercise
  p.W2 = randn({hidden, kVocab}, g, dt) * 0.1;
  p.b2 = randn({kVocab}, g, dt) * 0.1;
  p.bngain = randn({1, hidden}, g, dt) * 0.1 + 1.0;
  p.bnbias = randn({1, hidden}, g, dt) * 0.1;
  for (auto& [name, t] : p.named()) *t = t->detach().requires_grad_();
  return p;
}

// ---- forward, one atom per line ----

std::vector<std::pair<std::string, Tensor>> Forward::named() const {
  return {{"logprobs", logprobs},
          {"probs", probs},
          {"counts_sum_inv", counts_sum_inv},
          {"counts_sum", counts_sum},
          {"counts", counts},
          {"norm_logits", norm_logits},
          {"logit_maxes", logit_maxes},
          {"logits", logits},
          {"h", h},
          {"hpreact", hpreact},
          {"bnraw", bnraw},
          {"bnvar_inv", bnvar_inv},
          {"bnvar", bnvar},
          {"bndiff2", bndiff2},
          {"bndiff", bndiff},
          {"bnmeani", bnmeani},
          {"hprebn", hprebn},
          {"embcat", embcat},
          {"emb", emb},
          {"loss", loss}};
}

Forward forward(const Params& p, const Tensor& Xb, const Tensor& Yb, bool retain) {
  const int64_t n = Xb.size(0);
  const double inv_n = 1.0 / static_cast<double>(n);
  Forward f;
  f.emb = embedding(Xb, p.C);                      // (n, 3, 10): the characters' embeddings
  f.embcat = f.emb.reshape({n, kBlock * kEmbed});  // (n, 30): concatenated
  f.hprebn = matmul(f.embcat, p.W1) + p.b1;        // hidden layer, before BatchNorm
  // BatchNorm, training mode. The variance is the biased one, 1/n, as nn.BatchNorm1d normalises
  // with; the makemore notebook uses 1/(n−1) (Bessel) here, which multiplies the x̂·Σ(dy·x̂) term
  // of dhprebn by n/(n−1) (and changes rstd and x̂ with σ²: docs/derivations.md#batchnorm).
  f.bnmeani = inv_n * sum(f.hprebn, {0}, true);
  f.bndiff = f.hprebn - f.bnmeani;
  f.bndiff2 = pow(f.bndiff, 2.0);
  f.bnvar = inv_n * sum(f.bndiff2, {0}, true);
  f.bnvar_inv = pow(f.bnvar + kEps, -0.5);
  f.bnraw = f.bndiff * f.bnvar_inv;
  f.hpreact = p.bngain * f.bnraw + p.bnbias;
  f.h = tanh(f.hpreact);
  f.logits = matmul(f.h, p.W2) + p.b2;
  // Cross-entropy, atom by atom: subtracting the row max keeps exp from overflowing.
  f.logit_maxes = max(f.logits, 1, true).values;
  f.norm_logits = f.logits - f.logit_maxes;
  f.counts = exp(f.norm_logits);
  f.counts_sum = sum(f.counts, {1}, true);
  f.counts_sum_inv = pow(f.counts_sum, -1.0);
  f.probs = f.counts * f.counts_sum_inv;
  f.logprobs = log(f.probs);
  f.loss = -mean(gather(f.logprobs, 1, Yb.reshape({n, 1})));
  if (retain && f.loss.requires_grad())
    for (auto& [name, t] : f.named())
      if (name != "loss") t.retain_grad();
  return f;
}

// ---- exercise 1: backprop through every atom ----

NamedGrads manual_backward(const Forward& f, const Params& p, const Tensor& Xb, const Tensor& Yb) {
  NoGradGuard no_grad;
  const int64_t n = Xb.size(0);
  const double inv_n = 1.0 / static_cast<double>(n);
  // loss = −mean_i logprobs[i, Y_i]: only the picked entries get −1/n.
  Tensor dlogprobs = -inv_n * one_hot(Yb, kVocab, f.logprobs.dtype());
  Tensor dprobs = (1.0 / f.probs.detach()) * dlogprobs;                      // d log p = dp / p
  Tensor dcounts_sum_inv = sum(f.counts.detach() * dprobs, {1}, true);       // broadcast along dim 1 → sum
  Tensor dcounts = f.counts_sum_inv.detach() * dprobs;                       // first use of counts
  Tensor dcounts_sum = -pow(f.counts_sum.detach(), -2.0) * dcounts_sum_inv;  // d(1/s) = −ds/s²
  dcounts = dcounts + ones_like(f.counts) * dcounts_sum;                     // second use: counts_sum = Σ counts
  Tensor dnorm_logits = f.counts.detach() * dcounts;                         // d eˣ = eˣ dx
  Tensor dlogits = dnorm_logits.clone();                                     // norm_logits = logits − maxes
  Tensor dlogit_maxes = -sum(dnorm_logits, {1}, true);
  dlogits = dlogits + one_hot(max(f.logits.detach(), 1).indices, kVocab, f.logits.dtype()) * dlogit_maxes;
  Tensor dh = matmul(dlogits, p.W2.detach().t());  // logits = h·W2 + b2
  Tensor dW2 = matmul(f.h.detach().t(), dlogits);
  Tensor db2 = sum(dlogits, {0});
  Tensor dhpreact = (1.0 - pow(f.h.detach(), 2.0)) * dh;         // tanh' = 1 − tanh²
  Tensor dbngain = sum(f.bnraw.detach() * dhpreact, {0}, true);  // hpreact = γ·bnraw + β
  Tensor dbnraw = p.bngain.detach() * dhpreact;
  Tensor dbnbias = sum(dhpreact, {0}, true);
  Tensor dbndiff = f.bnvar_inv.detach() * dbnraw;  // bnraw = bndiff·bnvar_inv
  Tensor dbnvar_inv = sum(f.bndiff.detach() * dbnraw, {0}, true);
  Tensor dbnvar = -0.5 * pow(f.bnvar.detach() + kEps, -1.5) * dbnvar_inv;  // d(v + ε)^−½
  Tensor dbndiff2 = inv_n * ones_like(f.bndiff2) * dbnvar;                 // bnvar = (1/n)·Σ bndiff2
  dbndiff = dbndiff + 2.0 * f.bndiff.detach() * dbndiff2;                  // second use of bndiff
  Tensor dhprebn = dbndiff.clone();                                        // bndiff = hprebn − mean
  Tensor dbnmeani = -sum(dbndiff, {0}, true);
  dhprebn = dhprebn + inv_n * ones_like(f.hprebn) * dbnmeani;  // mean = (1/n)·Σ hprebn
  Tensor dembcat = matmul(dhprebn, p.W1.detach().t());         // hprebn = embcat·W1 + b1
  Tensor dW1 = matmul(f.embcat.detach().t(), dhprebn);
  Tensor db1 = sum(dhprebn, {0});
  Tensor demb = dembcat.reshape(f.emb.shape());
  // emb = C[Xb]: each row of demb goes back to the row of C it came from, dC[c] = Σ_{Xb[k,j] = c} demb[k, j],
  // which is the one-hot matrix of the characters, transposed, times demb.
  Tensor dC = matmul(one_hot(Xb.reshape({n * kBlock}), kVocab, demb.dtype()).t(), demb.reshape({n * kBlock, kEmbed}));
  return {{"logprobs", dlogprobs},
          {"probs", dprobs},
          {"counts_sum_inv", dcounts_sum_inv},
          {"counts_sum", dcounts_sum},
          {"counts", dcounts},
          {"norm_logits", dnorm_logits},
          {"logit_maxes", dlogit_maxes},
          {"logits", dlogits},
          {"h", dh},
          {"W2", dW2},
          {"b2", db2},
          {"hpreact", dhpreact},
          {"bngain", dbngain},
          {"bnbias", dbnbias},
          {"bnraw", dbnraw},
          {"bnvar_inv", dbnvar_inv},
          {"bnvar", dbnvar},
          {"bndiff2", dbndiff2},
          {"bndiff", dbndiff},
          {"bnmeani", dbnmeani},
          {"hprebn", dhprebn},
          {"embcat", dembcat},
          {"W1", dW1},
          {"b1", db1},
          {"emb", demb},
          {"C", dC}};
}

Tensor lookup(const NamedGrads& grads, const std::string& name) {
  for (const auto& [n, t] : grads)
    if (n == name) return t;
  throw std::invalid_argument("no gradient named " + name);
}

// ---- exercise 2: BatchNorm backward in one line ----

// dx = γ·rstd/n · (n·dy − Σdy − x̂·Σ(dy·x̂)), with rstd = bnvar_inv and x̂ = bnraw.
Tensor batchnorm_backward_fused(const Tensor& dhpreact, const Tensor& bngain, const Tensor& bnvar_inv,
                                const Tensor& bnraw) {
  NoGradGuard no_grad;
  const double n = static_cast<double>(dhpreact.size(0));
  return bngain.detach() * bnvar_inv.detach() / n *
         (n * dhpreact - sum(dhpreact, {0}, true) - bnraw.detach() * sum(dhpreact * bnraw.detach(), {0}, true));
}

// ---- exercise 3: cross-entropy backward in one line ----

// dlogits = (softmax(logits) − q)/n with q = (1 − ε)·onehot + ε/K (q = onehot when ε = 0).
Tensor cross_entropy_backward_fused(const Tensor& logits, const Tensor& Yb, double label_smoothing) {
  NoGradGuard no_grad;
  const double n = static_cast<double>(logits.size(0)), K = static_cast<double>(logits.size(1));
  const Tensor q = one_hot(Yb, logits.size(1), logits.dtype()) * (1.0 - label_smoothing) + label_smoothing / K;
  return (softmax(logits.detach(), 1) - q) / n;
}

// ---- exercise 4: training with the manual backward ----

Running initial_running(const Params& p) {
  const DType dt = p.W1.dtype();
  return {zeros({1, p.hidden()}, dt), ones({1, p.hidden()}, dt)};
}

TrainLog train(Params& p, Running& running, const data::CharDataset& data, int64_t steps, double lr,
               int64_t lr_decay_step, uint64_t seed, bool manual, int64_t log_every, int64_t batch_size,
               const data::CharDataset* val, bool print) {
  Generator gen(seed);
  TrainLog log;
  double window = 0;
  int64_t in_window = 0;
  const int64_t n = data.X.size(0);
  const double m = 0.1, bessel = static_cast<double>(batch_size) / static_cast<double>(batch_size - 1);
  for (int64_t step = 0; step < steps; ++step) {
    const Tensor ix = randint(0, n, {batch_size}, gen);
    const Tensor Xb = index_select(data.X, 0, ix), Yb = index_select(data.Y, 0, ix);
    NamedGrads grads;
    Forward f;
    if (manual) {
      {
        NoGradGuard no_grad;
        f = forward(p, Xb, Yb, false);
      }
      grads = manual_backward(f, p, Xb, Yb);
    } else {
      f = forward(p, Xb, Yb, false);
      f.loss.backward();
      for (auto& [name, t] : p.named()) grads.emplace_back(name, t->grad());
    }
    const double rate = step < lr_decay_step ? lr : lr / 10;
    NoGradGuard no_grad;
    for (auto& [name, t] : p.named()) {
      t->add_(lookup(grads, name), -rate);
      t->zero_grad();
    }
    // nn.BatchNorm1d's running statistics: momentum 0.1, unbiased variance n/(n−1)·bnvar.
    running.mean = running.mean * (1 - m) + f.bnmeani.detach() * m;
    running.var = running.var * (1 - m) + f.bnvar.detach() * (m * bessel);
    window += f.loss.item();
    ++in_window;
    if (step % log_every == 0 || step == steps - 1) {
      log.step.push_back(step);
      log.loss.push_back(window / static_cast<double>(in_window));
      log.val_loss.push_back(val ? split_loss(p, running, *val) : NAN);
      if (print)
        std::printf("  step %7lld  train (mean of last %lld batches) %.4f  val %.4f\n", static_cast<long long>(step),
                    static_cast<long long>(in_window), log.loss.back(), log.val_loss.back());
      window = 0;
      in_window = 0;
    }
  }
  return log;
}

// The layers up to hprebn, for a whole split.
static Tensor hidden_prebn(const Params& p, const Tensor& X) {
  return matmul(embedding(X, p.C.detach()).reshape({X.size(0), kBlock * kEmbed}), p.W1.detach()) + p.b1.detach();
}

static Tensor eval_logits(const Params& p, const Running& stats, const Tensor& X) {
  const Tensor hpreact =
      p.bngain.detach() * (hidden_prebn(p, X) - stats.mean) * rsqrt(stats.var + kEps) + p.bnbias.detach();
  return matmul(tanh(hpreact), p.W2.detach()) + p.b2.detach();
}

double split_loss(const Params& p, const Running& stats, const data::CharDataset& data) {
  NoGradGuard no_grad;
  return cross_entropy(eval_logits(p, stats, data.X), data.Y).item();
}

Running calibrate(const Params& p, const data::CharDataset& data) {
  NoGradGuard no_grad;
  const Tensor h = hidden_prebn(p, data.X);
  return {mean(h, {0}, true), var(h, {0}, /*unbiased=*/true, true)};
}

void export_reference_inputs(const std::string& dir, const Params& p, const Tensor& Xb, const Tensor& Yb) {
  const Forward f = forward(p, Xb, Yb, true);
  f.loss.backward();
  std::filesystem::create_directories(dir);
  save_npy(dir + "/hprebn.npy", f.hprebn.detach());
  save_npy(dir + "/bngain.npy", p.bngain.detach().reshape({p.hidden()}));
  save_npy(dir + "/bnbias.npy", p.bnbias.detach().reshape({p.hidden()}));
  save_npy(dir + "/dhpreact.npy", f.hpreact.grad());
  save_npy(dir + "/running_mean.npy", zeros({p.hidden()}, f.hprebn.dtype()));
  save_npy(dir + "/running_var.npy", ones({p.hidden()}, f.hprebn.dtype()));
}

std::vector<CmpResult> check_against_pytorch(const std::string& dir, double atol) {
  auto in = [&](const char* name) { return load_npy(dir + "/" + name + ".npy"); };
  auto want = [&](const char* name) { return load_npy(dir + "/expected/" + name + ".npy"); };
  const Tensor x = in("hprebn"), dy = in("dhpreact");
  const int64_t hidden = x.size(1);
  const Tensor gamma = in("bngain").reshape({1, hidden}), beta = in("bnbias").reshape({1, hidden});
  const double n = static_cast<double>(x.size(0)), m = 0.1;
  std::vector<CmpResult> out;
  // By hand: the forward atoms, exercise 2's backward, and the running-statistics update.
  const Tensor mu = mean(x, {0}, true), var = mean(pow(x - mu, 2.0), {0}, true);
  const Tensor bnvar_inv = pow(var + kEps, -0.5), bnraw = (x - mu) * bnvar_inv;
  out.push_back(cmp("hand: y", gamma * bnraw + beta, want("y"), 0, atol));
  out.push_back(cmp("hand: dx", batchnorm_backward_fused(dy, gamma, bnvar_inv, bnraw), want("dx"), 0, atol));
  out.push_back(cmp("hand: dweight", sum(dy * bnraw, {0}), want("dweight"), 0, atol));
  out.push_back(cmp("hand: dbias", sum(dy, {0}), want("dbias"), 0, atol));
  out.push_back(
      cmp("hand: run_mean", in("running_mean") * (1 - m) + mu.reshape({hidden}) * m, want("running_mean"), 0, atol));
  out.push_back(cmp("hand: run_var", in("running_var") * (1 - m) + var.reshape({hidden}) * (m * n / (n - 1)),
                    want("running_var"), 0, atol));
  // regrad's fused kernel.
  Tensor xl = x.clone().requires_grad_(), w = in("bngain").requires_grad_(), b = in("bnbias").requires_grad_();
  Tensor rm = in("running_mean"), rv = in("running_var");
  const Tensor y = batch_norm(xl, rm, rv, w, b, true, m, kEps);
  y.backward(dy);
  out.push_back(cmp("fused: y", y, want("y"), 0, atol));
  out.push_back(cmp("fused: dx", xl.grad(), want("dx"), 0, atol));
  out.push_back(cmp("fused: dweight", w.grad(), want("dweight"), 0, atol));
  out.push_back(cmp("fused: dbias", b.grad(), want("dbias"), 0, atol));
  out.push_back(cmp("fused: run_mean", rm, want("running_mean"), 0, atol));
  out.push_back(cmp("fused: run_var", rv, want("running_var"), 0, atol));
  return out;
}

std::string sample_word(const Params& p, const Running& stats, Generator& gen) {
  NoGradGuard no_grad;
  std::vector<int64_t> context(kBlock, 0);
  std::string word;
  while (word.size() < 40) {
    const Tensor probs = softmax(eval_logits(p, stats, tensor_i64(context, {1, kBlock})), 1);
    double u = rand({1}, gen, DType::Float64).item(), acc = 0;
    int64_t ix = kVocab - 1;
    for (int64_t k = 0; k < kVocab; ++k) {
      acc += probs.at({0, k});
      if (u < acc) {
        ix = k;
        break;
      }
    }
    if (ix == 0) break;
    word += data::index_char(ix);
    context.erase(context.begin());
    context.push_back(ix);
  }
  return word;
}

}  // namespace bnh
